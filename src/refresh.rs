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
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::{SourceConfig, SourceKind};
use crate::fetch::{FetchError, FetchErrorKind, Fetched, Fetcher, Validators};
use crate::model::{Entry, PollStatus, ScrapeHealth, SourceState};
use crate::normalize::{normalize_entry, normalize_feed};
use crate::parse::{decode::decode, parse_feed, syndication_period};
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
    /// Near-duplicate clusters of the stored entries.
    pub clusters: Arc<crate::dedup::SharedIndex>,
}

impl Pipeline {
    pub fn new(fetcher: Fetcher, store: Arc<dyn Store>) -> Pipeline {
        Pipeline {
            fetcher,
            store,
            changes: Arc::new(AtomicU64::new(1)),
            clusters: Arc::default(),
        }
    }
}

/// The result of one refresh, as `huiliu poll` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Fetched(PollCounts),
    NotModified,
    Failed(String),
    /// Not polled: the source is disabled (it answered `410 Gone`).
    Skipped(String),
}

#[derive(Debug, Clone)]
pub struct PollReport {
    pub source_id: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// `None`: not to be polled again (disabled) or the state was unreadable.
    pub next_due: Option<DateTime<Utc>>,
    /// The URL the next poll will fetch (the configured one, or where a
    /// permanent redirect moved the source).
    pub url: Url,
    /// The source is disabled (it answered `410 Gone`): not polled again
    /// until its url changes in the config.
    pub disabled: bool,
}

impl PollReport {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }
}

/// What the fetch-to-normalize steps produced.
enum Step {
    NotModified {
        fresh_for: Option<Duration>,
    },
    Entries {
        entries: Vec<Entry>,
        validators: Validators,
        moved_to: Option<Url>,
        /// `html` sources: how the selectors fared.
        scrape: Option<Box<ScrapeHealth>>,
        /// RSS `<ttl>` / `sy:updatePeriod`.
        feed_hint: Option<Duration>,
    },
}

/// Why a refresh failed, as stored on the source.
struct Failure {
    kind: String,
    message: String,
    retry_after: Option<Duration>,
    http_status: Option<u16>,
    /// `html` sources: how the selectors fared before failing.
    scrape: Option<ScrapeHealth>,
}

impl Failure {
    fn new(kind: &str, message: impl Into<String>) -> Failure {
        Failure {
            kind: kind.to_string(),
            message: message.into(),
            retry_after: None,
            http_status: None,
            scrape: None,
        }
    }
}

impl From<FetchError> for Failure {
    fn from(e: FetchError) -> Failure {
        Failure {
            kind: e.kind.label(),
            http_status: match e.kind {
                FetchErrorKind::Http(code) => Some(code),
                _ => None,
            },
            retry_after: e.retry_after,
            message: e.to_string(),
            scrape: None,
        }
    }
}

/// Refreshes one source and records the result.
pub async fn refresh_source(p: &Pipeline, source: &SourceConfig) -> PollReport {
    refresh_source_with(p, source, None).await
}

/// [`refresh_source`], releasing `worker` once the source has answered and
/// its entries are normalized: the worker limit bounds requests and parsing
/// in flight, and another source's request need not wait for this one's
/// database write (which the store may group with others).
pub async fn refresh_source_with(
    p: &Pipeline,
    source: &SourceConfig,
    worker: Option<tokio::sync::OwnedSemaphorePermit>,
) -> PollReport {
    let started = Instant::now();
    let now = Utc::now();
    let report = |outcome, next_due, url: &Url| PollReport {
        source_id: source.id.clone(),
        outcome,
        elapsed: started.elapsed(),
        next_due,
        url: url.clone(),
        disabled: false,
    };
    let mut state = match p.store.state(&source.id).await {
        Ok(s) => s,
        Err(e) => return report(Outcome::Failed(e.to_string()), None, &source.url),
    };
    let url = current_url(source, &state);
    if let Some(why) = disabled(source, &state) {
        let mut r = report(Outcome::Skipped(why), None, &url);
        r.disabled = true;
        return r;
    }
    state.last_attempt = Some(now);

    let step = fetch_and_normalize(p, source, &url, &state).await;
    drop(worker);
    let http = source.kind != SourceKind::File;
    let mut next_url = url.clone();
    let (entries, outcome) = match step {
        Ok(Step::NotModified { fresh_for }) => {
            state.http_status = http.then_some(304);
            let hint = fresh_for.max(state.feed_hint_secs.map(Duration::from_secs));
            succeeded(
                &mut state,
                source,
                now,
                PollStatus::NotModified,
                Some(false),
                hint,
            );
            (Vec::new(), Outcome::NotModified)
        }
        Ok(Step::Entries {
            entries,
            validators,
            moved_to,
            scrape,
            feed_hint,
        }) => {
            let print = fingerprint(&entries);
            let changed = state.fingerprint.as_ref().map(|old| *old != print);
            if changed != Some(false) {
                state.last_change = Some(now);
            }
            state.fingerprint = Some(print);
            state.feed_hint_secs = feed_hint.map(|d| d.as_secs());
            state.http_status = http.then_some(200);
            succeeded(
                &mut state,
                source,
                now,
                PollStatus::Ok,
                changed,
                validators.fresh_for.max(feed_hint),
            );
            state.scrape = scrape.map(|h| *h);
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            if let Some(new_url) = moved_to {
                tracing::warn!(source = %source.id, from = %source.url, to = %new_url,
                    "source moved permanently; polling the new URL (update the config)");
                state.moved_to = Some(format!("{} {}", source.url, new_url));
                next_url = new_url;
            }
            (entries, Outcome::Fetched(PollCounts::default()))
        }
        Err(failure) => {
            if failure.scrape.is_some() {
                state.scrape = failure.scrape.clone();
            }
            let message = failed(&mut state, source, now, failure, p.fetcher.max_backoff());
            (Vec::new(), Outcome::Failed(message))
        }
    };

    let outcome = match p.store.commit_poll(&state, &entries, now).await {
        Ok(counts) => {
            if counts.changed() {
                // Clusters first, so a reader never sees a duplicate in between.
                cluster(p, source, &entries, now, counts.new > 0);
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
    let mut r = report(outcome, state.next_due, &next_url);
    r.disabled = state.last_status == Some(PollStatus::Gone);
    log_poll(source, &url, &r);
    r
}

/// A success: the interval adapts (`changed`: `Some(true)` the source
/// changed, `Some(false)` it did not, `None` unknown) and the next poll is
/// no sooner than what the source announced (`hint`).
fn succeeded(
    state: &mut SourceState,
    source: &SourceConfig,
    now: DateTime<Utc>,
    status: PollStatus,
    changed: Option<bool>,
    hint: Option<Duration>,
) {
    state.last_status = Some(status);
    state.last_success = Some(now);
    state.last_error = None;
    state.error_kind = None;
    state.consecutive_failures = 0;
    let current = state
        .interval_secs
        .map(Duration::from_secs)
        .unwrap_or(source.interval);
    let interval =
        schedule::adapt_interval(current, changed, source.min_interval, source.max_interval);
    state.interval_secs = Some(interval.as_secs());
    state.next_due = Some(now + schedule::next_delay(interval, hint, source.max_interval));
}

/// A failure: recorded with its kind, then backoff — or `Retry-After`, or
/// for `410 Gone` no next poll at all. Returns the message.
fn failed(
    state: &mut SourceState,
    source: &SourceConfig,
    now: DateTime<Utc>,
    f: Failure,
    max_backoff: Duration,
) -> String {
    state.last_status = Some(PollStatus::Error);
    state.error_kind = Some(f.kind.clone());
    state.http_status = f.http_status;
    state.consecutive_failures = state.consecutive_failures.saturating_add(1);
    let mut message = f.message;
    if f.http_status == Some(410) {
        state.last_status = Some(PollStatus::Gone);
        state.disabled_url = Some(source.url.to_string());
        state.next_due = None;
        message.push_str(": the source is disabled; change its url in the config to poll it again");
        tracing::warn!(source = %source.id, url = %source.url, "source is gone (410): disabled");
    } else if let Some(wait) = f.retry_after {
        state.next_due = Some(now + schedule::retry_after_delay(wait, source.min_interval));
    } else {
        state.next_due =
            Some(now + schedule::backoff(source.interval, state.consecutive_failures, max_backoff));
    }
    state.last_error = Some(message.clone());
    message
}

/// Why the source is not polled, if it is disabled: it answered 410 and the
/// config still names the URL that is gone.
fn disabled(source: &SourceConfig, state: &SourceState) -> Option<String> {
    (state.disabled_url.as_deref() == Some(source.url.as_str())).then(|| {
        format!(
            "disabled: {} answered 410 Gone; change its url in the config to poll it again",
            source.url
        )
    })
}

/// What identifies the entries a source published: same entries, same
/// fingerprint (whatever else in the document changed).
fn fingerprint(entries: &[Entry]) -> String {
    let mut items: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.key.as_str(), e.content_hash.as_str()))
        .collect();
    items.sort_unstable();
    let mut h = Sha256::new();
    for (k, c) in items {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(c.as_bytes());
        h.update([0]);
    }
    crate::normalize::hex(&h.finalize()[..12])
}

/// The configured URL, or where a permanent redirect moved it (as long as
/// the configured URL is still the one that moved).
pub fn current_url(source: &SourceConfig, state: &SourceState) -> Url {
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
    let body = match p.fetcher.fetch(source, url, &Validators::of(state)).await? {
        Fetched::NotModified(v) => {
            return Ok(Step::NotModified {
                fresh_for: v.fresh_for,
            });
        }
        Fetched::Body(body) => body,
    };
    let (text, _, _) = decode(&body.bytes, body.content_type.as_deref(), source.encoding);
    let parsed = parse_feed(&text, &body.url, source.timezone, &source.date_formats)
        .map_err(|e| Failure::new("parse", e.to_string()))?;
    let feed_hint = parsed
        .ttl_minutes
        .map(|m| Duration::from_secs(u64::from(m) * 60))
        .max(syndication_period(&text));
    let mut parsed = parsed;
    let base = parsed.base.clone().unwrap_or_else(|| body.url.clone());
    // `full_text`: the new items' article pages, before normalizing.
    let mut health = None;
    if let Some(cfg) = &source.full_text {
        let raw = std::mem::take(&mut parsed.entries);
        let (raw, h) = scrape::full_text(&p.fetcher, p.store.as_ref(), source, cfg, raw, &base)
            .await
            .map_err(|f| Failure {
                kind: "full_text".into(),
                message: f.message,
                retry_after: None,
                http_status: None,
                scrape: f.health,
            })?;
        parsed.entries = raw;
        health = Some(Box::new(h));
    }
    let entries = normalize_feed(&parsed, source, &base);
    Ok(Step::Entries {
        entries,
        validators: body.validators,
        moved_to: body.moved_permanently,
        feed_hint,
        scrape: health,
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
        kind: "scrape".into(),
        message: f.message,
        retry_after: None,
        http_status: None,
        scrape: f.health,
    })?;
    let pages = match scraped {
        scrape::Scrape::NotModified => return Ok(Step::NotModified { fresh_for: None }),
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
        feed_hint: None,
    })
}

/// Loads the stored entries into the near-duplicate index (at start-up),
/// newest first, up to `max` of them.
pub async fn load_clusters(
    p: &Pipeline,
    config: &crate::config::Config,
    max: usize,
) -> Result<usize, crate::store::StoreError> {
    let entries = p
        .store
        .entries(&crate::store::EntryQuery {
            sources: config.sources.iter().map(|s| s.id.clone()).collect(),
            limit: max,
            offset: 0,
        })
        .await?;
    p.clusters
        .load(&entries, |id| config.source(id).map_or(0, |s| s.priority));
    Ok(entries.len())
}

/// Dedup stage: the stored entries join the near-duplicate index (an
/// updated entry replaces itself, so its cluster is recomputed).
fn cluster(p: &Pipeline, source: &SourceConfig, entries: &[Entry], now: DateTime<Utc>, new: bool) {
    p.clusters.insert(
        entries
            .iter()
            .map(|e| crate::dedup::shared::record(e, now, source.priority)),
    );
    if new {
        for e in entries {
            // Only this entry's component: a full re-clustering per poll
            // grows with every entry stored.
            if p.clusters
                .component_of(&e.id)
                .is_some_and(|c| c.members.len() > 1 && c.id != e.id)
            {
                crate::metrics::get().dedup_merge();
                tracing::debug!(source = %source.id, entry = %e.id, "near-duplicate of a stored report");
            }
        }
    }
}

fn log_poll(source: &SourceConfig, url: &Url, r: &PollReport) {
    let ms = r.elapsed.as_millis() as u64;
    let metrics = crate::metrics::get();
    match &r.outcome {
        Outcome::Fetched(c) => metrics.poll("ok", r.elapsed, c.new, c.updated),
        Outcome::NotModified => metrics.poll("not_modified", r.elapsed, 0, 0),
        Outcome::Failed(_) => metrics.poll("error", r.elapsed, 0, 0),
        Outcome::Skipped(_) => {}
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
        Outcome::Skipped(why) => {
            tracing::debug!(source = %source.id, status = "skipped", reason = %why, "not polled")
        }
    }
}
