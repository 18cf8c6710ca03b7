//! JSON Feed 1.1. huiliu's own fields live under `_huiliu`, as the spec
//! asks of extensions.

use serde_json::{Map, Value, json};

use super::{FeedDoc, Format};

pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let items: Vec<Value> = doc.items.iter().map(item).collect();
    let mut feed = json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.html_url(1),
        "feed_url": doc.url_of(Format::Json),
        "description": doc.description,
        "items": items,
    });
    if let Some(obj) = feed.as_object_mut() {
        if doc.has_next {
            obj.insert(
                "next_url".into(),
                json!(doc.page_url(Format::Json, doc.page + 1)),
            );
        }
        if let Some(hub) = &doc.hub {
            obj.insert("hubs".into(), json!([{ "type": "WebSub", "url": hub }]));
        }
    }
    let mut out = serde_json::to_vec_pretty(&feed).unwrap_or_default();
    out.push(b'\n');
    out
}

fn item(i: &super::Item) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(i.id));
    if let Some(url) = &i.url {
        m.insert("url".into(), json!(url));
    }
    m.insert("title".into(), json!(i.title));
    match (&i.content_html, &i.summary_html) {
        (Some(c), _) => {
            m.insert("content_html".into(), json!(c));
        }
        (None, Some(s)) => {
            m.insert("content_html".into(), json!(s));
        }
        (None, None) => {
            m.insert("content_text".into(), json!(i.text));
        }
    }
    if i.content_html.is_some() {
        if let Some(s) = &i.summary_html {
            m.insert(
                "summary".into(),
                json!(crate::normalize::html::inline_text(s)),
            );
        }
    }
    m.insert("date_published".into(), json!(i.published.to_rfc3339()));
    m.insert("date_modified".into(), json!(i.updated.to_rfc3339()));
    if !i.authors.is_empty() {
        let authors: Vec<Value> = i
            .authors
            .iter()
            .map(|a| {
                let mut p = Map::new();
                p.insert("name".into(), json!(a.name));
                if let Some(u) = &a.url {
                    p.insert("url".into(), json!(u));
                }
                if let Some(role) = &a.role {
                    p.insert("_huiliu".into(), json!({ "role": role }));
                }
                Value::Object(p)
            })
            .collect();
        m.insert("authors".into(), Value::Array(authors));
    }
    if !i.categories.is_empty() {
        m.insert("tags".into(), json!(i.categories));
    }
    if let Some(lang) = &i.language {
        m.insert("language".into(), json!(lang));
    }
    if !i.enclosures.is_empty() {
        let att: Vec<Value> = i
            .enclosures
            .iter()
            .map(|e| {
                let mut a = json!({ "url": e.url, "mime_type": e.mime_type });
                if let (Some(len), Some(obj)) = (e.length, a.as_object_mut()) {
                    obj.insert("size_in_bytes".into(), json!(len));
                }
                a
            })
            .collect();
        m.insert("attachments".into(), Value::Array(att));
    }
    let mut source = json!({ "id": i.source.id, "name": i.source.name });
    if let (false, Some(obj)) = (i.source.url.is_empty(), source.as_object_mut()) {
        obj.insert("url".into(), json!(i.source.url));
    }
    let also_at: Vec<Value> = i
        .also_at
        .iter()
        .map(|c| json!({ "source": c.name, "source_id": c.id, "url": c.url }))
        .collect();
    let mut ext = json!({ "source": source });
    if let Some(obj) = ext.as_object_mut() {
        if !also_at.is_empty() {
            obj.insert("also_at".into(), Value::Array(also_at));
        }
        if let Some(origin) = &i.origin {
            obj.insert("origin".into(), json!(origin));
        }
    }
    m.insert("_huiliu".into(), ext);
    Value::Object(m)
}
