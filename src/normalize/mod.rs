//! Normalize stage: raw entries → the common [`Entry`] model. Pure functions.
//!
//! Order matters: links are resolved first (sanitizing needs the base), the
//! HTML is cleaned (meta lines and bylines read and removed, chrome removed,
//! broken paragraphs joined — [`clean`], the same for every source kind) and
//! sanitized, text is derived from the content, identity from the cleaned
//! fields.

pub mod article;
pub mod clean;
pub mod credits;
pub mod date_forms;
pub mod dates;
pub mod html;
pub mod limits;
pub mod nesting;
pub mod text;
pub mod urls;

use sha2::{Digest, Sha256};
use url::Url;

use crate::config::SourceConfig;
use crate::model::{Author, Enclosure, Entry};
use crate::parse::{ParsedFeed, RawEntry};

/// Normalizes every entry of a parsed document fetched from `doc_url`.
pub fn normalize_feed(parsed: &ParsedFeed, source: &SourceConfig, doc_url: &Url) -> Vec<Entry> {
    let feed_language = parsed.language.as_deref();
    let mut entries: Vec<Entry> = Vec::with_capacity(parsed.entries.len());
    for raw in &parsed.entries {
        if crate::budget::exceeded() {
            // Past the document's time budget: the caller throws this away.
            break;
        }
        entries.push(normalize_entry(raw, source, doc_url, feed_language));
    }
    // A feed listing the same item twice yields it once (the first wins).
    let mut seen = std::collections::HashSet::new();
    entries.retain(|e| seen.insert(e.key.clone()));
    entries
}

pub fn normalize_entry(
    raw: &RawEntry,
    source: &SourceConfig,
    doc_url: &Url,
    feed_language: Option<&str>,
) -> Entry {
    // Sizes are capped before any work is done on a field (limits.rs).
    let base = raw.base.as_ref().unwrap_or(doc_url);
    let url =
        limits::url(raw.link.as_deref().and_then(|l| {
            urls::canonical(limits::head(l, limits::MAX_URL_BYTES + 1), Some(doc_url))
        }));

    // A summary longer than a summary may be (an RSS description holding
    // the whole article) is the body: capped as content, not cut short.
    let (content_html, summary_html) =
        match (raw.content_html.as_deref(), raw.summary_html.as_deref()) {
            (None, Some(s)) if s.len() > limits::MAX_SUMMARY_BYTES => (Some(s), None),
            other => other,
        };
    let cleaned_content = content_html
        .map(|h| clean::clean(limits::head(h, limits::MAX_CONTENT_BYTES), &source.clean));
    let cleaned_summary = summary_html
        .map(|h| clean::clean(limits::head(h, limits::MAX_SUMMARY_BYTES), &source.clean));
    // Past the page's time budget (cleaning stopped early): the caller
    // throws this entry away, so no more parsing is spent on it.
    let over_budget = crate::budget::exceeded();
    let content = cleaned_content
        .as_ref()
        .filter(|_| !over_budget)
        .map(|c| html::sanitize(&c.html, Some(base)))
        .filter(|h| !h.is_empty());
    let summary = cleaned_summary
        .as_ref()
        .filter(|_| !over_budget)
        .map(|c| html::sanitize(&c.html, Some(base)))
        .filter(|h| !h.is_empty() && Some(h) != content.as_ref());
    // What the body said about itself (meta lines, bylines): the content's first.
    let found = cleaned_content
        .into_iter()
        .chain(cleaned_summary)
        .reduce(|mut a, b| {
            a.origin = a.origin.or(b.origin);
            a.published = a.published.or(b.published);
            if a.authors.is_empty() {
                a.authors = b.authors;
            }
            a
        })
        .unwrap_or_default();
    let text = content
        .as_deref()
        .or(summary.as_deref())
        .map(html::to_text)
        .unwrap_or_default();

    let mut title = raw
        .title
        .as_deref()
        .map(|t| limits::head(t, limits::MAX_TITLE_BYTES))
        .map(|t| {
            if raw.title_is_html || t.contains('&') {
                html::inline_text(t)
            } else {
                html::strip_control_chars(&html::collapse_whitespace(t))
            }
        })
        .unwrap_or_default();
    if title.is_empty() {
        // An untitled entry (allowed in RSS) is titled by its first words.
        title = text.lines().next().unwrap_or("").chars().take(60).collect();
    }
    let title = limits::chars(title, limits::MAX_TITLE_CHARS);

    let mut authors: Vec<Author> = raw
        .authors
        .iter()
        .take(limits::MAX_AUTHORS)
        .map(|a| Author {
            name: limits::chars(
                html::strip_control_chars(&html::collapse_whitespace(limits::head(
                    &a.name,
                    limits::MAX_NAME_CHARS * 4,
                ))),
                limits::MAX_NAME_CHARS,
            ),
            role: a
                .role
                .clone()
                .map(|r| limits::chars(r, limits::MAX_NAME_CHARS)),
            email: limits::url(a.email.clone()),
            url: limits::url(
                a.url
                    .as_deref()
                    .and_then(|u| urls::safe_string(u, Some(base))),
            ),
        })
        .filter(|a| !a.name.is_empty())
        .collect();
    merge_found_authors(&mut authors, found.authors);
    if authors.is_empty() && source.clean.bylines {
        // Credits written into the report itself: `（记者邹伟）`, `本报记者 张三`.
        authors = credits::opening_credits(&text);
        if authors.is_empty() {
            authors = credits::closing_credits(&text);
        }
    }
    let origin = raw
        .origin
        .as_deref()
        .or(found.origin.as_deref())
        .map(|o| {
            limits::chars(
                html::strip_control_chars(&html::collapse_whitespace(o)),
                limits::MAX_NAME_CHARS,
            )
        })
        .filter(|o| !o.is_empty());
    let guid = entry_guid(raw);
    // A date no output can write is no date; one far ahead is the
    // source's mistake: undated, the entry shows when it was first seen.
    let now = chrono::Utc::now();
    let updated = limits::date(raw.updated, now);
    let published = limits::date(raw.published, now).or(updated).or_else(|| {
        // A body's `发布时间：` dates an entry its source left undated.
        let found = found.published.as_deref().and_then(|d| {
            dates::parse_date(d, source.timezone, &source.date_formats, now).map(|p| p.utc)
        });
        limits::date(found, now)
    });
    let key = identity_key(guid.as_deref(), url.as_deref(), &title, published);
    let id = stable_id(&source.id, &key);

    let language = source
        .language
        .clone()
        .or_else(|| raw.language.clone())
        .or_else(|| feed_language.map(str::to_string))
        .or_else(|| {
            let sample = limits::head(&text, 8000);
            text::guess_language(&format!("{title} {sample}")).map(str::to_string)
        })
        // A language tag is short (BCP 47 allows 35 characters in practice).
        .map(|l| limits::chars(l.to_ascii_lowercase(), 35));

    let mut entry = Entry {
        id,
        source_id: source.id.clone(),
        key,
        guid,
        url,
        title,
        authors,
        summary,
        content,
        text,
        published,
        updated,
        language,
        categories: raw
            .categories
            .iter()
            .take(limits::MAX_CATEGORIES)
            .map(|c| {
                let c = limits::head(c, limits::MAX_NAME_CHARS * 4);
                limits::chars(html::strip_control_chars(c.trim()), limits::MAX_NAME_CHARS)
            })
            .collect(),
        // Every URL field passes `urls::safe` (only http/https/mailto) and
        // the length caps.
        enclosures: raw
            .enclosures
            .iter()
            .filter(|e| e.url.len() <= limits::MAX_URL_BYTES)
            .take(limits::MAX_ENCLOSURES)
            .filter_map(|e| {
                let url = urls::safe_string(&e.url, Some(base))?;
                Some(Enclosure {
                    url,
                    mime_type: limits::chars(e.mime_type.clone(), limits::MAX_NAME_CHARS),
                    length: e.length,
                })
            })
            .collect(),
        origin,
        content_hash: String::new(),
    };
    entry.content_hash = content_hash(&entry);
    entry
}

/// Adds the authors the body names (meta lines, then bylines with a role)
/// to those the source gave: a name already there only gains its role; the
/// body's names are used when the source gave none (a feed's `<author>` is
/// often the site, not the writer).
fn merge_found_authors(authors: &mut Vec<Author>, found: Vec<Author>) {
    if found.is_empty() {
        return;
    }
    if authors.is_empty() {
        *authors = found;
        return;
    }
    for f in found {
        if let Some(a) = authors.iter_mut().find(|a| a.name == f.name) {
            if a.role.is_none() {
                a.role = f.role;
            }
        }
    }
}

/// The identity key [`normalize_entry`] gives `raw` when it has a guid or a
/// link (`None` otherwise): what a `full_text` source asks the store before
/// fetching an article page.
pub fn link_or_guid_key(raw: &RawEntry, doc_url: &Url) -> Option<String> {
    let guid = entry_guid(raw);
    let url = raw
        .link
        .as_deref()
        .and_then(|l| urls::canonical(l, Some(doc_url)));
    (guid.is_some() || url.is_some())
        .then(|| identity_key(guid.as_deref(), url.as_deref(), "", None))
}

fn entry_guid(raw: &RawEntry) -> Option<String> {
    raw.guid
        .as_deref()
        .map(|g| limits::guid(html::strip_control_chars(g.trim())))
        .filter(|g| !g.is_empty())
}

/// What makes an entry the same entry at the next poll: its guid, else its
/// canonical link, else its title (and date).
pub fn identity_key(
    guid: Option<&str>,
    url: Option<&str>,
    title: &str,
    published: Option<chrono::DateTime<chrono::Utc>>,
) -> String {
    if let Some(g) = guid {
        return format!("guid:{g}");
    }
    if let Some(u) = url {
        return format!("link:{u}");
    }
    match published {
        Some(p) => format!("title:{title}@{}", p.timestamp()),
        None => format!("title:{title}"),
    }
}

/// The entry id: a hash of source id and identity key, so it never changes
/// (and two sources sharing a guid still get different ids).
pub fn stable_id(source_id: &str, key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_id.as_bytes());
    h.update([0]);
    h.update(key.as_bytes());
    hex(&h.finalize()[..16])
}

/// Hash of everything a reader sees; a change is an update.
fn content_hash(e: &Entry) -> String {
    let mut h = Sha256::new();
    for part in [
        e.title.as_str(),
        e.url.as_deref().unwrap_or(""),
        e.summary.as_deref().unwrap_or(""),
        e.content.as_deref().unwrap_or(""),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for a in &e.authors {
        h.update(a.name.as_bytes());
        h.update([1]);
        h.update(a.role.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
    }
    for c in &e.categories {
        h.update(c.as_bytes());
        h.update([2]);
    }
    if let Some(o) = &e.origin {
        h.update([3]);
        h.update(o.as_bytes());
    }
    hex(&h.finalize()[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    // Lower-case, two digits a byte; no formatter per byte (hot: every entry).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;

    fn source() -> SourceConfig {
        SourceConfig::new(
            "wjhtz",
            SourceKind::Feed,
            Url::parse("http://example.org/wjhtz/rss.xml").unwrap(),
        )
    }

    #[test]
    fn double_escaped_description_becomes_clean_text() {
        let raw = RawEntry {
            guid: Some("g1".into()),
            link: Some("http://example.org/a?utm_source=rss#x".into()),
            title: Some("  标题 ".into()),
            summary_html: Some("<p>&nbsp;&nbsp;党员冬训是广大基层党员每年的“必修课”。</p>".into()),
            ..RawEntry::default()
        };
        let url = source().url.clone();
        let e = normalize_entry(&raw, &source(), &url, None);
        assert_eq!(e.text, "党员冬训是广大基层党员每年的“必修课”。");
        assert_eq!(e.url.as_deref(), Some("http://example.org/a"));
        assert_eq!(e.title, "标题");
        assert_eq!(e.key, "guid:g1");
        assert_eq!(e.language.as_deref(), Some("zh"));
        assert_eq!(e.id.len(), 32);
    }

    #[test]
    fn a_local_file_feed_publishes_no_file_urls() {
        // A `kind = "file"` source whose feed gives no link or base: the
        // document's own address is a local path, never a base for links.
        let url = Url::parse("file:///home/ops/feeds/local.xml").unwrap();
        let src = SourceConfig::new("local", SourceKind::File, url.clone());
        let raw = RawEntry {
            guid: Some("g".into()),
            title: Some("t".into()),
            summary_html: Some(r#"<a href="s.html">s</a>"#.into()),
            content_html: Some(
                r#"<p><a href="more.html">more</a> <img src="img/a.png" alt="a"> <a href="https://example.org/x">x</a></p>"#
                    .into(),
            ),
            ..RawEntry::default()
        };
        let e = normalize_entry(&raw, &src, &url, None);
        for body in [e.content.as_deref(), e.summary.as_deref()] {
            let body = body.unwrap_or_default();
            assert!(
                !body.contains("file:") && !body.contains("/home/ops"),
                "{body}"
            );
        }
        let content = e.content.unwrap_or_default();
        assert!(
            content.contains(r#"href="https://example.org/x""#),
            "{content}"
        );
        assert!(content.contains(">more</a>"), "{content}");
        assert_eq!(e.url, None);
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0, 9, 10, 255, 0x5a]), "00090aff5a");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn ids_are_stable_and_per_source() {
        assert_eq!(stable_id("a", "guid:1"), stable_id("a", "guid:1"));
        assert_ne!(stable_id("a", "guid:1"), stable_id("b", "guid:1"));
        assert_eq!(
            identity_key(None, Some("http://x/"), "t", None),
            "link:http://x/"
        );
    }

    #[test]
    fn changed_content_changes_the_hash_only() {
        let url = source().url.clone();
        let mut raw = RawEntry {
            guid: Some("g".into()),
            title: Some("t".into()),
            content_html: Some("<p>one</p>".into()),
            ..RawEntry::default()
        };
        let a = normalize_entry(&raw, &source(), &url, None);
        raw.content_html = Some("<p>two</p>".into());
        let b = normalize_entry(&raw, &source(), &url, None);
        assert_eq!(a.id, b.id);
        assert_ne!(a.content_hash, b.content_hash);
    }
}
