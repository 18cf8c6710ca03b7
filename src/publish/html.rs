//! HTML pages for people: the river of news of each output and the index,
//! rendered with minijinja (autoescaped; entry HTML was sanitized by the
//! normalize stage, so it is the only thing marked safe).

use std::sync::OnceLock;

use minijinja::{Environment, Value, context};
use serde::Serialize;

use super::{FeedDoc, Format};
use crate::config::Config;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // minijinja's HTML escaping also escapes `/`, which makes every URL in
        // the page unreadable; & < > " ' are all that HTML needs.
        env.set_formatter(|out, state, value| {
            if value.is_safe() || !matches!(state.auto_escape(), minijinja::AutoEscape::Html) {
                return minijinja::escape_formatter(out, state, value);
            }
            if value.is_undefined() || value.is_none() {
                return Ok(());
            }
            let text = value.to_string();
            let escaped = text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;");
            out.write_str(&escaped).map_err(minijinja::Error::from)
        });
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("river.html", include_str!("templates/river.html")),
            ("index.html", include_str!("templates/index.html")),
            ("status.html", include_str!("templates/status.html")),
        ] {
            // The templates are part of the binary and tested: a syntax error
            // is a bug caught by the unit tests, never a runtime condition.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "bad built-in template");
            }
        }
        env
    })
}

/// Renders a built-in template; an error page instead of a panic if it fails.
pub fn page(name: &str, ctx: Value) -> Vec<u8> {
    let rendered = env().get_template(name).and_then(|t| t.render(ctx));
    match rendered {
        Ok(s) => s.into_bytes(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "cannot render page");
            b"<!DOCTYPE html><title>error</title><p>This page could not be rendered; see the server log.</p>".to_vec()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
struct Copy {
    name: String,
    url: String,
}

#[derive(Debug, Clone, Serialize)]
struct RiverItem {
    anchor: String,
    title: String,
    url: Option<String>,
    source: String,
    iso: String,
    local: String,
    authors: String,
    /// Who first published it (`来源：`).
    origin: Option<String>,
    summary: Option<String>,
    also_at: Vec<Copy>,
}

/// What the river shows of an entry: its summary, its content when short,
/// else the opening of its text.
fn teaser(i: &super::Item) -> Option<String> {
    const SHORT: usize = 600;
    if let Some(s) = &i.summary_html {
        return Some(s.clone());
    }
    if i.text.chars().count() <= SHORT {
        return i.content_html.clone();
    }
    let opening: String = i.text.chars().take(SHORT / 2).collect();
    let escaped = super::escape(&opening).replace('\n', "<br>");
    Some(format!("<p>{escaped}…</p>"))
}

/// The river of news of one output page.
pub fn river(doc: &FeedDoc) -> Vec<u8> {
    let items: Vec<RiverItem> = doc
        .items
        .iter()
        .map(|i| RiverItem {
            anchor: i.id.rsplit(':').next().unwrap_or("").to_string(),
            title: i.title.clone(),
            url: i.url.clone(),
            source: i.source.name.clone(),
            iso: i.published.to_rfc3339(),
            local: i
                .published
                .with_timezone(&doc.timezone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            authors: i
                .authors
                .iter()
                .map(super::author_label)
                .collect::<Vec<_>>()
                .join(", "),
            origin: i.origin.clone(),
            summary: teaser(i),
            also_at: i
                .also_at
                .iter()
                .map(|c| Copy {
                    name: c.name.clone(),
                    url: c.url.clone(),
                })
                .collect(),
        })
        .collect();
    let lang = if doc
        .items
        .iter()
        .any(|i| i.language.as_deref().is_some_and(|l| l.starts_with("zh")))
    {
        "zh"
    } else {
        "en"
    };
    page(
        "river.html",
        context! {
            lang,
            version => env!("CARGO_PKG_VERSION"),
            title => doc.title.clone(),
            description => doc.description.clone(),
            rss_url => doc.url_of(Format::Rss),
            atom_url => doc.url_of(Format::Atom),
            json_url => doc.url_of(Format::Json),
            index_url => format!("{}/", doc.base_url),
            items => Value::from(minijinja::value::Serde(&items)),
            prev_url => (doc.page > 1).then(|| doc.html_url(doc.page - 1)),
            next_url => doc.has_next.then(|| doc.html_url(doc.page + 1)),
        },
    )
}

/// `/`: the list of outputs.
pub fn index(config: &Config) -> Vec<u8> {
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let feeds: Vec<Value> = config
        .feeds
        .iter()
        .map(|f| {
            context! {
                title => f.title.clone(),
                description => f.description.clone(),
                html_url => format!("{base}/feeds/{}.html", f.id),
                rss_url => format!("{base}/feeds/{}.rss", f.id),
                atom_url => format!("{base}/feeds/{}.atom", f.id),
                json_url => format!("{base}/feeds/{}.json", f.id),
            }
        })
        .collect();
    page(
        "index.html",
        context! {
            lang => "zh",
            version => env!("CARGO_PKG_VERSION"),
            feeds,
            opml_url => format!("{base}/opml"),
            status_url => format!("{base}/status"),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::{Item, ItemSource};
    use chrono::{TimeZone, Utc};

    #[test]
    fn river_escapes_what_sources_wrote() {
        let t = Utc.with_ymd_and_hms(2024, 1, 20, 1, 30, 0).unwrap();
        let item = Item {
            id: "urn:uuid:1".into(),
            url: Some("https://example.org/a?x=1&y=\"2\"".into()),
            title: "<script>alert(1)</script> & \"quotes\"".into(),
            published: t,
            updated: t,
            authors: vec![],
            summary_html: Some("<p>safe <b>markup</b></p>".into()),
            content_html: None,
            text: String::new(),
            categories: vec![],
            enclosures: vec![],
            language: Some("zh".into()),
            source: ItemSource {
                id: "s".into(),
                name: "<i>src</i>".into(),
                url: String::new(),
            },
            also_at: vec![],
            origin: Some("<b>新华社</b>".into()),
        };
        let doc = FeedDoc {
            id: "f".into(),
            title: "T".into(),
            description: String::new(),
            home_url: "http://h/".into(),
            base_url: "http://h".into(),
            updated: t,
            items: vec![item],
            page: 1,
            has_next: true,
            hub: None,
            timezone: chrono_tz::Asia::Shanghai,
        };
        let html = String::from_utf8(river(&doc)).unwrap();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"),
            "{html}"
        );
        assert!(html.contains("&lt;i&gt;src&lt;/i&gt;"));
        assert!(html.contains("来源：&lt;b&gt;新华社&lt;/b&gt;"), "{html}");
        assert!(
            html.contains("<p>safe <b>markup</b></p>"),
            "sanitized HTML is kept"
        );
        assert!(html.contains("2024-01-20 09:30"));
        assert!(html.contains("href=\"http://h/feeds/f.html?page=2\""));
        assert!(!html.contains("<script>"));
    }
}
