//! The refresh of one source, top to bottom:
//! stored state → fetch (conditional) → decode → parse → normalize → store
//! (one transaction with the new state) → next due time.
//!
//! Every failure ends as a recorded error on the source with a backoff; it
//! never touches the entries already stored, nor any other source.

pub mod discover;
pub mod scrape;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use url::Url;

use crate::budget::{self, StepError};
use crate::config::{SourceConfig, SourceKind};
use crate::dedup::{Clusterer, DedupConfig, Loaded};
use crate::fetch::{FetchError, FetchErrorKind, Fetched, Fetcher, Validators};
use crate::model::{Entry, PollStatus, ScrapeHealth, SourceState};
use crate::normalize::{normalize_entry, normalize_feed};
use crate::parse::{decode::decode_checked, parse_feed, syndication_period};
use crate::redact;
use crate::store::{PollCounts, Store};
use crate::timing;

/// Everything a refresh needs; shared by all workers.
#[derive(Clone)]
pub struct Pipeline {
    pub fetcher: Fetcher,
    pub store: Arc<dyn Store>,
    /// Bumped after every poll that changed stored entries, so the server
    /// knows its cached feed bytes are stale.
    pub changes: Arc<AtomicU64>,
    /// The dedup stage: decides each written entry's cluster.
    pub dedup: Arc<Clusterer>,
    /// Polls started and finished, for `/healthz` and the watchdog.
    pub liveness: Arc<crate::liveness::Liveness>,
}

impl Pipeline {
    pub fn new(fetcher: Fetcher, store: Arc<dyn Store>) -> Pipeline {
        Pipeline {
            fetcher,
            store,
            changes: Arc::new(AtomicU64::new(1)),
            dedup: Arc::new(Clusterer::empty(DedupConfig::default())),
            liveness: Arc::default(),
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
        /// Entries left out beyond `fetch.max_entries`.
        dropped: usize,
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
    /// A failure of the page steps (list or article pages), with the
    /// scrape health they reached.
    fn of_pages(kind: &str, f: scrape::ScrapeFailure) -> Failure {
        Failure {
            kind: f.kind.unwrap_or(kind).to_string(),
            message: f.message,
            retry_after: None,
            http_status: None,
            scrape: f.health,
        }
    }

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

impl Failure {
    /// A panic caught while refreshing: a bug, reported on the source.
    fn panic_payload(payload: &(dyn std::any::Any + Send)) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Failure::panic(&what)
    }

    /// A panic (its message) caught while refreshing.
    fn panic(what: &str) -> Failure {
        tracing::error!(panic = %what, "a poll panicked; the source is retried later");
        Failure::new(
            "panic",
            format!(
                "internal error while reading this source ({what}); it is retried later, please report it"
            ),
        )
    }
}

/// CPU-bound work (decoding, parsing, normalizing) runs on the blocking
/// pool, off the async workers that answer HTTP, within the page's time
/// budget ([`crate::budget`]): past it the source fails with kind
/// `parse_budget`; a panic is a failure of kind `panic`.
impl From<StepError> for Failure {
    fn from(e: StepError) -> Failure {
        match e {
            StepError::OverBudget(over) => Failure::new(budget::KIND, over.to_string()),
            StepError::Panic(what) => Failure::panic(&what),
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
    refresh_source_with(p, source, ()).await
}

/// [`refresh_source`], releasing `permits` (the scheduler's worker and host
/// admission) once the source has answered and its entries are normalized:
/// they bound requests and parsing in flight, and another source's request
/// need not wait for this one's database write (which the store may group
/// with others).
pub async fn refresh_source_with(
    p: &Pipeline,
    source: &SourceConfig,
    permits: impl Send,
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
    let url = state.current_url(&source.url);
    if let Some(why) = disabled(source, &state) {
        let mut r = report(Outcome::Skipped(why), None, &url);
        r.disabled = true;
        return r;
    }
    state.last_attempt = Some(now);

    // A panic anywhere in fetching, parsing or normalizing is this source's
    // failure, never the process's: recorded with kind `panic`, retried later.
    let step = match AssertUnwindSafe(fetch_and_normalize(p, source, &url, &state))
        .catch_unwind()
        .await
    {
        Ok(step) => step,
        Err(panic) => Err(Failure::panic_payload(panic.as_ref())),
    };
    drop(permits);
    let http = source.kind() != SourceKind::File;
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
            dropped,
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
            if dropped > 0 {
                // Not an error (the poll succeeded), but shown in the health.
                let kept = p.fetcher.max_entries();
                state.error_kind = Some("entries_capped".into());
                state.last_error = Some(format!(
                    "the document lists {} entries; only the first {kept} were read (fetch.max_entries)",
                    kept + dropped
                ));
                tracing::warn!(source = %source.id, kept, dropped, "entries beyond fetch.max_entries left out");
            }
            state.etag = validators.etag;
            state.last_modified = validators.last_modified;
            if let Some(new_url) = moved_to {
                tracing::warn!(source = %source.id, from = %redact::url(&source.url), to = %redact::url(&new_url),
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
                // Clusters stored first, so a cached page is rebuilt (and a
                // reader told) only once the copies are grouped.
                cluster(p, source, &entries).await;
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

/// Records a poll task that died (a panic outside the guarded steps) as a
/// failure of its source with kind `panic`, so `huiliu poll` and the health
/// show it; the source is polled again after its backoff.
pub async fn record_crash(p: &Pipeline, source: &SourceConfig, what: &str) -> PollReport {
    let now = Utc::now();
    let mut state = p
        .store
        .state(&source.id)
        .await
        .unwrap_or_else(|_| SourceState::new(&source.id));
    state.last_attempt = Some(now);
    let failure = Failure::new(
        "panic",
        format!(
            "internal error while polling this source ({what}); it is retried later, please report it"
        ),
    );
    let message = failed(&mut state, source, now, failure, p.fetcher.max_backoff());
    if let Err(e) = p.store.commit_poll(&state, &[], now).await {
        tracing::error!(source = %source.id, error = %e, "cannot record the failed poll");
    }
    PollReport {
        source_id: source.id.clone(),
        outcome: Outcome::Failed(message),
        elapsed: Duration::ZERO,
        next_due: state.next_due,
        url: state.current_url(&source.url),
        disabled: false,
    }
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
        timing::adapt_interval(current, changed, source.min_interval, source.max_interval);
    state.interval_secs = Some(interval.as_secs());
    state.next_due = Some(now + timing::next_delay(interval, hint, source.max_interval));
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
        tracing::warn!(source = %source.id, url = %redact::url(&source.url), "source is gone (410): disabled");
    } else if let Some(wait) = f.retry_after {
        state.next_due = Some(now + timing::retry_after_delay(wait, source.min_interval));
    } else {
        state.next_due =
            Some(now + timing::backoff(source.interval, state.consecutive_failures, max_backoff));
    }
    // Stored and shown on the status page: never with a URL's secrets.
    let message = redact::text(&message).into_owned();
    state.last_error = Some(message.clone());
    message
}

/// Why the source is not polled, if it is disabled: it answered 410 and the
/// config still names the URL that is gone.
fn disabled(source: &SourceConfig, state: &SourceState) -> Option<String> {
    state.is_gone(&source.url).then(|| {
        format!(
            "disabled: {} answered 410 Gone; change its url in the config to poll it again",
            redact::url(&source.url)
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

async fn fetch_and_normalize(
    p: &Pipeline,
    source: &SourceConfig,
    url: &Url,
    state: &SourceState,
) -> Result<Step, Failure> {
    // Parsing of this source that ran past its budget and still runs: not
    // started again until it ends (so such threads cannot pile up).
    if let Some(over) = p.fetcher.budgets().still_running(&source.id) {
        return Err(Failure::new(budget::KIND, over.to_string()));
    }
    if let Some(rules) = source.scrape() {
        return scrape_and_normalize(p, source, rules, url, state).await;
    }
    let body = match p.fetcher.fetch(source, url, &Validators::of(state)).await? {
        Fetched::NotModified(v) => {
            return Ok(Step::NotModified {
                fresh_for: v.fresh_for,
            });
        }
        Fetched::Body(body) => body,
    };
    let validators = body.validators.clone();
    let moved_to = body.moved_permanently.clone();
    let (source_c, max_entries) = (source.clone(), p.fetcher.max_entries());
    // One budget for the document: reading it and normalizing its entries.
    let budgets = p.fetcher.budgets();
    let mut document = budgets.page(&body.url);
    let mut read = budgets
        .run(&source.id, &mut document, move || {
            read_feed(&body, &source_c, max_entries)
        })
        .await?
        .map_err(|e| Failure::new("parse", e))?;
    // `full_text`: the new items' article pages, before normalizing.
    let mut health = read.health.take();
    if let Some(cfg) = source.full_text() {
        let raw = std::mem::take(&mut read.parsed.entries);
        let (raw, h) =
            scrape::full_text(&p.fetcher, p.store.as_ref(), source, cfg, raw, &read.base)
                .await
                .map_err(|f| Failure::of_pages("full_text", f))?;
        read.parsed.entries = raw;
        health = Some(Box::new(h));
    }
    let source_c = source.clone();
    let (parsed, base) = (read.parsed, read.base);
    let entries = budgets
        .run(&source.id, &mut document, move || {
            normalize_feed(&parsed, &source_c, &base)
        })
        .await?;
    Ok(Step::Entries {
        entries,
        validators,
        moved_to,
        feed_hint: read.feed_hint,
        scrape: health,
        dropped: read.dropped,
    })
}

/// What [`read_feed`] read from a feed body.
struct FeedRead {
    parsed: crate::parse::ParsedFeed,
    /// What the feed's relative links resolve against.
    base: Url,
    /// RSS `<ttl>` / `sy:updatePeriod`.
    feed_hint: Option<Duration>,
    /// Entries beyond `fetch.max_entries`, left out.
    dropped: usize,
    /// What the parser repaired or skipped, if anything.
    health: Option<Box<ScrapeHealth>>,
}

/// Body → parsed feed: decode, keep the first `max_entries`, parse.
fn read_feed(
    body: &crate::fetch::Body,
    source: &SourceConfig,
    max_entries: usize,
) -> Result<FeedRead, String> {
    let (text, encoding, _, malformed) =
        decode_checked(&body.bytes, body.content_type.as_deref(), source.encoding);
    let cut = crate::parse::cut::first_entries(&text, max_entries);
    let mut parsed = parse_feed(&cut.text, &body.url, source.timezone, &source.date_formats)
        .map_err(|e| e.to_string())?;
    if malformed {
        parsed
            .problems
            .insert(0, crate::parse::decode::malformed_problem(encoding));
    }
    let feed_hint = parsed
        .ttl_minutes
        .map(|m| Duration::from_secs(u64::from(m) * 60))
        .max(syndication_period(&cut.text));
    let base = parsed.base.clone().unwrap_or_else(|| body.url.clone());
    // What the parser repaired or skipped shows in the source's health.
    let health = (!parsed.problems.is_empty()).then(|| {
        for p in &parsed.problems {
            tracing::info!(source = %source.id, problem = %p, "feed read with a repair");
        }
        Box::new(ScrapeHealth {
            pages: 1,
            items: parsed.items_seen,
            filled: [("entries".to_string(), parsed.entries.len())].into(),
            problems: parsed.problems.iter().take(10).cloned().collect(),
            ..ScrapeHealth::default()
        })
    });
    Ok(FeedRead {
        dropped: cut.dropped,
        parsed,
        base,
        feed_hint,
        health,
    })
}

/// `html` sources: list pages and the article pages of new items
/// ([`scrape::scrape`]), then the same normalization as feeds. Items already
/// stored are not in the result, so they stay as they are.
async fn scrape_and_normalize(
    p: &Pipeline,
    source: &SourceConfig,
    rules: &crate::config::ScrapeConfig,
    url: &Url,
    state: &SourceState,
) -> Result<Step, Failure> {
    let scraped = scrape::scrape(
        &p.fetcher,
        Some(p.store.as_ref()),
        source,
        rules,
        url,
        &Validators::of(state),
    )
    .await
    .map_err(|f| Failure::of_pages("scrape", f))?;
    let pages = match scraped {
        scrape::Scrape::NotModified => return Ok(Step::NotModified { fresh_for: None }),
        scrape::Scrape::Pages(pages) => pages,
    };
    let mut pages = *pages;
    // Each entry is one article page (cleaning its body is most of the
    // work): each is normalized within its own budget; one over it counts
    // as a failed article, the others are kept.
    let budgets = p.fetcher.budgets();
    let (source_c, list_url) = (Arc::new(source.clone()), Arc::new(pages.url.clone()));
    let mut entries: Vec<Entry> = Vec::with_capacity(pages.entries.len());
    let mut seen = std::collections::HashSet::new();
    let mut over_budget: Option<String> = None;
    for raw in std::mem::take(&mut pages.entries) {
        let page_url = raw
            .link
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .unwrap_or_else(|| pages.url.clone());
        let mut page = budgets.page(&page_url);
        let (s, u) = (source_c.clone(), list_url.clone());
        match budgets
            .run(&source.id, &mut page, move || {
                normalize_entry(&raw, &s, &u, None)
            })
            .await
        {
            Ok(e) => {
                if seen.insert(e.key.clone()) {
                    entries.push(e);
                }
            }
            Err(StepError::OverBudget(over)) => {
                // Not stored now; cleared validators make the next poll retry it.
                let message = over.to_string();
                tracing::warn!(source = %source.id, error = %message, "article over the parse budget");
                let health = &mut pages.health;
                health.articles_fetched = health.articles_fetched.saturating_sub(1);
                health.articles_failed += 1;
                scrape::note(health, message.clone());
                pages.validators = Validators::default();
                over_budget.get_or_insert(message);
            }
            Err(e @ StepError::Panic(_)) => return Err(e.into()),
        }
    }
    if let (true, Some(message)) = (entries.is_empty(), over_budget) {
        return Err(Failure {
            scrape: Some(pages.health),
            ..Failure::new(budget::KIND, message)
        });
    }
    Ok(Step::Entries {
        entries,
        validators: pages.validators,
        moved_to: pages.moved_to,
        scrape: Some(Box::new(pages.health)),
        feed_hint: None,
        dropped: 0,
    })
}

/// Starts the dedup stage for `config` over `store`: the clustering thread,
/// and a task loading the entries of the dedup window into it (newest
/// first, in batches). Requests wait for the load; nothing else does.
pub fn start_dedup(store: Arc<dyn Store>, config: &crate::config::Config) -> Arc<Clusterer> {
    let dedup = Arc::new(Clusterer::start(config.dedup.clone()));
    let priorities: std::collections::HashMap<String, i32> = config
        .sources
        .iter()
        .map(|s| (s.id.clone(), s.priority))
        .collect();
    let loading = dedup.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let since = Utc::now() - chrono::Duration::from_std(loading.window()).unwrap_or_default();
        let mut n = 0usize;
        // Published within the window, then arrived within it (old dates).
        'passes: for by_arrival in [false, true] {
            let mut after: Option<(i64, String)> = None;
            loop {
                let rows = match store
                    .entries_since(since, by_arrival, after.clone(), 1000)
                    .await
                {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot load the dedup window: new entries are clustered against what was loaded");
                        break;
                    }
                };
                let Some(last) = rows.last() else { break };
                let t = if by_arrival {
                    last.first_seen
                } else {
                    last.published()
                };
                after = Some((t.timestamp(), last.entry.id.clone()));
                n += rows.len();
                let room = loading
                    .load(
                        rows.into_iter()
                            .map(|s| Loaded {
                                record: crate::dedup::service::record(
                                    &s.entry,
                                    s.first_seen,
                                    priorities.get(&s.entry.source_id).copied().unwrap_or(0),
                                ),
                                arrived: s.first_seen.timestamp(),
                                label: s.cluster,
                            })
                            .collect(),
                    )
                    .await;
                if room == 0 {
                    // The window is full (`[dedup] window_entries`): the
                    // newest entries are held, the rest stays on disk.
                    break 'passes;
                }
            }
        }
        loading.finish_loading();
        tracing::info!(
            entries = n,
            took_ms = started.elapsed().as_millis() as u64,
            "dedup window loaded"
        );
    });
    dedup
}

/// Re-clusters the dedup window exactly and stores the labels that change
/// (see [`crate::dedup::service`]); true when some did.
pub async fn settle_clusters(p: &Pipeline) -> Result<bool, crate::store::StoreError> {
    let labels = p.dedup.reconcile(Utc::now()).await;
    if labels.is_empty() {
        return Ok(false);
    }
    p.store.set_clusters(&labels).await?;
    p.changes.fetch_add(1, Ordering::Release);
    Ok(true)
}

/// Dedup stage: the poll's entries as stored (with their first-seen times)
/// join their clusters; the labels that change are stored.
async fn cluster(p: &Pipeline, source: &SourceConfig, entries: &[Entry]) {
    let ids: Vec<String> = entries.iter().map(|e| e.id.clone()).collect();
    let stored = match p.store.entries_by_ids(&ids).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(source = %source.id, error = %e, "cannot read the poll's entries back: they are clustered at the next settle");
            return;
        }
    };
    let records = stored
        .iter()
        .map(|s| {
            (
                crate::dedup::service::record(&s.entry, s.first_seen, source.priority),
                s.first_seen.timestamp(),
            )
        })
        .collect();
    let labels = p.dedup.assign(records).await;
    let merged = labels
        .assign
        .iter()
        .filter(|(id, label)| id != label && ids.contains(id))
        .count();
    for _ in 0..merged {
        crate::metrics::get().dedup_merge();
    }
    if let Err(e) = p.store.set_clusters(&labels).await {
        tracing::warn!(source = %source.id, error = %e, "cannot store near-duplicate clusters: the poll's copies are grouped from the next change of their cluster");
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
            source = %source.id, url = %redact::url(url), status = "error", duration_ms = ms, error = %redact::text(e), "poll failed"
        ),
        Outcome::Skipped(why) => {
            tracing::debug!(source = %source.id, status = "skipped", reason = %why, "not polled")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FetchConfig;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn a_panic_while_parsing_is_a_failure_of_kind_panic() {
        let budgets = budget::Budgets::new(Duration::from_secs(60));
        let url = Url::parse("http://example.org/feed").unwrap();
        let failure: Failure = budgets
            .run("s", &mut budgets.page(&url), || -> u32 {
                panic!("boom at depth 3")
            })
            .await
            .unwrap_err()
            .into();
        assert_eq!(failure.kind, "panic");
        assert!(
            failure.message.contains("boom at depth 3"),
            "{}",
            failure.message
        );
        let ok = budgets.run("s", &mut budgets.page(&url), || 7).await;
        assert_eq!(ok.ok(), Some(7));
    }

    #[tokio::test]
    async fn work_past_the_budget_is_a_failure_of_kind_parse_budget() {
        let budgets = budget::Budgets::new(Duration::ZERO);
        let url = Url::parse("http://example.org/feed.xml").unwrap();
        let failure: Failure = budgets
            .run("s", &mut budgets.page(&url), || 7)
            .await
            .unwrap_err()
            .into();
        assert_eq!(failure.kind, "parse_budget");
        assert!(
            failure.message.contains("http://example.org/feed.xml")
                && failure.message.contains("fetch.parse_budget"),
            "{}",
            failure.message
        );
    }

    #[tokio::test]
    async fn a_crashed_poll_is_recorded_and_scheduled_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let p = Pipeline::new(
            Fetcher::new(&FetchConfig::default()).unwrap(),
            Arc::new(store),
        );
        let source = SourceConfig::new(
            "s",
            SourceKind::Feed,
            Url::parse("http://127.0.0.1:9/feed").unwrap(),
        );
        let r = record_crash(&p, &source, "task 7 panicked").await;
        assert!(matches!(&r.outcome, Outcome::Failed(m) if m.contains("task 7 panicked")));
        let due = r.next_due.expect("polled again");
        assert!(due > Utc::now());
        let st = p.store.state("s").await.unwrap();
        assert_eq!(st.error_kind.as_deref(), Some("panic"));
        assert_eq!(st.last_status, Some(PollStatus::Error));
        assert_eq!(st.consecutive_failures, 1);
    }
}
