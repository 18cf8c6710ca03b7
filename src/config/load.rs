//! Reading `huiliu.toml`: every problem is collected, not just the first, and
//! each one names the file, line, column and field, so a sysadmin fixes the
//! whole file in one go.
//!
//! The TOML is walked with `toml_edit` (which keeps spans) instead of serde,
//! because serde stops at the first error.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use scraper::Selector;
use toml_edit::{Item, TableLike, Value};
use url::Url;

use super::*;

/// One problem in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the field, e.g. `source[2].interval`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one config file.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "invalid configuration ({n} error{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => load_str(&text, path),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])),
    }
}

/// Validates config text; `path` names it in messages and anchors relative paths.
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    let mut loader = Loader {
        text,
        file: path.display().to_string(),
        errors: Vec::new(),
    };
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span();
            loader.error(span, "", e.message().trim().to_string());
            return Err(ConfigErrors(loader.errors));
        }
    };
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let config = loader.config(doc.as_table(), path, &base_dir);
    if loader.errors.is_empty() {
        Ok(config)
    } else {
        loader.errors.sort_by_key(|e| (e.line, e.column));
        Err(ConfigErrors(loader.errors))
    }
}

/// A table being read, with the `[defaults]` table to fall back on.
#[derive(Clone, Copy)]
struct Section<'d> {
    table: &'d dyn TableLike,
    path: &'d str,
    /// Byte offset where the section starts (for errors about it as a whole).
    span: Option<usize>,
    defaults: Option<&'d dyn TableLike>,
}

struct Loader<'a> {
    text: &'a str,
    file: String,
    errors: Vec<ConfigError>,
}

// The keys the loader accepts, section by section (`docs/config.md` must
// cover each one: a test checks).
pub(crate) const DEDUP_KEYS: &[&str] = &[
    "window",
    "window_entries",
    "near_copy",
    "near_copy_anchors",
    "summary_ratio",
    "summary_containment",
    "summary_anchors",
    "min_shingles",
    "digest_ratio",
    "digest_window",
    "digest_score",
];
pub(crate) const TOP_KEYS: &[&str] = &[
    "server",
    "storage",
    "fetch",
    "host",
    "defaults",
    "source",
    "feed",
    "retention",
    "dedup",
];
pub(crate) const SERVER_KEYS: &[&str] = &[
    "listen",
    "base_url",
    "websub_hub",
    "admin_token",
    "shutdown_grace",
    "stall_after",
    "cache_size",
    "node_id",
    "lease",
];
pub(crate) const STORAGE_KEYS: &[&str] = &["url"];
pub(crate) const FETCH_KEYS: &[&str] = &[
    "timeout",
    "connect_timeout",
    "max_body_size",
    "max_redirects",
    "user_agent",
    "concurrency",
    "host_concurrency",
    "host_delay",
    "host_rate_limit_urls",
    "max_entries",
    "parse_budget",
    "max_backoff",
    "proxy",
];
pub(crate) const HOST_KEYS: &[&str] = &[
    "name",
    "max_concurrent",
    "delay",
    "min_interval",
    "allow_private",
];
pub(crate) const RETENTION_KEYS: &[&str] = &["prune_interval", "batch_size"];
pub(crate) const LIST_KEYS: &[&str] = &[
    "item",
    "link",
    "title",
    "date",
    "date_format",
    "summary",
    "image",
    "next_page",
];
pub(crate) const ARTICLE_KEYS: &[&str] =
    &["title", "content", "remove", "date", "author", "origin"];
pub(crate) const FIELD_KEYS: &[&str] = &["selector", "attr", "regex", "format", "text"];
pub(crate) const SOURCE_KEYS: &[&str] = &[
    "id",
    "name",
    "url",
    "kind",
    "interval",
    "min_interval",
    "max_interval",
    "timezone",
    "tags",
    "priority",
    "encoding",
    "date_formats",
    "headers",
    "allow_private",
    "language",
    "max_pages",
    "fetch_articles",
    "refetch_articles",
    "robots",
    "article_delay",
    "render",
    "list",
    "article",
    "retention_days",
    "retention_count",
    "full_text",
    "clean",
];
pub(crate) const FEED_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "sources",
    "tags",
    "limit",
    "include",
    "exclude",
    "match",
    "language",
    "max_age",
    "timezone",
    "dedup",
    "retention_days",
    "retention_count",
];

impl<'a> Loader<'a> {
    fn error(&mut self, span: Option<Range<usize>>, field: &str, message: impl Into<String>) {
        let message: String = message.into();
        let (line, column) = match span {
            Some(r) => self.position(r.start),
            None => (1, 1),
        };
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            field: field.to_string(),
            // A message quoting a URL never shows its secrets (it may end in a log).
            message: crate::redact::text(&message).into_owned(),
        });
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    fn config(&mut self, root: &toml_edit::Table, path: &Path, base_dir: &Path) -> Config {
        let top = Section {
            table: root,
            path: "",
            span: Some(0),
            defaults: None,
        };
        self.unknown_keys(top, TOP_KEYS);

        let server = self.server(root);
        let storage = self.storage(root, base_dir);
        let mut fetch = self.fetch(root);
        fetch.hosts = self.hosts(root);

        let mut default_retention = Retention::default();
        let defaults = match root.get("defaults") {
            Some(item) => match item.as_table_like() {
                Some(t) => {
                    let sect = Section {
                        table: t,
                        path: "defaults",
                        span: item.span().map(|r| r.start),
                        defaults: None,
                    };
                    let allowed: Vec<&str> = SOURCE_KEYS
                        .iter()
                        .copied()
                        .filter(|k| !matches!(*k, "id" | "name" | "url"))
                        .collect();
                    self.unknown_keys(sect, &allowed);
                    default_retention = self.retention(sect);
                    Some(t)
                }
                None => {
                    self.error(item.span(), "defaults", "must be a table `[defaults]`");
                    None
                }
            },
            None => None,
        };

        let mut sources: Vec<Arc<SourceConfig>> = Vec::new();
        let mut seen = HashSet::new();
        for (i, (table, span)) in self.tables_array(root, "source").into_iter().enumerate() {
            let path = format!("source[{}]", i + 1);
            let sect = Section {
                table,
                path: &path,
                span: span.clone().map(|r| r.start),
                defaults,
            };
            if let Some(id) = table.get("id").and_then(|i| i.as_str()) {
                if !seen.insert(id.to_string()) {
                    let at = self.value_span(sect, "id");
                    self.error(
                        at,
                        &format!("{path}.id"),
                        format!("duplicate source id `{id}`: ids must be unique"),
                    );
                }
            }
            if let Some(src) = self.source(sect, base_dir, &fetch.hosts) {
                sources.push(Arc::new(src));
            }
        }

        let mut feeds: Vec<FeedConfig> = Vec::new();
        let mut seen = HashSet::new();
        for (i, (table, span)) in self.tables_array(root, "feed").into_iter().enumerate() {
            let path = format!("feed[{}]", i + 1);
            let sect = Section {
                table,
                path: &path,
                span: span.map(|r| r.start),
                defaults: None,
            };
            if let Some(feed) = self.feed(sect, &sources) {
                if !seen.insert(feed.id.clone()) {
                    let at = self.value_span(sect, "id");
                    self.error(
                        at,
                        &format!("{path}.id"),
                        format!("duplicate feed id `{}`: ids must be unique", feed.id),
                    );
                }
                feeds.push(feed);
            }
        }

        let dedup = self.dedup(root);
        Config {
            path: path.to_path_buf(),
            server,
            storage,
            fetch,
            sources,
            feeds,
            dedup,
            retention: RetentionConfig {
                defaults: default_retention,
                ..self.retention_section(root)
            },
        }
    }

    /// `[dedup]`: the thresholds of near-duplicate detection.
    fn dedup(&mut self, root: &toml_edit::Table) -> crate::dedup::DedupConfig {
        let mut cfg = crate::dedup::DedupConfig::default();
        let Some(sect) = self.section(root, "dedup", DEDUP_KEYS) else {
            return cfg;
        };
        if let Some(d) = self.duration(sect, "window") {
            cfg.window_secs = d.as_secs().min(i64::MAX as u64) as i64;
        }
        for (key, slot) in [
            ("near_copy", &mut cfg.near_min),
            ("near_copy_anchors", &mut cfg.near_min_anchor),
            ("summary_ratio", &mut cfg.summary_max_ratio),
            ("summary_containment", &mut cfg.summary_min),
            ("digest_ratio", &mut cfg.digest_max_ratio),
            ("digest_score", &mut cfg.digest_min),
        ] {
            if let Some(v) = self.fraction(sect, key) {
                *slot = v;
            }
        }
        if let Some(d) = self.duration(sect, "digest_window") {
            cfg.digest_window_secs = d.as_secs().min(i64::MAX as u64) as i64;
        }
        if let Some(n) = self.int(sect, "summary_anchors", 0, 100) {
            cfg.summary_min_anchors = n as usize;
        }
        if let Some(n) = self.int(sect, "window_entries", 100, 100_000_000) {
            cfg.window_entries = n as usize;
        }
        if let Some(n) = self.int(sect, "min_shingles", 1, 10_000) {
            cfg.min_shingles = n as usize;
        }
        cfg
    }

    /// A number from 0 to 1.
    fn fraction(&mut self, sect: Section<'_>, key: &str) -> Option<f64> {
        let (item, span) = self.lookup(sect, key)?;
        match item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64))
        {
            Some(v) if (0.0..=1.0).contains(&v) => Some(v),
            _ => {
                self.error(
                    span,
                    &Self::field_path(sect, key),
                    "must be a number from 0 to 1",
                );
                None
            }
        }
    }

    /// `retention_days` / `retention_count` of a source, output or `[defaults]`.
    fn retention(&mut self, sect: Section<'_>) -> Retention {
        Retention {
            days: self
                .int(sect, "retention_days", 1, 365_000)
                .map(|n| n as u32),
            count: self
                .int(sect, "retention_count", 1, 100_000_000)
                .map(|n| n as usize),
        }
    }

    /// The `[retention]` table: how the background pruning runs.
    fn retention_section(&mut self, root: &toml_edit::Table) -> RetentionConfig {
        let mut cfg = RetentionConfig::default();
        let Some(sect) = self.section(root, "retention", RETENTION_KEYS) else {
            return cfg;
        };
        if let Some(d) = self.duration(sect, "prune_interval") {
            cfg.prune_interval = d;
        }
        if let Some(n) = self.int(sect, "batch_size", 1, 100_000) {
            cfg.batch_size = n as usize;
        }
        cfg
    }

    fn tables_array<'d>(
        &mut self,
        root: &'d toml_edit::Table,
        key: &str,
    ) -> Vec<(&'d dyn TableLike, Option<Range<usize>>)> {
        let Some(item) = root.get(key) else {
            return Vec::new();
        };
        if let Some(aot) = item.as_array_of_tables() {
            return aot
                .iter()
                .map(|t| (t as &dyn TableLike, t.span()))
                .collect();
        }
        if let Some(arr) = item.as_array() {
            let mut out = Vec::new();
            for v in arr.iter() {
                match v.as_inline_table() {
                    Some(t) => out.push((t as &dyn TableLike, v.span())),
                    None => self.error(v.span(), key, format!("each `{key}` must be a table")),
                }
            }
            return out;
        }
        self.error(
            item.span(),
            key,
            format!("must be an array of tables: write `[[{key}]]`"),
        );
        Vec::new()
    }

    fn section<'d>(
        &mut self,
        root: &'d toml_edit::Table,
        key: &'d str,
        allowed: &[&str],
    ) -> Option<Section<'d>> {
        let item = root.get(key)?;
        match item.as_table_like() {
            Some(t) => {
                let sect = Section {
                    table: t,
                    path: key,
                    span: item.span().map(|r| r.start),
                    defaults: None,
                };
                self.unknown_keys(sect, allowed);
                Some(sect)
            }
            None => {
                self.error(item.span(), key, format!("must be a table `[{key}]`"));
                None
            }
        }
    }

    fn server(&mut self, root: &toml_edit::Table) -> ServerConfig {
        let default_listen: std::net::SocketAddr = ([127, 0, 0, 1], 8080).into();
        let mut listen = default_listen;
        let mut base_url = None;
        let mut websub_hub = None;
        let mut admin_token = None;
        let mut shutdown_grace = Duration::from_secs(10);
        let mut stall_after = Duration::from_secs(600);
        let mut cache_bytes = super::DEFAULT_CACHE_BYTES;
        let mut node_id = None;
        let mut lease = Duration::from_secs(30);
        if let Some(sect) = self.section(root, "server", SERVER_KEYS) {
            if let Some(d) = self.duration(sect, "shutdown_grace") {
                shutdown_grace = d;
            }
            if let Some(d) = self.duration(sect, "stall_after") {
                stall_after = d;
            }
            if let Some((text, span)) = self.string_or_int(sect, "cache_size") {
                match parse_size(&text) {
                    Ok(n) => cache_bytes = n,
                    Err(e) => self.error(span, "server.cache_size", e),
                }
            }
            if let Some((text, span)) = self.string(sect, "node_id") {
                if text.trim().is_empty() || text.len() > 200 {
                    self.error(span, "server.node_id", "must be 1 to 200 characters");
                } else {
                    node_id = Some(text);
                }
            }
            if let Some(d) = self.duration(sect, "lease") {
                lease = d.max(Duration::from_secs(1));
            }
            if let Some((text, span)) = self.string(sect, "websub_hub") {
                match Url::parse(&text) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => websub_hub = Some(u),
                    _ => self.error(
                        span,
                        "server.websub_hub",
                        format!("`{text}` is not an http(s) URL"),
                    ),
                }
            }
            if let Some((text, span)) = self.string(sect, "admin_token") {
                if text.len() < 16 {
                    self.error(
                        span,
                        "server.admin_token",
                        "too short: use at least 16 random characters",
                    );
                } else {
                    admin_token = Some(text);
                }
            }
            if let Some((text, span)) = self.string(sect, "listen") {
                match text.parse() {
                    Ok(addr) => listen = addr,
                    Err(_) => self.error(
                        span,
                        "server.listen",
                        format!("`{text}` is not an address: expected IP:PORT such as \"127.0.0.1:8080\""),
                    ),
                }
            }
            if let Some((text, span)) = self.string(sect, "base_url") {
                match Url::parse(text.trim_end_matches('/')) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => base_url = Some(u),
                    _ => self.error(
                        span,
                        "server.base_url",
                        format!("`{text}` is not an http(s) URL"),
                    ),
                }
            }
        }
        let base_url = base_url.unwrap_or_else(|| default_base_url(listen));
        ServerConfig {
            listen,
            base_url,
            websub_hub,
            admin_token,
            shutdown_grace,
            stall_after,
            cache_bytes,
            node_id: node_id.unwrap_or_else(super::default_node_id),
            lease,
        }
    }

    fn storage(&mut self, root: &toml_edit::Table, base_dir: &Path) -> StorageConfig {
        let default = StorageConfig::Sqlite(base_dir.join("data/huiliu.db"));
        let Some(sect) = self.section(root, "storage", STORAGE_KEYS) else {
            return default;
        };
        let Some((text, span)) = self.string(sect, "url") else {
            return default;
        };
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return StorageConfig::Postgres(text);
        }
        match text
            .strip_prefix("sqlite://")
            .or_else(|| text.strip_prefix("sqlite:"))
        {
            Some(p) if !p.is_empty() => StorageConfig::Sqlite(base_dir.join(p)),
            _ => {
                self.error(
                    span,
                    "storage.url",
                    format!("`{text}`: expected \"sqlite:PATH\" or \"postgres://USER@HOST/DB\""),
                );
                default
            }
        }
    }

    fn fetch(&mut self, root: &toml_edit::Table) -> FetchConfig {
        let mut cfg = FetchConfig::default();
        let Some(sect) = self.section(root, "fetch", FETCH_KEYS) else {
            return cfg;
        };
        for (key, slot) in [
            ("timeout", &mut cfg.timeout),
            ("connect_timeout", &mut cfg.connect_timeout),
        ] {
            if let Some(d) = self.duration(sect, key) {
                if d < Duration::from_secs(1) {
                    let span = self.value_span(sect, key);
                    self.error(
                        span,
                        &format!("fetch.{key}"),
                        "must be at least 1s: a shorter time-out fails every request",
                    );
                } else {
                    *slot = d;
                }
            }
        }
        if let Some((text, span)) = self.string_or_int(sect, "max_body_size") {
            match parse_size(&text) {
                Ok(0) => self.error(span, "fetch.max_body_size", "must be more than 0"),
                Ok(n) => cfg.max_body_bytes = n,
                Err(e) => self.error(span, "fetch.max_body_size", e),
            }
        }
        if let Some(n) = self.int(sect, "max_redirects", 0, 20) {
            cfg.max_redirects = n as usize;
        }
        if let Some(n) = self.int(sect, "concurrency", 1, 1024) {
            cfg.concurrency = n as usize;
        }
        if let Some((ua, span)) = self.string(sect, "user_agent") {
            match header_value_problem(&ua) {
                Some(problem) => self.error(span, "fetch.user_agent", problem),
                None => cfg.user_agent = ua,
            }
        }
        if let Some(n) = self.int(sect, "host_concurrency", 1, 1024) {
            cfg.host_concurrency = n as usize;
        }
        if let Some(d) = self.duration(sect, "host_delay") {
            cfg.host_delay = d;
        }
        if let Some(n) = self.int(sect, "host_rate_limit_urls", 1, 1000) {
            cfg.host_rate_limit_urls = n as usize;
        }
        if let Some(n) = self.int(sect, "max_entries", 1, 100_000) {
            cfg.max_entries = n as usize;
        }
        if let Some(d) = self.duration(sect, "parse_budget") {
            if d < crate::budget::MIN {
                let span = self.value_span(sect, "parse_budget");
                self.error(
                    span,
                    "fetch.parse_budget",
                    "must be at least 1s: a shorter budget fails ordinary pages on a busy machine",
                );
            } else {
                cfg.parse_budget = d;
            }
        }
        if let Some(d) = self.duration(sect, "max_backoff") {
            if d < Duration::from_secs(1) {
                let span = self.value_span(sect, "max_backoff");
                self.error(span, "fetch.max_backoff", "must be at least 1s");
            } else {
                cfg.max_backoff = d;
            }
        }
        if let Some((text, span)) = self.string(sect, "proxy") {
            match Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    cfg.proxy = Some(u)
                }
                _ => self.error(
                    span,
                    "fetch.proxy",
                    format!("`{text}` is not a proxy URL: expected \"http://HOST:PORT\""),
                ),
            }
        }
        cfg
    }

    /// `[[host]]` tables: per-host politeness overrides.
    fn hosts(&mut self, root: &toml_edit::Table) -> Vec<HostConfig> {
        let mut out: Vec<HostConfig> = Vec::new();
        for (i, (table, span)) in self.tables_array(root, "host").into_iter().enumerate() {
            let path = format!("host[{}]", i + 1);
            let sect = Section {
                table,
                path: &path,
                span: span.map(|r| r.start),
                defaults: None,
            };
            self.unknown_keys(sect, HOST_KEYS);
            let Some((name, name_span)) = self.string(sect, "name") else {
                self.error(
                    sect.span.map(|s| s..s),
                    &format!("{path}.name"),
                    "missing `name`: the host (\"example.org\") or domain (\"*.example.org\")",
                );
                continue;
            };
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            let bare = name.strip_prefix("*.").unwrap_or(&name);
            if bare.is_empty() || bare.contains(['/', ':', '*', ' ']) {
                self.error(
                    name_span,
                    &format!("{path}.name"),
                    format!("`{name}` is not a host name: write \"example.org\" or \"*.example.org\" (no scheme, port or path)"),
                );
                continue;
            }
            if out.iter().any(|h| h.name == name) {
                self.error(
                    name_span,
                    &format!("{path}.name"),
                    format!("duplicate host `{name}`"),
                );
                continue;
            }
            let max_concurrent = self
                .int(sect, "max_concurrent", 1, 1024)
                .map(|n| n as usize);
            let delay = self.duration(sect, "delay");
            let min_interval = self.duration(sect, "min_interval");
            if min_interval.is_some_and(|d| d.is_zero()) {
                let span = self.value_span(sect, "min_interval");
                self.error(
                    span,
                    &format!("{path}.min_interval"),
                    "a zero interval is not allowed",
                );
            }
            out.push(HostConfig {
                name,
                max_concurrent,
                delay,
                min_interval: min_interval.filter(|d| !d.is_zero()),
                allow_private: self.bool(sect, "allow_private").unwrap_or(false),
            });
        }
        out
    }

    fn source(
        &mut self,
        sect: Section<'_>,
        base_dir: &Path,
        hosts: &[HostConfig],
    ) -> Option<SourceConfig> {
        self.unknown_keys(sect, SOURCE_KEYS);
        let path = sect.path;
        let id = self.id(sect)?;
        let name = self
            .string(sect, "name")
            .map(|(s, _)| s)
            .unwrap_or_else(|| id.clone());

        let kind = match self.string(sect, "kind") {
            None => SourceKind::Feed,
            Some((k, span)) => match k.as_str() {
                "feed" => SourceKind::Feed,
                "html" => SourceKind::Html,
                "file" => SourceKind::File,
                other => {
                    self.error(
                        span,
                        &format!("{path}.kind"),
                        format!("unknown kind `{other}`: use \"feed\", \"html\" or \"file\""),
                    );
                    SourceKind::Feed
                }
            },
        };

        let url = match self.string(sect, "url") {
            None => {
                self.error(
                    sect.span.map(|s| s..s),
                    &format!("{path}.url"),
                    "missing `url`: every source needs one",
                );
                None
            }
            Some((text, span)) => {
                let parsed = source_url(&text, kind, base_dir);
                if let Err(msg) = &parsed {
                    self.error(span, &format!("{path}.url"), msg.clone());
                }
                parsed.ok()
            }
        };

        let interval = self.duration(sect, "interval");
        let min_interval = self.duration(sect, "min_interval");
        let max_interval = self.duration(sect, "max_interval");
        if let Some(url) = &url {
            let set = [
                ("interval", interval),
                ("min_interval", min_interval),
                ("max_interval", max_interval),
            ];
            self.interval_limits(sect, url, kind, hosts, &set);
        }
        let interval = match interval {
            Some(d) if d.is_zero() => {
                let span = self.value_span(sect, "interval");
                self.error(
                    span,
                    &format!("{path}.interval"),
                    "a zero interval is not allowed: use e.g. \"30m\"",
                );
                None
            }
            other => other,
        }
        .unwrap_or(Duration::from_secs(30 * 60));
        if min_interval.is_some_and(|d| d.is_zero()) {
            let span = self.value_span(sect, "min_interval");
            self.error(
                span,
                &format!("{path}.min_interval"),
                "a zero interval is not allowed",
            );
        }
        let min_interval = min_interval
            .filter(|d| !d.is_zero())
            .unwrap_or_else(|| super::default_min_interval(interval));
        let max_interval = max_interval.unwrap_or_else(|| super::default_max_interval(interval));
        if min_interval > max_interval {
            let span = self
                .value_span(sect, "max_interval")
                .or_else(|| self.value_span(sect, "min_interval"));
            self.error(
                span,
                &format!("{path}.max_interval"),
                format!(
                    "max_interval ({}s) is below min_interval ({}s)",
                    max_interval.as_secs(),
                    min_interval.as_secs()
                ),
            );
        }
        let interval = interval.clamp(min_interval, max_interval.max(min_interval));

        let timezone = match self.string(sect, "timezone") {
            None => Tz::UTC,
            Some((text, span)) => text.parse::<Tz>().unwrap_or_else(|_| {
                self.error(
                    span,
                    &format!("{path}.timezone"),
                    format!(
                        "unknown time zone `{text}`: use an IANA name such as \"Asia/Shanghai\""
                    ),
                );
                Tz::UTC
            }),
        };

        let encoding = match self.string(sect, "encoding") {
            None => None,
            Some((label, _)) if label.eq_ignore_ascii_case("auto") => None,
            Some((label, span)) => {
                let enc = encoding_rs::Encoding::for_label(label.as_bytes());
                if enc.is_none() {
                    self.error(
                        span,
                        &format!("{path}.encoding"),
                        format!("unknown encoding `{label}`: use \"auto\" or a label such as \"gbk\", \"gb18030\", \"utf-8\""),
                    );
                }
                enc
            }
        };

        let tags = self.strings(sect, "tags").unwrap_or_default();
        let priority = self
            .int(sect, "priority", -1_000_000, 1_000_000)
            .unwrap_or(0) as i32;
        let date_formats = self.strings(sect, "date_formats").unwrap_or_default();
        let language = self.string(sect, "language").map(|(s, _)| s);
        let headers = self.headers(sect);
        let allow_private = self.bool(sect, "allow_private").unwrap_or(false);
        // Boxed: most sources are feeds, and 10,000 of them should not each
        // carry two kilobytes of empty scrape rules.
        let scrape = self.scrape(sect, kind).map(Box::new);
        let full_text = self.full_text(sect, kind).map(Box::new);
        let clean = self.clean_steps(sect);
        let retention = self.retention(sect);

        Some(SourceConfig {
            id,
            name,
            url: url?,
            kind,
            interval,
            min_interval,
            max_interval,
            timezone,
            tags,
            priority,
            encoding,
            date_formats,
            headers,
            allow_private,
            language,
            scrape,
            full_text,
            clean,
            retention,
        })
    }

    /// Poll intervals between a floor (`[[host]] min_interval`, else
    /// [`MIN_POLL_INTERVAL`]; [`MIN_FILE_INTERVAL`] for files) and
    /// [`MAX_POLL_INTERVAL`]. Zero is reported by the caller.
    fn interval_limits(
        &mut self,
        sect: Section<'_>,
        url: &Url,
        kind: SourceKind,
        hosts: &[HostConfig],
        set: &[(&str, Option<Duration>)],
    ) {
        let host = url.host_str().unwrap_or("");
        let (floor, why) = if kind == SourceKind::File {
            (MIN_FILE_INTERVAL, "for a file source".to_string())
        } else {
            match host_rule(hosts, host).and_then(|r| r.min_interval.map(|d| (d, r))) {
                Some((d, rule)) => (d, format!("by `[[host]] name = \"{}\"`", rule.name)),
                None => (
                    MIN_POLL_INTERVAL,
                    format!("for {host} (a `[[host]]` with `min_interval` allows less)"),
                ),
            }
        };
        for (key, value) in set {
            let Some(d) = value.filter(|d| !d.is_zero()) else {
                continue;
            };
            let problem = if d < floor {
                format!(
                    "{} is more often than allowed {why}: at least {}",
                    human(d),
                    human(floor)
                )
            } else if d > MAX_POLL_INTERVAL {
                format!("{} is longer than the longest interval, 365d", human(d))
            } else {
                continue;
            };
            let span = self.value_span(sect, key);
            self.error(span, &format!("{}.{key}", sect.path), problem);
        }
    }

    fn id(&mut self, sect: Section<'_>) -> Option<String> {
        let path = sect.path;
        let Some((id, span)) = self.string(sect, "id") else {
            self.error(
                sect.span.map(|s| s..s),
                &format!("{path}.id"),
                "missing `id`: give it a short slug such as \"hutang\"",
            );
            return None;
        };
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            self.error(
                span,
                &format!("{path}.id"),
                format!("`{id}` is not a slug: use lower-case letters, digits, `-` and `_`"),
            );
            return None;
        }
        Some(id)
    }

    fn headers(&mut self, sect: Section<'_>) -> Vec<(String, String)> {
        let path = format!("{}.headers", sect.path);
        let Some((item, span)) = self.lookup(sect, "headers") else {
            return Vec::new();
        };
        let Some(table) = item.as_table_like() else {
            self.error(span, &path, "must be a table of header names to values");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in table.iter() {
            let vspan = value.span();
            let valid_name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok();
            match value.as_str() {
                Some(v) if valid_name => match header_value_problem(v) {
                    None => out.push((name.to_string(), v.to_string())),
                    Some(problem) => self.error(vspan, &format!("{path}.{name}"), problem),
                },
                _ => self.error(
                    vspan,
                    &format!("{path}.{name}"),
                    "must be a valid header name with a string value",
                ),
            }
        }
        out
    }

    fn scrape(&mut self, sect: Section<'_>, kind: SourceKind) -> Option<ScrapeConfig> {
        let path = sect.path;
        let list_item = sect.table.get("list");
        if kind != SourceKind::Html {
            // A feed with `full_text = true` reads article pages too.
            let full_text = sect
                .table
                .get("full_text")
                .and_then(|v| v.as_bool())
                .unwrap_or(false);
            for key in [
                "list",
                "article",
                "max_pages",
                "fetch_articles",
                "refetch_articles",
                "robots",
                "article_delay",
                "render",
            ] {
                let article_key = matches!(key, "article" | "robots" | "article_delay");
                if sect.table.contains_key(key) && !(full_text && article_key) {
                    let span = self.value_span(sect, key);
                    self.error(
                        span,
                        &format!("{path}.{key}"),
                        "only `kind = \"html\"` sources take scrape rules (a feed source takes `article`, `robots` and `article_delay` with `full_text = true`)",
                    );
                }
            }
            return None;
        }
        let max_pages = self.int(sect, "max_pages", 1, 1000).unwrap_or(5) as usize;
        // Without `[source.list]` the list is detected on the first page (`huiliu discover`).
        let list_rules = match list_item {
            None => None,
            Some(list_item) => Some(self.list_rules(list_item, path)?),
        };
        let article = self.article_rules(sect)?;
        Some(ScrapeConfig {
            max_pages,
            list: list_rules,
            article,
            fetch_articles: self.bool(sect, "fetch_articles").unwrap_or(true),
            refetch_articles: self.bool(sect, "refetch_articles").unwrap_or(false),
            robots: self.bool(sect, "robots").unwrap_or(true),
            article_delay: self
                .duration(sect, "article_delay")
                .unwrap_or(Duration::from_secs(1)),
            render_browser: self.render(sect),
        })
    }

    /// `[source.article]`: `Some(None)` when absent, `None` when invalid.
    fn article_rules(&mut self, sect: Section<'_>) -> Option<Option<ArticleRules>> {
        let path = sect.path;
        let article = match sect.table.get("article") {
            None => None,
            Some(a) => {
                let art_path = format!("{path}.article");
                let art = self.sub_section(a, &art_path)?;
                self.unknown_keys(art, ARTICLE_KEYS);
                let remove = self
                    .strings(art, "remove")
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| match Selector::parse(&s) {
                        Ok(sel) => Some(sel),
                        Err(e) => {
                            let span = self.value_span(art, "remove");
                            self.error(
                                span,
                                &format!("{art_path}.remove"),
                                format!("invalid CSS selector `{s}`: {e}"),
                            );
                            None
                        }
                    })
                    .collect();
                Some(ArticleRules {
                    title: self.field(art, "title", None),
                    content: self.field(art, "content", None),
                    remove,
                    date: self.field(art, "date", None),
                    author: self.field(art, "author", None),
                    origin: self.field(art, "origin", None),
                })
            }
        };
        Some(article)
    }

    /// `full_text = true` on a feed (or file) source: each new item's article
    /// page is read, with `[source.article]` if given, else the extractor.
    fn full_text(&mut self, sect: Section<'_>, kind: SourceKind) -> Option<FullTextConfig> {
        if !self.bool(sect, "full_text").unwrap_or(false) {
            return None;
        }
        if kind == SourceKind::Html {
            if !sect.table.contains_key("full_text") {
                return None; // a `[defaults]` setting meant for the feeds
            }
            let span = self.value_span(sect, "full_text");
            self.error(
                span,
                &format!("{}.full_text", sect.path),
                "html sources read their article pages already (`fetch_articles`); `full_text` is for feed sources",
            );
            return None;
        }
        let article = self.article_rules(sect)?;
        Some(FullTextConfig {
            article,
            robots: self.bool(sect, "robots").unwrap_or(true),
            article_delay: self
                .duration(sect, "article_delay")
                .unwrap_or(Duration::from_secs(1)),
        })
    }

    /// `render = "http"` (default) or `"browser"` (headless Chromium).
    fn render(&mut self, sect: Section<'_>) -> bool {
        match self.string(sect, "render") {
            None => false,
            Some((v, _)) if v == "http" => false,
            Some((v, _)) if v == "browser" => true,
            Some((v, span)) => {
                self.error(
                    span,
                    &format!("{}.render", sect.path),
                    format!(
                        "unknown render `{v}`: use \"http\" or \"browser\" (headless Chromium)"
                    ),
                );
                false
            }
        }
    }

    fn list_rules(&mut self, list_item: &Item, path: &str) -> Option<ListRules> {
        let list_path = format!("{path}.list");
        let list = self.sub_section(list_item, &list_path)?;
        self.unknown_keys(list, LIST_KEYS);
        let item = self.field(list, "item", None);
        let link = self.field(list, "link", Some("href"));
        if item.is_none() || link.is_none() {
            if !list.table.contains_key("item") || !list.table.contains_key("link") {
                self.error(
                    list.span.map(|s| s..s),
                    &list_path,
                    "`item` and `link` selectors are required (or leave out `[source.list]` to have the list detected)",
                );
            }
            return None;
        }
        let (next_page, page_pattern) = self.next_page(list);
        Some(ListRules {
            item: item?,
            link: link?,
            title: self.field(list, "title", None),
            date: self.field(list, "date", None),
            date_format: self.string(list, "date_format").map(|(s, _)| s),
            summary: self.field(list, "summary", None),
            image: self.field(list, "image", Some("src")),
            next_page,
            page_pattern,
        })
    }

    /// `next_page`: a selector field, or `{ pattern = "index_{n}.html", start = 1 }`.
    fn next_page(&mut self, list: Section<'_>) -> (Option<FieldRule>, Option<PagePattern>) {
        let is_pattern = list
            .table
            .get("next_page")
            .and_then(|i| i.as_table_like())
            .is_some_and(|t| t.contains_key("pattern"));
        if !is_pattern {
            return (self.field(list, "next_page", Some("href")), None);
        }
        let path = format!("{}.next_page", list.path);
        let Some((item, _)) = self.lookup(list, "next_page") else {
            return (None, None);
        };
        let Some(t) = item.as_table_like() else {
            return (None, None);
        };
        let ps = Section {
            table: t,
            path: &path,
            span: item.span().map(|r| r.start),
            defaults: None,
        };
        self.unknown_keys(ps, &["pattern", "start"]);
        let start = self.int(ps, "start", 0, 1_000_000).unwrap_or(1) as u32;
        match self.string(ps, "pattern") {
            Some((pattern, _)) if pattern.contains("{n}") => {
                (None, Some(PagePattern { pattern, start }))
            }
            Some((pattern, span)) => {
                self.error(
                    span,
                    &format!("{path}.pattern"),
                    format!("`{pattern}` has no `{{n}}`: write where the page number goes, e.g. \"index_{{n}}.html\""),
                );
                (None, None)
            }
            None => (None, None),
        }
    }

    /// `[source.clean]` (or `[defaults.clean]`): which cleaning steps run.
    fn clean_steps(&mut self, sect: Section<'_>) -> CleanSteps {
        let mut steps = CleanSteps::default();
        let Some((item, span)) = self.lookup(sect, "clean") else {
            return steps;
        };
        let path = format!("{}.clean", sect.path);
        let Some(table) = item.as_table_like() else {
            self.error(
                span,
                &path,
                "must be a table such as `[source.clean]` with `bylines = false`",
            );
            return steps;
        };
        let clean = Section {
            table,
            path: &path,
            span: span.map(|r| r.start),
            defaults: None,
        };
        self.unknown_keys(clean, CleanSteps::KEYS);
        for key in CleanSteps::KEYS {
            if let Some(on) = self.bool(clean, key) {
                steps.set(key, on);
            }
        }
        steps
    }

    fn sub_section<'d>(&mut self, item: &'d Item, path: &'d str) -> Option<Section<'d>> {
        match item.as_table_like() {
            Some(t) => Some(Section {
                table: t,
                path,
                span: item.span().map(|r| r.start),
                defaults: None,
            }),
            None => {
                self.error(item.span(), path, "must be a table");
                None
            }
        }
    }

    /// A selector field: `"css"` or `{ selector, attr, regex, format, text }`.
    fn field(
        &mut self,
        sect: Section<'_>,
        key: &str,
        default_attr: Option<&str>,
    ) -> Option<FieldRule> {
        let path = format!("{}.{key}", sect.path);
        let (item, span) = self.lookup(sect, key)?;
        let mut rule = if let Some(css) = item.as_str() {
            FieldRule {
                selector_text: css.to_string(),
                selector: self.selector(css, span.clone(), &path)?,
                attr: None,
                regex: None,
                format: None,
                text: None,
            }
        } else if let Some(t) = item.as_table_like() {
            let fs = Section {
                table: t,
                path: &path,
                span: span.clone().map(|r| r.start),
                defaults: None,
            };
            self.unknown_keys(fs, FIELD_KEYS);
            let Some((css, css_span)) = self.string(fs, "selector") else {
                self.error(span, &path, "missing `selector`");
                return None;
            };
            let selector = self.selector(&css, css_span, &path)?;
            let regex = match self.string(fs, "regex") {
                None => None,
                Some((re, re_span)) => match regex::Regex::new(&re) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        self.error(
                            re_span,
                            &format!("{path}.regex"),
                            format!("invalid regex: {e}"),
                        );
                        return None;
                    }
                },
            };
            FieldRule {
                selector_text: css,
                selector,
                attr: self.string(fs, "attr").map(|(s, _)| s),
                regex,
                format: self.string(fs, "format").map(|(s, _)| s),
                text: self.string(fs, "text").map(|(s, _)| s),
            }
        } else {
            self.error(
                span,
                &path,
                "must be a CSS selector string or a table { selector, attr, regex, format, text }",
            );
            return None;
        };
        if rule.attr.is_none() {
            rule.attr = default_attr.map(str::to_string);
        }
        Some(rule)
    }

    fn selector(&mut self, css: &str, span: Option<Range<usize>>, path: &str) -> Option<Selector> {
        match Selector::parse(css) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error(span, path, format!("invalid CSS selector `{css}`: {e}"));
                None
            }
        }
    }

    fn feed(&mut self, sect: Section<'_>, sources: &[Arc<SourceConfig>]) -> Option<FeedConfig> {
        self.unknown_keys(sect, FEED_KEYS);
        let path = sect.path;
        let id = self.id(sect)?;
        let title = self
            .string(sect, "title")
            .map(|(s, _)| s)
            .unwrap_or_else(|| id.clone());
        let description = self
            .string(sect, "description")
            .map(|(s, _)| s)
            .unwrap_or_default();
        let limit = self.int(sect, "limit", 1, 10_000).unwrap_or(50) as usize;

        let mut selected: Vec<String> = Vec::new();
        let named = self.strings(sect, "sources");
        let tags = self.strings(sect, "tags");
        for name in named.iter().flatten() {
            if sources.iter().any(|s| &s.id == name) {
                if !selected.contains(name) {
                    selected.push(name.clone());
                }
            } else {
                let span = self.value_span(sect, "sources");
                self.error(
                    span,
                    &format!("{path}.sources"),
                    format!("unknown source `{name}`: no [[source]] has this id"),
                );
            }
        }
        for tag in tags.iter().flatten() {
            let matching: Vec<&Arc<SourceConfig>> =
                sources.iter().filter(|s| s.tags.contains(tag)).collect();
            if matching.is_empty() {
                let span = self.value_span(sect, "tags");
                self.error(
                    span,
                    &format!("{path}.tags"),
                    format!("no source has the tag `{tag}`"),
                );
            }
            for s in matching {
                if !selected.contains(&s.id) {
                    selected.push(s.id.clone());
                }
            }
        }
        if named.is_none() && tags.is_none() {
            // An output that names nothing publishes every source.
            selected = sources.iter().map(|s| s.id.clone()).collect();
        }
        let filter = self.entry_filter(sect);
        let timezone = match self.string(sect, "timezone") {
            Some((text, span)) => text.parse::<Tz>().unwrap_or_else(|_| {
                self.error(
                    span,
                    &format!("{path}.timezone"),
                    format!("unknown time zone `{text}`"),
                );
                Tz::UTC
            }),
            // The page shows times where the first source is.
            None => selected
                .first()
                .and_then(|id| sources.iter().find(|s| &s.id == id))
                .map_or(Tz::UTC, |s| s.timezone),
        };
        let dedup = match self.lookup(sect, "dedup") {
            None => true,
            Some((item, span)) => item.as_bool().unwrap_or_else(|| {
                self.error(span, &format!("{path}.dedup"), "must be true or false");
                true
            }),
        };
        let retention = self.retention(sect);
        Some(FeedConfig {
            id,
            title,
            description,
            sources: selected,
            limit,
            filter,
            timezone,
            dedup,
            retention,
        })
    }

    fn entry_filter(&mut self, sect: Section<'_>) -> EntryFilter {
        let path = sect.path;
        let matchers = |loader: &mut Self, key: &str| -> Vec<Matcher> {
            let list = loader.strings(sect, key).unwrap_or_default();
            let span = loader.value_span(sect, key);
            list.iter()
                .filter_map(|t| match Matcher::parse(t) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        loader.error(span.clone(), &format!("{path}.{key}"), e);
                        None
                    }
                })
                .collect()
        };
        let include = matchers(self, "include");
        let exclude = matchers(self, "exclude");
        let fields = match self.strings(sect, "match") {
            None => vec![
                MatchField::Title,
                MatchField::Content,
                MatchField::Author,
                MatchField::Category,
            ],
            Some(names) => {
                let span = self.value_span(sect, "match");
                names
                    .iter()
                    .filter_map(|n| match n.as_str() {
                        "title" => Some(MatchField::Title),
                        "content" => Some(MatchField::Content),
                        "author" => Some(MatchField::Author),
                        "category" => Some(MatchField::Category),
                        other => {
                            self.error(
                                span.clone(),
                                &format!("{path}.match"),
                                format!("unknown field `{other}`: use title, content, author or category"),
                            );
                            None
                        }
                    })
                    .collect()
            }
        };
        let languages = self
            .strings(sect, "language")
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        let max_age = self.duration(sect, "max_age");
        EntryFilter {
            include,
            exclude,
            fields,
            languages,
            max_age,
        }
    }

    // ---- typed getters ----

    /// The item for `key` in the section, or else in `[defaults]`.
    fn lookup<'d>(&self, sect: Section<'d>, key: &str) -> Option<(&'d Item, Option<Range<usize>>)> {
        let from = |t: &'d dyn TableLike| {
            t.get_key_value(key).map(|(k, item)| {
                let span = item.span().or_else(|| k.span());
                (item, span)
            })
        };
        from(sect.table).or_else(|| sect.defaults.and_then(from))
    }

    fn value_span(&self, sect: Section<'_>, key: &str) -> Option<Range<usize>> {
        self.lookup(sect, key)
            .and_then(|(_, s)| s)
            .or(sect.span.map(|s| s..s))
    }

    fn field_path(sect: Section<'_>, key: &str) -> String {
        if sect.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", sect.path)
        }
    }

    fn string(&mut self, sect: Section<'_>, key: &str) -> Option<(String, Option<Range<usize>>)> {
        let (item, span) = self.lookup(sect, key)?;
        match item.as_str() {
            Some(s) => Some((s.to_string(), span)),
            None => {
                self.error(span, &Self::field_path(sect, key), "must be a string");
                None
            }
        }
    }

    /// A string, or an integer given as-is (sizes and durations accept both).
    fn string_or_int(
        &mut self,
        sect: Section<'_>,
        key: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        let (item, span) = self.lookup(sect, key)?;
        if let Some(i) = item.as_integer() {
            if i < 0 {
                self.error(span, &Self::field_path(sect, key), "must not be negative");
                return None;
            }
            return Some((i.to_string(), span));
        }
        self.string(sect, key)
    }

    fn duration(&mut self, sect: Section<'_>, key: &str) -> Option<Duration> {
        let (text, span) = self.string_or_int(sect, key)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span, &Self::field_path(sect, key), e);
                None
            }
        }
    }

    fn bool(&mut self, sect: Section<'_>, key: &str) -> Option<bool> {
        let (item, span) = self.lookup(sect, key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(span, &Self::field_path(sect, key), "must be true or false");
                None
            }
        }
    }

    fn int(&mut self, sect: Section<'_>, key: &str, min: i64, max: i64) -> Option<i64> {
        let (item, span) = self.lookup(sect, key)?;
        match item.as_integer() {
            Some(i) if (min..=max).contains(&i) => Some(i),
            Some(i) => {
                self.error(
                    span,
                    &Self::field_path(sect, key),
                    format!("{i} is out of range: expected {min} to {max}"),
                );
                None
            }
            None => {
                self.error(span, &Self::field_path(sect, key), "must be an integer");
                None
            }
        }
    }

    fn strings(&mut self, sect: Section<'_>, key: &str) -> Option<Vec<String>> {
        let (item, span) = self.lookup(sect, key)?;
        let path = Self::field_path(sect, key);
        let Some(arr) = item.as_array() else {
            if let Some(s) = item.as_str() {
                return Some(vec![s.to_string()]);
            }
            self.error(span, &path, "must be an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for v in arr.iter() {
            match v {
                Value::String(s) => out.push(s.value().clone()),
                other => self.error(other.span().or(span.clone()), &path, "must be a string"),
            }
        }
        Some(out)
    }

    fn unknown_keys(&mut self, sect: Section<'_>, allowed: &[&str]) {
        for (key, item) in sect.table.iter() {
            if !allowed.contains(&key) {
                let span = sect
                    .table
                    .key(key)
                    .and_then(|k| k.span())
                    .or_else(|| item.span());
                let path = Self::field_path(sect, key);
                let hint = closest(key, allowed)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                self.error(
                    span,
                    &path,
                    format!(
                        "unknown key `{key}`{hint}; allowed here: {}",
                        allowed.join(", ")
                    ),
                );
            }
        }
    }
}

fn default_base_url(listen: std::net::SocketAddr) -> Url {
    // `listen` is a valid socket address, so this URL always parses.
    Url::parse(&format!("http://{listen}"))
        .unwrap_or_else(|_| Url::parse("http://127.0.0.1:8080").expect("constant URL parses"))
}

/// A source URL: http(s) for `feed`/`html`; a path or `file://` URL for `file`.
fn source_url(text: &str, kind: SourceKind, base_dir: &Path) -> Result<Url, String> {
    match kind {
        SourceKind::File => {
            if let Ok(u) = Url::parse(text) {
                if u.scheme() == "file" {
                    return Ok(u);
                }
                if u.scheme().len() > 1 {
                    return Err(format!(
                        "`{text}`: a file source takes a local path or a file:// URL"
                    ));
                }
            }
            let p = PathBuf::from(text);
            let abs = if p.is_absolute() { p } else { base_dir.join(p) };
            let abs = std::path::absolute(&abs).unwrap_or(abs);
            Url::from_file_path(&abs).map_err(|_| format!("`{text}` is not a usable path"))
        }
        SourceKind::Feed | SourceKind::Html => match Url::parse(text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
            Ok(u) if u.scheme() == "file" => Err(format!(
                "`{text}` is a file URL: set `kind = \"file\"` for local files"
            )),
            Ok(_) => Err(format!("`{text}`: only http and https URLs can be fetched")),
            Err(e) => Err(format!(
                "`{text}` is not a valid URL ({e}); for a local file set `kind = \"file\"`"
            )),
        },
    }
}

/// The allowed key closest to a misspelt one, if any is close.
fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Why `value` cannot be sent as an HTTP header value: a control character
/// (a line break would inject a header of its own) or bytes HTTP refuses.
fn header_value_problem(value: &str) -> Option<String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Some(format!(
            "contains the control character {c:?}: a header value must be one line of printable text"
        ));
    }
    reqwest::header::HeaderValue::from_str(value)
        .err()
        .map(|_| "is not a valid HTTP header value".to_string())
}

/// `500ms`, `90s` → `1m30s`, `2h30m`, `3d` for messages.
fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return format!("{}ms", d.as_millis());
    }
    let mut rest = d.as_secs();
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigErrors> {
        load_str(text, Path::new("/etc/huiliu/test.toml"))
    }

    /// A reload compares sources and `[fetch]` by value: the same text is
    /// the same config, a changed selector, regex or limit is a change.
    #[test]
    fn configs_compare_by_what_they_say() {
        let text = r#"
[fetch]
host_delay = "2s"
[[source]]
id = "a"
url = "https://example.org/list.html"
kind = "html"
[source.list]
item = "ul.news li"
link = { selector = "a", attr = "href" }
date = { selector = "span", regex = '(\d{4}-\d{2}-\d{2})' }
"#;
        let (a, b) = (load(text).unwrap(), load(text).unwrap());
        assert_eq!(a.sources[0], b.sources[0]);
        assert_eq!(a.fetch, b.fetch);
        for (from, to) in [
            ("ul.news li", "ul.list li"),
            (r"(\d{4}-\d{2}-\d{2})", r"(\d{4}/\d{2}/\d{2})"),
        ] {
            let changed = load(&text.replace(from, to)).unwrap();
            assert_ne!(a.sources[0], changed.sources[0], "{to}");
        }
        let slower = load(&text.replace("\"2s\"", "\"3s\"")).unwrap();
        assert_ne!(a.fetch, slower.fetch);
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let cfg = load(
            r#"
[[source]]
id = "a"
url = "https://example.org/feed.xml"
"#,
        )
        .unwrap();
        assert_eq!(cfg.sources[0].interval, Duration::from_secs(1800));
        assert_eq!(cfg.sources[0].kind, SourceKind::Feed);
        assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            cfg.storage,
            StorageConfig::Sqlite(PathBuf::from("/etc/huiliu/data/huiliu.db"))
        );
        assert!(cfg.feeds.is_empty());
    }

    #[test]
    fn scale_out_keys() {
        let cfg = load(
            r#"
[server]
node_id = "web-2"
lease = "45s"

[storage]
url = "postgres://huiliu@db.internal/huiliu"
"#,
        )
        .unwrap();
        assert_eq!(cfg.server.node_id, "web-2");
        assert_eq!(cfg.server.lease, Duration::from_secs(45));
        assert_eq!(
            cfg.storage,
            StorageConfig::Postgres("postgres://huiliu@db.internal/huiliu".into())
        );
        let cfg = load("").unwrap();
        assert!(
            cfg.server
                .node_id
                .ends_with(&format!("-{}", std::process::id()))
        );
        assert_eq!(cfg.server.lease, Duration::from_secs(30));
        let err = load("[server]\nnode_id = \"\"\n").unwrap_err().to_string();
        assert!(err.contains("server.node_id"), "{err}");
    }

    #[test]
    fn reports_every_error_with_position() {
        let text = r#"[server]
listen = "nowhere"

[[source]]
id = "a"
url = "not a url"
interval = "0s"
colour = "blue"

[[source]]
id = "a"
url = "https://example.org/rss"

[[feed]]
id = "out"
sources = ["a", "missing"]
"#;
        let errs = load(text).unwrap_err().0;
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        let joined = lines.join("\n");
        assert!(joined.contains("test.toml:2:10: server.listen"), "{joined}");
        assert!(joined.contains("test.toml:6:7: source[1].url"), "{joined}");
        assert!(
            joined.contains("test.toml:7:12: source[1].interval: a zero interval"),
            "{joined}"
        );
        assert!(
            joined.contains("test.toml:8:1: source[1].colour: unknown key"),
            "{joined}"
        );
        assert!(
            joined.contains("test.toml:11:6: source[2].id: duplicate source id `a`"),
            "{joined}"
        );
        assert!(
            joined.contains("test.toml:16:11: feed[1].sources: unknown source `missing`"),
            "{joined}"
        );
        assert_eq!(errs.len(), 6, "{joined}");
    }

    #[test]
    fn politeness_and_adaptive_keys() {
        let cfg = load(
            r#"
[fetch]
host_concurrency = 3
host_delay = "250ms"
host_rate_limit_urls = 5
max_backoff = "6h"
parse_budget = "30s"
proxy = "http://127.0.0.1:3128"

[[host]]
name = "Feeds.Example.org"
max_concurrent = 1
delay = "2s"

[[host]]
name = "*.blogs.example"

[[source]]
id = "a"
url = "https://example.org/rss"
interval = "20m"

[[source]]
id = "b"
url = "https://example.org/rss2"
interval = "1h"
min_interval = "5m"
max_interval = "1d"
"#,
        )
        .unwrap();
        let f = &cfg.fetch;
        assert_eq!(f.host_concurrency, 3);
        assert_eq!(f.host_delay, Duration::from_millis(250));
        assert_eq!(f.host_rate_limit_urls, 5);
        assert_eq!(f.max_backoff, Duration::from_secs(6 * 3600));
        assert_eq!(f.parse_budget, Duration::from_secs(30));
        assert_eq!(load("").unwrap().fetch.parse_budget, crate::budget::DEFAULT);
        assert_eq!(f.proxy.as_ref().unwrap().as_str(), "http://127.0.0.1:3128/");
        assert_eq!(
            f.hosts,
            vec![
                HostConfig {
                    name: "feeds.example.org".into(),
                    max_concurrent: Some(1),
                    delay: Some(Duration::from_secs(2)),
                    ..HostConfig::default()
                },
                HostConfig {
                    name: "*.blogs.example".into(),
                    max_concurrent: None,
                    delay: None,
                    ..HostConfig::default()
                },
            ]
        );
        let a = &cfg.sources[0];
        assert_eq!(a.min_interval, Duration::from_secs(600));
        assert_eq!(a.max_interval, Duration::from_secs(4800));
        let b = &cfg.sources[1];
        assert_eq!(b.min_interval, Duration::from_secs(300));
        assert_eq!(b.max_interval, Duration::from_secs(86400));

        let errs = load(
            r#"
[fetch]
proxy = "not a proxy"
[[host]]
name = "https://example.org/"
[[host]]
max_concurrent = 0
[[source]]
id = "a"
url = "https://example.org/rss"
min_interval = "2h"
max_interval = "1h"
"#,
        )
        .unwrap_err()
        .0;
        let joined = errs
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert!(joined.contains("fetch.proxy"), "{joined}");
        assert!(joined.contains("host[1].name"), "{joined}");
        assert!(joined.contains("host[2].name: missing"), "{joined}");
        assert!(
            joined.contains("source[1].max_interval: max_interval (3600s) is below"),
            "{joined}"
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let errs = load("[server\nlisten = 1").unwrap_err().0;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 1);
    }

    #[test]
    fn defaults_apply_and_tags_select_sources() {
        let cfg = load(
            r#"
[defaults]
interval = "15m"
timezone = "Asia/Shanghai"

[[source]]
id = "a"
url = "https://example.org/a"
tags = ["wujin"]

[[source]]
id = "b"
url = "https://example.org/b"
interval = "1h"

[[feed]]
id = "w"
tags = ["wujin"]
"#,
        )
        .unwrap();
        assert_eq!(cfg.sources[0].interval, Duration::from_secs(900));
        assert_eq!(cfg.sources[1].interval, Duration::from_secs(3600));
        assert_eq!(cfg.sources[0].timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(cfg.feeds[0].sources, vec!["a".to_string()]);
    }

    #[test]
    fn html_source_selectors_compile_at_load() {
        let errs = load(
            r#"
[[source]]
id = "h"
kind = "html"
url = "https://example.org/list.html"
  [source.list]
  item = "div.list >> li"
  link = "a"
"#,
        )
        .unwrap_err()
        .0;
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "source[1].list.item");
        assert_eq!(errs[0].line, 7);
    }

    #[test]
    fn html_politeness_keys() {
        let cfg = load(
            r#"
[defaults]
article_delay = "250ms"
[[source]]
id = "h"
kind = "html"
url = "https://example.org/list.html"
robots = false
refetch_articles = true
  [source.list]
  item = "li"
  link = "a"
  [source.article]
  origin = { selector = "div.info", regex = '来源：\s*(\S+)' }
[[source]]
id = "f"
url = "https://example.org/rss.xml"
"#,
        )
        .unwrap();
        let s = cfg.source("h").unwrap().scrape.as_ref().unwrap();
        assert!(!s.robots && s.refetch_articles && s.fetch_articles);
        assert_eq!(s.article_delay, Duration::from_millis(250));
        assert!(s.article.as_ref().unwrap().origin.is_some());
        assert!(cfg.source("f").unwrap().scrape.is_none());

        let errs = load(
            r#"
[[source]]
id = "f"
url = "https://example.org/rss.xml"
robots = false
[[source]]
id = "h"
kind = "html"
url = "https://example.org/list.html"
robots = "no"
  [source.list]
  item = "li"
  link = "a"
"#,
        )
        .unwrap_err()
        .0;
        let fields: Vec<(&str, usize)> = errs.iter().map(|e| (e.field.as_str(), e.line)).collect();
        assert_eq!(
            fields,
            vec![("source[1].robots", 5), ("source[2].robots", 10)],
            "{errs:?}"
        );
        assert!(errs[1].message.contains("true or false"));
    }

    #[test]
    fn paging_pattern_render_and_a_list_left_to_detection() {
        let cfg = load(
            r#"
[[source]]
id = "a"
kind = "html"
url = "https://example.org/col/index.html"
render = "browser"
  [source.list]
  item = "table.list_table tr"
  link = "td a"
  next_page = { pattern = "index_{n}.html", start = 1 }
[[source]]
id = "b"
kind = "html"
url = "https://example.org/b/"
"#,
        )
        .unwrap();
        let a = cfg.source("a").unwrap().scrape.as_ref().unwrap();
        assert!(a.render_browser);
        let list = a.list.as_ref().unwrap();
        let pattern = list.page_pattern.as_ref().unwrap();
        let first = url::Url::parse("https://example.org/col/index.html").unwrap();
        assert_eq!(
            pattern.page(&first, 1).unwrap().as_str(),
            "https://example.org/col/index_2.html"
        );
        assert!(list.next_page.is_none());
        let b = cfg.source("b").unwrap().scrape.as_ref().unwrap();
        assert!(b.list.is_none() && !b.render_browser);

        let errs = load(
            r#"
[[source]]
id = "a"
kind = "html"
url = "https://example.org/"
render = "chrome"
  [source.list]
  item = "li"
  link = "a"
  next_page = { pattern = "index.html" }
"#,
        )
        .unwrap_err()
        .0;
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["source[1].render", "source[1].list.next_page.pattern"],
            "{errs:?}"
        );
        assert!(errs[1].message.contains("{n}"), "{errs:?}");
    }

    #[test]
    fn misspelt_key_gets_a_hint() {
        let errs = load("[[source]]\nid = \"a\"\nurl = \"https://x.org/\"\nintervall = \"1h\"\n")
            .unwrap_err()
            .0;
        assert!(
            errs[0].message.contains("did you mean `interval`"),
            "{errs:?}"
        );
    }
}
