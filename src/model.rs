//! The common model every stage speaks. No I/O here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Author {
    pub name: String,
    /// A title such as 湖塘镇党委副书记、镇长, from a byline.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

impl Author {
    pub fn named(name: &str) -> Author {
        Author {
            name: name.to_string(),
            ..Author::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub length: Option<u64>,
}

/// A normalized entry, as it leaves the normalize stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable id: derived from the source id and [`Entry::key`], never changes.
    pub id: String,
    pub source_id: String,
    /// What identifies the entry within its source: `guid:…`, `link:…` or `title:…`.
    pub key: String,
    /// The source's own guid/id, if it gave one.
    pub guid: Option<String>,
    /// Canonical absolute URL.
    pub url: Option<String>,
    pub title: String,
    pub authors: Vec<Author>,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    /// Plain text of the content (or summary), for search and dedup.
    pub text: String,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub language: Option<String>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    /// The organisation that first published the report (`来源：新华社`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Hash of what a reader sees; a change means the entry was updated.
    pub content_hash: String,
}

/// An entry as stored, with the times huiliu itself assigned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEntry {
    pub entry: Entry,
    /// When huiliu first saw it; the published time of entries without a date.
    pub first_seen: DateTime<Utc>,
    /// When huiliu last saw its content change (or first saw it).
    pub changed_at: DateTime<Utc>,
    /// Its near-duplicate cluster's label (see [`crate::dedup::service`]);
    /// `None`: a cluster of its own, labelled with its id.
    #[serde(skip)]
    pub cluster: Option<String>,
}

impl StoredEntry {
    /// The label of its cluster: entries with one label are one report.
    pub fn cluster_label(&self) -> &str {
        self.cluster.as_deref().unwrap_or(&self.entry.id)
    }

    /// The date shown to readers: the source's, else the first-seen time.
    pub fn published(&self) -> DateTime<Utc> {
        self.entry.published.unwrap_or(self.first_seen)
    }

    pub fn updated(&self) -> DateTime<Utc> {
        self.entry
            .updated
            .unwrap_or(self.changed_at)
            .max(self.published())
    }
}

/// What happened at the last poll of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PollStatus {
    Ok,
    NotModified,
    Error,
    /// The source answered `410 Gone`: it is not polled again until its
    /// `url` changes in the config.
    Gone,
}

impl PollStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not_modified",
            PollStatus::Error => "error",
            PollStatus::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Option<PollStatus> {
        match s {
            "ok" => Some(PollStatus::Ok),
            "not_modified" => Some(PollStatus::NotModified),
            "error" => Some(PollStatus::Error),
            "gone" => Some(PollStatus::Gone),
            _ => None,
        }
    }
}

/// The per-source state the poller keeps between polls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub source_id: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_status: Option<PollStatus>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_due: Option<DateTime<Utc>>,
    /// A permanent redirect, as "FROM TO": the configured URL it applies
    /// to and where it leads (see [`SourceState::current_url`]).
    pub moved_to: Option<String>,
    /// The kind of the last error (`timeout`, `http_429`, `parse`, … see
    /// `FetchErrorKind::label`); `None` after a success.
    #[serde(default)]
    pub error_kind: Option<String>,
    /// HTTP status of the last answer (after redirects), if there was one.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Set by `410 Gone` to the configured URL that is gone: the source is
    /// disabled while the config still names that URL.
    #[serde(default)]
    pub disabled_url: Option<String>,
    /// The current adaptive interval, in seconds.
    #[serde(default)]
    pub interval_secs: Option<u64>,
    /// The feed's own hint (RSS `<ttl>`, `sy:updatePeriod`), in seconds,
    /// kept for the polls answered 304.
    #[serde(default)]
    pub feed_hint_secs: Option<u64>,
    /// A hash of the entries last seen: a change means the source changed.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// When the source last changed.
    #[serde(default)]
    pub last_change: Option<DateTime<Utc>>,
    /// For `html` sources: what the last scrape found.
    #[serde(default)]
    pub scrape: Option<ScrapeHealth>,
}

/// How well an `html` source's selectors matched at its last poll, for the
/// status page and `huiliu sources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScrapeHealth {
    /// List pages read.
    pub pages: usize,
    /// Elements the `item` selector matched, over all pages.
    pub items: usize,
    /// Items (list fields) or article pages (`article.*` fields) that had each field.
    pub filled: std::collections::BTreeMap<String, usize>,
    /// Article pages fetched, failed, and skipped because already stored.
    pub articles_fetched: usize,
    pub articles_failed: usize,
    pub articles_known: usize,
    /// Article pages robots.txt did not allow.
    pub robots_denied: usize,
    /// Items beyond `fetch.max_entries`, left out.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub items_dropped: usize,
    /// A few of the problems met (failed article fetches, …).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub problems: Vec<String>,
}

impl ScrapeHealth {
    /// One line for `huiliu sources`: `2 pages, 4 items; title 4/4, date 4/4, …`.
    pub fn summary(&self) -> String {
        let mut s = format!("{} page(s), {} item(s)", self.pages, self.items);
        let fields: Vec<String> = self
            .filled
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        if !fields.is_empty() {
            s.push_str("; ");
            s.push_str(&fields.join(", "));
        }
        // Feeds fetch no article pages: no article counts for them.
        let articles = self.articles_fetched + self.articles_failed + self.articles_known;
        if articles + self.robots_denied > 0 || !self.filled.contains_key("entries") {
            s.push_str(&format!(
                "; articles fetched {}, failed {}, known {}",
                self.articles_fetched, self.articles_failed, self.articles_known
            ));
        }
        if self.robots_denied > 0 {
            s.push_str(&format!(", robots-denied {}", self.robots_denied));
        }
        if self.items_dropped > 0 {
            s.push_str(&format!(
                ", {} item(s) beyond fetch.max_entries left out",
                self.items_dropped
            ));
        }
        if let Some(first) = self
            .problems
            .first()
            .filter(|_| self.filled.contains_key("entries"))
        {
            s.push_str(&format!(
                "; {} problem(s), first: {first}",
                self.problems.len()
            ));
        }
        s
    }
}

impl SourceState {
    pub fn new(source_id: &str) -> SourceState {
        SourceState {
            source_id: source_id.to_string(),
            etag: None,
            last_modified: None,
            last_attempt: None,
            last_success: None,
            last_status: None,
            last_error: None,
            consecutive_failures: 0,
            next_due: None,
            moved_to: None,
            scrape: None,
            error_kind: None,
            http_status: None,
            disabled_url: None,
            interval_secs: None,
            feed_hint_secs: None,
            fingerprint: None,
            last_change: None,
        }
    }

    /// The 410 rule: the source answered `410 Gone` at `configured`, its
    /// URL in the config, and is not polled until the config names another.
    pub fn is_gone(&self, configured: &url::Url) -> bool {
        self.disabled_url.as_deref() == Some(configured.as_str())
    }

    /// Where the source is polled: the target of a permanent redirect from
    /// `configured` (`moved_to` is "FROM TO"), else `configured` itself. A
    /// changed config URL forgets an old redirect.
    pub fn current_url(&self, configured: &url::Url) -> url::Url {
        self.moved_to
            .as_deref()
            .and_then(|m| m.split_once(' '))
            .filter(|(from, _)| *from == configured.as_str())
            .and_then(|(_, to)| url::Url::parse(to).ok())
            .unwrap_or_else(|| configured.clone())
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
