//! Process-wide counters, exposed at `/metrics` in the Prometheus text
//! format. Plain atomics: recording costs nothing on the hot paths.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::Duration;

use crate::liveness::LivenessReport;

const FEED_ROUTE: &str = "/feeds/{file}";

/// Upper bounds (seconds) of the fetch latency histogram.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    polls: Mutex<BTreeMap<&'static str, u64>>,
    fetch_buckets: [AtomicU64; BUCKETS.len()],
    fetch_count: AtomicU64,
    fetch_micros: AtomicU64,
    entries_new: AtomicU64,
    entries_updated: AtomicU64,
    dedup_merges: AtomicU64,
    /// route → status → count; a read lock and an atomic add per request.
    http: RwLock<HashMap<String, HashMap<u16, AtomicU64>>>,
    /// `/feeds/{file}` answered 200 and 304: no lock on the hottest path.
    feed_ok: AtomicU64,
    feed_not_modified: AtomicU64,
}

pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

impl Metrics {
    /// One poll ended with `result` (`ok`, `not_modified`, `error`).
    pub fn poll(&self, result: &'static str, took: Duration, new: usize, updated: usize) {
        if let Ok(mut m) = self.polls.lock() {
            *m.entry(result).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.fetch_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fetch_count.fetch_add(1, Ordering::Relaxed);
        self.fetch_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.entries_new.fetch_add(new as u64, Ordering::Relaxed);
        self.entries_updated
            .fetch_add(updated as u64, Ordering::Relaxed);
    }

    pub fn dedup_merge(&self) {
        self.dedup_merges.fetch_add(1, Ordering::Relaxed);
    }

    /// A request to `/feeds/{file}`.
    pub fn feed_request(&self, status: u16) {
        match status {
            200 => {
                self.feed_ok.fetch_add(1, Ordering::Relaxed);
            }
            304 => {
                self.feed_not_modified.fetch_add(1, Ordering::Relaxed);
            }
            other => self.http(FEED_ROUTE, other),
        }
    }

    pub fn http(&self, route: &str, status: u16) {
        if let Ok(m) = self.http.read() {
            if let Some(n) = m.get(route).and_then(|r| r.get(&status)) {
                n.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut m) = self.http.write() {
            m.entry(route.to_string())
                .or_default()
                .entry(status)
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition; `stored` is the current entry count,
    /// `polls` the scheduler's liveness.
    pub fn render(&self, stored: Option<u64>, polls: &LivenessReport) -> String {
        let mut out = String::new();
        let now = chrono::Utc::now();
        let _ = writeln!(
            out,
            "# HELP huiliu_polls_in_flight Polls started and not finished (waiting for their host or a worker, or running).\n# TYPE huiliu_polls_in_flight gauge\nhuiliu_polls_in_flight {}",
            polls.polls_in_flight
        );
        let _ = writeln!(
            out,
            "# HELP huiliu_oldest_due_seconds How long the longest-waiting due source has waited (0: none due).\n# TYPE huiliu_oldest_due_seconds gauge\nhuiliu_oldest_due_seconds {}",
            polls.oldest_due_age(now).as_secs_f64()
        );
        let _ = writeln!(
            out,
            "# HELP huiliu_last_poll_finished_seconds Seconds since a poll last finished (since start if none).\n# TYPE huiliu_last_poll_finished_seconds gauge\nhuiliu_last_poll_finished_seconds {}",
            (now - polls.last_finished).num_milliseconds().max(0) as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "# HELP huiliu_polls_total Polls by result.\n# TYPE huiliu_polls_total counter"
        );
        if let Ok(m) = self.polls.lock() {
            for (result, n) in m.iter() {
                let _ = writeln!(out, "huiliu_polls_total{{result=\"{result}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP huiliu_poll_duration_seconds Time of one poll (fetch to stored).\n# TYPE huiliu_poll_duration_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.fetch_buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "huiliu_poll_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
            );
        }
        let count = self.fetch_count.load(Ordering::Relaxed);
        let sum = self.fetch_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(
            out,
            "huiliu_poll_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(out, "huiliu_poll_duration_seconds_sum {sum}");
        let _ = writeln!(out, "huiliu_poll_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP huiliu_entries_written_total Entries written by polls.\n# TYPE huiliu_entries_written_total counter"
        );
        let _ = writeln!(
            out,
            "huiliu_entries_written_total{{kind=\"new\"}} {}",
            self.entries_new.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "huiliu_entries_written_total{{kind=\"updated\"}} {}",
            self.entries_updated.load(Ordering::Relaxed)
        );
        if let Some(n) = stored {
            let _ = writeln!(
                out,
                "# HELP huiliu_entries_stored Entries in the database.\n# TYPE huiliu_entries_stored gauge\nhuiliu_entries_stored {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP huiliu_dedup_merges_total Entries merged into another's cluster.\n# TYPE huiliu_dedup_merges_total counter\nhuiliu_dedup_merges_total {}",
            self.dedup_merges.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP huiliu_http_requests_total HTTP requests by route and status.\n# TYPE huiliu_http_requests_total counter"
        );
        if let Ok(m) = self.http.read() {
            let mut sorted: BTreeMap<(&str, u16), u64> = m
                .iter()
                .flat_map(|(route, by)| {
                    by.iter()
                        .map(move |(s, n)| ((route.as_str(), *s), n.load(Ordering::Relaxed)))
                })
                .collect();
            for (status, n) in [(200, &self.feed_ok), (304, &self.feed_not_modified)] {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    *sorted.entry((FEED_ROUTE, status)).or_default() += n;
                }
            }
            for ((route, status), n) in sorted {
                let _ = writeln!(
                    out,
                    "huiliu_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.poll("ok", Duration::from_millis(80), 2, 1);
        m.poll("error", Duration::from_secs(3), 0, 0);
        m.http("/feeds/{file}", 200);
        let polls = LivenessReport {
            polls_in_flight: 3,
            oldest_due: None,
            last_finished: chrono::Utc::now(),
        };
        let text = m.render(Some(7), &polls);
        assert!(text.contains("huiliu_polls_in_flight 3"));
        assert!(text.contains("huiliu_oldest_due_seconds 0"));
        assert!(text.contains("huiliu_polls_total{result=\"ok\"} 1"));
        assert!(text.contains("huiliu_poll_duration_seconds_bucket{le=\"0.1\"} 1"));
        assert!(text.contains("huiliu_poll_duration_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("huiliu_entries_stored 7"));
        assert!(
            text.contains("huiliu_http_requests_total{route=\"/feeds/{file}\",status=\"200\"} 1")
        );
    }
}
