//! Per-host politeness, shared by every request huiliu makes (feeds,
//! redirects, list and article pages, robots.txt):
//!
//! - at most `max_concurrent` requests in flight to one host (default 2);
//! - at least `delay` between the starts of two requests to one host
//!   (default 1s);
//! - scraped pages (list and article pages) also go one at a time per host,
//!   with the source's `article_delay` after the previous page ended;
//! - a `[[host]]` named `*.example.org` pools the domain and all its
//!   subdomains into one budget (platforms that host many feeds);
//! - when the host itself is limiting — several *different* URLs of it
//!   answering 429 in a row — the whole host pauses until its `Retry-After`;
//!   a single URL answering 429 only delays that URL (its source's next due
//!   time), never the host's other feeds.
//!
//! Three kinds of permit, always taken in this order and never the other
//! way round, so no two polls can wait on each other (no deadlock, whatever
//! the number of sources on one host):
//!
//! 1. [`Politeness::admit`]: a poll's admission to its host, taken by the
//!    scheduler *before* a worker and held for the poll. At most
//!    `max_concurrent` polls per host hold one, so a busy host never ties up
//!    more workers than it can use;
//! 2. a worker (the scheduler's `[fetch] concurrency`);
//! 3. [`Politeness::page_turn`] (scraped pages only), then
//!    [`Politeness::acquire`] around each single request: a request permit is
//!    held only while that request runs, and its holder waits for nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

use crate::config::{FetchConfig, HostConfig};

/// How long a whole host pauses when it rate-limits without a `Retry-After`.
const DEFAULT_HOST_PAUSE: Duration = Duration::from_secs(60);
/// The longest pause a `Retry-After` can impose on a whole host.
const MAX_HOST_PAUSE: Duration = Duration::from_secs(6 * 3600);

/// The politeness limits and per-host bookkeeping of one fetcher.
pub struct Politeness {
    default_concurrent: usize,
    default_delay: Duration,
    rules: Vec<HostConfig>,
    rate_limit_urls: usize,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    /// Polls of this host in progress (see [`Politeness::admit`]).
    polls: Arc<Semaphore>,
    /// Requests in flight.
    slots: Arc<Semaphore>,
    /// Scraped pages go one at a time; holds when the last one ended.
    pages: Arc<AsyncMutex<Option<Instant>>>,
    max_concurrent: usize,
    delay: Duration,
    times: Mutex<HostTimes>,
}

#[derive(Default)]
struct HostTimes {
    /// The earliest start of the next request.
    next_start: Option<Instant>,
    /// The host asked everyone to wait (it is rate limiting).
    paused_until: Option<Instant>,
    /// Distinct URLs that answered 429 since the last other answer.
    limited_urls: Vec<String>,
}

/// The right to send one request to a host; dropping it frees the slot.
#[derive(Debug)]
pub struct HostPermit {
    key: String,
    _slot: OwnedSemaphorePermit,
}

impl HostPermit {
    /// The politeness key: the host, or `*.domain` for a domain rule.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// What [`Politeness::snapshot`] reports about one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub key: String,
    pub in_flight: usize,
    pub max_concurrent: usize,
    pub delay: Duration,
    /// Set while the whole host is paused after rate limiting.
    pub paused_for: Option<Duration>,
}

/// A poll's admission to its host, held until the poll has fetched.
#[derive(Debug)]
pub struct Admission {
    _poll: OwnedSemaphorePermit,
}

/// The turn of one scraped page on its host; the host's `article_delay`
/// pause starts when it is dropped.
pub struct PageTurn {
    last_end: OwnedMutexGuard<Option<Instant>>,
}

impl Drop for PageTurn {
    fn drop(&mut self) {
        *self.last_end = Some(Instant::now());
    }
}

impl Politeness {
    pub fn new(cfg: &FetchConfig) -> Politeness {
        Politeness {
            default_concurrent: cfg.host_concurrency.max(1),
            default_delay: cfg.host_delay,
            rules: cfg.hosts.clone(),
            rate_limit_urls: cfg.host_rate_limit_urls.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The budget a URL counts against: its host (lower case, no port), or
    /// `*.domain` when a `[[host]]` rule pools that domain. `None` for URLs
    /// without a host (files).
    pub fn key(&self, url: &Url) -> Option<String> {
        let host = url.host_str()?.trim_end_matches('.').to_ascii_lowercase();
        if self.rules.iter().any(|r| r.name == host) {
            return Some(host);
        }
        self.rules
            .iter()
            .filter_map(|r| {
                let domain = r.name.strip_prefix("*.")?;
                let inside = host == domain
                    || (host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.'));
                inside.then_some(r)
            })
            .max_by_key(|r| r.name.len())
            .map(|r| r.name.clone())
            .or(Some(host))
    }

    /// Requests in flight to the budget `key` at most (its `[[host]]` rule,
    /// else `fetch.host_concurrency`).
    pub fn limit(&self, key: &str) -> usize {
        self.rules
            .iter()
            .find(|r| r.name == key)
            .and_then(|r| r.max_concurrent)
            .unwrap_or(self.default_concurrent)
            .max(1)
    }

    /// The least time between two request starts to the budget `key`.
    pub fn delay(&self, key: &str) -> Duration {
        self.rules
            .iter()
            .find(|r| r.name == key)
            .and_then(|r| r.delay)
            .unwrap_or(self.default_delay)
    }

    fn host(&self, key: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(key.to_string())
            .or_insert_with(|| {
                let rule = self.rules.iter().find(|r| r.name == key);
                let max = rule
                    .and_then(|r| r.max_concurrent)
                    .unwrap_or(self.default_concurrent)
                    .max(1);
                Arc::new(Host {
                    polls: Arc::new(Semaphore::new(max)),
                    slots: Arc::new(Semaphore::new(max)),
                    pages: Arc::default(),
                    max_concurrent: max,
                    delay: rule.and_then(|r| r.delay).unwrap_or(self.default_delay),
                    times: Mutex::new(HostTimes::default()),
                })
            })
            .clone()
    }

    /// Waits for this URL's host to allow one more request: a free slot
    /// (first come, first served), the delay since the previous start, and
    /// the end of any pause the host asked for. `None` for URLs without a
    /// host. Hold the permit only while the request runs.
    pub async fn acquire(&self, url: &Url) -> Option<HostPermit> {
        let key = self.key(url)?;
        let host = self.host(&key);
        // Host semaphores are never closed, so this cannot fail; if it ever
        // did, going on without a slot beats wedging the poll.
        let slot = host.slots.clone().acquire_owned().await.ok()?;
        loop {
            let now = Instant::now();
            let start = {
                let mut t = host.times.lock().unwrap_or_else(|e| e.into_inner());
                let mut start = t.next_start.map_or(now, |n| n.max(now));
                if let Some(p) = t.paused_until {
                    start = start.max(p);
                }
                if start <= now {
                    t.next_start = Some(now + host.delay);
                }
                start
            };
            if start <= now {
                break;
            }
            // Re-checked after the sleep: the host may have paused meanwhile,
            // and a slot time is only taken when it is used.
            tokio::time::sleep_until(start).await;
        }
        Some(HostPermit { key, _slot: slot })
    }

    /// Admits one poll of `url`'s host: waits while `max_concurrent` polls
    /// of the host are in progress, then until the host could take a request
    /// (its delay and any pause), without reserving that start. The
    /// scheduler takes this before a worker, so a poll waiting for its host
    /// holds no worker. `None` for URLs without a host.
    pub async fn admit(&self, url: &Url) -> Option<Admission> {
        let key = self.key(url)?;
        let host = self.host(&key);
        let poll = host.polls.clone().acquire_owned().await.ok()?;
        let ready = {
            let t = host.times.lock().unwrap_or_else(|e| e.into_inner());
            t.next_start.max(t.paused_until)
        };
        if let Some(ready) = ready {
            tokio::time::sleep_until(ready).await;
        }
        Some(Admission { _poll: poll })
    }

    /// Waits for the turn of one scraped page (list or article page) on
    /// `url`'s host: one page at a time, `gap` after the previous one ended.
    /// Then take [`Politeness::acquire`] for the request itself (the fetcher
    /// does). `None` for URLs without a host.
    pub async fn page_turn(&self, url: &Url, gap: Duration) -> Option<PageTurn> {
        let key = self.key(url)?;
        let host = self.host(&key);
        let last_end = host.pages.clone().lock_owned().await;
        if let Some(last) = *last_end {
            tokio::time::sleep_until(last + gap).await;
        }
        Some(PageTurn { last_end })
    }

    /// Records a host's answer (the status of one response) for the
    /// "is the host itself limiting?" decision.
    pub fn note_response(&self, url: &Url, status: u16, retry_after: Option<Duration>) {
        let Some(key) = self.key(url) else { return };
        let host = self.host(&key);
        let mut t = host.times.lock().unwrap_or_else(|e| e.into_inner());
        if status != 429 {
            t.limited_urls.clear();
            return;
        }
        let u = url.as_str().to_string();
        if !t.limited_urls.contains(&u) {
            t.limited_urls.push(u);
        }
        if t.limited_urls.len() >= self.rate_limit_urls {
            let pause = retry_after
                .unwrap_or(DEFAULT_HOST_PAUSE)
                .min(MAX_HOST_PAUSE);
            let until = Instant::now() + pause;
            if t.paused_until.is_none_or(|p| p < until) {
                tracing::warn!(host = %key, urls = t.limited_urls.len(), pause_s = pause.as_secs(),
                    "host is rate limiting (429 from several URLs): pausing every request to it");
                t.paused_until = Some(until);
            }
        }
    }

    /// The host's pause, if it is paused now.
    pub fn paused_for(&self, url: &Url) -> Option<Duration> {
        let key = self.key(url)?;
        let host = self.host(&key);
        let t = host.times.lock().unwrap_or_else(|e| e.into_inner());
        t.paused_until
            .and_then(|p| p.checked_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// Every host seen so far, sorted by key (for a status page).
    pub fn snapshot(&self) -> Vec<HostStatus> {
        let hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut out: Vec<HostStatus> = hosts
            .iter()
            .map(|(key, h)| {
                let t = h.times.lock().unwrap_or_else(|e| e.into_inner());
                HostStatus {
                    key: key.clone(),
                    in_flight: h.max_concurrent - h.slots.available_permits(),
                    max_concurrent: h.max_concurrent,
                    delay: h.delay,
                    paused_for: t
                        .paused_until
                        .and_then(|p| p.checked_duration_since(now))
                        .filter(|d| !d.is_zero()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(hosts: Vec<HostConfig>) -> FetchConfig {
        FetchConfig {
            host_concurrency: 2,
            host_delay: Duration::from_millis(100),
            hosts,
            ..FetchConfig::default()
        }
    }

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn keys_are_hosts_or_pooled_domains() {
        let p = Politeness::new(&cfg(vec![
            HostConfig {
                name: "*.blogs.example".into(),
                max_concurrent: Some(1),
                delay: None,
                ..HostConfig::default()
            },
            HostConfig {
                name: "solo.blogs.example".into(),
                max_concurrent: None,
                delay: None,
                ..HostConfig::default()
            },
        ]));
        assert_eq!(
            p.key(&u("https://Example.org:8443/a")).as_deref(),
            Some("example.org")
        );
        assert_eq!(
            p.key(&u("https://a.blogs.example/x")).as_deref(),
            Some("*.blogs.example")
        );
        assert_eq!(
            p.key(&u("https://blogs.example/x")).as_deref(),
            Some("*.blogs.example")
        );
        assert_eq!(
            p.key(&u("https://solo.blogs.example/x")).as_deref(),
            Some("solo.blogs.example")
        );
        assert_eq!(
            p.key(&u("https://notblogs.example/x")).as_deref(),
            Some("notblogs.example")
        );
        assert_eq!(p.key(&u("file:///tmp/x.xml")), None);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_and_delay_per_host() {
        let p = Politeness::new(&cfg(vec![]));
        let t0 = Instant::now();
        let a = p.acquire(&u("http://h.example/1")).await.unwrap();
        let b = p.acquire(&u("http://h.example/2")).await.unwrap();
        // The second start waits for the delay.
        assert!(Instant::now() - t0 >= Duration::from_millis(100));
        // Another host is not affected.
        let t1 = Instant::now();
        let _c = p.acquire(&u("http://other.example/1")).await.unwrap();
        assert_eq!(Instant::now(), t1);
        // A third request to h waits for a slot.
        let third_url = u("http://h.example/3");
        let third = p.acquire(&third_url);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), &mut third)
                .await
                .is_err()
        );
        drop(a);
        assert!(third.await.is_some());
        drop(b);
        assert_eq!(p.snapshot().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn one_url_429_does_not_pause_the_host_many_do() {
        let p = Politeness::new(&cfg(vec![]));
        let a = u("http://h.example/a");
        for _ in 0..5 {
            p.note_response(&a, 429, Some(Duration::from_secs(600)));
        }
        assert_eq!(p.paused_for(&a), None);
        p.note_response(
            &u("http://h.example/b"),
            429,
            Some(Duration::from_secs(600)),
        );
        p.note_response(&u("http://h.example/ok"), 200, None);
        p.note_response(
            &u("http://h.example/c"),
            429,
            Some(Duration::from_secs(600)),
        );
        assert_eq!(p.paused_for(&a), None);
        p.note_response(
            &u("http://h.example/d"),
            429,
            Some(Duration::from_secs(600)),
        );
        p.note_response(
            &u("http://h.example/e"),
            429,
            Some(Duration::from_secs(600)),
        );
        assert!(p.paused_for(&a).is_some());
        let t0 = Instant::now();
        let _p = p.acquire(&a).await;
        assert!(Instant::now() - t0 >= Duration::from_secs(599));
    }
}
