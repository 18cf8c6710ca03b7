//! RSS 2.0 with the `rss` crate: RFC 822 dates, `isPermaLink="false"` guids,
//! `atom:link rel="self"`, full content in `content:encoded`, authors in
//! `dc:creator` (RSS `<author>` must be an e-mail address).

use std::collections::BTreeMap;

use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use super::{FeedDoc, Format, author_label, escape};

pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut channel = Channel::default();
    channel.set_title(doc.title.as_str());
    channel.set_link(doc.html_url(1));
    channel.set_description(doc.description.as_str());
    channel.set_generator(Some(crate::USER_AGENT.to_string()));
    channel.set_last_build_date(Some(doc.updated.to_rfc2822()));
    let link = |rel: &str, href: String| {
        let mut l = atom_syndication::Link::default();
        l.set_href(href);
        l.set_rel(rel);
        if rel != "hub" {
            l.set_mime_type(Some("application/rss+xml".to_string()));
        }
        l
    };
    let mut links = vec![link("self", doc.page_url(Format::Rss, doc.page))];
    for (rel, page) in doc.paging_links() {
        links.push(link(rel, doc.page_url(Format::Rss, page)));
    }
    if let Some(hub) = &doc.hub {
        links.push(link("hub", hub.clone()));
    }
    let mut atom_ext = rss::extension::atom::AtomExtension::default();
    atom_ext.set_links(links);
    channel.set_atom_ext(Some(atom_ext));
    channel.set_items(doc.items.iter().map(item).collect::<Vec<_>>());
    if doc
        .items
        .iter()
        .any(|i| !i.also_at.is_empty() || i.origin.is_some())
    {
        let mut ns = BTreeMap::new();
        ns.insert("huiliu".to_string(), super::NAMESPACE.to_string());
        channel.set_namespaces(ns);
    }
    let mut out = channel.write_to(Vec::new()).unwrap_or_default();
    out.push(b'\n');
    out
}

fn item(i: &super::Item) -> Item {
    let mut item = Item::default();
    item.set_title(Some(i.title.clone()));
    item.set_link(i.url.clone());
    let mut guid = Guid::default();
    guid.set_value(i.id.as_str());
    guid.set_permalink(false);
    item.set_guid(Some(guid));
    item.set_pub_date(Some(i.published.to_rfc2822()));
    let mut description = i.summary_html.clone().or_else(|| i.content_html.clone());
    let mut by_name = BTreeMap::new();
    if !i.also_at.is_empty() {
        // Readers that know no namespace still show the copies.
        let links: Vec<String> = i
            .also_at
            .iter()
            .map(|c| format!("<a href=\"{}\">{}</a>", escape(&c.url), escape(&c.name)))
            .collect();
        let note = format!("<p>Also at: {}</p>", links.join(", "));
        description = Some(description.unwrap_or_default() + &note);
        let copies: Vec<Extension> = i
            .also_at
            .iter()
            .map(|c| {
                let mut ext = Extension::default();
                ext.set_name("huiliu:also_at");
                ext.set_value(Some(c.url.clone()));
                ext.attrs.insert("source".into(), c.name.clone());
                ext
            })
            .collect();
        by_name.insert("also_at".to_string(), copies);
    }
    if let Some(origin) = &i.origin {
        let mut ext = Extension::default();
        ext.set_name("huiliu:origin");
        ext.set_value(Some(origin.clone()));
        by_name.insert("origin".to_string(), vec![ext]);
    }
    if !by_name.is_empty() {
        let mut map = ExtensionMap::new();
        map.insert("huiliu".to_string(), by_name);
        item.set_extensions(map);
    }
    item.set_description(description);
    if i.content_html.is_some() && i.summary_html.is_some() {
        item.set_content(i.content_html.clone());
    }
    if !i.authors.is_empty() {
        let mut dc = DublinCoreExtension::default();
        dc.set_creators(i.authors.iter().map(author_label).collect::<Vec<_>>());
        item.set_dublin_core_ext(Some(dc));
    }
    item.set_categories(
        i.categories
            .iter()
            .map(|c| {
                let mut cat = Category::default();
                cat.set_name(c.as_str());
                cat
            })
            .collect::<Vec<_>>(),
    );
    if let Some(e) = i.enclosures.first() {
        let mut enc = Enclosure::default();
        enc.set_url(e.url.as_str());
        enc.set_mime_type(e.mime_type.as_str());
        enc.set_length(e.length.unwrap_or(0).to_string());
        item.set_enclosure(Some(enc));
    }
    if !i.source.url.is_empty() {
        let mut src = Source::default();
        src.set_url(i.source.url.as_str());
        src.set_title(Some(i.source.name.clone()));
        item.set_source(Some(src));
    }
    item
}
