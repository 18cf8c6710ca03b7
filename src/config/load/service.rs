//! The service's own sections: `[server]`, `[storage]`, `[fetch]`,
//! `[[host]]`, `[retention]` and `[dedup]`, each with the keys it accepts.

use super::*;

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
    "threads",
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

impl Loader<'_> {
    /// `[dedup]`: the thresholds of near-duplicate detection.
    pub(super) fn dedup(&mut self, root: &toml_edit::Table) -> crate::dedup::DedupConfig {
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
        if let Some(n) = self.int(sect, "threads", 0, 256) {
            cfg.threads = n as usize;
        }
        cfg
    }

    /// A number from 0 to 1.
    pub(super) fn fraction(&mut self, sect: Section<'_>, key: &str) -> Option<f64> {
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

    /// The `[retention]` table: how the background pruning runs.
    pub(super) fn retention_section(&mut self, root: &toml_edit::Table) -> RetentionConfig {
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

    pub(super) fn server(&mut self, root: &toml_edit::Table) -> ServerConfig {
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

    pub(super) fn storage(&mut self, root: &toml_edit::Table, base_dir: &Path) -> StorageConfig {
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

    pub(super) fn fetch(&mut self, root: &toml_edit::Table) -> FetchConfig {
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
    pub(super) fn hosts(&mut self, root: &toml_edit::Table) -> Vec<HostConfig> {
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
}

pub(super) fn default_base_url(listen: std::net::SocketAddr) -> Url {
    // `listen` is a valid socket address, so this URL always parses.
    Url::parse(&format!("http://{listen}"))
        .unwrap_or_else(|_| Url::parse("http://127.0.0.1:8080").expect("constant URL parses"))
}
