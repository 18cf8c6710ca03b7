//! The time budget of processing one page or document (`fetch.parse_budget`).
//!
//! Decoding, parsing, extraction, cleaning and normalizing run on tokio's
//! blocking pool, never on the async workers that answer HTTP. A step
//! that ends past what is left of its page's budget fails the page with
//! kind [`KIND`]; the step sees its deadline through [`exceeded`], checked
//! between the iterations of the loops huiliu controls (list items,
//! entries, the nodes cleaning visits, the elements meta lines are looked
//! for in), and stops soon after it. The poll waits for a step at most
//! twice the budget (the step may be inside one library call, a parse,
//! when its deadline passes), then gives up on it.
//!
//! A thread cannot be killed: a step stuck inside one library call (one
//! html5ever parse of a page, itself bounded by the page cap and the nesting
//! bound) runs on after the poll gave up. While it does, its source starts
//! no other step — not the next page, not the next poll — so each source
//! has at most one such thread, and they cannot pile up.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The error kind stored on a source (or noted for an article page) whose
/// processing ran past the budget.
pub const KIND: &str = "parse_budget";

/// The default `fetch.parse_budget`: real pages take milliseconds; the
/// slowest legitimate documents (16 MiB feeds) well under a second.
pub const DEFAULT: Duration = Duration::from_secs(10);

/// The least `fetch.parse_budget` `huiliu check` accepts.
pub const MIN: Duration = Duration::from_secs(1);

thread_local! {
    /// The deadline of the step running on this thread, if any.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// True when the step running on this thread is past its deadline: loops
/// stop early (what they return is thrown away). Always false outside a
/// budgeted step (tests, `huiliu` commands that parse one page).
pub fn exceeded() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// Puts the previous deadline back, also when the work panicked.
struct Restore(Option<Instant>);

impl Drop for Restore {
    fn drop(&mut self) {
        DEADLINE.with(|d| d.set(self.0));
    }
}

/// Runs `work` on this thread with `deadline` (or an earlier one already
/// set); also returns whether it ended past the deadline.
pub fn run_until<T>(deadline: Instant, work: impl FnOnce() -> T) -> (T, bool) {
    let previous = DEADLINE.with(|d| d.get());
    let deadline = previous.map_or(deadline, |p| p.min(deadline));
    DEADLINE.with(|d| d.set(Some(deadline)));
    let _restore = Restore(previous);
    let out = work();
    (out, Instant::now() >= deadline)
}

/// Why a budgeted step gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// Past the budget, or not started because an earlier step of the same
    /// source is still running past its own.
    OverBudget(OverBudget),
    /// The step panicked (a bug); the panic's message.
    Panic(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    /// The page or document (its URL, redacted when shown).
    pub page: String,
    pub limit: Duration,
    /// Not started: the work on `page` (an earlier step) is still running.
    pub still_running: bool,
}

impl fmt::Display for OverBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = show(self.limit);
        if self.still_running {
            write!(
                f,
                "not read: processing {} is still running past fetch.parse_budget ({limit}); \
                 this source starts no other parsing until it ends",
                self.page
            )
        } else {
            write!(
                f,
                "processing {} took longer than fetch.parse_budget ({limit}): the page is too \
                 large or too complex; it is retried later (raise fetch.parse_budget if it is \
                 a real page)",
                self.page
            )
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::OverBudget(o) => o.fmt(f),
            StepError::Panic(what) => write!(
                f,
                "internal error while parsing the page ({what}); please report it"
            ),
        }
    }
}

/// `10s`, `1.5s`, `250ms`.
fn show(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() > 0 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// What is left of one page's (or document's) budget: the steps of a page
/// share it; time spent waiting for the network is not counted.
#[derive(Debug, Clone)]
pub struct PageBudget {
    page: String,
    left: Duration,
}

impl PageBudget {
    pub fn page(&self) -> &str {
        &self.page
    }
}

/// The budget of every page, and the steps still running past theirs.
#[derive(Clone)]
pub struct Budgets {
    limit: Duration,
    /// Source id → the step that ran past its budget and has not ended yet.
    running: Arc<Mutex<HashMap<String, Detached>>>,
}

impl fmt::Debug for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgets")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Detached {
    page: String,
    /// Which step (one source may have a later one after it ends).
    step: u64,
}

/// State shared between a step and the poll awaiting it.
struct StepEnd {
    running: Arc<Mutex<HashMap<String, Detached>>>,
    source: String,
    step: u64,
    /// Set (under the `running` lock) when the step ends.
    ended: Arc<Mutex<bool>>,
}

impl Drop for StepEnd {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        *self.ended.lock().unwrap_or_else(PoisonError::into_inner) = true;
        if running
            .get(&self.source)
            .is_some_and(|d| d.step == self.step)
        {
            running.remove(&self.source);
            tracing::info!(source = %self.source, "parsing that ran past fetch.parse_budget ended");
        }
    }
}

static NEXT_STEP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Budgets {
    pub fn new(limit: Duration) -> Budgets {
        Budgets {
            limit,
            running: Arc::default(),
        }
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// A fresh budget for the page or document `page` (a URL; redacted here).
    pub fn page(&self, page: &url::Url) -> PageBudget {
        PageBudget {
            page: crate::redact::url(page),
            left: self.limit,
        }
    }

    /// The error of a source whose earlier step still runs past its budget.
    pub fn still_running(&self, source: &str) -> Option<OverBudget> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        running.get(source).map(|d| OverBudget {
            page: d.page.clone(),
            limit: self.limit,
            still_running: true,
        })
    }

    /// How many steps (of all sources) run past their budget right now.
    pub fn detached(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Runs `work`, a step of `page` for `source`, on the blocking pool
    /// within what is left of the page's budget.
    pub async fn run<T: Send + 'static>(
        &self,
        source: &str,
        page: &mut PageBudget,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, StepError> {
        if let Some(over) = self.still_running(source) {
            return Err(StepError::OverBudget(over));
        }
        // One step per core at a time: sixty-four polls parsing at once
        // only share the cores, and the threads that answer readers then
        // wait behind them (a 1 ms page took 400 ms during a pass). The
        // wait for a slot is not the page's time. A step given up on
        // releases its slot (it runs on without one, one per source).
        let _cpu = cpu_slots().acquire_owned().await.ok();
        let limit = self.limit;
        let name = page.page.clone();
        let over = move |still_running| {
            StepError::OverBudget(OverBudget {
                page: name,
                limit,
                still_running,
            })
        };
        let started = Instant::now();
        let deadline = started + page.left;
        // For the step to notice its deadline and end by itself: as long
        // again (one library call it cannot leave — a parse — may be
        // under way when the deadline passes).
        let grace = self.limit.max(Duration::from_millis(50));
        let step = NEXT_STEP.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ended = Arc::new(Mutex::new(false));
        let end = StepEnd {
            running: self.running.clone(),
            source: source.to_string(),
            step,
            ended: ended.clone(),
        };
        let handle = tokio::task::spawn_blocking(move || {
            let _end = end;
            run_until(deadline, work)
        });
        let waited = tokio::time::timeout_at((deadline + grace).into(), handle).await;
        page.left = page.left.saturating_sub(started.elapsed());
        match waited {
            Ok(Ok((out, false))) => Ok(out),
            Ok(Ok((_, true))) => Err(over(false)),
            Ok(Err(e)) => Err(StepError::Panic(panic_message(e))),
            Err(_) => {
                // Given up on; the thread runs on until its next check.
                let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
                if !*ended.lock().unwrap_or_else(PoisonError::into_inner) {
                    tracing::warn!(source, page = %page.page, limit = ?self.limit, "parsing runs past fetch.parse_budget: the poll gave up on it; the source starts no other parsing until it ends");
                    running.insert(
                        source.to_string(),
                        Detached {
                            page: page.page.clone(),
                            step,
                        },
                    );
                }
                Err(over(false))
            }
        }
    }
}

/// Slots for CPU-heavy steps: one per core the process may use.
fn cpu_slots() -> Arc<tokio::sync::Semaphore> {
    static SLOTS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cores))
        });
    SLOTS.clone()
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into()),
        Err(e) => format!("the parsing task ended: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> url::Url {
        url::Url::parse("http://example.org/page?apikey=secret").unwrap()
    }

    #[test]
    fn the_deadline_is_seen_only_inside_a_step() {
        assert!(!exceeded());
        let past = Instant::now();
        let (inside, over) = run_until(past, exceeded);
        assert!(inside && over);
        assert!(!exceeded());
        let far = Instant::now() + Duration::from_secs(3600);
        let (inside, over) = run_until(far, exceeded);
        assert!(!inside && !over);
        // A nested step keeps the earlier deadline.
        let ((inner, _), _) = run_until(past, || run_until(far, exceeded));
        assert!(inner);
        // Put back after a panic too.
        let _ = std::panic::catch_unwind(|| run_until(past, || panic!("x")));
        assert!(!exceeded());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_within_the_budget_gives_its_result() {
        let b = Budgets::new(Duration::from_secs(60));
        let mut page = b.page(&url());
        assert_eq!(b.run("s", &mut page, || 7).await, Ok(7));
        assert!(page.left <= Duration::from_secs(60));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_past_the_budget_fails_naming_the_budget_and_the_page() {
        let b = Budgets::new(Duration::ZERO);
        let mut page = b.page(&url());
        let err = b.run("s", &mut page, || 7).await.unwrap_err();
        let StepError::OverBudget(o) = &err else {
            panic!("{err:?}")
        };
        assert!(!o.still_running);
        let text = err.to_string();
        assert!(text.contains("fetch.parse_budget (0ms)"), "{text}");
        assert!(
            text.contains("http://example.org/page?apikey=***"),
            "{text}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_that_checks_its_deadline_ends_by_itself() {
        let b = Budgets::new(Duration::from_millis(1));
        let mut page = b.page(&url());
        // Loops until its deadline: ends with the budget, within the grace.
        let err = b
            .run("s", &mut page, || {
                while !exceeded() {
                    std::hint::spin_loop();
                }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::OverBudget(_)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_source_whose_step_runs_on_starts_no_other_until_it_ends() {
        let b = Budgets::new(Duration::ZERO);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let mut page = b.page(&url());
        // Stuck in "a library call" (ignores its deadline) until released.
        let err = b
            .run("s", &mut page, move || {
                let _ = wait.recv();
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StepError::OverBudget(ref o) if !o.still_running));
        assert_eq!(b.detached(), 1);
        let again = b.run("s", &mut b.page(&url()), || 1).await.unwrap_err();
        let StepError::OverBudget(o) = &again else {
            panic!("{again:?}")
        };
        assert!(o.still_running, "{again}");
        assert!(b.still_running("other").is_none());
        release.send(()).unwrap();
        // Ends right after the release.
        for _ in 0..200 {
            if b.detached() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(b.detached(), 0);
        assert!(b.still_running("s").is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_not_a_crash() {
        let b = Budgets::new(Duration::from_secs(60));
        let err = b
            .run("s", &mut b.page(&url()), || -> u8 { panic!("boom 3") })
            .await
            .unwrap_err();
        assert_eq!(err, StepError::Panic("boom 3".into()));
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(show(Duration::from_secs(10)), "10s");
        assert_eq!(show(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
    }
}
