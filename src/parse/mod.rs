//! Parse stage: fetched bytes → [`ParsedFeed`], a format-neutral list of raw
//! entries. Feeds go through feed-rs; the format is sniffed, never configured.

pub mod article_eval;
pub mod cut;
pub mod decode;
pub mod detect;
pub mod extract;
mod feed;
pub mod inspect;
mod one_parse;
pub mod scrape;
pub mod xml;
mod xmlfeed;

use chrono::{DateTime, Utc};
use url::Url;

use crate::model::{Author, Enclosure};

pub use feed::parse_feed;

/// The RSS syndication module's hint (`sy:updatePeriod` hourly/daily/weekly/
/// monthly/yearly, divided by `sy:updateFrequency`, default 1): how often
/// the publisher says the feed changes.
pub fn syndication_period(text: &str) -> Option<std::time::Duration> {
    use std::sync::OnceLock;
    if !text.contains("updatePeriod") {
        return None;
    }
    static PERIOD: OnceLock<regex::Regex> = OnceLock::new();
    static FREQ: OnceLock<regex::Regex> = OnceLock::new();
    let period = PERIOD.get_or_init(|| {
        regex::Regex::new(r"<(?:[A-Za-z0-9_]+:)?updatePeriod\s*>\s*([A-Za-z]+)\s*<").unwrap()
    });
    let freq = FREQ.get_or_init(|| {
        regex::Regex::new(r"<(?:[A-Za-z0-9_]+:)?updateFrequency\s*>\s*([0-9]+)\s*<").unwrap()
    });
    let hours: u64 = match period.captures(text)?[1].to_ascii_lowercase().as_str() {
        "hourly" => 1,
        "daily" => 24,
        "weekly" => 24 * 7,
        "monthly" => 24 * 30,
        "yearly" => 24 * 365,
        _ => return None,
    };
    let n: u64 = freq
        .captures(text)
        .and_then(|c| c[1].parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    Some(std::time::Duration::from_secs(hours * 3600 / n))
}

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
    /// The dialect read (`RSS 2.0`, `Atom 0.3`, `JSON Feed 1.1`, …).
    pub format: String,
    /// `item`/`entry` elements found, read or not.
    pub items_seen: usize,
    /// What was repaired or skipped (recovered XML, entries without
    /// anything readable, dates not understood): the source's health shows it.
    pub problems: Vec<String>,
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
    /// The organisation that first published it (`来源：`), when the
    /// source says so (scraped pages, article pages of `full_text` feeds).
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
    if head.contains("<rss")
        || head.contains("<feed")
        || head.contains("<rdf:rdf")
        || head.contains("<channel")
    {
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
