//! `huiliu migrate-store`: copies a SQLite store into PostgreSQL (every
//! source's state and every entry, with the times huiliu assigned), then
//! compares the counts source by source. Rows are upserted, so a rerun (say
//! after an interrupted copy) finishes the job and duplicates nothing.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{TimeZone, Utc};

use crate::store::{EntryQuery, PgStore, SqliteStore, Store, StoreError};

/// Entries copied per transaction.
const PAGE: usize = 2000;

/// What one copy did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    pub sources: usize,
    pub states: usize,
    pub entries: u64,
    /// Sources whose entry count or state differs after the copy.
    pub mismatches: Vec<String>,
}

/// Copies everything in `from` into `to` and verifies the result.
pub async fn copy_store(from: &dyn Store, to: &PgStore) -> Result<MigrateReport, StoreError> {
    let epoch = Utc.timestamp_opt(0, 0).single().unwrap_or_else(Utc::now);
    let states: HashMap<String, _> = from
        .states()
        .await?
        .into_iter()
        .map(|s| (s.source_id.clone(), s))
        .collect();
    let mut ids: BTreeSet<String> = states.keys().cloned().collect();
    ids.extend(
        from.entry_stats(epoch)
            .await?
            .into_iter()
            .map(|s| s.source_id),
    );
    let mut report = MigrateReport {
        sources: ids.len(),
        states: states.len(),
        ..Default::default()
    };
    for id in &ids {
        let mut offset = 0;
        let mut state = states.get(id);
        loop {
            let page = from
                .entries(&EntryQuery {
                    sources: vec![id.clone()],
                    limit: PAGE,
                    offset,
                })
                .await?;
            if page.is_empty() && state.is_none() {
                break;
            }
            to.import(state.take(), &page).await?;
            report.entries += page.len() as u64;
            offset += page.len();
            if page.len() < PAGE {
                break;
            }
        }
    }
    for id in &ids {
        let (a, b) = (from.entry_count(id).await?, to.entry_count(id).await?);
        let state_ok = match states.get(id) {
            Some(s) => to.state(id).await? == *s,
            None => true,
        };
        if a != b || !state_ok {
            report.mismatches.push(format!(
                "{id}: {a} entries in the source store, {b} in the target{}",
                if state_ok { "" } else { "; the state differs" }
            ));
        }
    }
    Ok(report)
}

pub async fn migrate_store(from: &str, to: &str) -> Result<ExitCode, ExitCode> {
    let fail = |msg: String| {
        eprintln!("huiliu: {msg}");
        ExitCode::from(2)
    };
    let Some(path) = from
        .strip_prefix("sqlite://")
        .or_else(|| from.strip_prefix("sqlite:"))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
    else {
        return Err(fail(format!("--from must be sqlite:PATH (got `{from}`)")));
    };
    if !path.is_file() {
        return Err(fail(format!("{} does not exist", path.display())));
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(fail(format!("--to must be postgres://… (got `{to}`)")));
    }
    let source = SqliteStore::open(&path)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let target = PgStore::open(to).await.map_err(|e| fail(e.to_string()))?;
    let report = copy_store(&source, &target)
        .await
        .map_err(|e| fail(e.to_string()))?;
    println!(
        "copied {} sources ({} with state), {} entries",
        report.sources, report.states, report.entries
    );
    if report.mismatches.is_empty() {
        println!("verified: every source has the same entry count and state in both stores");
        Ok(ExitCode::SUCCESS)
    } else {
        for m in &report.mismatches {
            println!("mismatch: {m}");
        }
        Ok(ExitCode::from(1))
    }
}
