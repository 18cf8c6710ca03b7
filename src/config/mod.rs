//! The validated configuration: what `huiliu.toml` means once every value has
//! been checked. Loading (with every error reported at once, each with file,
//! line and column) lives in [`load`].

mod load;
mod opml_import;
#[cfg(test)]
mod reference;
mod units;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use scraper::Selector;
use url::Url;

pub use crate::normalize::clean::CleanSteps;
pub use load::{ConfigError, ConfigErrors, load_file, load_str};
pub use opml_import::{ImportReport, OpmlFeed, import_opml, parse_opml};
pub use units::{parse_duration, parse_size};

/// The whole configuration of one huiliu instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages and relative paths).
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub fetch: FetchConfig,
    pub sources: Vec<Arc<SourceConfig>>,
    pub feeds: Vec<FeedConfig>,
    /// Near-duplicate detection thresholds (`[dedup]`).
    pub dedup: crate::dedup::DedupConfig,
    /// Background pruning, and the retention of sources no longer configured.
    pub retention: RetentionConfig,
    /// Where each source id is in `sources`: outputs over 10,000 sources
    /// look each one up per page built.
    by_id: Arc<std::collections::HashMap<String, usize>>,
}

/// How long stored entries are kept, by one rule (a source's, an output's or
/// `[defaults]`). Both unset: this rule has no say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// `retention_days`: entries older than this (by published, else
    /// first-seen time, and at least this long after they were first seen).
    pub days: Option<u32>,
    /// `retention_count`: at most the newest N.
    pub count: Option<usize>,
}

impl Retention {
    pub fn is_set(&self) -> bool {
        self.days.is_some() || self.count.is_some()
    }
}

/// The `[retention]` table.
#[derive(Debug, Clone)]
pub struct RetentionConfig {
    /// How often `huiliu run` prunes (zero: never in the background).
    pub prune_interval: Duration,
    /// Entries deleted per transaction.
    pub batch_size: usize,
    /// The `[defaults]` retention, which also applies to the stored entries
    /// of sources removed from the config.
    pub defaults: Retention,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            prune_interval: Duration::from_secs(3600),
            batch_size: 500,
            defaults: Retention::default(),
        }
    }
}

impl Config {
    pub fn source(&self, id: &str) -> Option<&Arc<SourceConfig>> {
        match self.by_id.get(id).and_then(|&i| self.sources.get(i)) {
            Some(s) if s.id == id => Some(s),
            // `sources` was changed after loading (tests, tools): search.
            _ => self.sources.iter().find(|s| s.id == id),
        }
    }

    /// The index of [`Config::source`].
    fn index_sources(
        sources: &[Arc<SourceConfig>],
    ) -> Arc<std::collections::HashMap<String, usize>> {
        Arc::new(
            sources
                .iter()
                .enumerate()
                .map(|(i, s)| (s.id.clone(), i))
                .collect(),
        )
    }

    pub fn feed(&self, id: &str) -> Option<&FeedConfig> {
        self.feeds.iter().find(|f| f.id == id)
    }

    /// The folder relative paths in the config are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// `[server] cache_size` by default: 32 MiB of served pages.
pub const DEFAULT_CACHE_BYTES: u64 = 32 << 20;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: std::net::SocketAddr,
    /// Public URL of the server, used in self links (no trailing slash).
    pub base_url: Url,
    /// WebSub hub announced in feeds and notified when an output changes.
    pub websub_hub: Option<Url>,
    /// Bearer token required for `/status` and `/metrics` (none: open).
    pub admin_token: Option<String>,
    /// On SIGTERM, how long polls in flight may take to finish.
    pub shutdown_grace: Duration,
    /// `/healthz` fails (and the systemd watchdog starves) once sources have
    /// been due this long while no poll finished: a stalled scheduler.
    pub stall_after: Duration,
    /// Bytes of served pages kept (identity, gzip and brotli forms counted);
    /// 0 caches nothing.
    pub cache_bytes: u64,
    /// This node's name in source leases (several nodes on one PostgreSQL
    /// database); default: hostname and process id.
    pub node_id: String,
    /// How long a node holds a source it polls before others may take it
    /// over (renewed while the poll runs). Only used with PostgreSQL.
    pub lease: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageConfig {
    Sqlite(PathBuf),
    /// The scale-out store: several nodes share one database.
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchConfig {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub user_agent: String,
    /// How many sources are polled at the same time.
    pub concurrency: usize,
    /// Requests in flight to one host at most (unless a `[[host]]` says otherwise).
    pub host_concurrency: usize,
    /// Least time between the starts of two requests to one host.
    pub host_delay: Duration,
    /// Per-host (or per-domain, `*.example.org`) overrides of the two above.
    pub hosts: Vec<HostConfig>,
    /// After this many different URLs of one host answer 429 in a row, the
    /// whole host pauses for its `Retry-After` (a single URL only delays itself).
    pub host_rate_limit_urls: usize,
    /// The longest a failing source waits between attempts.
    pub max_backoff: Duration,
    /// Proxy for every request (`http://…`, `https://…`, `socks5://…` not
    /// supported); without it, `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`
    /// from the environment apply.
    pub proxy: Option<Url>,
    /// Entries read from one feed document; the rest are left out (and the
    /// cut is shown in the source's health).
    pub max_entries: usize,
    /// The longest decoding, parsing, extraction and cleaning of one page
    /// or document may take (see [`crate::budget`]).
    pub parse_budget: Duration,
}

/// A `[[host]]` table: politeness limits for one host, or for a whole
/// registrable domain written `*.example.org` (the domain and every subdomain
/// share one budget; handy for platforms hosting many feeds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostConfig {
    pub name: String,
    /// Unset: `[fetch] host_concurrency`.
    pub max_concurrent: Option<usize>,
    /// Unset: `[fetch] host_delay`.
    pub delay: Option<Duration>,
    /// The shortest poll interval of the sources on this host (unset:
    /// [`MIN_POLL_INTERVAL`]).
    pub min_interval: Option<Duration>,
    /// Redirects and links from any source may lead to this host at a
    /// private, loopback or link-local address.
    pub allow_private: bool,
}

/// The shortest poll interval of a network source unless its `[[host]]`
/// allows less: more often hammers someone else's server.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest poll interval of a `file` source (a local read).
pub const MIN_FILE_INTERVAL: Duration = Duration::from_secs(1);
/// The longest poll interval (`interval`, `min_interval`, `max_interval`).
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(365 * 86_400);

/// The `[[host]]` rule for `host`: its own, else the longest `*.domain` rule
/// that contains it.
pub fn host_rule<'a>(rules: &'a [HostConfig], host: &str) -> Option<&'a HostConfig> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    rules.iter().find(|r| r.name == host).or_else(|| {
        rules
            .iter()
            .filter(|r| {
                r.name.strip_prefix("*.").is_some_and(|domain| {
                    host == domain
                        || (host.ends_with(domain)
                            && host[..host.len() - domain.len()].ends_with('.'))
                })
            })
            .max_by_key(|r| r.name.len())
    })
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 16 * 1024 * 1024,
            max_redirects: 5,
            user_agent: crate::USER_AGENT.to_string(),
            concurrency: 8,
            host_concurrency: 2,
            host_delay: Duration::from_secs(1),
            hosts: Vec::new(),
            host_rate_limit_urls: 3,
            max_backoff: Duration::from_secs(24 * 3600),
            proxy: None,
            max_entries: crate::parse::cut::DEFAULT_MAX_ENTRIES,
            parse_budget: crate::budget::DEFAULT,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// RSS 0.9x/1.0/2.0, Atom, JSON Feed over HTTP(S); the format is detected.
    Feed,
    /// An HTML list page scraped with CSS selectors.
    Html,
    /// A local file in any of the above formats.
    File,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Feed => "feed",
            SourceKind::Html => "html",
            SourceKind::File => "file",
        }
    }
}

/// One configured source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    pub id: String,
    pub name: String,
    /// For `file` sources a `file://` URL of the resolved path.
    pub url: Url,
    /// What the source is read as, with the settings only that kind has
    /// (see [`SourceConfig::kind`] for the plain kind).
    pub reading: Reading,
    /// The starting interval; adaptive polling moves it within
    /// `[min_interval, max_interval]`.
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub timezone: Tz,
    pub tags: Vec<String>,
    pub priority: i32,
    /// `None` means "auto": decide from the bytes.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    pub date_formats: Vec<String>,
    /// Sent only to the source's own host; never shown anywhere.
    pub headers: Vec<(String, String)>,
    /// Redirects and links found in its pages may lead to private, loopback
    /// and link-local addresses (`allow_private`).
    pub allow_private: bool,
    pub language: Option<String>,
    /// Which cleaning steps the normalize stage runs (`[source.clean]`).
    pub clean: CleanSteps,
    pub retention: Retention,
}

/// What a source is read as. Only `html` sources carry scrape rules and
/// only feeds (fetched or local) carry `full_text`, so code that needs
/// either matches on this instead of checking an option at run time.
/// Boxed: most sources are feeds, and 10,000 of them should not each carry
/// two kilobytes of empty scrape rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// A feed document, fetched over HTTP(S) or (`local`, `kind = "file"`)
    /// read from disk; with `full_text` each new item's body comes from its
    /// article page.
    Feed {
        local: bool,
        full_text: Option<Box<FullTextConfig>>,
    },
    /// HTML list pages (and article pages) read with these rules.
    Html(Box<ScrapeConfig>),
}

impl Reading {
    /// The settings a plain `kind` has by default.
    pub fn of_kind(kind: SourceKind) -> Reading {
        match kind {
            SourceKind::Feed | SourceKind::File => Reading::Feed {
                local: kind == SourceKind::File,
                full_text: None,
            },
            SourceKind::Html => Reading::Html(Box::default()),
        }
    }
}

/// How a `full_text` feed source reads its items' article pages.
#[derive(Debug, Clone, PartialEq)]
pub struct FullTextConfig {
    /// `[source.article]` selectors; without them the main content is extracted.
    pub article: Option<ArticleRules>,
    /// Honour robots.txt (`robots`, default true).
    pub robots: bool,
    /// Pause between two article requests to the same host (`article_delay`, default 1s).
    pub article_delay: Duration,
}

impl SourceConfig {
    /// `feed`, `html` or `file`.
    pub fn kind(&self) -> SourceKind {
        match &self.reading {
            Reading::Feed { local: false, .. } => SourceKind::Feed,
            Reading::Feed { local: true, .. } => SourceKind::File,
            Reading::Html(_) => SourceKind::Html,
        }
    }

    /// The scrape rules of an `html` source.
    pub fn scrape(&self) -> Option<&ScrapeConfig> {
        match &self.reading {
            Reading::Html(rules) => Some(rules),
            Reading::Feed { .. } => None,
        }
    }

    /// How a `full_text` feed reads its article pages.
    pub fn full_text(&self) -> Option<&FullTextConfig> {
        match &self.reading {
            Reading::Feed { full_text, .. } => full_text.as_deref(),
            Reading::Html(_) => None,
        }
    }

    /// Local path of a `file` source.
    pub fn file_path(&self) -> Option<PathBuf> {
        self.url.to_file_path().ok()
    }

    /// A minimal source for tests and tools; every optional setting at its default.
    pub fn new(id: &str, kind: SourceKind, url: Url) -> SourceConfig {
        SourceConfig {
            id: id.to_string(),
            name: id.to_string(),
            url,
            reading: Reading::of_kind(kind),
            interval: Duration::from_secs(30 * 60),
            min_interval: default_min_interval(Duration::from_secs(30 * 60)),
            max_interval: default_max_interval(Duration::from_secs(30 * 60)),
            timezone: Tz::UTC,
            tags: Vec::new(),
            priority: 0,
            encoding: None,
            date_formats: Vec::new(),
            headers: Vec::new(),
            allow_private: false,
            language: None,
            clean: CleanSteps::default(),
            retention: Retention::default(),
        }
    }
}

/// Default lower bound of adaptive polling: half the interval, at least a
/// minute (never above the interval).
/// `hostname-pid`: the default `server.node_id`.
pub fn default_node_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "node".into());
    format!("{host}-{}", std::process::id())
}

pub fn default_min_interval(interval: Duration) -> Duration {
    (interval / 2).max(Duration::from_secs(60)).min(interval)
}

/// Default upper bound of adaptive polling: four times the interval (at most
/// [`MAX_POLL_INTERVAL`]).
pub fn default_max_interval(interval: Duration) -> Duration {
    interval
        .saturating_mul(4)
        .min(MAX_POLL_INTERVAL.max(interval))
}

/// Where an extracted value comes from on a scraped page.
#[derive(Clone)]
pub struct FieldRule {
    pub selector_text: String,
    pub selector: Selector,
    /// Take this attribute instead of the element's text.
    pub attr: Option<String>,
    /// Capture group 1 of the whitespace-collapsed text; no match = absent.
    pub regex: Option<regex::Regex>,
    /// strftime format for dates.
    pub format: Option<String>,
    /// Only elements whose trimmed text equals this.
    pub text: Option<String>,
}

/// Rules are equal when they read the same: the same selector, regex and
/// options as written (what a reload compares).
impl PartialEq for FieldRule {
    fn eq(&self, other: &Self) -> bool {
        self.selector_text == other.selector_text
            && self.attr == other.attr
            && self.regex.as_ref().map(|r| r.as_str()) == other.regex.as_ref().map(|r| r.as_str())
            && self.format == other.format
            && self.text == other.text
    }
}

impl fmt::Debug for FieldRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldRule")
            .field("selector", &self.selector_text)
            .field("attr", &self.attr)
            .field("regex", &self.regex.as_ref().map(|r| r.as_str()))
            .field("format", &self.format)
            .field("text", &self.text)
            .finish()
    }
}

/// Selectors for an `html` source: the list page and, optionally, the article pages.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeConfig {
    pub max_pages: usize,
    /// `None`: no `[source.list]`, the list is detected on the first page.
    pub list: Option<ListRules>,
    pub article: Option<ArticleRules>,
    /// Follow each new item's link to its article page (`fetch_articles`,
    /// default true). Without `[source.article]` the main content is extracted.
    pub fetch_articles: bool,
    /// Fetch article pages again even when the entry is stored (`refetch_articles`).
    pub refetch_articles: bool,
    /// Honour robots.txt (`robots`, default true).
    pub robots: bool,
    /// Pause between two article requests to the same host (`article_delay`, default 1s).
    pub article_delay: Duration,
    /// `render = "browser"`: pages are fetched through headless Chromium.
    pub render_browser: bool,
}

/// The defaults of every scrape setting (the loader starts from them): the
/// list detected, five list pages, article pages fetched once, robots.txt
/// honoured, a second between article requests to a host.
impl Default for ScrapeConfig {
    fn default() -> ScrapeConfig {
        ScrapeConfig {
            max_pages: 5,
            list: None,
            article: None,
            fetch_articles: true,
            refetch_articles: false,
            robots: true,
            article_delay: Duration::from_secs(1),
            render_browser: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListRules {
    pub item: FieldRule,
    pub link: FieldRule,
    pub title: Option<FieldRule>,
    pub date: Option<FieldRule>,
    pub date_format: Option<String>,
    pub summary: Option<FieldRule>,
    pub image: Option<FieldRule>,
    pub next_page: Option<FieldRule>,
    /// `next_page = { pattern = "index_{n}.html", start = 1 }`: pages by number.
    pub page_pattern: Option<PagePattern>,
}

/// Numbered list pages: `{n}` in `pattern` counts up from `start`,
/// resolved against the first list page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePattern {
    pub pattern: String,
    pub start: u32,
}

impl PagePattern {
    /// The URL of the `k`-th page after the first (k = 0 is the `start` page).
    pub fn page(&self, first: &Url, k: u32) -> Option<Url> {
        first
            .join(&self.pattern.replace("{n}", &(self.start + k).to_string()))
            .ok()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArticleRules {
    pub title: Option<FieldRule>,
    pub content: Option<FieldRule>,
    pub remove: Vec<Selector>,
    pub date: Option<FieldRule>,
    pub author: Option<FieldRule>,
    /// The publishing organisation (`来源：`).
    pub origin: Option<FieldRule>,
}

/// One published output.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub id: String,
    pub title: String,
    pub description: String,
    /// Source ids, after expanding `tags`.
    pub sources: Vec<String>,
    /// Entries per page (the feed shows the newest page; older ones are paged).
    pub limit: usize,
    pub filter: EntryFilter,
    /// Local time of the HTML page.
    pub timezone: Tz,
    /// One item per near-duplicate cluster (default), or every copy.
    pub dedup: bool,
    /// Entries this output keeps stored (beyond its first page, always kept).
    pub retention: Retention,
}

/// Which entries an output keeps, beyond its sources.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// An entry must match one of these (when any are given).
    pub include: Vec<Matcher>,
    /// An entry matching any of these is left out.
    pub exclude: Vec<Matcher>,
    /// Fields the matchers look at.
    pub fields: Vec<MatchField>,
    /// Language prefixes (`zh` keeps `zh-cn`); empty keeps all.
    pub languages: Vec<String>,
    pub max_age: Option<Duration>,
}

impl EntryFilter {
    /// Keeps every entry of its sources (nothing to read but their order).
    pub fn keeps_all(&self) -> bool {
        self.include.is_empty()
            && self.exclude.is_empty()
            && self.languages.is_empty()
            && self.max_age.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchField {
    Title,
    Content,
    Author,
    Category,
}

/// A keyword (case-insensitive substring) or `/a regex/`.
#[derive(Debug, Clone)]
pub enum Matcher {
    Keyword(String),
    Regex(regex::Regex),
}

impl Matcher {
    pub fn parse(text: &str) -> Result<Matcher, String> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(re) if !re.is_empty() => regex::Regex::new(re)
                .map(Matcher::Regex)
                .map_err(|e| format!("invalid regex /{re}/: {e}")),
            _ if text.trim().is_empty() => Err("empty keyword".into()),
            _ => Ok(Matcher::Keyword(text.to_lowercase())),
        }
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        match self {
            Matcher::Keyword(k) => haystack.to_lowercase().contains(k.as_str()),
            Matcher::Regex(r) => r.is_match(haystack),
        }
    }
}
