//! The refresh of one source, top to bottom:
//! stored state → fetch (conditional) → decode → parse → normalize → store
//! (one transaction with the new state) → next due time.
//!
//! Every failure ends as a recorded error on the source with a backoff; it
//! never touches the entries already stored, nor any other source.

pub mod scrape;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{SourceConfig, SourceKind};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::model::{Entry, PollStatus, ScrapeHealth, SourceState};
use crate::normalize::{normalize_entry, normalize_feed};
use crate::parse::{decode::decode, parse_feed};
use crate::schedule;
use crate::store::{PollCounts, Store};

/// Everything a refresh needs; shared by all workers.
#[derive(Clone)]
pub struct Pipeline {
    pub fetcher: Fetcher,
    pub store: Arc<dyn Store>,
    /// Bumped after every poll that changed stored entries, so the server
    /// knows its cached feed bytes are stale.
    pub changes: Arc<AtomicU64>,
}

/// The result of one refresh, as `huiliu poll` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fetched(PollCounts),
    NotModified,
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct PollReport {
    pub source_id: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
    pub next_due: Option<DateTime<Utc>>,
}

impl PollReport {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

/// What the fetch-to-normalize steps produced.
enum Step {
    NotModified,
    Entries {
        entries: Vec<Entry>,
        validators: Validators,
        moved_to: Option<Url>,
        /// `html` sources: how the selectors fared.
        scrape: Option<Box<ScrapeHealth>>,
    },
}

/// Why the fetch-to-normalize steps failed (with scrape health, if any).
struct Failure {
    message: String,
    scrape: Option<ScrapeHealth>,
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure {
            message,
            scrape: None,
        }
    }
}

/// Refreshes one source and records the result.
pub async fn refresh_source(p: &Pipeline, source: &SourceConfig) -> PollReport {
    let started = Instant::now();
    let now = Utc::now();
    let report = |outcome, next_due| PollReport {
        source_id: source.id.clone(),
        outcome,
        elapsed: started.elapsed(),
        next_due,
    };
    let mut state = match p.store.state(&source.id).await {
        Ok(s) => s,
        Err(e) => return report(Outcome::Failed(e.to_string()), None),
    };
    let url = current_url(source, &state);
    state.last_attempt = Some(now);

    let step = fetch_and_normalize(p, source, &url, &state).await;
    let (entries, outcome) = match step {
        Ok(Step::NotModified) => {
            succeeded(&mut state, source, now, PollStatus::NotModified);
            (Vec::new(), Outcome::NotModified)
        }
        Ok(Step::Entries {
            entries,
            validators,
            moved_to,
            scrape,
        }) => {
            succeeded(&mut state, source, now, PollStatus::Ok);
            state.scrape = scrape.map(|h| *h);
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            if let Some(new_url) = moved_to {
                tracing::warn!(source = %source.id, from = %source.url, to = %new_url,
                    "source moved permanently; polling the new URL (update the config)");
                state.moved_to = Some(format!("{} {}", source.url, new_url));
            }
            (entries, Outcome::Fetched(PollCounts::default()))
        }
        Err(Failure { message, scrape }) => {
            if scrape.is_some() {
                state.scrape = scrape;
            }
            state.last_status = Some(PollStatus::Error);
            state.last_error = Some(message.clone());
            state.consecutive_failures = state.consecutive_failures.saturating_add(1);
            state.next_due =
                Some(now + schedule::backoff(source.interval, state.consecutive_failures));
            (Vec::new(), Outcome::Failed(message))
        }
    };

    let outcome = match p.store.commit_poll(&state, &entries, now).await {
        Ok(counts) => {
            if counts.changed() {
                p.changes.fetch_add(1, Ordering::Release);
            }
            match outcome {
                Outcome::Fetched(_) => {
                    let mut counts = counts;
                    // Scraped items already stored were not re-read: they are unchanged.
                    counts.unchanged += state.scrape.as_ref().map_or(0, |h| h.articles_known);
                    Outcome::Fetched(counts)
                }
                other => other,
            }
        }
        Err(e) => Outcome::Failed(format!("{e} (nothing from this poll was stored)")),
    };
    let r = report(outcome, state.next_due);
    log_poll(source, &url, &r);
    r
}

fn succeeded(
    state: &mut SourceState,
    source: &SourceConfig,
    now: DateTime<Utc>,
    status: PollStatus,
) {
    state.last_status = Some(status);
    state.last_success = Some(now);
    state.last_error = None;
    state.consecutive_failures = 0;
    state.next_due = Some(now + schedule::jittered(source.interval));
}

/// The configured URL, or where a permanent redirect moved it (as long as
/// the configured URL is still the one that moved).
fn current_url(source: &SourceConfig, state: &SourceState) -> Url {
    state
        .moved_to
        .as_deref()
        .and_then(|m| m.split_once(' '))
        .filter(|(from, _)| *from == source.url.as_str())
        .and_then(|(_, to)| Url::parse(to).ok())
        .unwrap_or_else(|| source.url.clone())
}

async fn fetch_and_normalize(
    p: &Pipeline,
    source: &SourceConfig,
    url: &Url,
    state: &SourceState,
) -> Result<Step, Failure> {
    if source.kind == SourceKind::Html {
        return scrape_and_normalize(p, source, url, state).await;
    }
    let body = match p
        .fetcher
        .fetch(source, url, &Validators::of(state))
        .await
        .map_err(|e| Failure::from(e.to_string()))?
    {
        Fetched::NotModified(_) => return Ok(Step::NotModified),
        Fetched::Body(body) => body,
    };
    let (text, _, _) = decode(&body.bytes, body.content_type.as_deref(), source.encoding);
    let parsed = parse_feed(&text, &body.url, source.timezone, &source.date_formats)
        .map_err(|e| Failure::from(e.to_string()))?;
    let base = parsed.base.clone().unwrap_or_else(|| body.url.clone());
    let entries = normalize_feed(&parsed, source, &base);
    Ok(Step::Entries {
        entries,
        validators: body.validators,
        moved_to: body.moved_permanently,
        scrape: None,
    })
}

/// `html` sources: list pages and the article pages of new items
/// ([`scrape::scrape`]), then the same normalization as feeds. Items already
/// stored are not in the result, so they stay as they are.
async fn scrape_and_normalize(
    p: &Pipeline,
    source: &SourceConfig,
    url: &Url,
    state: &SourceState,
) -> Result<Step, Failure> {
    let scraped = scrape::scrape(
        &p.fetcher,
        Some(p.store.as_ref()),
        source,
        url,
        &Validators::of(state),
    )
    .await
    .map_err(|f| Failure {
        message: f.message,
        scrape: f.health,
    })?;
    let pages = match scraped {
        scrape::Scrape::NotModified => return Ok(Step::NotModified),
        scrape::Scrape::Pages(pages) => pages,
    };
    let mut entries: Vec<Entry> = pages
        .entries
        .iter()
        .map(|raw| normalize_entry(raw, source, &pages.url, None))
        .collect();
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.key.clone()));
    Ok(Step::Entries {
        entries,
        validators: pages.validators,
        moved_to: pages.moved_to,
        scrape: Some(Box::new(pages.health)),
    })
}

fn log_poll(source: &SourceConfig, url: &Url, r: &PollReport) {
    let ms = r.elapsed.as_millis() as u64;
    let metrics = crate::metrics::get();
    match &r.outcome {
        Outcome::Fetched(c) => metrics.poll("ok", r.elapsed, c.new, c.updated),
        Outcome::NotModified => metrics.poll("not_modified", r.elapsed, 0, 0),
        Outcome::Failed(_) => metrics.poll("error", r.elapsed, 0, 0),
    }
    match &r.outcome {
        Outcome::Fetched(c) => tracing::info!(
            source = %source.id, status = "ok", duration_ms = ms,
            new = c.new, updated = c.updated, unchanged = c.unchanged, "polled"
        ),
        Outcome::NotModified => tracing::info!(
            source = %source.id, status = "not_modified", duration_ms = ms, "polled"
        ),
        Outcome::Failed(e) => tracing::warn!(
            source = %source.id, url = %url, status = "error", duration_ms = ms, error = %e, "poll failed"
        ),
    }
}
