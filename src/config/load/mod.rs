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

mod feed;
mod service;
mod source;

// The key lists, for the test that `docs/config.md` covers them.
pub(crate) use source::SOURCE_KEYS;
#[cfg(test)]
pub(crate) use {feed::*, service::*, source::*};

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
// cover each one: a test checks); each section's list is beside its reader.
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

impl<'a> Loader<'a> {
    pub(super) fn error(
        &mut self,
        span: Option<Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) {
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
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    pub(super) fn config(
        &mut self,
        root: &toml_edit::Table,
        path: &Path,
        base_dir: &Path,
    ) -> Config {
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
            by_id: Config::index_sources(&sources),
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

    /// `retention_days` / `retention_count` of a source, output or `[defaults]`.
    pub(super) fn retention(&mut self, sect: Section<'_>) -> Retention {
        Retention {
            days: self
                .int(sect, "retention_days", 1, 365_000)
                .map(|n| n as u32),
            count: self
                .int(sect, "retention_count", 1, 100_000_000)
                .map(|n| n as usize),
        }
    }

    pub(super) fn tables_array<'d>(
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

    pub(super) fn section<'d>(
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

    /// The item for `key` in the section, or else in `[defaults]`.
    pub(super) fn lookup<'d>(
        &self,
        sect: Section<'d>,
        key: &str,
    ) -> Option<(&'d Item, Option<Range<usize>>)> {
        let from = |t: &'d dyn TableLike| {
            t.get_key_value(key).map(|(k, item)| {
                let span = item.span().or_else(|| k.span());
                (item, span)
            })
        };
        from(sect.table).or_else(|| sect.defaults.and_then(from))
    }

    pub(super) fn value_span(&self, sect: Section<'_>, key: &str) -> Option<Range<usize>> {
        self.lookup(sect, key)
            .and_then(|(_, s)| s)
            .or(sect.span.map(|s| s..s))
    }

    pub(super) fn field_path(sect: Section<'_>, key: &str) -> String {
        if sect.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", sect.path)
        }
    }

    pub(super) fn string(
        &mut self,
        sect: Section<'_>,
        key: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
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
    pub(super) fn string_or_int(
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

    pub(super) fn duration(&mut self, sect: Section<'_>, key: &str) -> Option<Duration> {
        let (text, span) = self.string_or_int(sect, key)?;
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(span, &Self::field_path(sect, key), e);
                None
            }
        }
    }

    pub(super) fn bool(&mut self, sect: Section<'_>, key: &str) -> Option<bool> {
        let (item, span) = self.lookup(sect, key)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => {
                self.error(span, &Self::field_path(sect, key), "must be true or false");
                None
            }
        }
    }

    pub(super) fn int(&mut self, sect: Section<'_>, key: &str, min: i64, max: i64) -> Option<i64> {
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

    pub(super) fn strings(&mut self, sect: Section<'_>, key: &str) -> Option<Vec<String>> {
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

    pub(super) fn unknown_keys(&mut self, sect: Section<'_>, allowed: &[&str]) {
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

/// The allowed key closest to a misspelt one, if any is close.
pub(super) fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, a)| a)
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
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

/// `500ms`, `90s` → `1m30s`, `2h30m`, `3d` for messages.
pub(super) fn human(d: Duration) -> String {
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

/// Why `value` cannot be sent as an HTTP header value: a control character
/// (a line break would inject a header of its own) or bytes HTTP refuses.
pub(super) fn header_value_problem(value: &str) -> Option<String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Some(format!(
            "contains the control character {c:?}: a header value must be one line of printable text"
        ));
    }
    reqwest::header::HeaderValue::from_str(value)
        .err()
        .map(|_| "is not a valid HTTP header value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigErrors> {
        load_str(text, Path::new("/etc/huiliu/test.toml"))
    }

    /// `Config::source` answers from its index, and still right after the
    /// list was changed in place.
    #[test]
    fn sources_are_found_by_id() {
        let text: String = (0..50)
            .map(|i| format!("[[source]]\nid = \"s{i}\"\nurl = \"https://example.org/{i}.xml\"\n"))
            .collect();
        let mut cfg = load(&text).unwrap();
        assert_eq!(cfg.source("s37").map(|s| s.url.path()), Some("/37.xml"));
        assert!(cfg.source("s50").is_none());
        cfg.sources.remove(0);
        assert_eq!(cfg.source("s37").map(|s| s.url.path()), Some("/37.xml"));
        assert!(cfg.source("s0").is_none());
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
        assert_eq!(cfg.sources[0].kind(), SourceKind::Feed);
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
        let s = cfg.source("h").unwrap().scrape().unwrap();
        assert!(!s.robots && s.refetch_articles && s.fetch_articles);
        assert_eq!(s.article_delay, Duration::from_millis(250));
        assert!(s.article.as_ref().unwrap().origin.is_some());
        assert!(cfg.source("f").unwrap().scrape().is_none());

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
        let a = cfg.source("a").unwrap().scrape().unwrap();
        assert!(a.render_browser);
        let list = a.list.as_ref().unwrap();
        let pattern = list.page_pattern.as_ref().unwrap();
        let first = url::Url::parse("https://example.org/col/index.html").unwrap();
        assert_eq!(
            pattern.page(&first, 1).unwrap().as_str(),
            "https://example.org/col/index_2.html"
        );
        assert!(list.next_page.is_none());
        let b = cfg.source("b").unwrap().scrape().unwrap();
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
