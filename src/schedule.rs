//! When sources are refreshed: one pass (`huiliu poll`) or forever
//! (`huiliu run`).
//!
//! One scheduler loop keeps a due-queue (a min-heap of `(next_due, source)`)
//! and starts a task for each source that falls due, never one for a source
//! already in flight. Each task first waits for its host's turn (per-host
//! politeness: [`crate::fetch::politeness`]), *then* for one of the
//! `concurrency` workers, then refreshes the source. So a busy or slow host
//! never holds a worker while it waits, and among sources whose host is
//! free the workers take the earliest due first (the semaphores are FIFO).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::task::{Id, JoinSet};
use url::Url;

use crate::config::SourceConfig;
use crate::liveness::Liveness;
use crate::model::SourceState;
use crate::refresh::{Pipeline, PollReport, record_crash, refresh_source_with};
use crate::timing::{backoff, jittered};

/// The polls in flight (or waiting for their host's turn or a worker).
pub(crate) struct Polls {
    pub(crate) tasks: JoinSet<(usize, Option<PollReport>)>,
    /// Task id → source index, to know whose task panicked.
    pub(crate) ids: HashMap<Id, usize>,
    pipeline: Pipeline,
    workers: Arc<Semaphore>,
    stop: watch::Receiver<bool>,
}

impl Polls {
    pub(crate) fn new(
        pipeline: &Pipeline,
        concurrency: usize,
        stop: watch::Receiver<bool>,
    ) -> Polls {
        Polls {
            tasks: JoinSet::new(),
            ids: HashMap::new(),
            pipeline: pipeline.clone(),
            workers: Arc::new(Semaphore::new(concurrency.max(1))),
            stop,
        }
    }

    /// Starts the refresh of source `i`, due at `due`: host admission, then
    /// a worker, then the refresh (which a started poll always finishes).
    /// Ends early with `None` if `stop` turns true before the refresh
    /// starts. `url: None` when no request is expected (a disabled source):
    /// no admission is taken for it.
    pub(crate) fn start(
        &mut self,
        i: usize,
        source: Arc<SourceConfig>,
        url: Option<Url>,
        due: DateTime<Utc>,
    ) {
        let (p, workers, mut stop) = (
            self.pipeline.clone(),
            self.workers.clone(),
            self.stop.clone(),
        );
        let ticket = p.liveness.poll_started(due);
        let handle = self.tasks.spawn(async move {
            let _ticket = ticket;
            let polite = p.fetcher.politeness().clone();
            let admission = tokio::select! {
                a = async { match &url { Some(u) => polite.admit(u).await, None => None } } => a,
                _ = stop.wait_for(|s| *s) => return (i, None),
            };
            let worker = tokio::select! {
                w = workers.acquire_owned() => w,
                _ = stop.wait_for(|s| *s) => return (i, None),
            };
            // Boxed: the big future only exists while it runs. The worker
            // and the admission are released when the fetch is done, before
            // the write.
            let report = Box::pin(refresh_source_with(&p, &source, (admission, worker))).await;
            (i, Some(report))
        });
        self.ids.insert(handle.id(), i);
    }
}

pub(crate) async fn stored_states(p: &Pipeline) -> HashMap<String, SourceState> {
    match p.store.states().await {
        Ok(v) => v.into_iter().map(|s| (s.source_id.clone(), s)).collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the sources' state; polling every source now");
            HashMap::new()
        }
    }
}

pub(crate) fn url_of(source: &SourceConfig, states: &HashMap<String, SourceState>) -> Url {
    states
        .get(&source.id)
        .map(|st| st.current_url(&source.url))
        .unwrap_or_else(|| source.url.clone())
}

/// Polls every source once (disabled ones are reported as skipped), at most
/// `concurrency` at a time and each host within its limits. Reports come
/// back in the order of `sources`.
pub async fn poll_once(
    pipeline: &Pipeline,
    sources: &[Arc<SourceConfig>],
    concurrency: usize,
) -> Vec<PollReport> {
    poll_once_with(pipeline, sources, concurrency, |_| {}).await
}

/// [`poll_once`], calling `done` as each poll ends (for a progress bar).
pub async fn poll_once_with(
    pipeline: &Pipeline,
    sources: &[Arc<SourceConfig>],
    concurrency: usize,
    mut on_done: impl FnMut(&PollReport),
) -> Vec<PollReport> {
    let states = stored_states(pipeline).await;
    let (_never, stop) = watch::channel(false);
    let mut polls = Polls::new(pipeline, concurrency, stop);
    for (i, source) in sources.iter().enumerate() {
        let disabled = states
            .get(&source.id)
            .is_some_and(|st| st.is_gone(&source.url));
        let url = (!disabled).then(|| url_of(source, &states));
        polls.start(i, source.clone(), url, Utc::now());
    }
    drop(states);
    let mut reports: Vec<(usize, PollReport)> = Vec::with_capacity(sources.len());
    while let Some(done) = polls.tasks.join_next_with_id().await {
        match done {
            Ok((_, (i, Some(r)))) => {
                on_done(&r);
                reports.push((i, r))
            }
            Ok((_, (_, None))) => {}
            Err(e) => {
                // Never silently left out: the source fails with kind `panic`.
                tracing::error!(error = %e, "a poll task panicked");
                let Some(&i) = polls.ids.get(&e.id()) else {
                    continue;
                };
                let r = record_crash(pipeline, &sources[i], &e.to_string()).await;
                on_done(&r);
                reports.push((i, r));
            }
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
    shutdown: watch::Receiver<bool>,
) {
    let (_keep, config) = watch::channel(sources);
    run_reloadable(pipeline, config, concurrency, shutdown).await
}

/// One source the scheduler knows. Slots are never reused: a source removed
/// and added again gets a new one.
struct Slot {
    /// `None` once removed from the config (a poll in flight still ends).
    source: Option<Arc<SourceConfig>>,
    url: Url,
    in_flight: bool,
    /// The configured URL when the last poll started.
    polled_url: Url,
    /// Bumped when the source's URL changes: queue entries of older
    /// generations are stale and skipped.
    generation: u64,
}

type Queue = BinaryHeap<Reverse<(DateTime<Utc>, usize, u64)>>;

/// Like [`run`], but the sources come from `config`: each time it changes
/// (a reload), added sources start polling, removed ones stop (a poll in
/// flight finishes), and changed ones are polled with their new settings
/// (at once if their URL changed).
pub async fn run_reloadable(
    pipeline: Pipeline,
    mut config: watch::Receiver<Vec<Arc<SourceConfig>>>,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut slots: Vec<Slot> = Vec::new();
    let mut queue: Queue = BinaryHeap::new();
    let initial = config.borrow_and_update().clone();
    apply_sources(&pipeline, &mut slots, &mut queue, &initial, true).await;
    tracing::info!(
        sources = initial.len(),
        scheduled = queue.len(),
        concurrency,
        "scheduler started"
    );
    drop(initial);

    let mut config_open = true;
    let mut reload = false;
    let mut crashed: Option<(usize, String)> = None;
    let mut polls = Polls::new(&pipeline, concurrency, shutdown.clone());
    let liveness: Arc<Liveness> = pipeline.liveness.clone();
    loop {
        let now = Utc::now();
        while let Some(&Reverse((due, i, generation))) = queue.peek() {
            if due > now {
                break;
            }
            queue.pop();
            let slot = &mut slots[i];
            let Some(source) = slot.source.clone() else {
                continue;
            };
            if slot.in_flight || slot.generation != generation {
                continue;
            }
            slot.in_flight = true;
            slot.polled_url = source.url.clone();
            polls.start(i, source, Some(slot.url.clone()), due);
        }
        liveness.set_next_queued(queue.peek().map(|Reverse((due, _, _))| *due));
        let wait = queue
            .peek()
            .map(|Reverse((due, _, _))| (*due - now).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(3600));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(done) = polls.tasks.join_next_with_id(), if !polls.tasks.is_empty() => {
                let (i, report) = match done {
                    Ok((id, (i, report))) => { polls.ids.remove(&id); (i, report) }
                    Err(e) => {
                        let Some(i) = polls.ids.remove(&e.id()) else { continue };
                        let id = slots[i].source.as_ref().map(|s| s.id.clone()).unwrap_or_default();
                        tracing::error!(source = %id, url = %crate::redact::url(&slots[i].url), error = %e, "a poll task panicked");
                        // Recorded on the source (after this select), polled again later.
                        crashed = Some((i, e.to_string()));
                        (i, None)
                    }
                };
                let slot = &mut slots[i];
                slot.in_flight = false;
                let Some(source) = slot.source.clone() else {
                    // Removed from the config while it was polled.
                    continue;
                };
                let next = match report {
                    Some(r) => {
                        // Unless a reload changed the URL meanwhile, follow
                        // the poll (a permanent redirect moves the source).
                        let url_changed = slot.polled_url != source.url;
                        slot.url = if url_changed { source.url.clone() } else { r.url };
                        if url_changed {
                            // The config moved the source while it was polled.
                            queue.push(Reverse((Utc::now(), i, slot.generation)));
                            continue;
                        }
                        match r.next_due {
                            Some(due) => Some(due),
                            // Disabled (410): never again in this run.
                            None if r.disabled => None,
                            // The state could not be read: try again later.
                            None => Some(Utc::now() + backoff(source.interval, 1, Duration::from_secs(3600))),
                        }
                    }
                    None => Some(Utc::now() + jittered(source.interval)),
                };
                if let Some(due) = next {
                    queue.push(Reverse((due, i, slot.generation)));
                }
            }
            changed = config.changed(), if config_open => {
                if changed.is_err() {
                    config_open = false;
                    continue;
                }
                reload = true;
            }
            _ = shutdown.wait_for(|s| *s) => break,
        }
        if let Some((i, what)) = crashed.take()
            && let Some(source) = slots[i].source.clone()
        {
            record_crash(&pipeline, &source, &what).await;
        }
        if std::mem::take(&mut reload) {
            let sources = config.borrow_and_update().clone();
            apply_sources(&pipeline, &mut slots, &mut queue, &sources, false).await;
        }
    }
    while polls.tasks.join_next().await.is_some() {}
}

/// Brings the slots in line with `sources` (the whole list, after a reload).
async fn apply_sources(
    pipeline: &Pipeline,
    slots: &mut Vec<Slot>,
    queue: &mut Queue,
    sources: &[Arc<SourceConfig>],
    first: bool,
) {
    let states = stored_states(pipeline).await;
    let now = Utc::now();
    let wanted: HashMap<&str, &Arc<SourceConfig>> =
        sources.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut known: HashMap<String, usize> = HashMap::new();
    for (i, slot) in slots.iter_mut().enumerate() {
        let Some(old) = slot.source.clone() else {
            continue;
        };
        match wanted.get(old.id.as_str()) {
            None => {
                tracing::info!(source = %old.id, url = %crate::redact::url(&old.url),
                    "source removed from the config: no longer polled (its entries follow the retention rules)");
                slot.source = None;
            }
            Some(new) => {
                known.insert(old.id.clone(), i);
                if old == **new {
                    continue;
                }
                slot.source = Some((*new).clone());
                if old.url != new.url {
                    slot.generation += 1;
                    slot.url = url_of(new, &states);
                    tracing::info!(source = %new.id, url = %crate::redact::url(&new.url), "source changed its url: polling it now");
                    if !slot.in_flight {
                        queue.push(Reverse((now, i, slot.generation)));
                    }
                } else {
                    tracing::info!(source = %new.id, "source settings changed: used from its next poll");
                }
            }
        }
    }
    for source in sources {
        if known.contains_key(&source.id) {
            continue;
        }
        let i = slots.len();
        slots.push(Slot {
            source: Some(source.clone()),
            url: url_of(source, &states),
            polled_url: source.url.clone(),
            in_flight: false,
            generation: 0,
        });
        let state = states.get(&source.id);
        if state.is_some_and(|st| st.is_gone(&source.url)) {
            tracing::warn!(source = %source.id, url = %crate::redact::url(&source.url),
                "not polling: the source answered 410 Gone (change its url in the config to poll it again)");
            continue;
        }
        if !first {
            tracing::info!(source = %source.id, url = %crate::redact::url(&source.url), "source added: polling it");
        }
        let due = state.and_then(|st| st.next_due).unwrap_or_else(|| {
            // Never polled: start soon, spread over a few seconds.
            now + chrono::Duration::milliseconds(rand::rng().random_range(0..3000))
        });
        queue.push(Reverse((due, i, 0)));
    }
}
