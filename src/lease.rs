//! Polling on a shared store (several nodes on one PostgreSQL database).
//!
//! Instead of a private due-queue, each node asks the store every
//! [`LEASE_TICK`] for due sources it may poll ([`Store::lease_due`]): a
//! source is leased to one node at a time, until the lease expires
//! (`server.lease`) or the node releases it after committing the poll. The
//! node renews the leases of its polls in flight every third of the lease,
//! so a slow poll keeps its source; a node killed mid-poll holds its
//! sources until their leases expire, then another node takes them.
//! Per host, no more sources are leased at once than the host's
//! `max_concurrent` (across all nodes), and each lease comes with a start
//! time: the host's next turn, booked in the database, so requests to a host
//! from all nodes together start at least its `delay` apart (give or take
//! the nodes' scheduling latency, a few milliseconds).
//!
//! [`Store::lease_due`]: crate::store::Store::lease_due

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use url::Url;

use crate::config::SourceConfig;
use crate::refresh::{Pipeline, PollReport};
use crate::schedule::{Polls, stored_states, url_of};
use crate::store::LeaseSource;
use crate::timing::{backoff, jittered};

/// How often a node asks for due sources.
pub const LEASE_TICK: Duration = Duration::from_millis(500);

/// The sources `sources` as offered for leasing (host: the politeness key).
pub fn lease_sources(pipeline: &Pipeline, sources: &[Arc<SourceConfig>]) -> Vec<LeaseSource> {
    let polite = pipeline.fetcher.politeness();
    sources
        .iter()
        .map(|s| match polite.key(&s.url) {
            Some(host) => LeaseSource {
                id: s.id.clone(),
                host_limit: polite.limit(&host),
                host_delay: polite.delay(&host),
                host,
            },
            // Files have no host: no limit shared with others.
            None => LeaseSource {
                id: s.id.clone(),
                host: format!("file:{}", s.id),
                host_limit: 1,
                host_delay: Duration::ZERO,
            },
        })
        .collect()
}

enum Event {
    Lease,
    /// The host turn of a leased source came.
    Start,
    Renew,
    Done(Result<(tokio::task::Id, (usize, Option<PollReport>)), tokio::task::JoinError>),
    /// The config changed (a reload).
    Reload,
    Stop,
}

async fn sleep_until_first(waiting: &BinaryHeap<Reverse<(tokio::time::Instant, usize)>>) {
    match waiting.peek() {
        Some(Reverse((at, _))) => tokio::time::sleep_until(*at).await,
        None => std::future::pending().await,
    }
}

/// Registers `sources` for leasing, retrying until it works or `shutdown`
/// turns true (then false).
async fn register(
    pipeline: &Pipeline,
    sources: &[Arc<SourceConfig>],
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let offers = lease_sources(pipeline, sources);
    loop {
        match pipeline.store.register_sources(&offers).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::error!(error = %e, "cannot register the sources for leasing; retrying in 5s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.wait_for(|s| *s) => return false,
                }
            }
        }
    }
}

/// Polls the sources this node leases until `shutdown` turns true; polls in
/// flight then finish and their leases are released. Each change of
/// `config` (a reload) registers the new source list: added sources are
/// leased from then on, removed ones no longer.
pub async fn run(
    pipeline: Pipeline,
    mut config: watch::Receiver<Vec<Arc<SourceConfig>>>,
    concurrency: usize,
    mut shutdown: watch::Receiver<bool>,
    node: String,
    lease_for: Duration,
) {
    let store = pipeline.store.clone();
    // Append-only, so a poll's index stays valid across reloads.
    let mut sources: Vec<Arc<SourceConfig>> = config.borrow_and_update().clone();
    let mut active: Vec<bool> = vec![true; sources.len()];
    if !register(&pipeline, &sources, &mut shutdown).await {
        return;
    }
    let mut config_open = true;
    let mut index: HashMap<String, usize> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), i))
        .collect();
    let states = stored_states(&pipeline).await;
    let mut urls: Vec<Url> = sources.iter().map(|s| url_of(s, &states)).collect();
    let mut disabled: Vec<bool> = sources
        .iter()
        .map(|s| states.get(&s.id).is_some_and(|st| st.is_gone(&s.url)))
        .collect();
    drop(states);
    let concurrency = concurrency.max(1);
    tracing::info!(node = %node, sources = sources.len(), concurrency, lease = ?lease_for,
        "scheduler started (leasing sources from the shared store)");

    // Leased sources: polling, or waiting for their host's turn (`waiting`).
    let mut in_flight: HashSet<usize> = HashSet::new();
    let mut more_due = false;
    let mut waiting: BinaryHeap<Reverse<(tokio::time::Instant, usize)>> = BinaryHeap::new();
    let mut not_before: HashMap<usize, DateTime<Utc>> = HashMap::new();
    let mut polls = Polls::new(&pipeline, concurrency, shutdown.clone());
    let mut lease_tick = tokio::time::interval(LEASE_TICK);
    lease_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renew_tick = tokio::time::interval((lease_for / 3).max(Duration::from_millis(100)));
    renew_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Awaits happen after the select: its futures must be gone (`Send`).
        let event = tokio::select! {
            _ = lease_tick.tick() => Event::Lease,
            // Busy: lease again as soon as a quarter of the workers are free.
            _ = std::future::ready(()), if more_due
                && concurrency.saturating_sub(in_flight.len()) >= (concurrency / 4).max(1) => Event::Lease,
            _ = sleep_until_first(&waiting), if !waiting.is_empty() => Event::Start,
            _ = renew_tick.tick(), if !in_flight.is_empty() => Event::Renew,
            Some(done) = polls.tasks.join_next_with_id(), if !polls.tasks.is_empty() => Event::Done(done),
            changed = config.changed(), if config_open => match changed {
                Ok(()) => Event::Reload,
                Err(_) => { config_open = false; continue; }
            },
            _ = shutdown.wait_for(|s| *s) => Event::Stop,
        };
        match event {
            Event::Stop => break,
            Event::Reload => {
                let wanted = config.borrow_and_update().clone();
                let states = stored_states(&pipeline).await;
                active.iter_mut().for_each(|a| *a = false);
                for s in &wanted {
                    let i = match index.get(&s.id) {
                        Some(&i) => i,
                        None => {
                            tracing::info!(source = %s.id, url = %s.url, "source added: leasing it");
                            sources.push(s.clone());
                            urls.push(s.url.clone());
                            disabled.push(false);
                            active.push(true);
                            index.insert(s.id.clone(), sources.len() - 1);
                            sources.len() - 1
                        }
                    };
                    if sources[i].url != s.url {
                        urls[i] = url_of(s, &states);
                    }
                    disabled[i] = states.get(&s.id).is_some_and(|st| st.is_gone(&s.url));
                    sources[i] = s.clone();
                    active[i] = true;
                }
                register(&pipeline, &wanted, &mut shutdown).await;
            }
            Event::Lease => {
                let room = concurrency.saturating_sub(in_flight.len());
                if room == 0 {
                    continue;
                }
                more_due = false;
                let now = Utc::now();
                not_before.retain(|_, t| *t > now);
                let ids: Vec<String> = sources
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| {
                        active[*i]
                            && !in_flight.contains(i)
                            && !disabled[*i]
                            && !not_before.contains_key(i)
                    })
                    .map(|(_, s)| s.id.clone())
                    .collect();
                match store.lease_due(&node, &ids, now, room, lease_for).await {
                    Ok(got) => {
                        // A full batch: more may be due; lease again as polls end.
                        more_due = got.len() == room;
                        let at = tokio::time::Instant::now();
                        for lease in got {
                            let Some(&i) = index.get(lease.id.as_str()) else {
                                continue;
                            };
                            in_flight.insert(i);
                            tracing::debug!(source = %lease.id, start_in = ?lease.start_in, "leased");
                            if lease.start_in.is_zero() {
                                polls.start(
                                    i,
                                    sources[i].clone(),
                                    Some(urls[i].clone()),
                                    Utc::now(),
                                );
                            } else {
                                waiting.push(Reverse((at + lease.start_in, i)));
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot lease due sources"),
                }
            }
            Event::Start => {
                let now = tokio::time::Instant::now();
                while let Some(&Reverse((at, i))) = waiting.peek() {
                    if at > now {
                        break;
                    }
                    waiting.pop();
                    polls.start(i, sources[i].clone(), Some(urls[i].clone()), Utc::now());
                }
            }
            Event::Renew => {
                let ids: Vec<String> = in_flight.iter().map(|&i| sources[i].id.clone()).collect();
                match store.renew(&node, &ids, lease_for).await {
                    Ok(n) if n < ids.len() => tracing::warn!(
                        held = n,
                        polling = ids.len(),
                        "some leases expired before they were renewed (is this node overloaded?)"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot renew leases"),
                }
            }
            Event::Done(done) => {
                let (i, report) = match done {
                    Ok((id, (i, report))) => {
                        polls.ids.remove(&id);
                        (i, report)
                    }
                    Err(e) => {
                        let Some(i) = polls.ids.remove(&e.id()) else {
                            continue;
                        };
                        tracing::error!(source = %sources[i].id, error = %e, "a poll task panicked");
                        let what = e.to_string();
                        let r = crate::refresh::record_crash(&pipeline, &sources[i], &what).await;
                        (i, Some(r))
                    }
                };
                in_flight.remove(&i);
                let source = &sources[i];
                match report {
                    Some(r) => {
                        urls[i] = r.url;
                        if r.disabled {
                            disabled[i] = true;
                        } else if r.next_due.is_none() {
                            // The state could not be read or written: not again at once.
                            not_before.insert(
                                i,
                                Utc::now() + backoff(source.interval, 1, Duration::from_secs(3600)),
                            );
                        }
                    }
                    None => {
                        not_before.insert(i, Utc::now() + jittered(source.interval));
                    }
                }
                if let Err(e) = store.release(&node, std::slice::from_ref(&source.id)).await {
                    tracing::warn!(source = %source.id, error = %e, "cannot release the lease (it expires by itself)");
                }
            }
        }
    }
    let mut finished = Vec::new();
    while let Some(done) = polls.tasks.join_next().await {
        if let Ok((i, _)) = done {
            finished.push(sources[i].id.clone());
        }
    }
    let all: Vec<String> = in_flight
        .iter()
        .map(|&i| sources[i].id.clone())
        .chain(finished)
        .collect();
    if let Err(e) = store.release(&node, &all).await {
        tracing::warn!(error = %e, "cannot release the leases at shutdown");
    }
}
