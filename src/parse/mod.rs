//! Parse stage: fetched bytes → [`ParsedFeed`], a format-neutral list of raw
//! entries. Feeds go through feed-rs; the format is sniffed, never configured.

pub mod decode;
mod feed;
pub mod scrape;

use chrono::{DateTime, Utc};
use url::Url;

use crate::model::{Author, Enclosure};

pub use feed::parse_feed;

/// What a source published, before normalization.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub link: Option<String>,
    pub language: Option<String>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// What relative links resolve against (the document URL, or for a
    /// local file the site it describes).
    pub base: Option<Url>,
    pub entries: Vec<RawEntry>,
}

/// One entry as the source wrote it (links already resolved against
/// `xml:base` / the document URL by the parser).
#[derive(Debug, Clone, Default)]
pub struct RawEntry {
    pub guid: Option<String>,
    pub link: Option<String>,
    /// Base for relative URLs inside the content.
    pub base: Option<Url>,
    pub title: Option<String>,
    /// `title` holds HTML (Atom `type="html"`), not plain text.
    pub title_is_html: bool,
    pub summary_html: Option<String>,
    pub content_html: Option<String>,
    pub authors: Vec<Author>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    pub language: Option<String>,
    /// Scraped pages: the organisation that first published it (`来源：`).
    /// Shown by `huiliu scrape`; not stored yet.
    pub origin: Option<String>,
}

/// Why a document could not be read; the source records it and backs off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    NotAFeed(String),
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// What kind of document the text looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Xml,
    Json,
    Html,
    Unknown,
}

pub fn sniff(text: &str) -> Sniffed {
    let head: String = text
        .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n'])
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    if head.starts_with('{') {
        return Sniffed::Json;
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Sniffed::Html;
    }
    if head.contains("<rss") || head.contains("<feed") || head.contains("<rdf:rdf") {
        return Sniffed::Xml;
    }
    if head.contains("<html") || head.contains("<head") || head.contains("<body") {
        return Sniffed::Html;
    }
    if head.starts_with('<') {
        return Sniffed::Xml;
    }
    Sniffed::Unknown
}
