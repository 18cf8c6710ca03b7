//! When the next poll of a source falls due: intervals that adapt to how
//! often a source changes, backoff after failures, `Retry-After`, jitter —
//! pure functions of durations, shared by the poll (which records the next
//! due time) and the schedulers (which act on it). A leaf: it imports no
//! other module of huiliu.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

/// The longest a `Retry-After` can push a source's next poll.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest any delay gets: whatever a config or a source says, the
/// time arithmetic saturates here instead of overflowing (and panicking).
pub const MAX_DELAY: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

/// `d` as a chrono duration, at most [`MAX_DELAY`].
fn saturating(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d.min(MAX_DELAY)).unwrap_or(chrono::Duration::MAX)
}

/// `now + delay`, saturating (a due time is never unrepresentable).
pub fn due_after(now: DateTime<Utc>, delay: chrono::Duration) -> DateTime<Utc> {
    now.checked_add_signed(delay)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `interval` ± 10%, so sources sharing an interval spread out.
pub fn jittered(interval: Duration) -> chrono::Duration {
    let factor = rand::rng().random_range(0.9..=1.1);
    saturating(interval.min(MAX_DELAY).mul_f64(factor))
}

/// Exponential backoff after `failures` consecutive failures, with jitter:
/// a quarter of the interval (at least a minute), doubled per failure,
/// capped at `max_backoff` (or the interval, if longer).
pub fn backoff(interval: Duration, failures: u32, max_backoff: Duration) -> chrono::Duration {
    let base = (interval / 4).max(Duration::from_secs(60));
    let cap = max_backoff.max(interval);
    let exp = failures.saturating_sub(1).min(16);
    let delay = base.saturating_mul(1 << exp).min(cap);
    jittered(delay)
}

/// The adaptive interval after a successful poll: halved when the source
/// changed, grown by a quarter when it did not, kept when unknown (first
/// poll); always within `[min, max]`.
pub fn adapt_interval(
    current: Duration,
    changed: Option<bool>,
    min: Duration,
    max: Duration,
) -> Duration {
    let current = current.min(MAX_DELAY);
    let next = match changed {
        Some(true) => current / 2,
        Some(false) => current.saturating_add(current / 4),
        None => current,
    };
    next.clamp(min, max.max(min)).min(MAX_DELAY)
}

/// The delay to the next poll: the interval with jitter, but never sooner
/// than what the source announced (`hint`: max-age, Expires, `<ttl>`,
/// `sy:updatePeriod`), which itself is capped at `max_interval`.
pub fn next_delay(
    interval: Duration,
    hint: Option<Duration>,
    max_interval: Duration,
) -> chrono::Duration {
    let delay = jittered(interval);
    match hint.map(|h| h.min(max_interval)) {
        Some(h) => delay.max(saturating(h)),
        None => delay,
    }
}

/// The delay after a 429/503 with `Retry-After`: what the server asked (at
/// most a week), never sooner than `min_interval`, plus up to 10% jitter.
pub fn retry_after_delay(wait: Duration, min_interval: Duration) -> chrono::Duration {
    let base = wait.min(MAX_RETRY_AFTER).max(min_interval).min(MAX_DELAY);
    let factor = 1.0 + rand::rng().random_range(0.0..=0.1);
    saturating(base.mul_f64(factor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let day = Duration::from_secs(24 * 3600);
        let i = Duration::from_secs(1800);
        let first = backoff(i, 1, day).num_seconds();
        let third = backoff(i, 3, day).num_seconds();
        assert!((405..=495).contains(&first), "{first}");
        assert!((1620..=1980).contains(&third), "{third}");
        let late = backoff(i, 40, day).num_seconds();
        assert!(late <= (day.as_secs() as f64 * 1.1) as i64, "{late}");
        assert!(backoff(Duration::from_secs(10), 1, day).num_seconds() >= 54);
        let capped = backoff(i, 40, Duration::from_secs(3600)).num_seconds();
        assert!((3240..=3960).contains(&capped), "{capped}");
    }

    #[test]
    fn intervals_adapt_within_bounds() {
        let m = Duration::from_secs(60);
        let (min, max) = (10 * m, 120 * m);
        assert_eq!(adapt_interval(30 * m, Some(true), min, max), 15 * m);
        assert_eq!(adapt_interval(15 * m, Some(true), min, max), 10 * m);
        assert_eq!(adapt_interval(40 * m, Some(false), min, max), 50 * m);
        assert_eq!(adapt_interval(110 * m, Some(false), min, max), 120 * m);
        assert_eq!(adapt_interval(30 * m, None, min, max), 30 * m);
        assert_eq!(adapt_interval(300 * m, None, min, max), 120 * m);
    }

    #[test]
    fn absurd_intervals_saturate_instead_of_panicking() {
        let huge = Duration::from_secs(99_999_999_999 * 86_400);
        let max = chrono::Duration::from_std(MAX_DELAY).unwrap();
        for d in [
            jittered(huge),
            jittered(Duration::MAX),
            backoff(huge, 40, huge),
            backoff(Duration::MAX, u32::MAX, Duration::MAX),
            next_delay(huge, Some(Duration::MAX), Duration::MAX),
            retry_after_delay(Duration::MAX, Duration::MAX),
        ] {
            assert!(d > chrono::Duration::zero() && d <= max * 11 / 10, "{d}");
            assert!(due_after(Utc::now(), d) > Utc::now());
        }
        let grown = adapt_interval(Duration::MAX, Some(false), huge, Duration::MAX);
        assert!(grown <= Duration::MAX);
        assert_eq!(
            due_after(Utc::now(), chrono::Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn hints_are_lower_bounds_capped_by_max_interval() {
        let m = Duration::from_secs(60);
        let d = next_delay(10 * m, Some(60 * m), 120 * m).num_seconds();
        assert_eq!(d, 3600);
        let d = next_delay(10 * m, Some(600 * m), 120 * m).num_seconds();
        assert_eq!(d, 7200);
        let d = next_delay(10 * m, Some(m), 120 * m).num_seconds();
        assert!((540..=660).contains(&d), "{d}");
        let r = retry_after_delay(Duration::from_secs(120), m).num_seconds();
        assert!((120..=132).contains(&r), "{r}");
        let r = retry_after_delay(Duration::from_secs(5), m).num_seconds();
        assert!((60..=66).contains(&r), "{r}");
    }
}
