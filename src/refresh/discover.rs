//! `huiliu discover URL`: a ready `[[source]]` table for a page nobody
//! configured. The feed the page advertises (or one at a common path) if
//! there is one; otherwise the detected list ([`crate::parse::detect`]) as
//! selectors, checked by loading the proposed table with the config loader
//! and scraping the page with it once, and a look at a few article pages to
//! tell whether they need selectors.

use chrono::Utc;
use chrono_tz::Tz;
use scraper::{Html, Selector};
use url::Url;

use crate::config::{SourceConfig, SourceKind};
use crate::fetch::{Body, Fetcher};
use crate::normalize::html::to_text;
use crate::parse::decode::decode;
use crate::parse::detect::{self, DetectedList, quote};
use crate::parse::parse_feed;
use crate::parse::scrape::{parse_article, parse_list};

/// What `discover` found.
#[derive(Debug, serde::Serialize)]
pub struct Discovery {
    pub url: String,
    /// The feed to subscribe to instead of scraping.
    pub feed: Option<String>,
    pub list: Option<DetectedList>,
    pub article: Option<ArticleCheck>,
    /// What the proposed source yields from the page (checked, not guessed).
    pub items: Vec<FoundItem>,
    /// The `[[source]]` table.
    pub toml: String,
}

#[derive(Debug, serde::Serialize)]
pub struct FoundItem {
    pub url: String,
    pub title: Option<String>,
    pub published: Option<String>,
}

/// Article pages of the first items, read without selectors.
#[derive(Debug, serde::Serialize)]
pub struct ArticleCheck {
    pub checked: usize,
    /// Pages where the main content and a title were found without selectors.
    pub extracted: usize,
    /// A content selector proposed when extraction fell short.
    pub content: Option<String>,
}

/// Article pages looked at, at most.
const ARTICLES_CHECKED: usize = 3;
/// Text an article body has at least.
const MIN_ARTICLE_CHARS: usize = 60;
/// Feed paths tried when the page advertises none (relative to the page, then the site).
const FEED_PATHS: &[&str] = &["rss.xml", "/rss.xml", "/feed", "/atom.xml"];
/// Content containers of common CMSs (TRS, 大汉, 政府网站集约化平台, WordPress…).
const CONTENT_SELECTORS: &[&str] = &[
    "div.TRS_Editor",
    "#zoom",
    "div.pages_content",
    "div.article-content",
    "div.article_content",
    "div#UCAP-CONTENT",
    "div.view",
    "div.content",
    "div#content",
    "article",
    "div.entry-content",
];

/// Discovers a source for `url` (through Chromium with `browser`).
pub async fn discover(fetcher: &Fetcher, url: &Url, browser: bool) -> Result<Discovery, String> {
    let source = SourceConfig::new("discover", SourceKind::Html, url.clone());
    let body = get(fetcher, &source, url, browser).await?;
    let page_url = body.url.clone();
    let (html, _, _) = decode(&body.bytes, body.content_type.as_deref(), None);
    let tz = guess_timezone(&html);

    if let Some(feed) = find_feed(fetcher, &source, &html, &page_url).await {
        let toml = feed_toml(&feed, &html, tz);
        return Ok(Discovery {
            url: page_url.to_string(),
            feed: Some(feed.to_string()),
            list: None,
            article: None,
            items: Vec::new(),
            toml,
        });
    }

    let Some(list) = detect::detect_list(&html, &page_url) else {
        let hint = if browser {
            ""
        } else {
            " If the list is written by script, try again with --browser."
        };
        return Err(format!(
            "no feed and no list of article links found on {page_url}: no block repeats with a link and a title.{hint}"
        ));
    };
    let mut toml = source_toml(&page_url, &html, tz, browser);
    toml += &list.toml();

    // Checked: the table must load, and scrape the page it came from.
    let rules = load_rules(&toml)?;
    let now = Utc::now();
    let page = parse_list(&html, &page_url, &rules, tz, &[], now).map_err(|e| {
        format!("the proposed selectors do not read the page back ({e}); please report this page")
    })?;
    let items: Vec<FoundItem> = page
        .items
        .iter()
        .map(|i| FoundItem {
            url: i.link.to_string(),
            title: i.title.clone(),
            published: i.date.map(|d| d.utc.with_timezone(&tz).to_rfc3339()),
        })
        .collect();

    let links: Vec<Url> = page
        .items
        .iter()
        .take(ARTICLES_CHECKED)
        .map(|i| i.link.clone())
        .collect();
    let article = check_articles(fetcher, &source, &links, tz, browser).await;
    match &article {
        Some(ArticleCheck {
            content: Some(css), ..
        }) => {
            toml += &format!("\n  [source.article]\n  content = {}\n", quote(css));
        }
        Some(a) if a.extracted < a.checked => {
            toml += "  # article pages: no main content found without selectors; add\n  # [source.article] content = \"…\" (see `huiliu scrape`)\n";
        }
        _ => {}
    }
    Ok(Discovery {
        url: page_url.to_string(),
        feed: None,
        list: Some(list),
        article,
        items,
        toml,
    })
}

async fn get(
    fetcher: &Fetcher,
    source: &SourceConfig,
    url: &Url,
    browser: bool,
) -> Result<Body, String> {
    let fetched = if browser {
        fetcher.render(source, url).await
    } else {
        fetcher.get(source, url).await
    };
    fetched.map_err(|e| format!("{url}: {e}"))
}

/// The advertised feed, else one at a common path; it must parse with entries.
async fn find_feed(
    fetcher: &Fetcher,
    source: &SourceConfig,
    html: &str,
    page_url: &Url,
) -> Option<Url> {
    let advertised = detect::feed_links(html, page_url);
    let mut tried = Vec::new();
    let probes = FEED_PATHS.iter().filter_map(|p| page_url.join(p).ok());
    for candidate in advertised.into_iter().chain(probes) {
        if tried.contains(&candidate) || candidate == *page_url {
            continue;
        }
        tried.push(candidate.clone());
        let Ok(body) = fetcher.get(source, &candidate).await else {
            continue;
        };
        let (text, _, _) = decode(&body.bytes, body.content_type.as_deref(), None);
        if parse_feed(&text, &body.url, Tz::UTC, &[]).is_ok_and(|f| !f.entries.is_empty()) {
            return Some(body.url);
        }
    }
    None
}

/// Reads the first article pages without selectors; proposes a content
/// selector when that finds no main text.
async fn check_articles(
    fetcher: &Fetcher,
    source: &SourceConfig,
    links: &[Url],
    tz: Tz,
    browser: bool,
) -> Option<ArticleCheck> {
    let mut pages = Vec::new();
    for link in links {
        if let Ok(body) = get(fetcher, source, link, browser).await {
            let (html, _, _) = decode(&body.bytes, body.content_type.as_deref(), None);
            pages.push((html, body.url));
        }
    }
    if pages.is_empty() {
        return None;
    }
    let now = Utc::now();
    let extracted = pages
        .iter()
        .filter(|(html, url)| {
            let a = parse_article(html, url, None, tz, &[], now);
            a.title.is_some()
                && a.content_html
                    .as_deref()
                    .is_some_and(|c| to_text(c).chars().count() >= MIN_ARTICLE_CHARS)
        })
        .count();
    let content = (extracted < pages.len())
        .then(|| {
            CONTENT_SELECTORS.iter().find(|css| {
                pages
                    .iter()
                    .all(|(html, _)| selector_text(html, css) >= MIN_ARTICLE_CHARS)
            })
        })
        .flatten()
        .map(|s| s.to_string());
    Some(ArticleCheck {
        checked: pages.len(),
        extracted,
        content,
    })
}

fn selector_text(html: &str, css: &str) -> usize {
    let Ok(sel) = Selector::parse(css) else {
        return 0;
    };
    Html::parse_document(html)
        .select(&sel)
        .next()
        .map_or(0, |e| to_text(&e.inner_html()).chars().count())
}

/// The list rules of the proposed table, through the real config loader.
fn load_rules(toml: &str) -> Result<crate::config::ListRules, String> {
    let cfg = crate::config::load_str(toml, std::path::Path::new("discovered.toml"))
        .map_err(|e| format!("the proposed table does not load ({e}); please report this page"))?;
    cfg.sources
        .first()
        .and_then(|s| s.scrape())
        .and_then(|s| s.list.clone())
        .ok_or_else(|| "the proposed table has no [source.list]".to_string())
}

/// Chinese pages keep Beijing time; others are read as UTC unless told.
fn guess_timezone(html: &str) -> Tz {
    let han = html
        .chars()
        .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
        .take(20)
        .count();
    let kana = html.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c));
    if han >= 20 && !kana {
        Tz::Asia__Shanghai
    } else {
        Tz::UTC
    }
}

/// A slug from the host and the column's folder: `gov-example-zwdt`.
fn source_id(url: &Url) -> String {
    let host = url.host_str().unwrap_or("source");
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut parts: Vec<String> = vec![host.replace('.', "-")];
    let segs: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    if segs.len() >= 2 {
        parts.push(segs[segs.len() - 2].to_string());
    }
    let id: String = parts
        .join("-")
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let id = id.trim_matches('-').to_string();
    if id.is_empty() { "source".into() } else { id }
}

fn header(url: &Url, html: &str, tz: Tz, kind: &str) -> String {
    let name = detect::page_title(html).unwrap_or_else(|| url.host_str().unwrap_or("").into());
    let mut out = format!(
        "[[source]]\nid   = {}\nname = {}\nkind = \"{kind}\"\nurl  = {}\n",
        quote(&source_id(url)),
        quote(&name),
        quote(url.as_str())
    );
    if tz != Tz::UTC {
        out += &format!("timezone = \"{}\"\n", tz.name());
    }
    out
}

fn source_toml(url: &Url, html: &str, tz: Tz, browser: bool) -> String {
    let mut out = header(url, html, tz, "html");
    out += "max_pages = 5\n";
    if browser {
        out +=
            "render = \"browser\"   # the page needs scripts: fetched through headless Chromium\n";
    }
    out + "\n"
}

fn feed_toml(feed: &Url, html: &str, tz: Tz) -> String {
    header(feed, html, tz, "feed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_slugs_of_host_and_column() {
        let u = Url::parse("http://www.gov.example/zwdt/index.html").unwrap();
        assert_eq!(source_id(&u), "gov-example-zwdt");
        let u = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(source_id(&u), "127-0-0-1");
    }

    #[test]
    fn beijing_time_for_chinese_pages() {
        assert_eq!(
            guess_timezone("<p>湖塘镇召开新春第一会湖塘镇召开新春第一会湖塘镇召开新春第一会</p>"),
            Tz::Asia__Shanghai
        );
        assert_eq!(guess_timezone("<p>Council news</p>"), Tz::UTC);
    }
}
