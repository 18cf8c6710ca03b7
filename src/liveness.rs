//! Is the scheduler alive? A daemon whose polls are stuck must not pass for
//! a healthy one: `/healthz` and the systemd watchdog ask [`Liveness`].
//!
//! The scheduler reports each poll it starts (with the time the source fell
//! due) and each it finishes, and the due time of the next source in its
//! queue. The scheduler is *stalled* when something has been due for longer
//! than `stall_after` and no poll has finished for as long. A long backlog
//! is not a stall (polls keep finishing); an idle daemon is not one either
//! (nothing is due).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Shared by the scheduler (writes) and the server (reads).
#[derive(Debug)]
pub struct Liveness {
    /// `(due, ticket)` of every poll started and not yet finished.
    in_flight: Mutex<BTreeSet<(i64, u64)>>,
    next_ticket: AtomicU64,
    /// When a poll last finished (ms since the epoch); the start time before.
    last_finished_ms: AtomicI64,
    /// The due time of the scheduler's next queued source (ms); `i64::MAX`
    /// when the queue is empty.
    queue_due_ms: AtomicI64,
}

impl Default for Liveness {
    fn default() -> Liveness {
        Liveness {
            in_flight: Mutex::default(),
            next_ticket: AtomicU64::new(0),
            last_finished_ms: AtomicI64::new(Utc::now().timestamp_millis()),
            queue_due_ms: AtomicI64::new(i64::MAX),
        }
    }
}

/// What `/metrics` and `/healthz` show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivenessReport {
    /// Polls started and not finished (waiting for their host or a worker,
    /// or running).
    pub polls_in_flight: usize,
    /// The earliest due time of a source not yet polled, if one is due.
    pub oldest_due: Option<DateTime<Utc>>,
    pub last_finished: DateTime<Utc>,
}

impl LivenessReport {
    /// How long the oldest due source has waited (zero when none is due).
    pub fn oldest_due_age(&self, now: DateTime<Utc>) -> Duration {
        self.oldest_due
            .and_then(|d| (now - d).to_std().ok())
            .unwrap_or_default()
    }

    /// Why the scheduler counts as stalled at `now`, if it does.
    pub fn stalled(&self, now: DateTime<Utc>, stall_after: Duration) -> Option<String> {
        let waiting = self.oldest_due_age(now);
        let quiet = (now - self.last_finished).to_std().unwrap_or_default();
        (waiting > stall_after && quiet > stall_after).then(|| {
            format!(
                "scheduler stalled: a source has been due for {}s and no poll has finished for {}s ({} polls in flight)",
                waiting.as_secs(),
                quiet.as_secs(),
                self.polls_in_flight
            )
        })
    }
}

/// Held by a poll task from start to end; dropping it marks the poll done.
#[derive(Debug)]
pub struct PollTicket {
    liveness: Arc<Liveness>,
    key: (i64, u64),
}

impl Drop for PollTicket {
    fn drop(&mut self) {
        let mut polls = self
            .liveness
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        polls.remove(&self.key);
        self.liveness
            .last_finished_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
    }
}

impl Liveness {
    /// A poll of a source due at `due` starts.
    pub fn poll_started(self: &Arc<Self>, due: DateTime<Utc>) -> PollTicket {
        let key = (
            due.timestamp_millis(),
            self.next_ticket.fetch_add(1, Ordering::Relaxed),
        );
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key);
        PollTicket {
            liveness: self.clone(),
            key,
        }
    }

    /// The scheduler's next queued due time (`None`: nothing queued).
    pub fn set_next_queued(&self, due: Option<DateTime<Utc>>) {
        let ms = due.map_or(i64::MAX, |d| d.timestamp_millis());
        self.queue_due_ms.store(ms, Ordering::Relaxed);
    }

    pub fn report(&self) -> LivenessReport {
        let (in_flight, oldest_running) = {
            let polls = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            (polls.len(), polls.first().map(|(due, _)| *due))
        };
        let queued = self.queue_due_ms.load(Ordering::Relaxed);
        let oldest = oldest_running.map_or(queued, |r| r.min(queued));
        let now = Utc::now();
        LivenessReport {
            polls_in_flight: in_flight,
            oldest_due: (oldest != i64::MAX)
                .then(|| DateTime::from_timestamp_millis(oldest))
                .flatten()
                .filter(|d| *d <= now),
            last_finished: DateTime::from_timestamp_millis(
                self.last_finished_ms.load(Ordering::Relaxed),
            )
            .unwrap_or(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_that_moves_is_alive_a_stuck_one_is_not() {
        let l = Arc::new(Liveness::default());
        let now = Utc::now();
        let minute = Duration::from_secs(60);
        assert_eq!(l.report().stalled(now, minute), None, "idle");

        let old = now - chrono::Duration::minutes(5);
        let stuck = l.poll_started(old);
        let r = l.report();
        assert_eq!(r.polls_in_flight, 1);
        assert_eq!(
            r.oldest_due.map(|d| d.timestamp_millis()),
            Some(old.timestamp_millis())
        );
        // A poll finished recently: a backlog, not a stall.
        assert_eq!(r.stalled(now, minute), None);
        // Nothing finished for 10 minutes while a source is due: stalled.
        let later = now + chrono::Duration::minutes(10);
        let why = r.stalled(later, minute).expect("stalled");
        assert!(why.contains("1 polls in flight"), "{why}");
        drop(stuck);
        let r = l.report();
        assert_eq!(r.polls_in_flight, 0);
        assert_eq!(r.oldest_due, None);
    }

    #[test]
    fn an_overdue_queue_counts_too() {
        let l = Liveness::default();
        let now = Utc::now();
        l.set_next_queued(Some(now - chrono::Duration::hours(1)));
        l.last_finished_ms.store(
            (now - chrono::Duration::hours(1)).timestamp_millis(),
            Ordering::Relaxed,
        );
        assert!(l.report().stalled(now, Duration::from_secs(60)).is_some());
        l.set_next_queued(Some(now + chrono::Duration::hours(1)));
        assert_eq!(l.report().stalled(now, Duration::from_secs(60)), None);
    }
}
