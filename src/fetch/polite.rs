//! Politeness for scraped pages: one request at a time per host, with a
//! pause between two requests to the same host. Shared by every clone of a
//! [`super::Fetcher`], so two sources on one host also take turns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};
use tokio::time::Instant;

/// When the last request to a host ended; locked while one is in flight.
type Slot = Arc<AsyncMutex<Option<Instant>>>;

#[derive(Clone, Default)]
pub struct HostGate {
    hosts: Arc<Mutex<HashMap<String, Slot>>>,
}

/// The right to send one request to a host; the pause starts when it is dropped.
pub struct HostTurn {
    guard: OwnedMutexGuard<Option<Instant>>,
}

impl Drop for HostTurn {
    fn drop(&mut self) {
        *self.guard = Some(Instant::now());
    }
}

impl HostGate {
    /// Waits until no other request to `host` is in flight and `delay` has
    /// passed since the last one ended.
    pub async fn turn(&self, host: &str, delay: Duration) -> HostTurn {
        let slot = {
            let mut hosts = match self.hosts.lock() {
                Ok(h) => h,
                Err(poisoned) => poisoned.into_inner(),
            };
            hosts.entry(host.to_ascii_lowercase()).or_default().clone()
        };
        let guard = slot.lock_owned().await;
        if let Some(last) = *guard {
            tokio::time::sleep_until(last + delay).await;
        }
        HostTurn { guard }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_to_one_host_take_turns_with_a_pause() {
        let gate = HostGate::default();
        let start = Instant::now();
        drop(gate.turn("a.example", Duration::from_millis(80)).await);
        drop(gate.turn("A.example", Duration::from_millis(80)).await);
        assert!(start.elapsed() >= Duration::from_millis(80));
        // Another host does not wait.
        let t = Instant::now();
        let _held = gate.turn("b.example", Duration::from_millis(80)).await;
        assert!(t.elapsed() < Duration::from_millis(50));
    }
}
