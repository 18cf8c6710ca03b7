//! Retention: which stored entries go, and deleting them in small batches.
//!
//! The rules, from `retention_days` / `retention_count` (see docs/config.md):
//! - a source with a retention (its own or from `[defaults]`) drops entries
//!   older than N days or beyond its newest N;
//! - an output with a retention keeps the entries it shows within its own
//!   limits, even when their source's rule would drop them; a source with no
//!   retention of its own is pruned only when every output showing it has one;
//! - the first page of every output is never pruned;
//! - sources removed from the config follow `[defaults]` (none: kept).

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::config::{Config, FeedConfig, Retention};
use std::ops::ControlFlow;

use crate::publish::page::{page, scan_output};
use crate::store::{PruneCandidate, Store, StoreError};

/// Pruned keys are remembered (so feeds still listing them do not bring them
/// back) until no poll has seen them for this long.
pub const FORGET_PRUNED_AFTER: chrono::Duration = chrono::Duration::days(30);

/// What pruning would remove from one source.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourcePlan {
    pub source_id: String,
    /// Which rule applies, for the report.
    pub rule: String,
    pub remove: Vec<PruneCandidate>,
    /// Candidates kept because an output shows them (first page or its own retention).
    pub kept_for_outputs: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PrunePlan {
    pub sources: Vec<SourcePlan>,
}

impl PrunePlan {
    pub fn total(&self) -> usize {
        self.sources.iter().map(|s| s.remove.len()).sum()
    }
}

fn cutoff(r: &Retention, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    r.days.map(|d| now - chrono::Duration::days(d as i64))
}

fn describe(r: &Retention) -> String {
    match (r.days, r.count) {
        (Some(d), Some(n)) => format!("{d} days, newest {n}"),
        (Some(d), None) => format!("{d} days"),
        (None, Some(n)) => format!("newest {n}"),
        (None, None) => "none".into(),
    }
}

/// The ids an output keeps by its own retention: the entries it shows,
/// newest first, within its count and days.
async fn output_keeps(
    store: &dyn Store,
    feed: &FeedConfig,
    now: DateTime<Utc>,
    into: &mut HashSet<String>,
) -> Result<(), StoreError> {
    let since = cutoff(&feed.retention, now);
    let max = feed.retention.count.unwrap_or(usize::MAX);
    if max == 0 {
        return Ok(());
    }
    let mut kept = 0;
    scan_output(store, feed, 500, |e| {
        if since.is_some_and(|s| e.published() < s) {
            return ControlFlow::Break(());
        }
        into.insert(e.entry.id.clone());
        kept += 1;
        if kept >= max {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
}

/// Decides what pruning removes now; deletes nothing.
pub async fn plan(
    store: &dyn Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<PrunePlan, StoreError> {
    let mut protected = HashSet::new();
    for feed in &cfg.feeds {
        // Every copy of every item the output's first page shows: the copy
        // shown, the one whose id the item carries, and the others.
        for r in page(store, cfg, feed, 1).await?.reports {
            protected.insert(r.id);
            protected.insert(r.shown.entry.id);
            protected.extend(r.copies.into_iter().map(|c| c.entry.id));
        }
        if feed.retention.is_set() {
            output_keeps(store, feed, now, &mut protected).await?;
        }
    }
    let mut out = PrunePlan::default();
    for stats in store.entry_stats(now).await? {
        let id = stats.source_id;
        let (rule, label) = match cfg.source(&id) {
            Some(s) if s.retention.is_set() => (s.retention, describe(&s.retention)),
            Some(s) => {
                let outputs: Vec<&FeedConfig> = cfg
                    .feeds
                    .iter()
                    .filter(|f| f.sources.contains(&s.id))
                    .collect();
                if outputs.is_empty() || !outputs.iter().all(|f| f.retention.is_set()) {
                    continue;
                }
                (Retention::default(), "its outputs' retention".to_string())
            }
            None if cfg.retention.defaults.is_set() => (
                cfg.retention.defaults,
                format!(
                    "removed from the config: [defaults] {}",
                    describe(&cfg.retention.defaults)
                ),
            ),
            None => continue,
        };
        let candidates = store
            .retention_candidates(&id, rule.count, cutoff(&rule, now))
            .await?;
        let before = candidates.len();
        let remove: Vec<PruneCandidate> = candidates
            .into_iter()
            .filter(|c| !protected.contains(&c.id))
            .collect();
        if before == 0 {
            continue;
        }
        out.sources.push(SourcePlan {
            source_id: id,
            rule: label,
            kept_for_outputs: before - remove.len(),
            remove,
        });
    }
    Ok(out)
}

/// Deletes what `plan` lists, `batch` entries per transaction with a pause
/// between batches (polls and requests get the database in between), then
/// gives the space back. Stops between batches when `stop` turns true.
pub async fn execute(
    store: &dyn Store,
    plan: &PrunePlan,
    batch: usize,
    pause: Duration,
    stop: Option<&watch::Receiver<bool>>,
) -> Result<usize, StoreError> {
    let mut deleted = 0;
    'sources: for s in &plan.sources {
        for chunk in s.remove.chunks(batch.max(1)) {
            if stop.is_some_and(|s| *s.borrow()) {
                break 'sources;
            }
            deleted += store.prune_entries(chunk, Utc::now()).await?;
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }
    store
        .reclaim_space(Utc::now() - FORGET_PRUNED_AFTER)
        .await?;
    Ok(deleted)
}

/// `huiliu run`'s pruning: a minute after start, then every
/// `[retention] prune_interval` (read again after each reload).
pub async fn prune_loop(app: crate::serve::AppState, mut stop: watch::Receiver<bool>) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let cfg = app.config();
        wait = if cfg.retention.prune_interval.is_zero() {
            Duration::from_secs(60)
        } else {
            cfg.retention.prune_interval
        };
        if cfg.retention.prune_interval.is_zero() {
            continue;
        }
        let started = std::time::Instant::now();
        let result = async {
            let plan = plan(app.store.as_ref(), &cfg, Utc::now()).await?;
            execute(
                app.store.as_ref(),
                &plan,
                cfg.retention.batch_size,
                Duration::from_millis(50),
                Some(&stop),
            )
            .await
        }
        .await;
        match result {
            Ok(0) => tracing::debug!("pruning: nothing to remove"),
            Ok(n) => {
                app.changes
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tracing::info!(
                    removed = n,
                    duration_ms = started.elapsed().as_millis() as u64,
                    "pruned entries past their retention"
                );
            }
            Err(e) => tracing::error!(error = %e, "pruning failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_str;
    use crate::model::{Entry, SourceState};
    use crate::store::SqliteStore;
    use chrono::TimeZone;

    fn entry(source: &str, i: i64, now: DateTime<Utc>) -> Entry {
        let key = format!("k{i}");
        Entry {
            id: crate::normalize::stable_id(source, &key),
            source_id: source.into(),
            key: key.clone(),
            guid: None,
            url: None,
            title: format!("{source} {i}"),
            authors: vec![],
            summary: None,
            content: None,
            text: key.clone(),
            // k0 is today, k1 a day older, …
            published: Some(now - chrono::Duration::days(i)),
            updated: None,
            language: None,
            categories: vec![],
            enclosures: vec![],
            origin: None,
            content_hash: key,
        }
    }

    async fn store_with(sources: &[&str], n: i64, now: DateTime<Utc>) -> SqliteStore {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.keep().join("h.db")).await.unwrap();
        for s in sources {
            let entries: Vec<Entry> = (0..n).map(|i| entry(s, i, now)).collect();
            store
                .commit_poll(&SourceState::new(s), &entries, now)
                .await
                .unwrap();
        }
        store
    }

    fn removed(plan: &PrunePlan, source: &str) -> Vec<String> {
        plan.sources
            .iter()
            .filter(|s| s.source_id == source)
            .flat_map(|s| s.remove.iter().map(|c| c.key.clone()))
            .collect()
    }

    #[tokio::test]
    async fn rules_combine_and_outputs_protect_what_they_show() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let store = store_with(&["a", "b", "c", "gone"], 10, now).await;
        let cfg = load_str(
            r#"
[defaults]
kind = "file"
[[source]]
id = "a"
url = "a.xml"
retention_days = 5          # drops k5..k9 (older than 5 days) …
[[source]]
id = "b"
url = "b.xml"               # no retention: pruned only if every output showing it has one
[[source]]
id = "c"
url = "c.xml"
retention_count = 2
[[feed]]
id = "ab"
sources = ["a", "b"]
limit = 2
retention_count = 4         # … but this output keeps its newest 4 (a0 a0.. by date)
[[feed]]
id = "c"
sources = ["c"]
limit = 3                   # c's first page protects 3 of c's entries
"#,
            std::path::Path::new("/tmp/x.toml"),
        )
        .unwrap();
        let plan = plan(&store, &cfg, now).await.unwrap();
        // a: older than 5 days = k6..k9 (k5 is exactly 5 days: kept).
        assert_eq!(removed(&plan, "a"), ["k6", "k7", "k8", "k9"]);
        // b: its only output has a retention: all but the output's newest 4
        // (a and b interleave: a0 b0 a1 b1 → b keeps k0, k1).
        assert_eq!(
            removed(&plan, "b"),
            ["k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]
        );
        // c: newest 2 by rule, but the first page (3) is protected.
        assert_eq!(removed(&plan, "c").len(), 7);
        assert!(!removed(&plan, "c").contains(&"k2".to_string()));
        // A source gone from the config: [defaults] has no retention: kept.
        assert!(removed(&plan, "gone").is_empty());

        let n = execute(&store, &plan, 3, Duration::ZERO, None)
            .await
            .unwrap();
        assert_eq!(n, plan.total());
        assert_eq!(store.entry_count("c").await.unwrap(), 3);
        // A second plan finds nothing more.
        assert_eq!(super::plan(&store, &cfg, now).await.unwrap().total(), 0);
    }

    #[tokio::test]
    async fn removed_sources_follow_defaults_and_unlimited_outputs_keep_everything() {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let store = store_with(&["b", "gone"], 10, now).await;
        let cfg = load_str(
            r#"
[defaults]
kind = "file"
[[source]]
id = "b"
url = "b.xml"
retention_count = 0
"#,
            std::path::Path::new("/tmp/x.toml"),
        );
        assert!(cfg.is_err(), "retention_count must be at least 1");
        let cfg = load_str(
            r#"
[defaults]
kind = "file"
retention_days = 3
[[source]]
id = "b"
url = "b.xml"
[[feed]]
id = "all"
limit = 2
"#,
            std::path::Path::new("/tmp/x.toml"),
        )
        .unwrap();
        assert_eq!(cfg.sources[0].retention.days, Some(3));
        assert_eq!(cfg.retention.defaults.days, Some(3));
        let plan = plan(&store, &cfg, now).await.unwrap();
        assert_eq!(removed(&plan, "gone").len(), 6, "k4..k9");
        assert_eq!(removed(&plan, "b").len(), 6);
        // With the default limit (50) the first page holds all of b.
        let cfg = load_str(
            "[defaults]\nretention_days = 3\n[[source]]\nid = \"b\"\nkind = \"file\"\nurl = \"b.xml\"\n[[feed]]\nid = \"all\"\n",
            std::path::Path::new("/tmp/x.toml"),
        )
        .unwrap();
        let plan = super::plan(&store, &cfg, now).await.unwrap();
        assert!(removed(&plan, "b").is_empty());
        assert_eq!(removed(&plan, "gone").len(), 6);

        // Without [defaults] retention, b is in an output with no retention: kept.
        let cfg = load_str(
            "[[source]]\nid = \"b\"\nkind = \"file\"\nurl = \"b.xml\"\n[[feed]]\nid = \"all\"\nretention_days = 2\n[[feed]]\nid = \"other\"\n",
            std::path::Path::new("/tmp/x.toml"),
        )
        .unwrap();
        assert_eq!(plan_total(&store, &cfg, now).await, 0);
    }

    async fn plan_total(store: &SqliteStore, cfg: &Config, now: DateTime<Utc>) -> usize {
        plan(store, cfg, now).await.unwrap().total()
    }
}
