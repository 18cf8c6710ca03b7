//! Atom 1.0 with `atom_syndication`: RFC 3339 dates, `urn:uuid` ids, self
//! and alternate links, an explicit `updated` (the crate defaults to 1970).

use atom_syndication::{Category, Content, Entry, Feed, Link, Person, Source, Text};
use chrono::{DateTime, FixedOffset, Utc};

use super::{FeedDoc, Format, author_label};

fn fixed(d: DateTime<Utc>) -> DateTime<FixedOffset> {
    d.fixed_offset()
}

fn link(href: &str, rel: &str, mime: Option<&str>) -> Link {
    let mut l = Link::default();
    l.set_href(href);
    l.set_rel(rel);
    l.set_mime_type(mime.map(str::to_string));
    l
}

pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut feed = Feed::default();
    feed.set_id(doc.url_of(Format::Atom));
    feed.set_title(Text::plain(doc.title.as_str()));
    feed.set_subtitle(Some(Text::plain(doc.description.as_str())));
    feed.set_updated(fixed(doc.updated));
    let atom_type = Some("application/atom+xml");
    let mut links = vec![
        link(&doc.page_url(Format::Atom, doc.page), "self", atom_type),
        link(&doc.html_url(doc.page), "alternate", Some("text/html")),
    ];
    for (rel, page) in doc.paging_links() {
        links.push(link(&doc.page_url(Format::Atom, page), rel, atom_type));
    }
    if let Some(hub) = &doc.hub {
        links.push(link(hub, "hub", None));
    }
    feed.set_links(links);
    let mut generator = atom_syndication::Generator::default();
    generator.set_value("huiliu");
    generator.set_version(Some(env!("CARGO_PKG_VERSION").to_string()));
    feed.set_generator(Some(generator));
    // RFC 4287 wants an author on every entry: the feed-level one covers
    // entries whose source named none.
    let mut fallback = Person::default();
    fallback.set_name(doc.title.as_str());
    feed.set_authors(vec![fallback]);
    feed.set_entries(doc.items.iter().map(entry).collect::<Vec<_>>());
    if doc.items.iter().any(|i| i.origin.is_some()) {
        let mut ns = std::collections::BTreeMap::new();
        ns.insert("huiliu".to_string(), super::NAMESPACE.to_string());
        feed.set_namespaces(ns);
    }
    let mut out = feed.write_to(Vec::new()).unwrap_or_default();
    out.push(b'\n');
    out
}

fn entry(i: &super::Item) -> Entry {
    let mut e = Entry::default();
    e.set_id(i.id.as_str());
    e.set_title(Text::plain(i.title.as_str()));
    e.set_updated(fixed(i.updated));
    e.set_published(Some(fixed(i.published)));
    let mut links: Vec<Link> = i
        .url
        .iter()
        .map(|url| link(url, "alternate", Some("text/html")))
        .collect();
    // Other copies of the same report.
    for copy in &i.also_at {
        let mut l = link(&copy.url, "related", Some("text/html"));
        l.set_title(Some(copy.name.clone()));
        links.push(l);
    }
    e.set_links(links);
    e.set_authors(
        i.authors
            .iter()
            .map(|a| {
                let mut p = Person::default();
                p.set_name(author_label(a));
                p.set_email(a.email.clone());
                p.set_uri(a.url.clone());
                p
            })
            .collect::<Vec<_>>(),
    );
    if let Some(summary) = &i.summary_html {
        e.set_summary(Some(Text::html(summary.as_str())));
    }
    if let Some(html) = &i.content_html {
        let mut c = Content::default();
        c.set_content_type(Some("html".to_string()));
        c.set_value(Some(html.clone()));
        e.set_content(Some(c));
    }
    e.set_categories(
        i.categories
            .iter()
            .map(|c| {
                let mut cat = Category::default();
                cat.set_term(c.as_str());
                cat
            })
            .collect::<Vec<_>>(),
    );
    let mut src = Source::default();
    src.set_title(Text::plain(i.source.name.as_str()));
    src.set_id(format!("urn:huiliu:source:{}", i.source.id));
    src.set_updated(fixed(i.updated));
    if !i.source.url.is_empty() {
        src.set_links(vec![link(&i.source.url, "self", None)]);
    }
    e.set_source(Some(src));
    if let Some(origin) = &i.origin {
        let mut ext = atom_syndication::extension::Extension::default();
        ext.set_name("huiliu:origin");
        ext.set_value(Some(origin.clone()));
        let mut by_name = std::collections::BTreeMap::new();
        by_name.insert("origin".to_string(), vec![ext]);
        let mut map = atom_syndication::extension::ExtensionMap::new();
        map.insert("huiliu".to_string(), by_name);
        e.set_extensions(map);
    }
    e
}
