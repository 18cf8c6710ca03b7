//! `huiliu run`: serve the outputs and poll the sources until told to stop.
//!
//! - SIGHUP re-reads the config: added sources start polling, removed ones
//!   stop, changed outputs are served at once. A config with errors is
//!   refused (each error logged) and the running one kept.
//! - SIGTERM / SIGINT: no new polls start; polls in flight finish their
//!   writes within `[server] shutdown_grace`; open requests are answered;
//!   the database is closed cleanly. A second signal exits at once.
//! - Under systemd (`Type=notify`): READY, RELOADING, STOPPING, STATUS and
//!   the watchdog.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{notify, prune};
use crate::config::{self, Config, StorageConfig};
use crate::refresh::Pipeline;
use crate::{schedule, serve};

/// Where `huiliu run` writes its pid (and `huiliu reload` reads it) unless
/// `--pid-file` says otherwise: next to the SQLite database.
pub fn default_pid_file(cfg: &Config) -> Option<PathBuf> {
    match &cfg.storage {
        StorageConfig::Sqlite(db) => Some(db.with_extension("pid")),
        StorageConfig::Postgres(_) => None,
    }
}

/// Applies `--listen` (and the base URL when it was derived from the address).
pub fn apply_listen(cfg: &mut Config, listen: Option<std::net::SocketAddr>) {
    let Some(addr) = listen else { return };
    if cfg.server.base_url.host_str() == Some(&cfg.server.listen.ip().to_string())
        && cfg.server.base_url.port() == Some(cfg.server.listen.port())
    {
        // The base URL was derived from the old address: follow the override.
        if let Ok(u) = url::Url::parse(&format!("http://{addr}")) {
            cfg.server.base_url = u;
        }
    }
    cfg.server.listen = addr;
}

/// Removes the pid file when dropped.
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: &Path) -> std::io::Result<PidFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{}\n", std::process::id()))?;
        Ok(PidFile(path.to_path_buf()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

enum Event {
    Reload,
    Stop(&'static str),
}

#[cfg(unix)]
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn next(&mut self) -> Event {
        tokio::select! {
            _ = self.hup.recv() => Event::Reload,
            _ = self.term.recv() => Event::Stop("SIGTERM"),
            _ = self.int.recv() => Event::Stop("SIGINT"),
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn next(&mut self) -> Event {
        let _ = tokio::signal::ctrl_c().await;
        Event::Stop("Ctrl-C")
    }
}

fn status_line(cfg: &Config) -> String {
    format!(
        "serving {} feeds from {} sources on {}",
        cfg.feeds.len(),
        cfg.sources.len(),
        cfg.server.listen
    )
}

/// Settings a reload cannot change (they need a restart): logged.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if old.server.listen != new.server.listen {
        out.push("server.listen");
    }
    if old.server.websub_hub != new.server.websub_hub {
        out.push("server.websub_hub");
    }
    if old.storage != new.storage {
        out.push("storage");
    }
    if old.fetch != new.fetch {
        out.push("fetch and host");
    }
    out
}

pub async fn run(
    path: &Path,
    listen: Option<std::net::SocketAddr>,
    pid_file: Option<PathBuf>,
) -> Result<ExitCode, ExitCode> {
    let mut cfg = crate::app::load(path)?;
    apply_listen(&mut cfg, listen);
    let cfg = Arc::new(cfg);
    // Before anything slow: a signal from now on is ours to handle.
    let mut signals = Signals::new().map_err(|e| {
        eprintln!("huiliu: cannot handle signals: {e}");
        ExitCode::from(2)
    })?;
    // Clusters are stored: nothing is loaded before serving (the dedup
    // window loads in the background; polls wait for it, readers do not).
    let p: Pipeline = crate::app::pipeline(&cfg).await?;
    let store = p.store.clone();
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| crate::app::fail(format!("cannot listen on {}: {e}", cfg.server.listen)))?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _pid = match pid_file.or_else(|| default_pid_file(&cfg)) {
        Some(path) => match PidFile::write(&path) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the pid file (`huiliu reload` needs it; `kill -HUP` works without)");
                None
            }
        },
        None => None,
    };
    tracing::info!(address = %local, sources = cfg.sources.len(), feeds = cfg.feeds.len(), pid = std::process::id(), "huiliu is serving");
    for f in &cfg.feeds {
        tracing::info!(
            "feed {}: {}/feeds/{}.rss (.atom, .json)",
            f.id,
            cfg.server.base_url.as_str().trim_end_matches('/'),
            f.id
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let (sources_tx, sources_rx) = watch::channel(cfg.sources.clone());
    let app = serve::AppState::new(cfg.clone(), p.store.clone(), p.changes.clone())
        .with_liveness(p.liveness.clone());
    let mut server_stop = stop_rx.clone();
    let mut server = tokio::spawn(serve::serve(listener, app.clone(), async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    if let Some(hub) = cfg.server.websub_hub.clone() {
        tokio::spawn(serve::websub::notify_loop(
            app.clone(),
            hub,
            Duration::from_secs(5),
            stop_rx.clone(),
        ));
    }
    tokio::spawn(serve::warm_status(app.clone()));
    let pruner = tokio::spawn(prune::prune_loop(app.clone(), stop_rx.clone()));
    tokio::spawn(settle_loop(p.clone(), stop_rx.clone()));
    tokio::spawn(trim_loop(stop_rx.clone()));
    tokio::spawn(notify::watchdog(
        store.clone(),
        p.liveness.clone(),
        cfg.server.stall_after,
        stop_rx.clone(),
    ));
    // Scale-out: with a shared store, follow the other nodes' changes and
    // poll only leased sources (a reload registers the new source list).
    tokio::spawn({
        let (store, changes, stop) = (p.store.clone(), p.changes.clone(), stop_rx.clone());
        async move { store.follow_changes(changes, stop).await }
    });
    let mut poller = if p.store.shared() {
        tracing::info!(node = %cfg.server.node_id, "shared store: polling leased sources");
        tokio::spawn(crate::lease::run(
            p,
            sources_rx,
            cfg.fetch.concurrency,
            stop_rx,
            cfg.server.node_id.clone(),
            cfg.server.lease,
        ))
    } else {
        tokio::spawn(schedule::run_reloadable(
            p,
            sources_rx,
            cfg.fetch.concurrency,
            stop_rx,
        ))
    };
    notify::ready(&status_line(&cfg));

    let why = loop {
        match signals.next().await {
            Event::Stop(why) => break why,
            Event::Reload => {
                notify::reloading();
                reload(path, listen, &app, &sources_tx);
                notify::ready(&status_line(&app.config()));
            }
        }
    };

    let grace = app.config().server.shutdown_grace;
    tracing::info!(
        signal = why,
        grace_ms = grace.as_millis() as u64,
        "shutting down: no new polls; finishing polls in flight (a second signal exits at once)"
    );
    notify::stopping("finishing polls in flight");
    let _ = stop_tx.send(true);
    let deadline = tokio::time::Instant::now() + grace;
    let mut code = ExitCode::SUCCESS;
    if !finish(&mut poller, deadline, &mut signals, "the polls in flight").await {
        poller.abort();
        code = ExitCode::from(1);
    }
    if !finish(&mut server, deadline, &mut signals, "open requests").await {
        server.abort();
        code = ExitCode::from(1);
    }
    pruner.abort();
    drop(app);
    match store.close().await {
        Ok(()) => tracing::info!("database closed"),
        Err(e) => tracing::error!(error = %e, "closing the database"),
    }
    tracing::info!("stopped");
    Ok(code)
}

/// Waits for `task` until `deadline`; false if it had to be abandoned. A
/// second SIGTERM/SIGINT meanwhile exits the process at once (status 1).
async fn finish<T>(
    task: &mut tokio::task::JoinHandle<T>,
    deadline: tokio::time::Instant,
    signals: &mut Signals,
    what: &str,
) -> bool {
    loop {
        tokio::select! {
            _ = &mut *task => return true,
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!("the grace period is over: abandoning {what}");
                return false;
            }
            e = signals.next() => match e {
                Event::Reload => tracing::warn!("SIGHUP ignored while shutting down"),
                Event::Stop(name) => {
                    tracing::warn!(signal = name, "second signal: exiting now");
                    std::process::exit(1);
                }
            }
        }
    }
}

/// Re-reads the config; on success serves and polls it from now on.
fn reload(
    path: &Path,
    listen: Option<std::net::SocketAddr>,
    app: &serve::AppState,
    sources: &watch::Sender<Vec<Arc<crate::config::SourceConfig>>>,
) {
    tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
    let mut new = match config::load_file(path) {
        Ok(c) => c,
        Err(errors) => {
            for e in &errors.0 {
                tracing::error!(config = %path.display(), error = %e, "reload refused: invalid configuration");
            }
            tracing::error!(
                errors = errors.0.len(),
                "reload refused: still running the previous configuration"
            );
            notify::status("reload refused: invalid configuration (see the log)");
            return;
        }
    };
    apply_listen(&mut new, listen);
    let old = app.config();
    let restart = needs_restart(&old, &new);
    if !restart.is_empty() {
        tracing::warn!(
            settings = %restart.join(", "),
            "these settings changed but apply only after a restart"
        );
    }
    let new = Arc::new(new);
    app.replace_config(new.clone());
    let _ = sources.send(new.sources.clone());
    tracing::info!(
        sources = new.sources.len(),
        feeds = new.feeds.len(),
        "configuration reloaded"
    );
}

/// `huiliu reload`: validates the config, then sends SIGHUP to the running
/// `huiliu run` whose pid is in the pid file.
pub fn signal_reload(cfg: &Config, pid_file: Option<PathBuf>) -> Result<ExitCode, ExitCode> {
    let Some(path) = pid_file.or_else(|| default_pid_file(cfg)) else {
        eprintln!("huiliu: no pid file: pass --pid-file (or send SIGHUP yourself)");
        return Err(ExitCode::from(2));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        eprintln!(
            "huiliu: cannot read {}: {e} (is `huiliu run` running with this config?)",
            path.display()
        );
        ExitCode::from(1)
    })?;
    let pid: i32 = text.trim().parse().map_err(|_| {
        eprintln!("huiliu: {} does not hold a pid", path.display());
        ExitCode::from(1)
    })?;
    send_hup(pid).map_err(|e| {
        eprintln!("huiliu: cannot signal process {pid}: {e}");
        ExitCode::from(1)
    })?;
    println!("sent SIGHUP to huiliu (pid {pid}); the log says whether the reload succeeded");
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
fn send_hup(pid: i32) -> std::io::Result<()> {
    if pid <= 0 {
        return Err(std::io::Error::other("not a process id"));
    }
    // SAFETY: kill(2) with a positive pid and a valid signal number.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn send_hup(_pid: i32) -> std::io::Result<()> {
    Err(std::io::Error::other("reloading needs a Unix system"))
}

/// How often the dedup window is re-clustered exactly (when it changed):
/// the per-write decisions are then made order-independent.
const SETTLE_EVERY: Duration = Duration::from_secs(30);

/// Settles the stored clusters every [`SETTLE_EVERY`] until `stop`.
async fn settle_loop(p: Pipeline, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(SETTLE_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Err(e) = crate::refresh::settle_clusters(&p).await {
            tracing::warn!(error = %e, "cannot store the settled clusters");
        }
    }
}

/// How often freed memory is given back to the system (see [`crate::memory`]).
const TRIM_EVERY: Duration = Duration::from_secs(10);

async fn trim_loop(mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TRIM_EVERY) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Off the async workers: a trim walks the heap (milliseconds, and
        // allocations wait for it meanwhile: logged when it is not).
        let took = tokio::task::spawn_blocking(|| {
            let t = std::time::Instant::now();
            crate::memory::trim();
            t.elapsed()
        })
        .await
        .unwrap_or_default();
        if took > Duration::from_millis(20) {
            tracing::info!(took_ms = took.as_millis() as u64, "allocator trim was slow");
        }
    }
}
