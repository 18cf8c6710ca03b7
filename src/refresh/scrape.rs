//! The fetch steps of an `html` source, between "fetch" and "normalize" in
//! [`super::refresh_source`]: robots.txt, the list pages (conditional GET of
//! the first, pagination until a page repeats or `max_pages`), and the
//! article pages of items not stored yet, one request at a time per host.
//! Parsing is [`crate::parse::scrape`]; this module only fetches and counts.

// A scrape failure carries the scrape health it reached (a large Err):
// it is built once per failed poll, never on a hot path.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use url::Url;

use crate::budget::StepError;
use crate::config::{ArticleRules, FullTextConfig, ListRules, SourceConfig};
use crate::fetch::robots::Robots;
use crate::fetch::{FetchErrorKind, Fetched, Fetcher, Validators};
use crate::model::{Enclosure, ScrapeHealth};
use crate::normalize::dates::ParsedDate;
use crate::normalize::{identity_key, urls};
use crate::parse::RawEntry;
use crate::parse::decode::decode;
use crate::parse::detect;
use crate::parse::scrape::{ArticlePage, ListItem, ScrapeError, parse_article, parse_list};
use crate::store::Store;

/// What the scrape of one source gave.
#[derive(Debug)]
pub enum Scrape {
    /// The first list page answered 304.
    NotModified,
    Pages(Box<Pages>),
}

#[derive(Debug)]
pub struct Pages {
    /// Items not stored yet (or all, when refetching), with their article data.
    pub entries: Vec<RawEntry>,
    /// Validators of the first list page; cleared when an article page
    /// failed, so the next poll reads the list again and retries it.
    pub validators: Validators,
    pub moved_to: Option<Url>,
    /// The first list page's final URL (relative links resolve against it).
    pub url: Url,
    pub health: ScrapeHealth,
}

/// Why a scrape failed, with what was learnt until then.
#[derive(Debug)]
pub struct ScrapeFailure {
    pub message: String,
    pub health: Option<ScrapeHealth>,
    /// The error kind, when it is not the caller's (`scrape`, `full_text`):
    /// `parse_budget` for a page over its time budget.
    pub kind: Option<&'static str>,
}

impl ScrapeFailure {
    fn new(message: impl Into<String>, health: Option<&ScrapeHealth>) -> ScrapeFailure {
        let message: String = message.into();
        ScrapeFailure {
            message: crate::redact::text(&message).into_owned(),
            health: health.cloned(),
            kind: None,
        }
    }

    /// A page step that gave no result: over its budget, or a panic.
    fn of_step(e: StepError, health: &ScrapeHealth) -> ScrapeFailure {
        let kind = match &e {
            StepError::OverBudget(_) => Some(crate::budget::KIND),
            StepError::Panic(what) => {
                tracing::error!(panic = %what, "page parsing panicked");
                None
            }
        };
        ScrapeFailure {
            kind,
            ..ScrapeFailure::new(e.to_string(), Some(health))
        }
    }
}

const MAX_PROBLEMS: usize = 5;

/// Scrapes `source` starting at `url`. With a `store`, items already stored
/// are skipped (their article pages are not fetched again unless
/// `refetch_articles`); without one (`huiliu scrape`), everything is fetched.
pub async fn scrape(
    fetcher: &Fetcher,
    store: Option<&dyn Store>,
    source: &SourceConfig,
    rules: &crate::config::ScrapeConfig,
    url: &Url,
    validators: &Validators,
) -> Result<Scrape, ScrapeFailure> {
    let now = Utc::now();
    let mut robots = RobotsCache::default();
    let mut health = ScrapeHealth::default();

    // List pages. Without `[source.list]` the rules are detected on the first.
    let mut list: Option<ListRules> = rules.list.clone();
    let mut items: Vec<ListItem> = Vec::new();
    let mut links: HashSet<Url> = HashSet::new();
    let mut visited: HashSet<Url> = HashSet::new();
    let mut page_url = url.clone();
    let mut first: Option<(Validators, Option<Url>, Url)> = None;
    // Pages found by number (pattern, pager script) end with a 404: no problem.
    let mut numbered = false;
    for page_no in 0..rules.max_pages {
        if rules.robots && !robots.allows(fetcher, source, &page_url).await? {
            return Err(ScrapeFailure::new(
                robots_denied(source, &page_url),
                Some(&health),
            ));
        }
        visited.insert(page_url.clone());
        let body = {
            let _turn = fetcher
                .politeness()
                .page_turn(&page_url, rules.article_delay)
                .await;
            if rules.render_browser {
                fetcher.render(source, &page_url).await
            } else if page_no == 0 {
                match fetcher.fetch(source, &page_url, validators).await {
                    Ok(Fetched::NotModified(_)) => return Ok(Scrape::NotModified),
                    Ok(Fetched::Body(b)) => Ok(*b),
                    Err(e) => Err(e),
                }
            } else {
                fetcher.get(source, &page_url).await
            }
        };
        let body = match body {
            Ok(b) => b,
            Err(e) if page_no == 0 => {
                return Err(ScrapeFailure::new(e.to_string(), Some(&health)));
            }
            Err(e) if numbered && matches!(e.kind, FetchErrorKind::Http(404 | 410)) => break,
            Err(e) => {
                // A later list page failing costs its items, not the poll.
                note(&mut health, format!("list page {page_url}: {e}"));
                break;
            }
        };
        if first.is_none() {
            first = Some((
                body.validators.clone(),
                body.moved_permanently.clone(),
                body.url.clone(),
            ));
        }
        // Decoding, list detection and parsing run off the async workers,
        // within the page's time budget.
        let (prior, source_c, health_c) = (list.take(), source.clone(), health.clone());
        let budgets = fetcher.budgets();
        let mut budget = budgets.page(&body.url);
        let (rules_now, parsed) = budgets
            .run(&source.id, &mut budget, move || {
                let (text, _, _) =
                    decode(&body.bytes, body.content_type.as_deref(), source_c.encoding);
                let rules_now = match prior {
                    Some(l) => l,
                    None => detected_rules(&source_c, &text, &body.url, &health_c)?,
                };
                let page = parse_list(
                    &text,
                    &body.url,
                    &rules_now,
                    source_c.timezone,
                    &source_c.date_formats,
                    now,
                );
                Ok::<_, ScrapeFailure>((rules_now, page))
            })
            .await
            .map_err(|e| ScrapeFailure::of_step(e, &health))??;
        let rules_now = &*list.insert(rules_now);
        let page = match parsed {
            Ok(p) => p,
            Err(e) if page_no == 0 => return Err(ScrapeFailure::new(e.to_string(), Some(&health))),
            Err(e) => {
                note(&mut health, e.to_string());
                break;
            }
        };
        health.pages += 1;
        health.items += page.matched;
        for (k, v) in &page.filled {
            *health.filled.entry(k.clone()).or_insert(0) += v;
        }
        let before = items.len();
        for item in page.items {
            if items.len() >= fetcher.max_entries() {
                // Like feeds: a list of 100,000 links is read up to the cap.
                health.items_dropped += 1;
            } else if links.insert(item.link.clone()) {
                items.push(item);
            }
        }
        if page_no > 0 && items.len() == before {
            break; // a page of items already seen: past the end
        }
        let first_url = first.as_ref().map_or(url, |f| &f.2);
        let next = match &rules_now.page_pattern {
            Some(pattern) => pattern.page(first_url, page_no as u32),
            None => page.next_page,
        };
        numbered = rules_now.page_pattern.is_some() || page.next_by_script;
        match next {
            // TRS sites link the last page to itself: stop on any page seen.
            Some(next) if !visited.contains(&next) => page_url = next,
            _ => break,
        }
    }
    let Some((mut validators, moved_to, first_url)) = first else {
        return Err(ScrapeFailure::new(
            format!("{url}: no list page could be read"),
            Some(&health),
        ));
    };
    if let Some(list) = &list {
        check_list_health(list, &health, url)?;
    }

    // Which items are new.
    let keys: Vec<String> = items.iter().map(|i| item_key(&i.link)).collect();
    let known: HashSet<String> = match store {
        Some(store) if !rules.refetch_articles => store
            .known_keys(&source.id, &keys)
            .await
            .map_err(|e| ScrapeFailure::new(e.to_string(), Some(&health)))?,
        _ => HashSet::new(),
    };

    // Article pages of the new items, one at a time per host.
    let mut entries = Vec::new();
    let mut content_missing: Vec<Url> = Vec::new();
    for (item, key) in items.into_iter().zip(keys) {
        if known.contains(&key) {
            health.articles_known += 1;
            continue;
        }
        let article = if !rules.fetch_articles {
            None
        } else if rules.robots && !robots.allows(fetcher, source, &item.link).await? {
            health.robots_denied += 1;
            None
        } else {
            match fetch_article(
                fetcher,
                source,
                rules.article.as_ref(),
                rules.article_delay,
                rules.render_browser,
                &item.link,
                now,
            )
            .await
            {
                Ok(a) => {
                    health.articles_fetched += 1;
                    count_article(&mut health, &a);
                    if a.content_html.is_none() {
                        content_missing.push(item.link.clone());
                    }
                    Some(a)
                }
                Err(message) => {
                    // Not stored now; cleared validators make the next poll retry it.
                    health.articles_failed += 1;
                    note(&mut health, message);
                    validators = Validators::default();
                    continue;
                }
            }
        };
        entries.push(raw_entry(item, article, &first_url));
    }
    if health.articles_failed > 0 && health.articles_fetched == 0 {
        let first_problem = health.problems.first().cloned().unwrap_or_default();
        return Err(ScrapeFailure::new(
            format!(
                "all {} article pages failed, e.g. {first_problem}",
                health.articles_failed
            ),
            Some(&health),
        ));
    }
    if let Some(rule) = rules.article.as_ref().and_then(|a| a.content.as_ref()) {
        let fetched = health.articles_fetched;
        if fetched > 0 && content_missing.len() * 2 > fetched {
            return Err(ScrapeFailure::new(
                format!(
                    "selector \"{}\" (article content) found nothing on {} of {fetched} article pages, e.g. {}: the article layout may have changed; check it with `huiliu scrape`",
                    rule.selector_text,
                    content_missing.len(),
                    content_missing[0]
                ),
                Some(&health),
            ));
        }
    }
    Ok(Scrape::Pages(Box::new(Pages {
        entries,
        validators,
        moved_to,
        url: first_url,
        health,
    })))
}

/// `full_text` feed sources: the article page of every item not stored yet
/// is read and its body replaces the feed's summary (kept as the summary);
/// the feed's title, date and authors win unless empty. Items already
/// stored are left out of the result (stored items are never fetched or
/// overwritten again). A page that fails keeps the feed's summary and is
/// counted in the health.
pub async fn full_text(
    fetcher: &Fetcher,
    store: &dyn Store,
    source: &SourceConfig,
    cfg: &FullTextConfig,
    entries: Vec<RawEntry>,
    doc_url: &Url,
) -> Result<(Vec<RawEntry>, ScrapeHealth), ScrapeFailure> {
    let now = Utc::now();
    let mut health = ScrapeHealth {
        pages: 1,
        items: entries.len(),
        ..ScrapeHealth::default()
    };
    let keys: Vec<Option<String>> = entries
        .iter()
        .map(|raw| crate::normalize::link_or_guid_key(raw, doc_url))
        .collect();
    let wanted: Vec<String> = keys.iter().flatten().cloned().collect();
    let known = store
        .known_keys(&source.id, &wanted)
        .await
        .map_err(|e| ScrapeFailure::new(e.to_string(), Some(&health)))?;
    let mut robots = RobotsCache::default();
    let mut out = Vec::with_capacity(entries.len());
    for (mut raw, key) in entries.into_iter().zip(keys) {
        if key.as_ref().is_some_and(|k| known.contains(k)) {
            health.articles_known += 1;
            continue;
        }
        let link = raw
            .link
            .as_deref()
            .and_then(|l| Url::parse(l).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(link) = link else {
            out.push(raw);
            continue;
        };
        if cfg.robots {
            match robots.allows(fetcher, source, &link).await {
                Ok(true) => {}
                Ok(false) => {
                    health.robots_denied += 1;
                    out.push(raw);
                    continue;
                }
                Err(f) => {
                    health.articles_failed += 1;
                    note(&mut health, f.message);
                    out.push(raw);
                    continue;
                }
            }
        }
        match fetch_article(
            fetcher,
            source,
            cfg.article.as_ref(),
            cfg.article_delay,
            false,
            &link,
            now,
        )
        .await
        {
            Ok(page) if page.content_html.is_some() => {
                health.articles_fetched += 1;
                count_article(&mut health, &page);
                merge_article(&mut raw, page);
            }
            Ok(page) => {
                health.articles_failed += 1;
                count_article(&mut health, &page);
                note(
                    &mut health,
                    format!("article {link}: no article text found"),
                );
            }
            Err(message) => {
                health.articles_failed += 1;
                note(&mut health, message);
            }
        }
        out.push(raw);
    }
    Ok((out, health))
}

/// The article page's body becomes the content (the feed's own text the
/// summary); its title, date, authors and origin fill only what the feed left empty.
fn merge_article(raw: &mut RawEntry, page: ArticlePage) {
    let Some(body) = page.content_html else {
        return;
    };
    let feed_text = raw.content_html.take();
    if raw.summary_html.is_none() {
        raw.summary_html = feed_text;
    }
    // Absolute against the article page now: `base` stays the feed's.
    raw.content_html = Some(crate::normalize::html::sanitize(&body, page.base.as_ref()));
    if raw.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
        raw.title = page.title;
        raw.title_is_html = false;
    }
    if raw.published.is_none() {
        raw.published = page.date.map(|d| d.utc);
    }
    if raw.authors.is_empty() {
        raw.authors = page.authors;
    } else {
        for a in page.authors {
            if let Some(mine) = raw.authors.iter_mut().find(|m| m.name == a.name) {
                mine.role = mine.role.take().or(a.role);
            }
        }
    }
    if raw.origin.is_none() {
        raw.origin = page.origin;
    }
}

/// The identity key the normalize stage will give an item (guid-less: its link).
fn item_key(link: &Url) -> String {
    let url = urls::canonical(link.as_str(), None);
    identity_key(None, url.as_deref(), "", None)
}

pub(crate) fn note(health: &mut ScrapeHealth, problem: String) {
    let problem = crate::redact::text(&problem).into_owned();
    tracing::debug!(problem = %problem, "scrape problem");
    if health.problems.len() < MAX_PROBLEMS {
        health.problems.push(problem);
    }
}

/// A configured list field found on fewer than half of the real items (those
/// with an article link) is a broken scraper.
fn check_list_health(
    list: &ListRules,
    health: &ScrapeHealth,
    url: &Url,
) -> Result<(), ScrapeFailure> {
    let of = health.items;
    let fields = [("title", list.title.as_ref()), ("date", list.date.as_ref())];
    for (field, rule) in fields {
        let Some(rule) = rule else { continue };
        let filled = health.filled.get(field).copied().unwrap_or(0);
        if of > 0 && filled * 2 < of {
            let err = ScrapeError::FieldMissing {
                field,
                selector: rule.selector_text.clone(),
                missing: of - filled,
                total: of,
                url: url.to_string(),
            };
            return Err(ScrapeFailure::new(err.to_string(), Some(health)));
        }
    }
    Ok(())
}

/// The list rules of a source without `[source.list]`, detected on its first page.
fn detected_rules(
    source: &SourceConfig,
    html: &str,
    page_url: &Url,
    health: &ScrapeHealth,
) -> Result<ListRules, ScrapeFailure> {
    let found = detect::detect_list(html, page_url).and_then(|d| d.rules().map(|r| (d, r)));
    match found {
        Some((d, rules)) => {
            tracing::info!(source = %source.id, item = %d.item, link = %d.link, "no [source.list]: list detected");
            Ok(rules)
        }
        None => Err(ScrapeFailure::new(
            format!(
                "source `{}` has no [source.list] and no list of article links was found on {page_url}: write the selectors (see `huiliu discover {page_url}`)",
                source.id
            ),
            Some(health),
        )),
    }
}

fn count_article(health: &mut ScrapeHealth, a: &ArticlePage) {
    let mut bump = |k: &str, present: bool| {
        let n = health.filled.entry(format!("article.{k}")).or_insert(0);
        if present {
            *n += 1;
        }
    };
    bump("title", a.title.is_some());
    bump("content", a.content_html.is_some());
    bump("date", a.date.is_some());
    bump("author", !a.authors.is_empty());
}

async fn fetch_article(
    fetcher: &Fetcher,
    source: &SourceConfig,
    rules: Option<&ArticleRules>,
    delay: std::time::Duration,
    browser: bool,
    link: &Url,
    now: DateTime<Utc>,
) -> Result<ArticlePage, String> {
    let budgets = fetcher.budgets();
    if let Some(over) = budgets.still_running(&source.id) {
        return Err(format!("article {link}: {over}"));
    }
    let body = {
        let _turn = fetcher.politeness().page_turn(link, delay).await;
        let fetched = if browser {
            fetcher.render(source, link).await
        } else {
            fetcher.get(source, link).await
        };
        fetched.map_err(|e| format!("article {link}: {e}"))?
    };
    let (article_rules, source_c) = (rules.cloned(), source.clone());
    let mut budget = budgets.page(&body.url);
    let parsed = budgets
        .run(&source.id, &mut budget, move || {
            let (text, _, _) = decode(&body.bytes, body.content_type.as_deref(), source_c.encoding);
            parse_article(
                &text,
                &body.url,
                article_rules.as_ref(),
                source_c.timezone,
                &source_c.date_formats,
                now,
            )
        })
        .await;
    parsed.map_err(|e| match e {
        // Names the page (and the budget) itself.
        StepError::OverBudget(over) if !over.still_running => over.to_string(),
        StepError::OverBudget(over) => format!("article {link}: {over}"),
        StepError::Panic(ref what) => {
            tracing::error!(panic = %what, "page parsing panicked");
            format!("article {link}: {e}")
        }
    })
}

/// The more precise of the list's and the article's date (the article's on a tie).
pub fn pick_date(list: Option<ParsedDate>, article: Option<ParsedDate>) -> Option<ParsedDate> {
    match (list, article) {
        (Some(l), Some(a)) if l.precision > a.precision => Some(l),
        (l, a) => a.or(l),
    }
}

fn raw_entry(item: ListItem, article: Option<ArticlePage>, list_url: &Url) -> RawEntry {
    let article = article.unwrap_or_default();
    let title = match (&item.title, &article.title) {
        (Some(t), _) if !item.title_truncated => Some(t.clone()),
        (_, Some(a)) => Some(a.clone()),
        (t, None) => t.clone(),
    };
    let date = pick_date(item.date, article.date);
    let enclosures = item
        .image
        .iter()
        .map(|u| Enclosure {
            url: u.to_string(),
            mime_type: image_type(u.path()).into(),
            length: None,
        })
        .collect();
    RawEntry {
        guid: None,
        link: Some(item.link.to_string()),
        base: article.base.clone().or_else(|| Some(list_url.clone())),
        title,
        title_is_html: false,
        summary_html: item.summary_html,
        content_html: article.content_html,
        authors: article.authors,
        published: date.map(|d| d.utc),
        updated: None,
        categories: Vec::new(),
        enclosures,
        language: None,
        origin: article.origin,
    }
}

fn image_type(path: &str) -> &'static str {
    let lower = path.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else {
        "image/jpeg"
    }
}

fn robots_denied(source: &SourceConfig, url: &Url) -> String {
    format!(
        "robots.txt of {} does not allow huiliu to fetch {url}: ask the site, or set `robots = false` on source `{}` if you have its permission",
        origin(url),
        source.id
    )
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// robots.txt per origin, fetched once per scrape.
#[derive(Default)]
struct RobotsCache {
    by_origin: HashMap<String, Robots>,
}

impl RobotsCache {
    async fn allows(
        &mut self,
        fetcher: &Fetcher,
        source: &SourceConfig,
        url: &Url,
    ) -> Result<bool, ScrapeFailure> {
        if !matches!(url.scheme(), "http" | "https") {
            return Ok(true);
        }
        let key = origin(url);
        if !self.by_origin.contains_key(&key) {
            let robots = fetch_robots(fetcher, source, url).await?;
            self.by_origin.insert(key.clone(), robots);
        }
        let mut path = url.path().to_string();
        if let Some(q) = url.query() {
            path.push('?');
            path.push_str(q);
        }
        Ok(self.by_origin.get(&key).is_none_or(|r| r.allows(&path)))
    }
}

/// RFC 9309: a 4xx means no rules; a 5xx means "assume everything disallowed".
async fn fetch_robots(
    fetcher: &Fetcher,
    source: &SourceConfig,
    url: &Url,
) -> Result<Robots, ScrapeFailure> {
    let Ok(robots_url) = url.join("/robots.txt") else {
        return Ok(Robots::allow_all());
    };
    let agent = fetcher_agent();
    match fetcher.get(source, &robots_url).await {
        Ok(body) => {
            let (text, _, _) = decode(&body.bytes, body.content_type.as_deref(), None);
            Ok(Robots::parse(&text, agent))
        }
        Err(e) => match e.kind {
            FetchErrorKind::Http(code) if (400..500).contains(&code) => Ok(Robots::allow_all()),
            FetchErrorKind::Http(_) => Ok(Robots::deny_all()),
            // The page itself is refused by the same check, and counted as failed.
            FetchErrorKind::PrivateAddress => Ok(Robots::allow_all()),
            _ => Err(ScrapeFailure::new(
                format!("fetching {robots_url} (robots.txt, checked before scraping): {e}"),
                None,
            )),
        },
    }
}

/// The product token robots.txt groups are matched against.
fn fetcher_agent() -> &'static str {
    "huiliu"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::dates::Precision;
    use chrono::TimeZone;

    fn d(h: u32, precision: Precision) -> ParsedDate {
        ParsedDate {
            utc: Utc.with_ymd_and_hms(2024, 1, 20, h, 0, 0).unwrap(),
            precision,
        }
    }

    #[test]
    fn the_more_precise_date_wins() {
        let list = d(0, Precision::Day);
        let article = d(1, Precision::Minute);
        assert_eq!(pick_date(Some(list), Some(article)), Some(article));
        assert_eq!(pick_date(Some(article), Some(list)), Some(article));
        assert_eq!(pick_date(Some(list), None), Some(list));
        assert_eq!(pick_date(None, Some(list)), Some(list));
        let other_day = d(5, Precision::Day);
        assert_eq!(pick_date(Some(list), Some(other_day)), Some(other_day));
        assert_eq!(pick_date(None, None), None);
    }

    #[test]
    fn item_keys_match_what_normalize_assigns() {
        let link = Url::parse("http://Gov.Example/a.html?utm_source=x").unwrap();
        let raw = RawEntry {
            link: Some(link.to_string()),
            title: Some("t".into()),
            ..RawEntry::default()
        };
        let src = SourceConfig::new("s", crate::config::SourceKind::Html, link.clone());
        let e = crate::normalize::normalize_entry(&raw, &src, &link, None);
        assert_eq!(item_key(&link), e.key);
    }
}
