//! XML feeds of every dialect a mature reader accepts, read from the
//! forgiving tree of [`super::xml`]: RSS 0.90–2.0 (with or without a
//! `version`, in the Userland namespace), RSS 1.0/RDF, Atom 0.3 and 1.0,
//! CDF. Elements are matched by namespace, so any prefix works; the
//! field preferences follow what readers show (see `link`, `dates`).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use url::Url;

use super::xml::{Element, Node, repair_c1};
use super::{ParsedFeed, RawEntry};
use crate::model::{Author, Enclosure};
use crate::normalize::dates;

/// Namespaces read as the feed's own vocabulary (prefix "").
const CORE: &[&str] = &[
    "",
    "http://backend.userland.com/rss",
    "http://backend.userland.com/rss2",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://purl.org/rss/1.0/",
    "http://my.netscape.com/rdf/simple/0.9/",
    "http://channel.netscape.com/rdf/simple/0.9/",
    "http://purl.org/net/rss1.1#",
    "http://www.w3.org/2005/Atom",
    "http://purl.org/atom/ns#",
    "http://purl.org/atom/ns#draft-ietf-atompub-format-07",
    // Atom before 0.3 ("Echo", "Pie", "Necho").
    "http://purl.org/echo/",
    "http://purl.org/pie/",
    "http://example.com/necho",
    "http://www.w3.org/2000/08/w3c-synd/#",
    "http://example.com/newformat#",
];

/// Other namespaces by the prefix this module calls them.
const KNOWN: &[(&str, &str)] = &[
    ("http://purl.org/dc/elements/1.1/", "dc"),
    ("http://purl.org/dc/elements/1.0/", "dc"),
    ("http://purl.org/dc/terms/", "dcterms"),
    ("http://purl.org/rss/1.0/modules/content/", "content"),
    ("http://www.w3.org/1999/xhtml", "xhtml"),
    ("http://www.itunes.com/dtds/podcast-1.0.dtd", "itunes"),
    ("http://example.com/DTDs/PodCast-1.0.dtd", "itunes"),
    ("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdf"),
    ("http://search.yahoo.com/mrss/", "media"),
    ("http://search.yahoo.com/mrss", "media"),
    ("http://wellformedweb.org/CommentAPI/", "wfw"),
];

/// The dialect read, for `huiliu parse` and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Rss,
    Rdf,
    Atom,
    Cdf,
}

/// Where an element belongs: "" for the feed's own vocabulary, else a
/// known prefix, else the namespace itself.
fn prefix(e: &Element) -> &str {
    prefix_of(&e.ns)
}

fn prefix_of(ns: &str) -> &str {
    // Publishers vary the case of namespace URIs (`…/DTDs/Podcast-1.0.dtd`).
    if CORE.iter().any(|c| c.eq_ignore_ascii_case(ns)) {
        return "";
    }
    KNOWN
        .iter()
        .find(|(uri, _)| uri.eq_ignore_ascii_case(ns))
        .map_or(ns, |(_, p)| p)
}

fn is(e: &Element, pfx: &str, local: &str) -> bool {
    prefix(e) == pfx && e.local.eq_ignore_ascii_case(local)
}

fn child<'a>(e: &'a Element, pfx: &str, local: &str) -> Option<&'a Element> {
    e.elements().find(|c| is(c, pfx, local))
}

fn child_text(e: &Element, pfx: &str, local: &str) -> Option<String> {
    let t = clean(&child(e, pfx, local)?.text());
    (!t.is_empty()).then_some(t)
}

fn clean(t: &str) -> String {
    repair_c1(t.trim()).into_owned()
}

/// Reads the feed rooted at `root`; `None` when it is no feed dialect.
/// `base` is what relative links resolve against before any `xml:base`.
pub fn read(
    root: &Element,
    base: Option<&Url>,
    timezone: Tz,
    date_formats: &[String],
) -> Option<(ParsedFeed, String, usize, Vec<String>)> {
    let name = root.local.to_ascii_lowercase();
    let (dialect, version) = match name.as_str() {
        "rss" => (
            Dialect::Rss,
            match root.attr("version") {
                Some(v) if !v.trim().is_empty() => format!("RSS {}", v.trim()),
                _ if root.ns.contains("userland") => "RSS 2.0 (Userland namespace)".into(),
                _ => "RSS (no version)".into(),
            },
        ),
        "rdf" => {
            let v = if root
                .elements()
                .any(|c| c.ns.contains("netscape.com/rdf/simple/0.9"))
            {
                "RSS 0.90"
            } else {
                "RSS 1.0"
            };
            (Dialect::Rdf, v.into())
        }
        "feed" | "entry" => {
            let v = if root.ns == "http://www.w3.org/2005/Atom" {
                "Atom 1.0"
            } else if root.ns.starts_with("http://purl.org/atom/ns#") {
                "Atom 0.3"
            } else {
                "Atom (no namespace)"
            };
            (Dialect::Atom, v.into())
        }
        "channel" => (Dialect::Cdf, "CDF".into()),
        _ => return None,
    };
    let ctx = Ctx {
        timezone,
        date_formats,
        atom: dialect == Dialect::Atom,
    };
    let channel = match dialect {
        Dialect::Rss | Dialect::Rdf => child(root, "", "channel").unwrap_or(root),
        Dialect::Atom | Dialect::Cdf => root,
    };
    // CDF writes its base as `BASE=`.
    let root_base = join(
        base,
        root.attr("xml:base").or_else(|| {
            (dialect == Dialect::Cdf)
                .then(|| root.attr("base"))
                .flatten()
        }),
    );
    let channel_base = if std::ptr::eq(channel, root) {
        root_base.clone()
    } else {
        join(root_base.as_ref(), channel.attr("xml:base"))
    };
    let feed_link = links(channel, channel_base.as_ref()).or_else(|| {
        // CDF: the channel's own HREF.
        channel
            .attr("href")
            .and_then(|h| resolve(channel_base.as_ref(), h))
    });
    let feed_authors = authors(channel);
    let mut items = Vec::new();
    if name == "entry" {
        items.push((root, root_base.clone()));
    } else {
        collect_items(root, root_base.as_ref(), &mut items);
    }
    let seen = items.len();
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    for (i, (item, item_base)) in items.into_iter().enumerate() {
        let mut raw = entry(item, item_base.as_ref(), &ctx, &mut problems, i + 1);
        // An entry is whatever the publisher put in an item, as other readers
        // count it; only an empty one (`<item></item>`) is skipped.
        let readable = item.has_element_children()
            || !item.text().trim().is_empty()
            || item.attrs.iter().any(|a| !a.name.starts_with("xmlns"));
        if readable {
            if raw.authors.is_empty() && ctx.atom {
                // RFC 4287 §4.2.1: an entry without an author takes the feed's.
                raw.authors = feed_authors.clone();
            }
            entries.push(raw);
        } else {
            problems.push(format!("entry {}: empty: skipped", i + 1));
        }
    }
    let language = child_text(channel, "", "language")
        .or_else(|| child_text(channel, "dc", "language"))
        .or_else(|| root.attr("xml:lang").map(str::to_string))
        .and_then(|l| language_tag(&l));
    let feed = ParsedFeed {
        // The feed's name is shown as text: markup in it is dropped.
        title: child(channel, "", "title")
            .or_else(|| child(channel, "dc", "title"))
            .map(|t| match text_construct(t) {
                (html, true) => crate::normalize::html::inline_text(&html),
                (text, false) => text,
            }),
        link: feed_link,
        language,
        ttl_minutes: child_text(channel, "", "ttl").and_then(|t| t.parse().ok()),
        base: channel_base,
        entries,
        ..ParsedFeed::default()
    };
    Some((feed, version, seen, problems))
}

struct Ctx<'a> {
    timezone: Tz,
    date_formats: &'a [String],
    atom: bool,
}

/// Entries wherever they are (RSS 1.0 puts them beside the channel; a
/// broken document may nest them), with the `xml:base` in effect.
fn collect_items<'a>(
    e: &'a Element,
    base: Option<&Url>,
    out: &mut Vec<(&'a Element, Option<Url>)>,
) {
    for c in e.elements() {
        if !prefix(c).is_empty() {
            continue;
        }
        let local = c.local.to_ascii_lowercase();
        let base = join(base, c.attr("xml:base"));
        if local == "item" || local == "entry" {
            out.push((c, base.clone()));
        }
        if !matches!(
            local.as_str(),
            "content" | "summary" | "description" | "title" | "source" | "author"
        ) {
            collect_items(c, base.as_ref(), out);
        }
    }
}

fn join(base: Option<&Url>, href: Option<&str>) -> Option<Url> {
    match (base, href.map(str::trim).filter(|h| !h.is_empty())) {
        (Some(b), Some(h)) => b.join(h).ok().or_else(|| Some(b.clone())),
        (None, Some(h)) => Url::parse(h).ok(),
        (b, None) => b.cloned(),
    }
}

fn resolve(base: Option<&Url>, href: &str) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    match base {
        Some(b) => Some(
            b.join(href)
                .map_or_else(|_| href.to_string(), |u| u.to_string()),
        ),
        None => Some(href.to_string()),
    }
}

/// The entry's page: an alternate link (`text/html` first), else the RSS
/// `<link>`, never a comments, licence or enclosure link.
fn links(e: &Element, base: Option<&Url>) -> Option<String> {
    let mut best: Option<(u8, String)> = None;
    for l in e.elements().filter(|c| is(c, "", "link")) {
        let lbase = join(base, l.attr("xml:base"));
        let (rank, href) = match l.attr("href") {
            Some(href) => {
                let rel = l
                    .attr("rel")
                    .unwrap_or("alternate")
                    .trim()
                    .to_ascii_lowercase();
                if rel != "alternate" {
                    continue;
                }
                let ty = l.attr("type").unwrap_or("").to_ascii_lowercase();
                let rank = if ty.is_empty() || ty.contains("html") {
                    0
                } else {
                    2
                };
                (rank, href.to_string())
            }
            // `<link rel="…">http://…</link>`: an href written as text.
            None if l
                .attr("rel")
                .is_some_and(|r| !r.trim().eq_ignore_ascii_case("alternate")) =>
            {
                continue;
            }
            None => (1, l.text()),
        };
        let Some(href) = resolve(lbase.as_ref(), &clean(&href)) else {
            continue;
        };
        if best.as_ref().is_none_or(|(r, _)| rank < *r) {
            best = Some((rank, href));
        }
    }
    best.map(|(_, h)| h)
}

fn entry(
    e: &Element,
    base: Option<&Url>,
    ctx: &Ctx,
    problems: &mut Vec<String>,
    n: usize,
) -> RawEntry {
    let guid_el = child(e, "", "guid");
    let guid = guid_el
        .map(|g| clean(&g.text()))
        .filter(|g| !g.is_empty())
        .or_else(|| child_text(e, "", "id"))
        .or_else(|| {
            e.attrs
                .iter()
                .find(|a| prefix_of(&a.ns) == "rdf" && a.local == "about")
                .map(|a| clean(&a.value))
                .filter(|a| !a.is_empty())
        });
    // A guid is a permalink unless it says otherwise; an Atom id that is a
    // web address is one too. Ids that are no URL are never links.
    let permalink = match guid_el {
        Some(g)
            if g.attr("isPermaLink")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("false")) =>
        {
            None
        }
        Some(g) => Some(clean(&g.text())),
        None => child_text(e, "", "id"),
    }
    .filter(|g| {
        let lower = g.to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    });
    let link = links(e, base)
        .or_else(|| e.attr("href").and_then(|h| resolve(base, h)))
        .or(permalink);
    let title_el = child(e, "", "title")
        .or_else(|| child(e, "dc", "title"))
        .or_else(|| child(e, "media", "title"));
    let (title, title_is_html) = match title_el.map(text_construct) {
        Some((t, html)) if !t.trim().is_empty() => (Some(t), html),
        _ => (None, false),
    };
    let (first_summary, second_summary) = summary_pair(e);
    let summary_el = first_summary
        .or_else(|| child(e, "", "abstract"))
        .or_else(|| child(e, "itunes", "subtitle"));
    let summary_html = summary_el
        .and_then(|s| html_of(s, ctx.atom))
        .filter(|s| !s.trim().is_empty());
    // The full text; else, as feedparser reads it, a second summary-like
    // element (`<description>` and `<summary>` both in an item).
    let (content_el, content_html) = match content(e).and_then(|c| {
        content_html(c, ctx.atom)
            .filter(|h| !h.trim().is_empty())
            .map(|h| (c, h))
    }) {
        Some((c, h)) => (Some(c), Some(h)),
        None => match second_summary.and_then(|s| {
            html_of(s, ctx.atom)
                .filter(|h| !h.trim().is_empty())
                .map(|h| (s, h))
        }) {
            Some((s, h)) => (Some(s), Some(h)),
            None => (content(e), None),
        },
    };
    // Relative URLs in the body resolve against the body's own `xml:base`
    // (the content's, else the summary's when it is the only body), else
    // the entry's, else its page.
    let body_el = if content_html.is_some() {
        content_el
    } else {
        summary_el
    };
    let entry_base = body_el
        .and_then(|b| b.attr("xml:base"))
        .and_then(|h| join(base, Some(h)))
        .or_else(|| base.cloned())
        .or_else(|| link.as_deref().and_then(|l| Url::parse(l).ok()));
    let (published, updated) = entry_dates(e, ctx, problems, n);
    RawEntry {
        guid,
        link,
        base: entry_base,
        title,
        title_is_html,
        summary_html,
        content_html,
        authors: authors(e),
        published,
        updated,
        categories: categories(e),
        enclosures: enclosures(e, base),
        language: e.attr("xml:lang").and_then(language_tag),
        origin: None,
    }
}

/// Elements that are the entry's summary: `<summary>`, `<description>`,
/// `dc:description`, `itunes:summary`, `media:description` (also in a
/// `media:group`).
fn is_summary_like(c: &Element) -> bool {
    is(c, "", "summary")
        || is(c, "", "description")
        || is(c, "dc", "description")
        || is(c, "itunes", "summary")
        || is(c, "media", "description")
}

/// The entry's summary — the first summary-like element in document
/// order — and, as feedparser reads it, the next one when no full-text
/// element (`content:encoded`, `<fullitem>`, `<content>`) came before it:
/// that second one is the entry's content (an item with both
/// `<description>` and `<summary>` has a summary and a body).
fn summary_pair(e: &Element) -> (Option<&Element>, Option<&Element>) {
    let mut first = None;
    let mut full_text_seen = false;
    let nested = e.elements().flat_map(|c| {
        let group = is(c, "media", "group");
        std::iter::once(c).chain(c.elements().filter(move |_| group))
    });
    for c in nested {
        if is(c, "content", "encoded") || is(c, "", "fullitem") || is(c, "", "content") {
            full_text_seen = true;
        } else if is_summary_like(c) {
            if first.is_none() {
                first = Some(c);
            } else if !full_text_seen {
                return (first, Some(c));
            }
        }
    }
    (first, None)
}

/// The element holding the full text: `content:encoded`, `xhtml:body` (or
/// a `<body>` written without its namespace), `<fullitem>`, Atom `content`.
fn content(e: &Element) -> Option<&Element> {
    child(e, "content", "encoded")
        .or_else(|| child(e, "xhtml", "body"))
        .or_else(|| child(e, "", "body"))
        .or_else(|| child(e, "", "fullitem"))
        .or_else(|| child(e, "", "content"))
}

/// The HTML of the element [`content`] found.
fn content_html(c: &Element, atom: bool) -> Option<String> {
    if is(c, "xhtml", "body") || is(c, "", "body") {
        return Some(c.inner_xml());
    }
    if is(c, "", "content") {
        if c.attr("src").is_some() && c.children.is_empty() {
            return None;
        }
        return html_of(c, atom);
    }
    html_of(c, false)
}

/// An element holding HTML: escaped, in CDATA, or (broken but common)
/// as literal child elements. Atom text constructs follow their `type`.
fn html_of(e: &Element, atom: bool) -> Option<String> {
    if atom || e.attr("type").is_some() || e.attr("mode").is_some() {
        let (t, is_html) = text_construct(e);
        return Some(if is_html {
            t
        } else {
            crate::normalize::html::escape(&t)
        });
    }
    if e.has_element_children() {
        return Some(repair_c1(&e.inner_xml()).into_owned());
    }
    // RSS text usually holds (escaped) HTML; plain text is escaped to be HTML.
    let t = clean(&e.text());
    Some(if looks_like_html(&t) {
        t
    } else {
        crate::normalize::html::escape(&t)
    })
}

/// Markup, or a character or HTML entity reference (`&#146;`, `&amp;`,
/// `&eacute;`): RSS text that holds escaped HTML. `AT&T;` is text.
fn looks_like_html(t: &str) -> bool {
    if t.contains('<') && t.contains('>') {
        return true;
    }
    t.match_indices('&').any(|(i, _)| {
        let rest = &t.as_bytes()[i + 1..];
        let (named, allowed, body): (bool, fn(&u8) -> bool, &[u8]) = match rest {
            [b'#', b'x' | b'X', r @ ..] => (false, u8::is_ascii_hexdigit, r),
            [b'#', r @ ..] => (false, u8::is_ascii_digit, r),
            [c, ..] if c.is_ascii_alphabetic() => (true, u8::is_ascii_alphanumeric, rest),
            _ => return false,
        };
        let n = body.iter().take(32).take_while(|c| allowed(c)).count();
        if n == 0 || body.get(n) != Some(&b';') {
            return false;
        }
        // A name must be one HTML knows (`&T;` in `AT&T;` is none).
        !named
            || std::str::from_utf8(&body[..=n])
                .is_ok_and(|name| markup5ever::data::NAMED_ENTITIES.contains_key(name))
    })
}

/// An Atom text construct → (text or HTML, is it HTML). Atom 0.3's
/// `mode="escaped"|"base64"|"xml"` and MIME-type `type`s included.
fn text_construct(e: &Element) -> (String, bool) {
    let ty = e.attr("type").unwrap_or("").trim().to_ascii_lowercase();
    let mode = e.attr("mode").unwrap_or("").trim().to_ascii_lowercase();
    let raw = e.text();
    let decoded;
    let body: &str = if mode == "base64"
        || (!ty.is_empty()
            && !ty.starts_with("text")
            && !ty.contains("html")
            && !ty.contains("xml"))
    {
        decoded = base64_decode(&raw).unwrap_or(raw.clone());
        &decoded
    } else {
        &raw
    };
    let xhtml =
        ty == "xhtml" || ty.contains("xhtml") || (mode == "xml" && e.has_element_children());
    if xhtml || (e.has_element_children() && mode != "escaped") {
        // The xhtml `div` wrapper is not part of the content.
        let elems: Vec<&Element> = e.elements().collect();
        let only_text = e.children.iter().all(|c| {
            matches!(c, Node::Element(_)) || matches!(c, Node::Text(t) if t.trim().is_empty())
        });
        let inner = match elems.as_slice() {
            [div] if div.local.eq_ignore_ascii_case("div") && only_text => div.inner_xml(),
            _ => e.inner_xml(),
        };
        return (repair_c1(inner.trim()).into_owned(), true);
    }
    let is_html = ty == "html" || ty.contains("html") || mode == "escaped";
    (repair_c1(body.trim()).into_owned(), is_html)
}

fn base64_decode(s: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8(out).ok()
}

/// Published: `pubDate`, Atom `published`/`issued`, `dc:date`,
/// `dcterms:issued`/`created`; updated: Atom `updated`/`modified`,
/// `dcterms:modified`. A date written but not understood is noted.
fn entry_dates(
    e: &Element,
    ctx: &Ctx,
    problems: &mut Vec<String>,
    n: usize,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    const PUBLISHED: &[(&str, &str)] = &[
        ("", "pubDate"),
        ("", "published"),
        ("", "issued"),
        ("dcterms", "issued"),
        ("dc", "date"),
        ("dcterms", "created"),
        ("", "created"),
        ("dcterms", "date"),
    ];
    const UPDATED: &[(&str, &str)] = &[
        ("", "updated"),
        ("", "modified"),
        ("dcterms", "modified"),
        ("", "lastBuildDate"),
    ];
    // An element written twice counts by its last value (as other readers
    // read it: a later value overwrites).
    let mut pick = |names: &[(&str, &str)]| {
        for (p, l) in names {
            let written: Vec<String> = e
                .elements()
                .filter(|c| is(c, p, l))
                .map(|c| clean(&c.text()))
                .filter(|s| !s.is_empty())
                .collect();
            for s in written.iter().rev() {
                match dates::parse_feed_date(s, ctx.timezone, ctx.date_formats) {
                    Some(d) => return Some(d),
                    None => problems.push(format!("entry {n}: date `{s}` not understood: ignored")),
                }
            }
        }
        None
    };
    let published = pick(PUBLISHED);
    let mut updated = pick(UPDATED);
    if updated.is_none() {
        // CDF: `<ITEM LASTMOD="…">`.
        updated = e
            .attr("lastmod")
            .and_then(|s| dates::parse_feed_date(s, ctx.timezone, ctx.date_formats));
    }
    (published, updated.or(published))
}

/// `author` (RSS `email (Name)` or an Atom person), `dc:creator`,
/// `dc:author`, `itunes:author`; each name once.
fn authors(e: &Element) -> Vec<Author> {
    let mut out: Vec<Author> = Vec::new();
    for c in e.elements() {
        let person = match (prefix(c), c.local.as_str()) {
            ("", "author") if c.has_element_children() => atom_person(c),
            ("", "author") | ("dc", "creator") | ("dc", "author") | ("itunes", "author") => {
                text_person(&clean(&c.text()))
            }
            _ => None,
        };
        if let Some(p) = person {
            if !out.iter().any(|a| a.name == p.name) {
                out.push(p);
            }
        }
    }
    out
}

/// An Atom person; without a name, its e-mail address or web address
/// names it. Atom 0.3 drafts wrote `url` or `homepage` for `uri`.
fn atom_person(e: &Element) -> Option<Author> {
    let email = child_text(e, "", "email");
    let url = child_text(e, "", "uri")
        .or_else(|| child_text(e, "", "url"))
        .or_else(|| child_text(e, "", "homepage"));
    let name = child_text(e, "", "name")
        .or_else(|| email.clone())
        .or_else(|| url.clone())?;
    Some(Author {
        name,
        role: None,
        email,
        url,
    })
}

/// `ed@example.org (Ed Smith)`, `Ed Smith <ed@example.org>`, `Ed Smith`.
fn text_person(raw: &str) -> Option<Author> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let (name, email) = if let (Some(open), true) = (raw.find('('), raw.ends_with(')')) {
        let outside = raw[..open].trim();
        let inside = raw[open + 1..raw.len() - 1].trim();
        if outside.contains('@') {
            (inside.to_string(), Some(outside.to_string()))
        } else if inside.contains('@') && !inside.contains(' ') {
            // `Name (email)`
            (outside.to_string(), Some(inside.to_string()))
        } else {
            (raw.to_string(), None)
        }
    } else if let (Some(open), true) = (raw.find('<'), raw.ends_with('>')) {
        (
            raw[..open].trim().to_string(),
            Some(raw[open + 1..raw.len() - 1].trim().to_string()),
        )
    } else if raw.contains('@') && !raw.contains(' ') {
        (String::new(), Some(raw.to_string()))
    } else {
        (raw.to_string(), None)
    };
    let name = if name.is_empty() {
        email.clone().unwrap_or_default()
    } else {
        name
    };
    (!name.is_empty()).then_some(Author {
        name,
        role: None,
        email,
        url: None,
    })
}

/// A language tag as BCP 47 writes it, lower-cased (tags are
/// case-insensitive): `en_US` → `en-us`.
fn language_tag(l: &str) -> Option<String> {
    let l = l.trim();
    (!l.is_empty()).then(|| l.replace('_', "-").to_lowercase())
}

/// Categories in document order: `<category>` (an Atom one by its `label`,
/// the name shown, else its `term`), `dc:subject`, `media:category`,
/// `itunes:category` and its subcategories, and the terms of a
/// comma-separated `<tags>` element (as feedparser reads it).
fn categories(e: &Element) -> Vec<String> {
    e.elements()
        .flat_map(|c| {
            if is(c, "", "tags") {
                c.text()
                    .split(',')
                    .map(clean)
                    .filter(|t| !t.is_empty())
                    .collect()
            } else {
                categories_of(c)
            }
        })
        .collect()
}

/// The categories one element gives (none when it is no category).
fn categories_of(c: &Element) -> Vec<String> {
    std::iter::once(c)
        .filter(|c| {
            is(c, "", "category")
                || is(c, "dc", "subject")
                || is(c, "media", "category")
                || is(c, "itunes", "category")
        })
        .flat_map(|c| {
            // iTunes nests subcategories inside a category.
            std::iter::once(c).chain(c.elements().filter(|s| is(s, "itunes", "category")))
        })
        .filter_map(|c| {
            let t = c
                .attr("label")
                .or_else(|| c.attr("term"))
                .or_else(|| c.attr("text"))
                .map(str::to_string)
                .unwrap_or_else(|| c.text());
            let t = clean(&t);
            (!t.is_empty()).then_some(t)
        })
        .collect()
}

fn enclosures(e: &Element, base: Option<&Url>) -> Vec<Enclosure> {
    let mut out: Vec<Enclosure> = Vec::new();
    for c in e.elements() {
        let href = match (prefix(c), c.local.as_str()) {
            ("", "enclosure") => c.attr("url").or_else(|| c.attr("href")),
            ("", "link") if c.attr("rel").is_some_and(|r| r.trim() == "enclosure") => {
                c.attr("href")
            }
            ("media", "content") => c.attr("url"),
            _ => None,
        };
        let Some(url) = href.and_then(|h| resolve(base, h)) else {
            continue;
        };
        if out.iter().any(|o| o.url == url) {
            continue;
        }
        out.push(Enclosure {
            url,
            mime_type: c
                .attr("type")
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .unwrap_or("application/octet-stream")
                .to_string(),
            length: c
                .attr("length")
                .or_else(|| c.attr("fileSize"))
                .and_then(|l| l.trim().parse().ok()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(doc: &str) -> ParsedFeed {
        let tree = super::super::xml::read(doc).expect("a document");
        let base = Url::parse("http://example.org/feed.xml").expect("a URL");
        read(&tree.root, Some(&base), chrono_tz::UTC, &[])
            .expect("a feed")
            .0
    }

    #[test]
    fn rss_body_without_namespace_is_the_content() {
        let f = feed(
            r#"<rss version="2.0"><channel><item><title>t</title><body><p>Hello <a href="/x">there</a></p></body></item></channel></rss>"#,
        );
        assert_eq!(
            f.entries[0].content_html.as_deref(),
            Some(r#"<p>Hello <a href="/x">there</a></p>"#)
        );
    }

    #[test]
    fn media_description_is_a_summary_in_or_out_of_a_group() {
        let f = feed(
            r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>
            <item><guid>1</guid><media:group><media:title>v</media:title><media:description>Grouped &amp; plain</media:description></media:group></item>
            <item><guid>2</guid><media:description>Alone</media:description></item>
            </channel></rss>"#,
        );
        let s: Vec<_> = f
            .entries
            .iter()
            .map(|e| e.summary_html.as_deref())
            .collect();
        assert_eq!(s, [Some("Grouped &amp; plain"), Some("Alone")]);
    }

    #[test]
    fn a_second_summary_like_element_is_the_content() {
        let f = feed(
            r#"<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
            xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
            <item><guid>1</guid><description>Short</description><summary>Long body</summary></item>
            <item><guid>2</guid><summary>First</summary><description>Second</description></item>
            <item><guid>3</guid><itunes:summary>Pod</itunes:summary><description>Notes</description></item>
            <item><guid>4</guid><description>D</description><content:encoded>Full</content:encoded><summary>S</summary></item>
            <item><guid>5</guid><description>Only</description></item>
            </channel></rss>"#,
        );
        let got: Vec<_> = f
            .entries
            .iter()
            .map(|e| (e.summary_html.as_deref(), e.content_html.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                (Some("Short"), Some("Long body")),
                (Some("First"), Some("Second")),
                (Some("Pod"), Some("Notes")),
                // A full-text element before the second: it is the content.
                (Some("D"), Some("Full")),
                (Some("Only"), None),
            ]
        );
    }

    #[test]
    fn tags_element_terms_and_underscored_languages() {
        let f = feed(
            r#"<rss><channel><language>en_US</language><item><guid>1</guid>
            <tags>tag one, tag two,</tags><category>category one</category></item>
            <item xml:lang="pt_BR"><guid>2</guid><category>c</category></item></channel></rss>"#,
        );
        assert_eq!(f.language.as_deref(), Some("en-us"));
        assert_eq!(
            f.entries[0].categories,
            ["tag one", "tag two", "category one"]
        );
        assert_eq!(f.entries[1].language.as_deref(), Some("pt-br"));
        assert_eq!(f.entries[1].categories, ["c"]);
    }

    #[test]
    fn a_repeated_date_counts_by_its_last_value() {
        let f = feed(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id>
            <updated>2011-05-01T00:00:00Z</updated><updated>2009-02-03T04:05:06Z</updated>
            <updated>not a date</updated></entry></feed>"#,
        );
        assert_eq!(
            f.entries[0].updated.map(|d| d.to_rfc3339()).as_deref(),
            Some("2009-02-03T04:05:06+00:00")
        );
    }

    #[test]
    fn the_content_xml_base_resolves_its_links() {
        let f = feed(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.com/parent/"><entry><id>x</id>
            <summary type="html" xml:base="http://example.com/info/">s</summary>
            <content type="xhtml" xml:base="../test/"><div xmlns="http://www.w3.org/1999/xhtml"><a href="a.html">a</a></div></content>
            </entry><entry><id>y</id><content type="html">&lt;a href="b.html"&gt;b&lt;/a&gt;</content></entry></feed>"#,
        );
        let bases: Vec<_> = f
            .entries
            .iter()
            .map(|e| e.base.as_ref().map(Url::as_str))
            .collect();
        assert_eq!(
            bases,
            [
                Some("http://example.com/test/"),
                Some("http://example.com/parent/")
            ]
        );
    }

    #[test]
    fn rss_text_with_character_references_is_html() {
        let f = feed(
            r#"<rss version="2.0"><channel>
            <item><guid>1</guid><description>don&amp;#146;t &amp;eacute; &amp;#x61;</description></item>
            <item><guid>2</guid><description>AT&amp;T; Q&amp;A &amp; more</description></item>
            </channel></rss>"#,
        );
        let s: Vec<_> = f
            .entries
            .iter()
            .map(|e| e.summary_html.as_deref())
            .collect();
        assert_eq!(
            s,
            [
                Some("don&#146;t &eacute; &#x61;"),
                Some("AT&amp;T; Q&amp;A &amp; more")
            ]
        );
    }

    #[test]
    fn atom_people_named_by_their_address_and_early_namespaces() {
        let f = feed(
            r#"<feed version="0.3" xmlns="http://purl.org/echo/"><title>Early</title><entry><id>x</id>
            <author><uri>http://one.example/</uri></author>
            <author><name>Two</name><homepage>http://two.example/</homepage></author>
            </entry></feed>"#,
        );
        assert_eq!(f.title.as_deref(), Some("Early"));
        let a: Vec<_> = f.entries[0]
            .authors
            .iter()
            .map(|a| (a.name.as_str(), a.url.as_deref()))
            .collect();
        assert_eq!(
            a,
            [
                ("http://one.example/", Some("http://one.example/")),
                ("Two", Some("http://two.example/"))
            ]
        );
    }

    #[test]
    fn channel_dc_title_names_the_feed() {
        let f = feed(
            r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><dc:title>DC</dc:title><item><guid>1</guid></item></channel></rss>"#,
        );
        assert_eq!(f.title.as_deref(), Some("DC"));
    }
}
