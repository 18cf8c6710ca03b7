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
use crate::publish::select;
use crate::serve::page_entries;
use crate::store::{EntryQuery, PruneCandidate, Store, StoreError};

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
    let batch = 500;
    let mut offset = 0;
    let mut kept = 0;
    loop {
        let rows = store
            .entries(&EntryQuery {
                sources: feed.sources.clone(),
                limit: batch,
                offset,
            })
            .await?;
        let exhausted = rows.len() < batch;
        offset += rows.len();
        for e in rows {
            if since.is_some_and(|s| e.published() < s) || kept >= max {
                return Ok(());
            }
            if select::keep(&feed.filter, &e, now) {
                into.insert(e.entry.id.clone());
                kept += 1;
            }
        }
        if exhausted {
            return Ok(());
        }
    }
}

/// Decides what pruning removes now; deletes nothing.
pub async fn plan(
    store: &dyn Store,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<PrunePlan, StoreError> {
    let mut protected = HashSet::new();
    for feed in &cfg.feeds {
        let (first, _) = page_entries(store, feed, 1).await?;
        protected.extend(first.into_iter().map(|e| e.entry.id));
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
