//! When sources are refreshed: one pass (`huiliu poll`) or forever
//! (`huiliu run`), with a bounded number of polls in flight.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::config::SourceConfig;
use crate::refresh::{Pipeline, PollReport, refresh_source};

/// The longest a failing source waits between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// `interval` ± 10%, so sources sharing an interval spread out.
pub fn jittered(interval: Duration) -> chrono::Duration {
    let secs = interval.as_secs_f64();
    let factor = rand::rng().random_range(0.9..=1.1);
    chrono::Duration::milliseconds((secs * factor * 1000.0) as i64)
}

/// Exponential backoff after `failures` consecutive failures, with jitter:
/// a quarter of the interval (at least a minute), doubled per failure,
/// capped at a day (or the interval, if longer).
pub fn backoff(interval: Duration, failures: u32) -> chrono::Duration {
    let base = (interval / 4).max(Duration::from_secs(60));
    let cap = MAX_BACKOFF.max(interval);
    let exp = failures.saturating_sub(1).min(16);
    let delay = base.saturating_mul(1 << exp).min(cap);
    jittered(delay)
}

/// Polls every source once, at most `concurrency` at a time.
pub async fn poll_once(
    pipeline: &Pipeline,
    sources: &[Arc<SourceConfig>],
    concurrency: usize,
) -> Vec<PollReport> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, source) in sources.iter().enumerate() {
        let (p, s, permits) = (pipeline.clone(), source.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, refresh_source(&p, &s).await)
        });
    }
    let mut reports: Vec<(usize, PollReport)> = Vec::with_capacity(sources.len());
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => reports.push(r),
            Err(e) => tracing::error!(error = %e, "a poll task panicked"),
        }
    }
    reports.sort_by_key(|(i, _)| *i);
    reports.into_iter().map(|(_, r)| r).collect()
}

/// Polls each source whenever it is due until `shutdown` turns true; polls
/// in flight then finish (their writes complete) before this returns.
pub async fn run(
    pipeline: Pipeline,
    sources: Vec<Arc<SourceConfig>>,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for source in sources {
        let (p, permits, mut stop) = (pipeline.clone(), permits.clone(), shutdown.clone());
        tasks.spawn(async move {
            loop {
                let wait = match p.store.state(&source.id).await {
                    Ok(state) => state
                        .next_due
                        .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                        // Never polled: start soon, spread over a few seconds.
                        .unwrap_or_else(|| Duration::from_millis(rand::rng().random_range(0..3000))),
                    Err(e) => {
                        tracing::error!(source = %source.id, error = %e, "cannot read source state");
                        Duration::from_secs(60)
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                let permit = tokio::select! {
                    p = permits.clone().acquire_owned() => p,
                    _ = stop.wait_for(|s| *s) => return,
                };
                // Not raced against shutdown: a started poll finishes its write.
                refresh_source(&p, &source).await;
                drop(permit);
                if *stop.borrow() {
                    return;
                }
            }
        });
    }
    let _ = shutdown.wait_for(|s| *s).await;
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let i = Duration::from_secs(1800);
        let first = backoff(i, 1).num_seconds();
        let third = backoff(i, 3).num_seconds();
        assert!((405..=495).contains(&first), "{first}");
        assert!((1620..=1980).contains(&third), "{third}");
        let late = backoff(i, 40).num_seconds();
        assert!(
            late <= (MAX_BACKOFF.as_secs() as f64 * 1.1) as i64,
            "{late}"
        );
        assert!(backoff(Duration::from_secs(10), 1).num_seconds() >= 54);
    }
}
