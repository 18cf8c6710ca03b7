//! Publish stage: stored entries → a [`FeedDoc`] → RSS 2.0, Atom 1.0 and
//! JSON Feed 1.1 bytes. Pure functions; serving and caching are elsewhere.

mod atom;
pub mod html;
mod json;
pub mod opml;
pub mod page;
mod rss;
pub mod select;

use chrono::{DateTime, Utc};
use url::Url;

use crate::config::{Config, FeedConfig};
use crate::model::{Author, Enclosure, StoredEntry};
use crate::normalize::urls::is_publishable;

/// The output formats of every feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// The namespace of huiliu's own elements: `huiliu:also_at` (other copies
/// of a report) and `huiliu:origin` (who first published it, `来源：`).
pub const NAMESPACE: &str = "https://huiliu.dev/ns/1.0";

/// A published feed, format-neutral.
#[derive(Debug, Clone)]
pub struct FeedDoc {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The page that shows the feed to people (the server's index).
    pub home_url: String,
    pub base_url: String,
    pub updated: DateTime<Utc>,
    pub items: Vec<Item>,
    /// 1-based page of the feed; page 1 is the newest (RFC 5005 paging).
    pub page: usize,
    pub has_next: bool,
    /// WebSub hub to announce.
    pub hub: Option<String>,
    /// Local time zone of the HTML page.
    pub timezone: chrono_tz::Tz,
}

impl FeedDoc {
    /// The self link of the feed's first page in `format`.
    pub fn url_of(&self, format: Format) -> String {
        format!("{}/feeds/{}.{}", self.base_url, self.id, format.extension())
    }

    /// The link to `page` in `format` (page 1 has no query).
    pub fn page_url(&self, format: Format, page: usize) -> String {
        if page <= 1 {
            self.url_of(format)
        } else {
            format!("{}?page={page}", self.url_of(format))
        }
    }

    /// The HTML page of this feed.
    pub fn html_url(&self, page: usize) -> String {
        let base = format!("{}/feeds/{}.html", self.base_url, self.id);
        if page <= 1 {
            base
        } else {
            format!("{base}?page={page}")
        }
    }

    /// RFC 5005 links of this page: (rel, page).
    pub fn paging_links(&self) -> Vec<(&'static str, usize)> {
        let mut links = vec![("first", 1)];
        if self.page > 1 {
            links.push(("previous", self.page - 1));
        }
        if self.has_next {
            links.push(("next", self.page + 1));
        }
        links
    }
}

/// Where an item came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSource {
    pub id: String,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct Item {
    /// `urn:uuid:…` derived from the stable entry id.
    pub id: String,
    pub url: Option<String>,
    pub title: String,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub authors: Vec<Author>,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub text: String,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    pub language: Option<String>,
    pub source: ItemSource,
    /// Other copies of the same report (near-duplicates from other sources).
    pub also_at: Vec<ItemSource>,
    /// The organisation that first published the report (`来源：`).
    pub origin: Option<String>,
}

/// One item of a merged feed (one report, however many sources carried
/// it): the copy shown and the other copies.
#[derive(Debug, Clone)]
pub struct MergedItem {
    /// The representative (its title, link and content are shown).
    pub shown: StoredEntry,
    /// The entry id the item is published under (stable as copies arrive).
    pub id: String,
    pub copies: Vec<StoredEntry>,
}

/// Builds page `page` of one output from its reports (newest first,
/// already filtered and paged).
pub fn build(
    config: &Config,
    feed: &FeedConfig,
    reports: &[MergedItem],
    page: usize,
    has_next: bool,
) -> FeedDoc {
    let base_url = config
        .server
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let source_of = |e: &StoredEntry| {
        let source = config.source(&e.entry.source_id);
        ItemSource {
            id: e.entry.source_id.clone(),
            name: source.map_or_else(|| e.entry.source_id.clone(), |s| s.name.clone()),
            url: source.map_or_else(String::new, |s| public_source_url(&s.url)),
        }
    };
    let items: Vec<Item> = reports
        .iter()
        .filter(|report| writable(&report.shown))
        .map(|report| {
            let stored = &report.shown;
            let e = &stored.entry;
            let source = config.source(&e.source_id);
            Item {
                id: entry_urn(&report.id),
                url: publishable(e.url.as_ref()),
                title: e.title.clone(),
                published: stored.published(),
                updated: stored.updated(),
                authors: e
                    .authors
                    .iter()
                    .map(|a| Author {
                        url: publishable(a.url.as_ref()),
                        ..a.clone()
                    })
                    .collect(),
                summary_html: e.summary.clone(),
                content_html: e.content.clone(),
                text: e.text.clone(),
                categories: e.categories.clone(),
                enclosures: e
                    .enclosures
                    .iter()
                    .filter(|x| is_publishable(&x.url))
                    .cloned()
                    .collect(),
                language: e.language.clone(),
                origin: e.origin.clone(),
                source: ItemSource {
                    id: e.source_id.clone(),
                    name: source.map_or_else(|| e.source_id.clone(), |s| s.name.clone()),
                    url: source.map_or_else(String::new, |s| public_source_url(&s.url)),
                },
                also_at: report
                    .copies
                    .iter()
                    .map(|c| ItemSource {
                        url: publishable(c.entry.url.as_ref()).unwrap_or_default(),
                        ..source_of(c)
                    })
                    .collect(),
            }
        })
        .collect();
    let updated = items
        .iter()
        .map(|i| i.updated)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    FeedDoc {
        id: feed.id.clone(),
        title: feed.title.clone(),
        description: if feed.description.is_empty() {
            format!("{} (merged by huiliu)", feed.title)
        } else {
            feed.description.clone()
        },
        home_url: format!("{base_url}/"),
        base_url,
        updated,
        items,
        page: page.max(1),
        has_next,
        hub: config.server.websub_hub.as_ref().map(|u| u.to_string()),
        timezone: feed.timezone,
    }
}

/// Whether every format can write the entry's dates. Normalizing keeps such
/// dates out; a row stored before that (or edited by hand) is left out of
/// the output and logged, never a failed response for every subscriber.
fn writable(e: &StoredEntry) -> bool {
    use crate::normalize::limits::writable;
    let ok = writable(e.published()) && writable(e.updated());
    if !ok {
        tracing::warn!(entry = %e.entry.id, source = %e.entry.source_id,
            published = ?e.entry.published, updated = ?e.entry.updated,
            "stored entry with a date no feed format can write: left out of the output");
    }
    ok
}

/// A local file path is nobody else's business: file sources show no URL;
/// others show their URL without its secrets.
fn public_source_url(url: &Url) -> String {
    if url.scheme() == "file" {
        String::new()
    } else {
        crate::redact::url(url)
    }
}

/// The guard at output: a stored URL that is not absolute http/https/mailto
/// (a row stored before the normalize stage checked it) is left out.
fn publishable(url: Option<&String>) -> Option<String> {
    url.filter(|u| is_publishable(u)).cloned()
}

/// `urn:uuid:` form of a 32-hex-digit entry id: a valid, globally unique IRI.
pub fn entry_urn(id: &str) -> String {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &id[0..8],
            &id[8..12],
            &id[12..16],
            &id[16..20],
            &id[20..32]
        )
    } else {
        format!("urn:huiliu:entry:{id}")
    }
}

/// Serializes a document as a feed.
pub fn render(doc: &FeedDoc, format: Format) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(doc),
        Format::Atom => atom::render(doc),
        Format::Json => json::render(doc),
    }
}

/// "Name (role)" for formats that have one string per author.
fn author_label(a: &Author) -> String {
    match &a.role {
        Some(role) => format!("{} ({role})", a.name),
        None => a.name.clone(),
    }
}

pub(crate) use crate::normalize::html::escape;
