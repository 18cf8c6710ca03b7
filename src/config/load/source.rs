//! `[[source]]` tables (with `[defaults]`), their `[source.list]`,
//! `[source.article]` and `[source.clean]` tables, and the keys each accepts.

use super::*;

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

impl Loader<'_> {
    pub(super) fn source(
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
        let scrape = self.scrape(sect, kind);
        let full_text = self.full_text(sect, kind).map(Box::new);
        let clean = self.clean_steps(sect);
        let retention = self.retention(sect);
        let reading = match kind {
            // No rules: they were invalid, and the errors are recorded.
            SourceKind::Html => Reading::Html(Box::new(scrape?)),
            SourceKind::Feed | SourceKind::File => Reading::Feed {
                local: kind == SourceKind::File,
                full_text,
            },
        };

        Some(SourceConfig {
            id,
            name,
            url: url?,
            reading,
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
            clean,
            retention,
        })
    }

    /// Poll intervals between a floor (`[[host]] min_interval`, else
    /// [`MIN_POLL_INTERVAL`]; [`MIN_FILE_INTERVAL`] for files) and
    /// [`MAX_POLL_INTERVAL`]. Zero is reported by the caller.
    pub(super) fn interval_limits(
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

    pub(super) fn id(&mut self, sect: Section<'_>) -> Option<String> {
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

    pub(super) fn headers(&mut self, sect: Section<'_>) -> Vec<(String, String)> {
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

    pub(super) fn scrape(&mut self, sect: Section<'_>, kind: SourceKind) -> Option<ScrapeConfig> {
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
        let d = ScrapeConfig::default();
        let max_pages = self
            .int(sect, "max_pages", 1, 1000)
            .map_or(d.max_pages, |n| n as usize);
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
            fetch_articles: self
                .bool(sect, "fetch_articles")
                .unwrap_or(d.fetch_articles),
            refetch_articles: self
                .bool(sect, "refetch_articles")
                .unwrap_or(d.refetch_articles),
            robots: self.bool(sect, "robots").unwrap_or(d.robots),
            article_delay: self
                .duration(sect, "article_delay")
                .unwrap_or(d.article_delay),
            render_browser: self.render(sect),
        })
    }

    /// `[source.article]`: `Some(None)` when absent, `None` when invalid.
    pub(super) fn article_rules(&mut self, sect: Section<'_>) -> Option<Option<ArticleRules>> {
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
    pub(super) fn full_text(
        &mut self,
        sect: Section<'_>,
        kind: SourceKind,
    ) -> Option<FullTextConfig> {
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
        // The same defaults as an html source's article pages.
        let d = ScrapeConfig::default();
        Some(FullTextConfig {
            article,
            robots: self.bool(sect, "robots").unwrap_or(d.robots),
            article_delay: self
                .duration(sect, "article_delay")
                .unwrap_or(d.article_delay),
        })
    }

    /// `render = "http"` (default) or `"browser"` (headless Chromium).
    pub(super) fn render(&mut self, sect: Section<'_>) -> bool {
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

    pub(super) fn list_rules(&mut self, list_item: &Item, path: &str) -> Option<ListRules> {
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
    pub(super) fn next_page(
        &mut self,
        list: Section<'_>,
    ) -> (Option<FieldRule>, Option<PagePattern>) {
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
    pub(super) fn clean_steps(&mut self, sect: Section<'_>) -> CleanSteps {
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

    pub(super) fn sub_section<'d>(&mut self, item: &'d Item, path: &'d str) -> Option<Section<'d>> {
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
    pub(super) fn field(
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

    pub(super) fn selector(
        &mut self,
        css: &str,
        span: Option<Range<usize>>,
        path: &str,
    ) -> Option<Selector> {
        match Selector::parse(css) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error(span, path, format!("invalid CSS selector `{css}`: {e}"));
                None
            }
        }
    }
}

/// A source URL: http(s) for `feed`/`html`; a path or `file://` URL for `file`.
pub(super) fn source_url(text: &str, kind: SourceKind, base_dir: &Path) -> Result<Url, String> {
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
