//! systemd's `sd_notify` protocol: READY, RELOADING, STOPPING, STATUS and
//! the watchdog. Every call is a no-op outside systemd (no `NOTIFY_SOCKET`).

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

use crate::liveness::Liveness;
use crate::store::Store;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// Startup is complete: systemd considers the service started.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload began (followed by [`ready`] when it is done).
pub fn reloading() {
    send(&[
        NotifyState::Reloading,
        NotifyState::Status("reloading the configuration"),
    ]);
}

pub fn stopping(status: &str) {
    send(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

pub fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// With `WatchdogSec=` set, sends `WATCHDOG=1` at half the interval as long
/// as the database answers and the scheduler is not stalled (a hung
/// database or a stalled scheduler gets the service restarted).
pub async fn watchdog(
    store: Arc<dyn Store>,
    liveness: Arc<Liveness>,
    stall_after: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let Some(period) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (period / 2).max(Duration::from_millis(100));
    tracing::info!(
        every_ms = every.as_millis() as u64,
        "systemd watchdog enabled"
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match tokio::time::timeout(every, store.ping()).await {
            Ok(Ok(())) => match liveness.report().stalled(chrono::Utc::now(), stall_after) {
                None => send(&[NotifyState::Watchdog]),
                Some(why) => tracing::error!("watchdog: {why}"),
            },
            Ok(Err(e)) => tracing::error!(error = %e, "watchdog: the database does not answer"),
            Err(_) => tracing::error!("watchdog: the database did not answer in time"),
        }
    }
}
