//! The `huiliu` command line. Exit status: 0 ok, 1 some sources failed,
//! 2 bad config or arguments.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use clap::{Parser, Subcommand};
use tokio::sync::watch;

use crate::config::{self, Config};
use crate::fetch::Fetcher;
use crate::refresh::{Outcome, Pipeline};
use crate::{health, schedule, serve, store};

#[derive(Parser)]
#[command(
    name = "huiliu",
    version,
    about = "汇流 huiliu: polls feeds and news pages, merges them, serves RSS, Atom and JSON Feed",
    after_help = "Examples:\n  huiliu run --config config/demo.toml\n  huiliu poll --config huiliu.toml --source hutang\n  huiliu check --config huiliu.toml\n  huiliu scrape --config huiliu.toml --source hutang\n\nExit status: 0 ok, 1 some sources failed, 2 bad config or arguments.\nLogs: set HUILIU_LOG (or RUST_LOG), e.g. HUILIU_LOG=debug."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll sources on their intervals and serve the merged feeds over HTTP.
    Run {
        #[arg(long, short)]
        config: PathBuf,
        /// Listen address, overriding `server.listen` (e.g. 0.0.0.0:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Poll every source (or one) once, print what happened, and exit.
    Poll {
        #[arg(long, short)]
        config: PathBuf,
        /// Only this source id.
        #[arg(long)]
        source: Option<String>,
    },
    /// Validate the config file and exit (non-zero with every error found).
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Append the feeds of an OPML file to the config as [[source]] tables (comments kept).
    ImportOpml {
        /// The OPML file (exported from a feed reader).
        file: PathBuf,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the sources and outputs as OPML.
    ExportOpml {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Fetch an html source and print what would be extracted, field by
    /// field, without storing anything (for writing selectors).
    Scrape {
        #[arg(long, short)]
        config: PathBuf,
        /// The source id (a `kind = "html"` source).
        #[arg(long)]
        source: String,
        /// One JSON object per entry (url, title, published, authors, content text).
        #[arg(long)]
        json: bool,
    },
    /// Copy every source's state and entries from one store to another
    /// (e.g. SQLite to PostgreSQL), then compare the counts. Safe to rerun:
    /// rows are upserted. Stop the nodes writing to either store first.
    MigrateStore {
        /// The store to read: `sqlite:PATH`.
        #[arg(long)]
        from: String,
        /// The store to write: `postgres://…`.
        #[arg(long)]
        to: String,
    },
    /// Show each source's health: status, last error (kind and message),
    /// consecutive failures, last success, next due, interval, recent entries.
    Sources {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // `run` logs every poll; one-shot commands print their own report.
    init_logging(if matches!(cli.command, Command::Run { .. }) {
        "info"
    } else {
        "warn"
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("huiliu: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(dispatch(cli.command))
}

fn init_logging(default: &str) {
    let filter = std::env::var("HUILIU_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    config::load_file(path).map_err(|errors| {
        eprint!("{errors}");
        ExitCode::from(2)
    })
}

async fn dispatch(command: Command) -> ExitCode {
    let result = match command {
        Command::Check { config } => check(&config),
        Command::Poll { config, source } => poll(&config, source.as_deref()).await,
        Command::Run { config, listen } => run(&config, listen).await,
        Command::Sources { config, json } => sources(&config, json).await,
        Command::MigrateStore { from, to } => crate::migrate::migrate_store(&from, &to).await,
        Command::ImportOpml { file, config } => import_opml(&file, &config),
        Command::ExportOpml { config } => {
            let cfg = load(&config);
            cfg.map(|cfg| {
                use std::io::Write;
                let _ = std::io::stdout()
                    .write_all(&crate::publish::opml::render(&cfg, chrono::Utc::now()));
                ExitCode::SUCCESS
            })
        }
        Command::Scrape {
            config,
            source,
            json,
        } => scrape(&config, &source, json).await,
    };
    result.unwrap_or_else(|code| code)
}

fn import_opml(file: &std::path::Path, config: &std::path::Path) -> Result<ExitCode, ExitCode> {
    let opml = std::fs::read_to_string(file).map_err(|e| {
        eprintln!("huiliu: cannot read {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    let report = config::import_opml(config, &opml).map_err(|e| {
        eprintln!("huiliu: {e}");
        ExitCode::from(2)
    })?;
    for (id, url) in &report.added {
        println!("added    {id:<24} {url}");
    }
    for (url, why) in &report.skipped {
        println!("skipped  {url} ({why})");
    }
    println!(
        "{} added, {} skipped; {} updated",
        report.added.len(),
        report.skipped.len(),
        config.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(path: &std::path::Path) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    println!(
        "{}: ok ({} sources, {} feeds)",
        path.display(),
        cfg.sources.len(),
        cfg.feeds.len()
    );
    Ok(ExitCode::SUCCESS)
}

async fn pipeline(cfg: &Config) -> Result<Pipeline, ExitCode> {
    let store = store::open(&cfg.storage).await.map_err(|e| {
        eprintln!("huiliu: {e}");
        ExitCode::from(2)
    })?;
    let fetcher = Fetcher::new(&cfg.fetch).map_err(|e| {
        eprintln!("huiliu: {e}");
        ExitCode::from(2)
    })?;
    Ok(Pipeline {
        fetcher,
        store,
        changes: Arc::new(AtomicU64::new(1)),
    })
}

async fn poll(path: &std::path::Path, only: Option<&str>) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let sources: Vec<_> = match only {
        Some(id) => match cfg.source(id) {
            Some(s) => vec![s.clone()],
            None => {
                eprintln!(
                    "huiliu: no source `{id}` in {}; known: {}",
                    path.display(),
                    cfg.sources
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                return Err(ExitCode::from(2));
            }
        },
        None => cfg.sources.clone(),
    };
    let p = pipeline(&cfg).await?;
    if p.store.shared() {
        eprintln!(
            "huiliu: note: the store is shared (PostgreSQL); this pass polls now, without leases, so nodes running `huiliu run` may poll the same sources at the same time"
        );
    }
    let reports = schedule::poll_once(&p, &sources, cfg.fetch.concurrency).await;
    let mut failed = 0;
    for r in &reports {
        let ms = r.elapsed.as_millis();
        match &r.outcome {
            Outcome::Fetched(c) => println!(
                "{:<20} ok            new {:>3}  updated {:>3}  unchanged {:>3}  ({ms} ms)",
                r.source_id, c.new, c.updated, c.unchanged
            ),
            Outcome::NotModified => println!("{:<20} not modified  ({ms} ms)", r.source_id),
            Outcome::Skipped(why) => println!("{:<20} skipped       {why}", r.source_id),
            Outcome::Failed(e) => {
                failed += 1;
                println!("{:<20} error         {e}", r.source_id)
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn sources(path: &std::path::Path, json: bool) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = store::open(&cfg.storage).await.map_err(|e| {
        eprintln!("huiliu: {e}");
        ExitCode::from(2)
    })?;
    let rows = health::source_health(store.as_ref(), &cfg)
        .await
        .map_err(|e| {
            eprintln!("huiliu: {e}");
            ExitCode::from(2)
        })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", health_table(&rows, chrono::Utc::now()));
    Ok(ExitCode::SUCCESS)
}

/// `huiliu sources` as a table: one line per source, the error last.
pub fn health_table(rows: &[health::SourceHealth], now: chrono::DateTime<chrono::Utc>) -> String {
    use std::fmt::Write as _;
    let t = |d: Option<chrono::DateTime<chrono::Utc>>| {
        d.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let due = |d: Option<chrono::DateTime<chrono::Utc>>| match d {
        None => "-".to_string(),
        Some(d) if d <= now => "now".to_string(),
        Some(d) => format!("in {}", human((d - now).to_std().unwrap_or_default())),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<12} {:>4} {:>5} {:<19} {:<10} {:>8} {:>7} {:>7}  last error",
        "source",
        "status",
        "http",
        "fails",
        "last success",
        "next due",
        "interval",
        "new 7d",
        "entries"
    );
    for r in rows {
        let error = match (&r.error_kind, &r.error) {
            (Some(k), Some(e)) => {
                let e = e.strip_prefix(&format!("{k}: ")).unwrap_or(e);
                format!("[{k}] {e}")
            }
            (None, Some(e)) => e.clone(),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<16} {:<12} {:>4} {:>5} {:<19} {:<10} {:>8} {:>7} {:>7}  {}",
            r.id,
            if r.disabled { "gone/off" } else { r.status },
            r.http_status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            r.consecutive_failures,
            t(r.last_success),
            if r.disabled {
                "disabled".to_string()
            } else {
                due(r.next_due)
            },
            human(std::time::Duration::from_secs(r.interval_secs)),
            r.entries_recent,
            r.entries,
            error
        );
    }
    out
}

/// 90 → "1m30s", 7200 → "2h".
fn human(d: std::time::Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h >= 48 {
        return format!("{}d", h / 24);
    }
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

async fn scrape(path: &std::path::Path, id: &str, json: bool) -> Result<ExitCode, ExitCode> {
    use crate::refresh::scrape::{Scrape, scrape as run_scrape};
    let cfg = load(path)?;
    let Some(source) = cfg.source(id) else {
        eprintln!(
            "huiliu: no source `{id}` in {}; html sources: {}",
            path.display(),
            cfg.sources
                .iter()
                .filter(|s| s.kind == config::SourceKind::Html)
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(ExitCode::from(2));
    };
    if source.kind != config::SourceKind::Html {
        eprintln!(
            "huiliu: source `{id}` is kind = \"{}\"; `huiliu scrape` checks html sources (use `huiliu poll --source {id}`)",
            source.kind.as_str()
        );
        return Err(ExitCode::from(2));
    }
    let fetcher = Fetcher::new(&cfg.fetch).map_err(|e| {
        eprintln!("huiliu: {e}");
        ExitCode::from(2)
    })?;
    let pages = match run_scrape(&fetcher, None, source, &source.url, &Default::default()).await {
        Ok(Scrape::Pages(p)) => p,
        Ok(Scrape::NotModified) => {
            eprintln!("huiliu: {}: not modified", source.url);
            return Ok(ExitCode::SUCCESS);
        }
        Err(f) => {
            eprintln!("huiliu: {id}: {}", f.message);
            if let Some(h) = f.health {
                eprintln!("  ({})", h.summary());
            }
            return Ok(ExitCode::from(1));
        }
    };
    for raw in &pages.entries {
        let e = crate::normalize::normalize_entry(raw, source, &pages.url, None);
        let authors: Vec<_> = e
            .authors
            .iter()
            .map(|a| serde_json::json!({"name": a.name, "role": a.role}))
            .collect();
        if json {
            let doc = serde_json::json!({
                "url": e.url,
                "title": e.title,
                "published": e.published.map(|d| d.with_timezone(&source.timezone).to_rfc3339()),
                "authors": authors,
                "origin": raw.origin,
                "content_text": e.text,
            });
            println!("{doc}");
            continue;
        }
        let or_dash = |s: Option<String>| s.unwrap_or_else(|| "-".into());
        println!("url:       {}", or_dash(e.url.clone()));
        println!("title:     {}", e.title);
        println!(
            "published: {}",
            or_dash(
                e.published
                    .map(|d| d.with_timezone(&source.timezone).to_rfc3339())
            )
        );
        let names: Vec<String> = e
            .authors
            .iter()
            .map(|a| match &a.role {
                Some(r) => format!("{} ({r})", a.name),
                None => a.name.clone(),
            })
            .collect();
        println!(
            "authors:   {}",
            if names.is_empty() {
                "-".into()
            } else {
                names.join(", ")
            }
        );
        println!("origin:    {}", or_dash(raw.origin.clone()));
        let text: String = e.text.chars().take(300).collect();
        let more = if e.text.chars().count() > 300 {
            " …"
        } else {
            ""
        };
        println!("content:   {}{more}", text.replace('\n', "\n           "));
        println!();
    }
    let summary = pages.health.summary();
    if json {
        eprintln!("{id}: {summary}");
    } else {
        println!("{id}: {summary}");
        for p in &pages.health.problems {
            println!("  problem: {p}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn run(
    path: &std::path::Path,
    listen: Option<std::net::SocketAddr>,
) -> Result<ExitCode, ExitCode> {
    let mut cfg = load(path)?;
    if let Some(addr) = listen {
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
    let cfg = Arc::new(cfg);
    let p = pipeline(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .map_err(|e| {
            eprintln!("huiliu: cannot listen on {}: {e}", cfg.server.listen);
            ExitCode::from(2)
        })?;
    let local = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tracing::info!(address = %local, sources = cfg.sources.len(), feeds = cfg.feeds.len(), "huiliu is serving");
    for f in &cfg.feeds {
        tracing::info!(
            "feed {}: {}/feeds/{}.rss (.atom, .json)",
            f.id,
            cfg.server.base_url.as_str().trim_end_matches('/'),
            f.id
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let app = serve::AppState::new(cfg.clone(), p.store.clone(), p.changes.clone());
    let app_for_hub = app.clone();
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(serve::serve(listener, app, async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    if let Some(hub) = cfg.server.websub_hub.clone() {
        tokio::spawn(serve::websub::notify_loop(
            app_for_hub,
            hub,
            std::time::Duration::from_secs(5),
            stop_rx.clone(),
        ));
    }
    // Scale-out: with a shared store, follow the other nodes' changes and
    // poll only leased sources.
    let follower = tokio::spawn({
        let (store, changes, stop) = (p.store.clone(), p.changes.clone(), stop_rx.clone());
        async move { store.follow_changes(changes, stop).await }
    });
    let poller = if p.store.shared() {
        tracing::info!(node = %cfg.server.node_id, "shared store: polling leased sources");
        tokio::spawn(crate::lease::run(
            p,
            cfg.sources.clone(),
            cfg.fetch.concurrency,
            stop_rx,
            cfg.server.node_id.clone(),
            cfg.server.lease,
        ))
    } else {
        tokio::spawn(schedule::run(
            p,
            cfg.sources.clone(),
            cfg.fetch.concurrency,
            stop_rx,
        ))
    };

    wait_for_signal().await;
    tracing::info!("shutting down: finishing polls in flight");
    let _ = stop_tx.send(true);
    let _ = poller.await;
    let _ = follower.await;
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "server error"),
        Err(e) => tracing::error!(error = %e, "server task failed"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
