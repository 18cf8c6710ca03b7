//! Feed documents → [`ParsedFeed`]. XML dialects go through huiliu's own
//! forgiving reader ([`super::xml`], [`super::xmlfeed`]): feed-rs refused
//! Atom 0.3, versionless `<rss>` and any ill-formed document, and dropped
//! the fields readers show (permalink guids, `dcterms` dates, `xhtml:body`).
//! JSON Feed 1.0/1.1 goes through feed-rs. Dates use our own parser
//! (zone-less and Chinese dates, `CST`); no ids are generated.

use std::sync::OnceLock;

use chrono_tz::Tz;
use feed_rs::model;
use regex::Regex;
use url::Url;

use super::{ParseError, ParsedFeed, RawEntry, Sniffed, sniff};
use crate::model::{Author, Enclosure};
use crate::normalize::dates;

/// Parses decoded feed text fetched from `url`.
pub fn parse_feed(
    text: &str,
    url: &Url,
    timezone: Tz,
    date_formats: &[String],
) -> Result<ParsedFeed, ParseError> {
    match sniff(text) {
        Sniffed::Html => {
            return Err(ParseError::NotAFeed(match autodiscovered_feed(text) {
                Some(href) => format!(
                    "{url} is an HTML page; it announces a feed at `{href}`: use that URL, or `kind = \"html\"` to scrape the page"
                ),
                None => {
                    format!("{url} is an HTML page, not a feed: use `kind = \"html\"` to scrape it")
                }
            }));
        }
        Sniffed::Unknown => {
            return Err(ParseError::NotAFeed(format!(
                "{url}: the body is neither XML nor JSON"
            )));
        }
        Sniffed::Json => return parse_json(text, url, timezone, date_formats),
        Sniffed::Xml => {}
    }
    // A local file's path is no base for a site's links: relative links of a
    // `file` source resolve against the feed's own <link> instead.
    let is_file = url.scheme() == "file";
    let doc = super::xml::read(text).ok_or_else(|| {
        ParseError::Malformed(format!("{url}: no XML element found in the document"))
    })?;
    let (mut feed, format, seen, mut problems) =
        super::xmlfeed::read(&doc.root, (!is_file).then_some(url), timezone, date_formats)
            .ok_or_else(|| {
                ParseError::NotAFeed(format!(
                    "{url}: the root element <{}> is not RSS, RDF, Atom or CDF",
                    doc.root.name
                ))
            })?;
    problems.splice(0..0, doc.problems);
    if seen > 0 && feed.entries.is_empty() {
        return Err(ParseError::Malformed(format!(
            "{url}: {seen} item/entry element(s), none readable ({})",
            problems.join("; ")
        )));
    }
    let site = feed
        .link
        .as_deref()
        .and_then(|l| Url::parse(l).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let base = match (is_file, site) {
        (true, Some(site)) => site,
        _ => url.clone(),
    };
    // What is still relative resolves against the document (or its site).
    for e in &mut feed.entries {
        if let Some(l) = e.link.as_mut() {
            if Url::parse(l).is_err() {
                if let Ok(abs) = base.join(l) {
                    *l = abs.to_string();
                }
            }
        }
        if e.base.as_ref().is_none_or(|b| b.scheme() == "file") {
            e.base = e
                .link
                .as_deref()
                .and_then(|l| Url::parse(l).ok())
                .or_else(|| Some(base.clone()));
        }
    }
    feed.base = Some(base);
    feed.format = format;
    feed.items_seen = seen;
    feed.problems = problems;
    Ok(feed)
}

/// JSON Feed 1.0/1.1 through feed-rs (`http://` version URLs accepted too).
fn parse_json(
    text: &str,
    url: &Url,
    timezone: Tz,
    date_formats: &[String],
) -> Result<ParsedFeed, ParseError> {
    static VERSION: OnceLock<Regex> = OnceLock::new();
    let re = VERSION.get_or_init(|| {
        Regex::new(r#""version"\s*:\s*"http://jsonfeed\.org/"#).expect("valid regex")
    });
    let text = re.replace(text, r#""version":"https://jsonfeed.org/"#);
    let version = if text.contains("jsonfeed.org/version/1.1") {
        "JSON Feed 1.1"
    } else {
        "JSON Feed 1.0"
    };
    let formats = date_formats.to_vec();
    let is_file = url.scheme() == "file";
    let parser = feed_rs::parser::Builder::new()
        .base_uri((!is_file).then_some(url.as_str()))
        // An empty id marks "the source gave none": we derive our own stable id.
        .id_generator(|_, _, _| String::new())
        .timestamp_parser(move |s| dates::parse_feed_date(s, timezone, &formats))
        .sanitize_content(false)
        .build();
    let feed = parser
        .parse(text.as_bytes())
        .map_err(|e| ParseError::Malformed(format!("{url}: {e}")))?;
    let site = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| Url::parse(&l.href).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let base = match (is_file, site) {
        (true, Some(site)) => site,
        _ => url.clone(),
    };
    let mut parsed = convert(feed, &base);
    parsed.format = version.into();
    parsed.items_seen = parsed.entries.len();
    Ok(parsed)
}

/// `base` resolves whatever the parser left relative.
fn convert(feed: model::Feed, base: &Url) -> ParsedFeed {
    // RFC 4287 §4.2.1: an entry without an author takes the feed's.
    let inherit_authors = matches!(
        feed.feed_type,
        model::FeedType::Atom | model::FeedType::JSON
    );
    let feed_authors: Vec<Author> = feed.authors.iter().filter_map(person).collect();
    let entries = feed
        .entries
        .into_iter()
        .map(|e| {
            let mut raw = entry(e, base);
            if raw.authors.is_empty() && inherit_authors {
                raw.authors = feed_authors.clone();
            }
            raw
        })
        .collect();
    ParsedFeed {
        title: feed.title.map(|t| t.content),
        link: feed
            .links
            .iter()
            .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .map(|l| l.href.clone()),
        language: feed.language,
        ttl_minutes: feed.ttl,
        base: Some(base.clone()),
        entries,
        ..ParsedFeed::default()
    }
}

fn entry(e: model::Entry, url: &Url) -> RawEntry {
    let link = e
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| e.links.first())
        .and_then(|l| url.join(&l.href).ok())
        .map(|u| u.to_string());
    // Relative URLs in the content: xml:base, else the entry's page, else the feed.
    let base = e
        .base
        .as_deref()
        .and_then(|b| url.join(b).ok())
        .or_else(|| link.as_deref().and_then(|l| Url::parse(l).ok()))
        .or_else(|| Some(url.clone()));
    let title_is_html = e
        .title
        .as_ref()
        .is_some_and(|t| t.content_type.to_string().contains("html"));
    let summary_html = e.summary.map(text_as_html);
    let content_html = e.content.and_then(|c| {
        let body = c.body?;
        if c.content_type.to_string().starts_with("text/plain") {
            Some(crate::normalize::html::escape(&body))
        } else {
            Some(body)
        }
    });
    let enclosures = e
        .media
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|c| {
            Some(Enclosure {
                url: c.url.as_ref()?.to_string(),
                mime_type: c
                    .content_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "application/octet-stream".into()),
                length: c.size,
            })
        })
        .collect();
    RawEntry {
        guid: Some(e.id).filter(|id| !id.trim().is_empty()),
        link,
        base,
        title: e.title.map(|t| t.content),
        title_is_html,
        summary_html,
        content_html,
        authors: e.authors.iter().filter_map(person).collect(),
        published: e.published,
        updated: e.updated,
        categories: e
            .categories
            .into_iter()
            .map(|c| c.label.unwrap_or(c.term))
            .filter(|c| !c.trim().is_empty())
            .collect(),
        enclosures,
        language: e.language,
        origin: None,
    }
}

/// A feed-rs person; RSS writes `email (Name)` in one string.
fn person(p: &model::Person) -> Option<Author> {
    let raw = p.name.as_deref().unwrap_or("").trim();
    // `(Name)` left over after feed-rs took the e-mail address out.
    let raw = match raw.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) if !inner.contains('(') => inner.trim(),
        _ => raw,
    };
    let (name, email) = match (raw.find('('), raw.ends_with(')')) {
        (Some(open), true) if raw[..open].contains('@') => (
            raw[open + 1..raw.len() - 1].trim().to_string(),
            Some(raw[..open].trim().to_string()),
        ),
        _ if raw.contains('@') && !raw.contains(' ') => (String::new(), Some(raw.to_string())),
        _ => (raw.to_string(), None),
    };
    let email = p.email.clone().or(email);
    let name = if name.is_empty() {
        email.clone().unwrap_or_default()
    } else {
        name
    };
    if name.is_empty() {
        return None;
    }
    Some(Author {
        name,
        role: None,
        email,
        url: p.uri.clone(),
    })
}

fn text_as_html(t: model::Text) -> String {
    if t.content_type.to_string().contains("html") {
        t.content
    } else {
        // RSS descriptions are typed text/plain by feed-rs but usually hold
        // (escaped) HTML; treat markup-looking text as HTML.
        if t.content.contains('<') && t.content.contains('>') {
            t.content
        } else {
            crate::normalize::html::escape(&t.content)
        }
    }
}

/// `<link rel="alternate" type="application/rss+xml" href="…">` on an HTML page.
fn autodiscovered_feed(html: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r#"(?i)<link\b[^>]*type\s*=\s*["']application/(?:rss|atom|feed)\+(?:xml|json)["'][^>]*>"#)
            .expect("valid regex")
    });
    let tag = re.find(html)?.as_str();
    let href = Regex::new(r#"(?i)href\s*=\s*["']([^"']+)["']"#).ok()?;
    Some(href.captures(tag)?.get(1)?.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ParsedFeed {
        let url = Url::parse("http://example.org/feeds/rss.xml").unwrap();
        parse_feed(text, &url, chrono_tz::Asia::Shanghai, &[]).unwrap()
    }

    #[test]
    fn odd_rss_versions_are_accepted() {
        for v in ["2.00", "0.94", "2.0.1"] {
            let feed = parse(&format!(
                "<rss version=\"{v}\"><channel><title>t</title><item><title>a</title><link>http://example.org/a</link></item></channel></rss>"
            ));
            assert_eq!(feed.entries.len(), 1, "version {v}");
        }
    }

    #[test]
    fn missing_guid_stays_missing_and_relative_link_resolves() {
        let feed = parse(
            "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title><link>tzgg/a.html</link></item></channel></rss>",
        );
        assert_eq!(feed.entries[0].guid, None);
        assert_eq!(
            feed.entries[0].link.as_deref(),
            Some("http://example.org/feeds/tzgg/a.html")
        );
    }

    #[test]
    fn atom_entries_inherit_the_feed_author_and_xml_base() {
        let feed = parse(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/news/"><id>x</id><title>t</title><updated>2024-01-01T00:00:00Z</updated>
            <author><name>武进日报</name></author>
            <entry><id>e1</id><title>a</title><link href="2024/a.htm"/><updated>2024-02-27T07:30:00+08:00</updated></entry></feed>"#,
        );
        let e = &feed.entries[0];
        assert_eq!(e.authors[0].name, "武进日报");
        assert_eq!(
            e.link.as_deref(),
            Some("http://example.org/news/2024/a.htm")
        );
        assert!(e.published.is_none());
        assert!(e.updated.is_some());
    }

    #[test]
    fn cst_and_zoneless_dates_use_the_source_zone() {
        let feed = parse(
            "<rss version=\"2.0\"><channel><title>t</title>
            <item><title>a</title><guid>1</guid><pubDate>Mon, 15 Jan 2024 10:00:00 CST</pubDate></item>
            <item><title>b</title><guid>2</guid><pubDate>2024-01-15 10:00:00</pubDate></item>
            <item><title>c</title><guid>3</guid><pubDate>2024年1月15日</pubDate></item>
            </channel></rss>",
        );
        let got: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.published.unwrap().to_rfc3339())
            .collect();
        assert_eq!(
            got,
            [
                "2024-01-15T02:00:00+00:00",
                "2024-01-15T02:00:00+00:00",
                "2024-01-14T16:00:00+00:00"
            ]
        );
    }

    #[test]
    fn json_feed_and_rss_email_authors() {
        let feed = parse(
            r#"{"version":"https://jsonfeed.org/version/1.1","title":"j","authors":[{"name":"Ann"}],"items":[{"id":"1","url":"https://example.org/1","content_html":"<p>x</p>"}]}"#,
        );
        assert_eq!(feed.entries[0].authors[0].name, "Ann");
        let feed = parse(
            "<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid><author>ed@example.org (Ed Smith)</author></item></channel></rss>",
        );
        let a = &feed.entries[0].authors[0];
        assert_eq!(
            (a.name.as_str(), a.email.as_deref()),
            ("Ed Smith", Some("ed@example.org"))
        );
    }

    #[test]
    fn html_page_is_not_a_feed_and_points_at_its_feed() {
        let url = Url::parse("http://example.org/").unwrap();
        let err = parse_feed(
            "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"/rss.xml\"></head></html>",
            &url,
            chrono_tz::UTC,
            &[],
        )
        .unwrap_err();
        assert!(err.to_string().contains("/rss.xml"), "{err}");
        let err = parse_feed("<rss><channel><item>", &url, chrono_tz::UTC, &[]).unwrap_err();
        assert!(matches!(err, ParseError::Malformed(_)), "{err}");
    }
}
