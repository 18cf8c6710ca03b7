//! The `huiliu` command line. Exit status: 0 ok, 1 some sources failed,
//! 2 bad config or arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{fail, load, open_store, pipeline};
use crate::config;
use crate::fetch::Fetcher;
use crate::refresh::Outcome;
use crate::{health, schedule};

#[derive(Parser)]
#[command(
    name = "huiliu",
    version,
    about = "汇流 huiliu: polls feeds and news pages, merges them, serves RSS, Atom and JSON Feed",
    after_help = "Examples:\n  huiliu run --config config/demo.toml\n  huiliu poll --config huiliu.toml --source hutang\n  huiliu check --config huiliu.toml\n  huiliu reload --config huiliu.toml\n  huiliu prune --config huiliu.toml --dry-run\n  huiliu export --config huiliu.toml > entries.jsonl\n  huiliu completions bash > /etc/bash_completion.d/huiliu\n\nExit status: 0 ok, 1 some sources failed (or a shutdown had to abandon work), 2 bad config or arguments.\nLogs go to stderr: set HUILIU_LOG (or RUST_LOG), e.g. HUILIU_LOG=debug; --log-format json for log shippers.\nEvery config key: docs/config.md."
)]
struct Cli {
    /// Log format on stderr: `text` (human; colours on a terminal) or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// JSON Lines: one entry per line, with its source and cluster.
    Jsonl,
}

#[derive(Subcommand)]
enum Command {
    /// Poll sources on their intervals and serve the merged feeds over HTTP.
    ///
    /// SIGHUP reloads the config (an invalid one is refused and the running
    /// one kept); SIGTERM/SIGINT stop new polls, let polls in flight finish
    /// within `[server] shutdown_grace` and close the database; a second
    /// signal exits at once. Under systemd (Type=notify) it reports READY,
    /// STATUS and feeds the watchdog.
    #[command(
        after_help = "Examples:\n  huiliu run --config /etc/huiliu/huiliu.toml\n  huiliu run --config config/demo.toml --listen 0.0.0.0:8080\n  huiliu --log-format json run --config huiliu.toml\n  kill -HUP $(cat data/huiliu.pid)      # reload, same as `huiliu reload`\n\nExit status: 0 stopped cleanly, 1 polls had to be abandoned at shutdown, 2 bad config."
    )]
    Run {
        #[arg(long, short)]
        config: PathBuf,
        /// Listen address, overriding `server.listen` (e.g. 0.0.0.0:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Where to write the process id (default: next to the SQLite
        /// database, e.g. data/huiliu.pid).
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Poll every source (or one) once, print what happened, and exit.
    ///
    /// Shows a progress bar on a terminal; prints one plain line per source
    /// (in config order) either way.
    #[command(
        after_help = "Examples:\n  huiliu poll --config huiliu.toml\n  huiliu poll --config huiliu.toml --source hutang\n  huiliu poll --config huiliu.toml | grep error\n\nExit status: 0 ok, 1 some sources failed, 2 bad config."
    )]
    Poll {
        #[arg(long, short)]
        config: PathBuf,
        /// Only this source id.
        #[arg(long)]
        source: Option<String>,
    },
    /// Validate the config file and exit (non-zero with every error found).
    #[command(
        after_help = "Examples:\n  huiliu check --config huiliu.toml && systemctl reload huiliu\n\nExit status: 0 valid, 2 invalid (every error with file:line:column)."
    )]
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Make a running `huiliu run` re-read its config (sends it SIGHUP).
    ///
    /// The config is checked first: with errors nothing is sent. The process
    /// is found through its pid file.
    #[command(
        after_help = "Examples:\n  huiliu reload --config huiliu.toml\n  huiliu reload --config huiliu.toml --pid-file /run/huiliu.pid\n  systemctl reload huiliu      # under systemd\n\nExit status: 0 sent, 1 no running process found, 2 invalid config (nothing sent)."
    )]
    Reload {
        #[arg(long, short)]
        config: PathBuf,
        /// The pid file `huiliu run` wrote (default: next to the SQLite database).
        #[arg(long)]
        pid_file: Option<PathBuf>,
    },
    /// Remove entries past their retention (`retention_days`, `retention_count`).
    ///
    /// `huiliu run` prunes by itself every `[retention] prune_interval`; this
    /// runs one pass now. The first page of every output is never removed.
    #[command(
        after_help = "Examples:\n  huiliu prune --config huiliu.toml --dry-run\n  huiliu prune --config huiliu.toml --dry-run --verbose\n  huiliu prune --config huiliu.toml\n\nExit status: 0 ok, 2 bad config or database error."
    )]
    Prune {
        #[arg(long, short)]
        config: PathBuf,
        /// Report what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// List every entry (with --dry-run: every entry that would go).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Write every stored entry to stdout (or --output), with its source.
    #[command(
        after_help = "Examples:\n  huiliu export --config huiliu.toml > entries.jsonl\n  huiliu export --config huiliu.toml --output entries.jsonl\n  huiliu export --config huiliu.toml | gzip > entries.jsonl.gz\n\nEach line: {\"source\":{\"id\",\"name\",\"url\",\"kind\"},\"cluster\":null,\"entry\":{…},\"first_seen\":…,\"changed_at\":…}"
    )]
    Export {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Write here instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Read entries written by `huiliu export`; entries already stored are skipped.
    #[command(
        after_help = "Examples:\n  huiliu import --config huiliu.toml entries.jsonl\n  zcat entries.jsonl.gz | huiliu import --config huiliu.toml -\n\nImporting the same file twice adds nothing."
    )]
    Import {
        #[arg(long, short)]
        config: PathBuf,
        /// A JSON Lines file, or `-` for stdin.
        file: PathBuf,
    },
    /// Copy the SQLite database to a new file, safely while `huiliu run` is running.
    #[command(
        after_help = "Examples:\n  huiliu backup --config huiliu.toml /var/backups/huiliu-$(date +%F).db\n\nThe copy is consistent and compacted (SQLite VACUUM INTO); an existing file is never overwritten."
    )]
    Backup {
        #[arg(long, short)]
        config: PathBuf,
        /// The new file.
        out: PathBuf,
    },
    /// Append the feeds of an OPML file to the config as [[source]] tables (comments kept).
    #[command(
        after_help = "Examples:\n  huiliu import-opml subscriptions.opml --config huiliu.toml"
    )]
    ImportOpml {
        /// The OPML file (exported from a feed reader).
        file: PathBuf,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the sources and outputs as OPML.
    #[command(after_help = "Examples:\n  huiliu export-opml --config huiliu.toml > huiliu.opml")]
    ExportOpml {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run huiliu's near-duplicate clustering over a JSON Lines file
    /// (id, source, url, title, published, content) and write {id: cluster}.
    DedupEval {
        /// Records, one JSON object a line (the format of tests/fixtures/dedup/public.jsonl).
        file: PathBuf,
        /// Where to write the predictions (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Take the [dedup] thresholds from this config.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Measurements on real-world material (never part of `cargo test`).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Near-duplicate tools over the stored entries.
    Dedup {
        #[command(subcommand)]
        command: DedupCommand,
    },
    /// Fetch an html source and print what would be extracted, field by
    /// field, without storing anything (for writing selectors).
    #[command(
        after_help = "Examples:\n  huiliu scrape --config huiliu.toml --source hutang\n  huiliu scrape --config huiliu.toml --source hutang --json | jq .title"
    )]
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
    /// Propose a ready `[[source]]` table for a page: the feed it advertises,
    /// or its list as selectors (checked by scraping the page once).
    #[command(
        after_help = "Examples:\n  huiliu discover http://www.example.gov.cn/zwdt/index.html >> huiliu.toml\n  huiliu discover https://example.org/news/ --json | jq .items\n  huiliu discover http://www.example.gov.cn/list.html --browser\n\nExit status: 0 a source was proposed, 1 nothing found on the page, 2 bad arguments or config."
    )]
    Discover {
        /// The page: a news column, a notice list, a forum board, a home page.
        url: String,
        /// One JSON document (feed, list selectors, items, article check, toml).
        #[arg(long)]
        json: bool,
        /// Fetch through headless Chromium (pages written or guarded by script).
        #[arg(long)]
        browser: bool,
        /// Take the `[fetch]` settings (user agent, proxy, time-outs) from this config.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Score list detection on saved list pages with hand-checked items
    /// (`DIR/*.json`, see tests/fixtures/lists).
    DiscoverEval {
        dir: PathBuf,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Read one feed (a file or a URL) and print what huiliu reads from
    /// it: dialect, charset and why, each entry's fields, what was repaired
    /// or skipped. Stores nothing.
    #[command(
        after_help = "Examples:\n  huiliu parse feed.xml\n  huiliu parse https://example.org/rss.xml --timezone Asia/Shanghai\n  huiliu parse --config huiliu.toml --source hutang --json | jq '.entries[].title'\n\nExit status: 0 read, 1 not readable (the error says why), 2 bad arguments."
    )]
    Parse {
        /// A feed file or an http(s) URL (default with --source: the source's URL).
        target: Option<String>,
        /// Read with the settings (time zone, date formats, encoding) of a configured source.
        #[arg(long, short, requires = "source")]
        config: Option<PathBuf>,
        #[arg(long, requires = "config")]
        source: Option<String>,
        /// Time zone for dates written without one (default: the source's, else UTC).
        #[arg(long)]
        timezone: Option<chrono_tz::Tz>,
        /// One JSON object: the feed, its entries and the problems met.
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
    #[command(
        after_help = "Examples:\n  huiliu sources --config huiliu.toml\n  huiliu sources --config huiliu.toml --json | jq '.[] | select(.status != \"ok\")'"
    )]
    Sources {
        #[arg(long, short)]
        config: PathBuf,
        /// One JSON document instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  huiliu completions bash > /etc/bash_completion.d/huiliu\n  huiliu completions zsh > \"${fpath[1]}/_huiliu\"\n  huiliu completions fish > ~/.config/fish/completions/huiliu.fish"
    )]
    Completions { shell: clap_complete::Shell },
}

pub fn main() -> ExitCode {
    crate::memory::limit_arenas();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    // `run` logs every poll; one-shot commands print their own report.
    init_logging(
        if matches!(cli.command, Command::Run { .. }) {
            "info"
        } else {
            "warn"
        },
        cli.log_format,
    );
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
    let code = runtime.block_on(dispatch(cli.command));
    // Work abandoned at shutdown must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

fn init_logging(default: &str, format: LogFormat) {
    use std::io::IsTerminal;
    let filter = std::env::var("HUILIU_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    let filter = quiet_http_crates(&filter);
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // journald adds its own timestamps; colours only on a terminal.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}

/// The HTTP crates' own debug lines print request URLs as they are, secrets
/// included: they stay at `info` unless the filter names them.
fn quiet_http_crates(filter: &str) -> String {
    let mut out = filter.to_string();
    for krate in ["reqwest", "hyper", "hyper_util", "h2"] {
        if !filter.contains(krate) {
            out.push_str(&format!(",{krate}=info"));
        }
    }
    out
}

async fn dispatch(command: Command) -> ExitCode {
    let result = match command {
        Command::Check { config } => check(&config),
        Command::Poll { config, source } => poll(&config, source.as_deref()).await,
        Command::Run {
            config,
            listen,
            pid_file,
        } => crate::service::daemon::run(&config, listen, pid_file).await,
        Command::Reload { config, pid_file } => {
            load(&config).and_then(|cfg| crate::service::daemon::signal_reload(&cfg, pid_file))
        }
        Command::Prune {
            config,
            dry_run,
            verbose,
        } => crate::service::commands::prune(&config, dry_run, verbose).await,
        Command::Export {
            config,
            format: ExportFormat::Jsonl,
            output,
        } => crate::service::commands::export(&config, output.as_deref()).await,
        Command::Import { config, file } => crate::service::commands::import(&config, &file).await,
        Command::Backup { config, out } => crate::service::commands::backup(&config, &out).await,
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "huiliu", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Sources { config, json } => sources(&config, json).await,
        Command::MigrateStore { from, to } => crate::store_copy::migrate_store(&from, &to).await,
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
        Command::DedupEval {
            file,
            output,
            config,
        } => dedup_eval(&file, output.as_deref(), config.as_deref()),
        Command::Dedup {
            command: DedupCommand::Explain { id, config },
        } => dedup_explain(&config, &id).await,
        Command::Bench {
            command:
                BenchCommand::Articles {
                    dir,
                    labels,
                    output,
                    timezone,
                    per_page,
                },
        } => crate::service::bench::articles(
            &dir,
            labels.as_deref(),
            output.as_deref(),
            &timezone,
            per_page,
        ),
        Command::Scrape {
            config,
            source,
            json,
        } => scrape(&config, &source, json).await,
        Command::Discover {
            url,
            json,
            browser,
            config,
        } => discover(&url, json, browser, config.as_deref()).await,
        Command::DiscoverEval { dir, json } => discover_eval(&dir, json),
        Command::Parse {
            target,
            config,
            source,
            timezone,
            json,
        } => parse_feed(target, config, source, timezone, json).await,
    };
    result.unwrap_or_else(|code| code)
}

fn import_opml(file: &std::path::Path, config: &std::path::Path) -> Result<ExitCode, ExitCode> {
    let opml = std::fs::read_to_string(file)
        .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let report = config::import_opml(config, &opml).map_err(fail)?;
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

#[derive(Subcommand)]
enum BenchCommand {
    /// Selector-free article extraction on a folder of real pages
    /// (`truth.jsonl` + `<id>.html`, e.g. ../shared/corpora/articles-zh):
    /// writes the predictions, runs the folder's `score.py` (python3), and
    /// prints date and author accuracy against a label file and pages/s.
    #[command(
        after_help = "Examples:\n  huiliu bench articles ../shared/corpora/articles-zh --labels benches/articles-zh-labels.jsonl"
    )]
    Articles {
        /// The folder holding truth.jsonl, the pages and score.py.
        dir: PathBuf,
        /// Date/author labels, JSON Lines `{"id","date","authors"}`.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Where to write the predictions (default: a temporary file).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Time zone of zone-less dates on the pages.
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
        /// Print the scorer's row for every page too.
        #[arg(long)]
        per_page: bool,
    },
}

#[derive(Subcommand)]
enum DedupCommand {
    /// Show an entry's cluster, each candidate pair's scores and the rule
    /// that merged or refused it.
    Explain {
        /// The entry id: 32 hex digits, or the published `urn:uuid:…`.
        id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn dedup_eval(
    file: &std::path::Path,
    output: Option<&std::path::Path>,
    config: Option<&std::path::Path>,
) -> Result<ExitCode, ExitCode> {
    let cfg = match config {
        Some(path) => load(path)?.dedup,
        None => crate::dedup::DedupConfig::default(),
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
    let predictions = crate::dedup::eval_jsonl(&text, &cfg)
        .map_err(|e| fail(format!("{}: {e}", file.display())))?;
    let json = serde_json::to_string_pretty(&predictions).unwrap_or_default();
    match output {
        Some(path) => std::fs::write(path, json + "\n")
            .map_err(|e| fail(format!("cannot write {}: {e}", path.display())))?,
        None => println!("{json}"),
    }
    let clusters: std::collections::HashSet<&String> = predictions.values().collect();
    eprintln!("{} records, {} clusters", predictions.len(), clusters.len());
    Ok(ExitCode::SUCCESS)
}

async fn dedup_explain(path: &std::path::Path, id: &str) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let p = pipeline(&cfg).await?;
    let id = id.trim().trim_start_matches("urn:uuid:").replace('-', "");
    // The engine holds the dedup window: older entries keep their stored
    // cluster but are no longer compared.
    match p.dedup.explain(&id).await {
        Some(explanation) => {
            println!("{explanation}");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "huiliu: no stored entry within the dedup window has the id {id} (ids are the 32 hex digits of the published urn:uuid; older entries keep their cluster but are no longer compared)"
            );
            Err(ExitCode::from(2))
        }
    }
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
    let bar = progress_bar(sources.len());
    let reports = schedule::poll_once_with(&p, &sources, cfg.fetch.concurrency, |r| {
        if let Some(bar) = &bar {
            bar.set_message(r.source_id.clone());
            bar.inc(1);
        }
    })
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    // The pass's clusters, settled exactly before the process ends.
    if let Err(e) = crate::refresh::settle_clusters(&p).await {
        eprintln!("huiliu: cannot store the near-duplicate clusters: {e}");
    }
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

/// A progress bar on stderr when it is a terminal (none when piped or logged).
fn progress_bar(len: usize) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() || len < 2 {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} polling [{bar:30}] {pos}/{len} {elapsed} {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

async fn sources(path: &std::path::Path, json: bool) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = open_store(&cfg).await?;
    let rows = health::source_health(store.as_ref(), &cfg)
        .await
        .map_err(fail)?;
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

async fn parse_feed(
    target: Option<String>,
    config_path: Option<PathBuf>,
    source: Option<String>,
    timezone: Option<chrono_tz::Tz>,
    json: bool,
) -> Result<ExitCode, ExitCode> {
    use crate::parse::inspect;
    let (mut src, fetch) = match (&config_path, &source) {
        (Some(path), Some(id)) => {
            let cfg = load(path)?;
            let Some(src) = cfg.source(id) else {
                eprintln!("huiliu: no source `{id}` in {}", path.display());
                return Err(ExitCode::from(2));
            };
            (config::SourceConfig::clone(src), cfg.fetch.clone())
        }
        _ => {
            let Some(t) = target.as_deref() else {
                eprintln!("huiliu parse: give a FILE or URL, or --config F --source ID");
                return Err(ExitCode::from(2));
            };
            let url = inspect::target_url(t).map_err(fail)?;
            let src = config::SourceConfig::new("parse", config::SourceKind::Feed, url);
            (src, config::FetchConfig::default())
        }
    };
    let url = match target.as_deref() {
        Some(t) => inspect::target_url(t).map_err(fail)?,
        None => src.url.clone(),
    };
    if let Some(tz) = timezone {
        src.timezone = tz;
    }
    Ok(inspect::run(&src, &url, &fetch, json).await)
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
                .filter(|s| s.scrape().is_some())
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Err(ExitCode::from(2));
    };
    let Some(rules) = source.scrape() else {
        eprintln!(
            "huiliu: source `{id}` is kind = \"{}\"; `huiliu scrape` checks html sources (use `huiliu poll --source {id}`)",
            source.kind().as_str()
        );
        return Err(ExitCode::from(2));
    };
    let fetcher = Fetcher::new(&cfg.fetch).map_err(fail)?;
    let pages = match run_scrape(
        &fetcher,
        None,
        source,
        rules,
        &source.url,
        &Default::default(),
    )
    .await
    {
        Ok(Scrape::Pages(p)) => p,
        Ok(Scrape::NotModified) => {
            eprintln!("huiliu: {}: not modified", crate::redact::url(&source.url));
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

async fn discover(
    url: &str,
    json: bool,
    browser: bool,
    config: Option<&std::path::Path>,
) -> Result<ExitCode, ExitCode> {
    let url = url::Url::parse(url).map_err(|e| {
        eprintln!("huiliu: `{url}` is no URL ({e}): give the full address, e.g. http://www.example.gov.cn/zwdt/index.html");
        ExitCode::from(2)
    })?;
    let fetch = match config {
        Some(path) => load(path)?.fetch,
        None => config::FetchConfig::default(),
    };
    let fetcher = Fetcher::new(&fetch).map_err(fail)?;
    let found = crate::refresh::discover::discover(&fetcher, &url, browser)
        .await
        .map_err(|e| {
            eprintln!("huiliu: {e}");
            ExitCode::from(1)
        })?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", found.toml);
    if !found.items.is_empty() {
        println!("\n# The page yields {} item(s):", found.items.len());
        for i in &found.items {
            println!(
                "#   {}  {}  {}",
                i.published.as_deref().map_or("(no date)", |d| &d[..10]),
                i.title.as_deref().unwrap_or("(no title)"),
                i.url
            );
        }
    }
    if let Some(a) = &found.article {
        let verdict = if a.extracted == a.checked {
            "main content found without selectors".to_string()
        } else {
            format!("main content found on {} of {}", a.extracted, a.checked)
        };
        println!("# Article pages ({} checked): {verdict}", a.checked);
    }
    Ok(ExitCode::SUCCESS)
}

fn discover_eval(dir: &std::path::Path, json: bool) -> Result<ExitCode, ExitCode> {
    let results = crate::parse::detect::eval::run(dir).map_err(fail)?;
    let expected: usize = results.iter().map(|r| r.expected).sum();
    let right: usize = results.iter().map(|r| r.right).sum();
    let extra: usize = results.iter().map(|r| r.extra).sum();
    if json {
        let doc = serde_json::json!({"cases": results, "expected": expected, "right": right, "extra": extra});
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12} {:>5} {:>8} {:>6}  item selector",
        "page", "items", "right", "extra"
    );
    for r in &results {
        println!(
            "{:<12} {:>5} {:>8} {:>6}  {}",
            r.name, r.expected, r.right, r.extra, r.item
        );
        for m in &r.misses {
            println!("    {m}");
        }
    }
    let pct = |n: usize| 100.0 * n as f64 / expected.max(1) as f64;
    println!(
        "all: {right}/{expected} items right ({:.1}%), {extra} extra",
        pct(right)
    );
    Ok(ExitCode::SUCCESS)
}
