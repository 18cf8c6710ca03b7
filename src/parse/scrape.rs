//! Parse stage for `html` sources: decoded list and article pages + the
//! compiled selectors of the source → raw items and article fields. Pure
//! functions: no fetching, no storing (the pagination loop and the article
//! fetches live in `refresh::scrape`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};
use url::Url;

use crate::config::{ArticleRules, FieldRule, ListRules};
use crate::model::Author;
use crate::normalize::article::{self, merge_byline, parse_byline, prune};
use crate::normalize::credits;
use crate::normalize::dates::{ParsedDate, parse_date};
use crate::normalize::html::collapse_whitespace;
use crate::normalize::limits::head;
use crate::normalize::nesting::bound_depth;

/// HTML of a list or article page read (the rest is cut): real pages are
/// under 1 MB, and parsing costs a multiple of what is read.
pub const MAX_PAGE_BYTES: usize = 4 << 20;
/// Main-content extraction runs on pages of at most this many elements
/// (real article pages: 300 to 5,000); its time grows faster than the page.
pub const MAX_EXTRACT_ELEMENTS: usize = 40_000;

/// A list page that matched nothing, or a page that is not what the rules expect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrapeError {
    #[error(
        "selector \"{selector}\" matched 0 items on {url}: the page layout may have changed; check the `[source.list] item` selector with `huiliu scrape`"
    )]
    NoItems { selector: String, url: String },
    #[error(
        "selector \"{selector}\" ({field}) found nothing in {missing} of {total} items on {url}: the page layout may have changed; check it with `huiliu scrape`"
    )]
    FieldMissing {
        field: &'static str,
        selector: String,
        missing: usize,
        total: usize,
        url: String,
    },
    #[error(
        "selector \"{link}\" (link) found no article link in any of the {rows} elements \"{item}\" matched on {url}: the page layout may have changed; check `[source.list] link` with `huiliu scrape` or `huiliu discover`"
    )]
    NoLinks {
        item: String,
        link: String,
        rows: usize,
        url: String,
    },
}

/// One item of a list page.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    /// Absolute, resolved against the page (or its `<base href>`).
    pub link: Url,
    pub title: Option<String>,
    /// The title looked cut (`…`, `...`) and no full one was found.
    pub title_truncated: bool,
    pub date: Option<ParsedDate>,
    pub summary_html: Option<String>,
    pub image: Option<Url>,
}

/// What one list page gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub items: Vec<ListItem>,
    /// Elements the `item` selector matched that hold an article link (the
    /// real items: header, spacer, pager and "more" rows are not counted).
    pub matched: usize,
    /// Elements the `item` selector matched that are no item (no article link).
    pub skipped: usize,
    /// How many items had each field (`link`, `title`, `date`, …).
    pub filled: BTreeMap<String, usize>,
    /// The next list page, resolved; `None` on the last page.
    pub next_page: Option<Url>,
    /// The next page came from a TRS/WCM `createPageHTML(…)` pager script.
    pub next_by_script: bool,
}

/// Reads a list page. Dates use `rule.format`, then `date_format`, then the
/// source's `date_formats`, then every form [`parse_date`] knows.
pub fn parse_list(
    html: &str,
    page_url: &Url,
    rules: &ListRules,
    tz: Tz,
    date_formats: &[String],
    now: DateTime<Utc>,
) -> Result<ListPage, ScrapeError> {
    let html = &*bound_depth(head(html, MAX_PAGE_BYTES));
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let elements: Vec<ElementRef<'_>> = doc.select(&rules.item.selector).collect();
    if elements.is_empty() {
        return Err(ScrapeError::NoItems {
            selector: rules.item.selector_text.clone(),
            url: page_url.to_string(),
        });
    }
    let mut formats: Vec<String> = Vec::new();
    if let Some(f) = rules.date.as_ref().and_then(|d| d.format.clone()) {
        formats.push(f);
    }
    formats.extend(rules.date_format.clone());
    formats.extend(date_formats.iter().cloned());

    let mut filled: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |field: &str, present: bool| {
        let n = filled.entry(field.to_string()).or_insert(0);
        if present {
            *n += 1;
        }
    };
    let item_ids: HashSet<ego_tree::NodeId> = elements.iter().map(|e| e.id()).collect();
    let mut items = Vec::new();
    let mut skipped = 0;
    for el in &elements {
        if crate::budget::exceeded() {
            // Past the page's time budget: the caller throws this away.
            break;
        }
        // Rows without an article link (header, spacer, pager, "more") are no items.
        let link = field_value(*el, &rules.link, true).and_then(|href| resolve_link(&href, &base));
        let Some(link) = link.filter(|_| !is_nav_row(*el, &rules.link)) else {
            skipped += 1;
            continue;
        };
        count("link", true);
        let (title, title_truncated) = match &rules.title {
            Some(rule) => {
                let t = title_value(*el, rule);
                count("title", t.is_some());
                match t {
                    Some((t, cut)) => (Some(t), cut),
                    None => (None, false),
                }
            }
            None => (None, false),
        };
        let date = rules.date.as_ref().and_then(|rule| {
            // The date may sit in a sibling after the item (`<dt>…</dt><dd>date</dd>`).
            let d = field_value(*el, rule, true)
                .or_else(|| sibling_value(*el, rule, &item_ids))
                .and_then(|s| parse_date(&s, tz, &formats, now));
            count("date", d.is_some());
            d
        });
        let summary_html = rules.summary.as_ref().and_then(|rule| {
            let s = field_html(*el, rule);
            count("summary", s.is_some());
            s
        });
        let image = rules.image.as_ref().and_then(|rule| {
            let i = field_value(*el, rule, true).and_then(|src| base.join(src.trim()).ok());
            count("image", i.is_some());
            i
        });
        if items.iter().any(|i: &ListItem| i.link == link) {
            continue; // the same article listed twice
        }
        items.push(ListItem {
            link,
            title,
            title_truncated,
            date,
            summary_html,
            image,
        });
    }
    let matched = elements.len() - skipped;
    if matched == 0 {
        return Err(ScrapeError::NoLinks {
            item: rules.item.selector_text.clone(),
            link: rules.link.selector_text.clone(),
            rows: elements.len(),
            url: page_url.to_string(),
        });
    }
    let by_rule = rules.next_page.as_ref().and_then(|rule| {
        field_value(doc.root_element(), rule, false).and_then(|href| resolve_link(&href, &base))
    });
    let by_script = match by_rule {
        Some(_) => None,
        None => script_next_page(html, page_url),
    };
    Ok(ListPage {
        items,
        matched,
        skipped,
        filled,
        next_by_script: by_script.is_some(),
        next_page: by_rule.or(by_script),
    })
}

/// Pager and "more" links: what a row holds when it is no item.
pub fn is_nav_text(text: &str) -> bool {
    static NAV: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r"(?i)^[\[【(（←]?\s*(首页|上一页|下一页|上页|下页|前页|后页|尾页|末页|最后一页|第一页|更多|更多>+|更多\+|查看更多|阅读全文|more|more>+|next|prev|previous|first|last|next page|previous page|older|newer|older posts|newer posts|older entries|newer entries|load more|read more|continue reading|[<>«»‹›←→]+|\d{1,4}|go|跳转|确定)\s*[\]】)）]?\s*[>»→]*$",
        )
        .unwrap_or_else(|_| Regex::new("$^").expect("constant regex"))
    });
    NAV.is_match(text.trim())
}

fn is_nav_row(el: ElementRef<'_>, link: &FieldRule) -> bool {
    candidates(el, link, true)
        .first()
        .is_some_and(|a| is_nav_text(&collapse_whitespace(&visible_text(*a))))
}

/// A field found in the elements after an item, up to the next item.
fn sibling_value(
    el: ElementRef<'_>,
    rule: &FieldRule,
    item_ids: &HashSet<ego_tree::NodeId>,
) -> Option<String> {
    el.next_siblings()
        .filter_map(ElementRef::wrap)
        .take(3)
        .take_while(|s| !item_ids.contains(&s.id()))
        .find_map(|s| field_value(s, rule, true))
}

/// The next page a TRS/WCM pager script writes:
/// `createPageHTML(12, 0, "index", "html")` on page 0 → `index_1.html`.
/// Variants put a container id first or a total count last; the page count
/// and the current page are the first two numbers, the name and the
/// extension the last two strings.
pub fn script_next_page(html: &str, page_url: &Url) -> Option<Url> {
    static CALL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"createPageHTML\s*\(([^)]*)\)")
            .unwrap_or_else(|_| Regex::new("$^").expect("constant regex"))
    });
    for call in CALL.captures_iter(html) {
        let args: Vec<&str> = call[1].split(',').map(str::trim).collect();
        let numbers: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let strings: Vec<&str> = args
            .iter()
            .filter(|a| a.len() >= 2 && (a.starts_with('"') || a.starts_with('\'')))
            .map(|a| &a[1..a.len() - 1])
            .collect();
        let ([count, current, ..], [.., name, ext]) = (numbers.as_slice(), strings.as_slice())
        else {
            continue; // the function's definition, or a call we do not know
        };
        if current + 1 >= *count {
            return None;
        }
        return page_url.join(&format!("{name}_{}.{ext}", current + 1)).ok();
    }
    None
}

/// What an article page gave.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArticlePage {
    pub title: Option<String>,
    /// Cleaned (not yet sanitized) content HTML; relative URLs still relative to `base`.
    pub content_html: Option<String>,
    pub date: Option<ParsedDate>,
    pub authors: Vec<Author>,
    pub origin: Option<String>,
    /// What relative URLs in the content resolve against.
    pub base: Option<Url>,
    /// The content came from main-content extraction, not a selector.
    pub extracted: bool,
}

/// Reads an article page. Without rules (or without a `content` rule) the
/// main content is extracted (dom_smoothie); without `date`/`author` rules
/// the gov-site meta tags and the meta line (`发布时间：… 作者：…`) are read.
/// A byline (`□ 镇长 丁涛`) anywhere on the page gives its author a role.
pub fn parse_article(
    html: &str,
    page_url: &Url,
    rules: Option<&ArticleRules>,
    tz: Tz,
    date_formats: &[String],
    now: DateTime<Utc>,
) -> ArticlePage {
    // Bounded before parsing: size, then nesting (README "Hostile input").
    let html = &*bound_depth(head(html, MAX_PAGE_BYTES));
    let extracting = rules.is_none_or(|r| r.content.is_none());
    // Main-content extraction reads the page as a `dom_query` tree too:
    // parsed once for both when that gives the same trees (one_parse.rs).
    let (doc, mut dom) = if extracting {
        super::one_parse::parse_page(html)
    } else {
        (Html::parse_document(html), None)
    };
    let base = document_base(&doc, page_url);
    let root = doc.root_element();
    let meta = meta_line(&doc);
    let mut page = ArticlePage {
        base: Some(base.clone()),
        ..ArticlePage::default()
    };
    // Past the page's time budget, the rest is skipped: the caller throws
    // the page away (checked between the steps below too).
    if crate::budget::exceeded() {
        return page;
    }

    page.title = match rules.and_then(|r| r.title.as_ref()) {
        Some(rule) => field_value(root, rule, false),
        None => super::extract::headline(&doc),
    };

    let remove: &[Selector] = rules.map(|r| r.remove.as_slice()).unwrap_or(&[]);
    page.content_html = match rules.and_then(|r| r.content.as_ref()) {
        Some(rule) => content_of(&doc, rule).map(|h| prune(&h, remove)),
        None => {
            page.extracted = true;
            let elements = doc.tree.values().filter(|n| n.is_element()).count();
            let depth = crate::normalize::nesting::tree_depth(doc.tree.root());
            if crate::budget::exceeded() {
                // Past the page's time budget (parsing took it all): the
                // caller throws this page away; no extraction started.
                None
            } else if depth > 3 * crate::normalize::nesting::MAX_DEPTH {
                // The extractor recurses per level: never past what the
                // nesting bound is meant to leave.
                tracing::warn!(url = %page_url, depth, "page nested too deep for main-content extraction: set a content selector");
                None
            } else if elements > MAX_EXTRACT_ELEMENTS {
                // Extraction time grows faster than the page: over budget,
                // the page gets no content rather than a stalled poll.
                tracing::warn!(url = %page_url, elements,
                    "page too large for main-content extraction ({elements} elements, at most {MAX_EXTRACT_ELEMENTS}): set a content selector");
                None
            } else {
                let dom = dom.take().unwrap_or_else(|| dom_query::Document::from(html));
                main_content(dom, page_url).map(|h| prune(&h, remove))
            }
        }
    }
    .filter(|h| !crate::budget::exceeded() && has_text_or_media(h));
    if crate::budget::exceeded() {
        return page;
    }

    // The page's text as the reader sees it, for what is printed near the headline.
    let near_headline_needed =
        rules.is_none_or(|r| r.date.is_none() || r.author.is_none()) && page.title.is_some();
    let chunks = if near_headline_needed {
        super::extract::text_chunks(&doc)
    } else {
        Vec::new()
    };
    let mut formats: Vec<String> = Vec::new();
    if let Some(f) = rules
        .and_then(|r| r.date.as_ref())
        .and_then(|d| d.format.clone())
    {
        formats.push(f);
    }
    formats.extend(date_formats.iter().cloned());
    page.date = match rules.and_then(|r| r.date.as_ref()) {
        Some(rule) => {
            field_value(root, rule, false).and_then(|s| parse_date(&s, tz, &formats, now))
        }
        None => {
            // What the reader sees under the headline first (labelled or
            // not), then the meta line, then the meta tags; a more precise
            // reading of the same day wins.
            let near = page
                .title
                .as_deref()
                .and_then(|h| super::extract::date_near_headline(&chunks, h));
            let shown = near
                .as_deref()
                .or(meta.published.as_deref())
                .and_then(|s| parse_date(s, tz, &formats, now));
            let tagged = meta_content(
                &doc,
                &[
                    "PubDate",
                    "pubdate",
                    "publishdate",
                    "article:published_time",
                    "og:article:published_time",
                    "og:release_date",
                    "publish_date",
                ],
            )
            .and_then(|s| parse_date(&s, tz, &formats, now));
            // A blog's `posted @ 2024-05-09 14:45` under the post, when
            // nothing is printed at the headline.
            let shown = shown.or_else(|| {
                super::extract::date_after_posted_label(&chunks)
                    .and_then(|d| parse_date(&d, tz, &formats, now))
            });
            match (shown, tagged) {
                (Some(s), Some(t)) if more_precise_same_reading(s, t, tz) => Some(t),
                (s, t) => s.or(t),
            }
        }
    };

    if crate::budget::exceeded() {
        return page;
    }
    page.authors = match rules.and_then(|r| r.author.as_ref()) {
        Some(rule) => field_value(root, rule, false)
            .map(|v| authors_from(&v))
            .unwrap_or_default(),
        None => {
            // The meta line, then the credits in the report's own text
            // (`（记者邹伟）`), and only then `<meta name="author">`.
            let text = page
                .content_html
                .as_deref()
                .map(crate::normalize::html::to_text)
                .unwrap_or_default();
            let mut found = meta.authors.clone();
            if found.is_empty() {
                found = credits::opening_credits(&text);
            }
            if found.is_empty() {
                // The reporter line under the headline, outside the text kept.
                let lines = page
                    .title
                    .as_deref()
                    .map(|h| super::extract::lines_after_headline(&chunks, h, 6))
                    .unwrap_or_default();
                found = credits::credits_after_headline(&lines);
            }
            if found.is_empty() {
                found = credits::closing_credits(&text);
            }
            if found.is_empty() {
                // Gov sites put the writer there; news sites the editor or
                // themselves (`新京报`, `网易`): a name the page shows as its
                // editor is no author.
                found = meta_content(&doc, &["Author", "author"])
                    .map(|v| authors_from(&v))
                    .unwrap_or_default();
                found.retain(|a| {
                    credits::is_person_name(&a.name)
                        && a.name.chars().count() >= 3
                        && !meta.editors.contains(&a.name)
                        && !text.contains(&format!("编辑：{}", a.name))
                });
            }
            found
        }
    };
    if let Some(byline) = find_byline(&doc) {
        merge_byline(&mut page.authors, byline);
    }

    page.origin = match rules.and_then(|r| r.origin.as_ref()) {
        Some(rule) => field_value(root, rule, false),
        None => meta
            .origin
            .clone()
            .or_else(|| meta_content(&doc, &["ContentSource", "source"])),
    };
    page
}

/// Whether the date in the page's meta tags (`t`) is a more precise reading
/// of the date printed on the page (`s`): the same day, and the same minute
/// when the page prints one (a tag saying 05:54 does not replace a printed 00:26).
fn more_precise_same_reading(
    s: crate::normalize::dates::ParsedDate,
    t: crate::normalize::dates::ParsedDate,
    tz: Tz,
) -> bool {
    use crate::normalize::dates::Precision;
    let (sl, tl) = (s.utc.with_timezone(&tz), t.utc.with_timezone(&tz));
    t.precision > s.precision
        && sl.date_naive() == tl.date_naive()
        && (s.precision == Precision::Day
            || sl.format("%H:%M").to_string() == tl.format("%H:%M").to_string())
}

/// Authors from a field value: a meta line (`记者 张三 通讯员 李四`) or names.
fn authors_from(value: &str) -> Vec<Author> {
    let meta = article::parse_meta_line(value);
    if !meta.authors.is_empty() || !meta.editors.is_empty() {
        return meta.authors;
    }
    article::names(value)
        .into_iter()
        .map(|n| Author::named(&n))
        .collect()
}

/// `<base href>` if the page has one, else the page URL.
pub(crate) fn document_base(doc: &Html, page_url: &Url) -> Url {
    let Ok(sel) = Selector::parse("base[href]") else {
        return page_url.clone();
    };
    doc.select(&sel)
        .next()
        .and_then(|b| b.value().attr("href"))
        .and_then(|h| page_url.join(h.trim()).ok())
        .unwrap_or_else(|| page_url.clone())
}

/// Resolves `./x`, `x`, `/x`, `//host/x` and absolute links; drops
/// `javascript:`, `mailto:` and fragment-only links.
pub fn resolve_link(href: &str, base: &Url) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let mut url = base.join(href).ok()?;
    if !matches!(url.scheme(), "http" | "https" | "file") {
        return None;
    }
    url.set_fragment(None);
    Some(url)
}

/// The elements a rule selects within `scope` (the scope itself first, if it
/// matches), filtered by the rule's `text`.
fn candidates<'a>(
    scope: ElementRef<'a>,
    rule: &FieldRule,
    include_self: bool,
) -> Vec<ElementRef<'a>> {
    let mut out = Vec::new();
    if include_self && rule.selector.matches(&scope) {
        out.push(scope);
    }
    out.extend(scope.select(&rule.selector));
    if let Some(wanted) = &rule.text {
        let wanted = collapse_whitespace(wanted);
        out.retain(|e| collapse_whitespace(&visible_text(*e)) == wanted);
    }
    out
}

/// The value of a field: attribute or collapsed text of the first match,
/// through the rule's regex (capture group 1; no match = absent). Empty = absent.
pub fn field_value(scope: ElementRef<'_>, rule: &FieldRule, include_self: bool) -> Option<String> {
    for el in candidates(scope, rule, include_self) {
        let raw = match &rule.attr {
            Some(a) => match el.value().attr(a) {
                Some(v) => collapse_whitespace(v),
                None => continue,
            },
            None => collapse_whitespace(&visible_text(el)),
        };
        let value = match &rule.regex {
            Some(re) => match re.captures(&raw) {
                Some(c) => c
                    .get(1)
                    .or_else(|| c.get(0))
                    .map(|m| m.as_str().trim().to_string()),
                None => continue,
            },
            None => Some(raw),
        };
        // The first element that matched decides (a regex may skip elements).
        return value.filter(|v| !v.is_empty());
    }
    None
}

/// A title, preferring the element's `title` attribute when the text is cut.
fn title_value(scope: ElementRef<'_>, rule: &FieldRule) -> Option<(String, bool)> {
    let text = field_value(scope, rule, true)?;
    let cut = text.ends_with("...") || text.ends_with('…') || text.ends_with("..");
    if cut && rule.attr.is_none() {
        let full = candidates(scope, rule, true)
            .into_iter()
            .find_map(|e| e.value().attr("title").map(collapse_whitespace))
            .filter(|t| !t.is_empty());
        if let Some(full) = full {
            return Some((full, false));
        }
    }
    Some((text, cut))
}

/// Inner HTML of the first match (for summaries), or the attribute.
fn field_html(scope: ElementRef<'_>, rule: &FieldRule) -> Option<String> {
    if rule.attr.is_some() || rule.regex.is_some() {
        return field_value(scope, rule, false).map(|v| escape_text(&v));
    }
    candidates(scope, rule, false)
        .first()
        .map(|e| e.inner_html())
        .filter(|h| !h.trim().is_empty())
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The content: every match of the selector that is not inside another match.
fn content_of(doc: &Html, rule: &FieldRule) -> Option<String> {
    let matches: Vec<ElementRef<'_>> = doc.select(&rule.selector).collect();
    // A set: a selector matching 100,000 elements stays linear.
    let ids: std::collections::HashSet<_> = matches.iter().map(|m| m.id()).collect();
    let outer: Vec<&ElementRef<'_>> = matches
        .iter()
        .filter(|m| !m.ancestors().any(|a| ids.contains(&a.id())))
        .collect();
    match outer.as_slice() {
        [] => None,
        [one] => Some(one.inner_html()),
        many => Some(many.iter().map(|m| m.html()).collect::<Vec<_>>().join("\n")),
    }
}

/// Main-content extraction for pages without a content selector.
fn main_content(doc: dom_query::Document, page_url: &Url) -> Option<String> {
    // The page as the reader sees it once its scripts ran, without the
    // teaser streams that outweigh a short article (README "Selector-free
    // article extraction").
    super::extract::prepare_page(&doc);
    let mut reader = dom_smoothie::Readability::with_document(doc, Some(page_url.as_str()), None)
        .map_err(|e| tracing::debug!(url = %page_url, error = %e, "main-content extraction failed"))
        .ok()?;
    match reader.parse() {
        Ok(article) => Some(super::extract::trim_extracted(&article.content)),
        Err(e) => {
            tracing::debug!(url = %page_url, error = %e, "no main content found");
            None
        }
    }
}

fn has_text_or_media(html: &str) -> bool {
    html.contains("<img") || !crate::normalize::html::to_text(html).trim().is_empty()
}

/// Text of an element without `<script>`/`<style>` contents.
pub(crate) fn visible_text(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    for d in el.descendants() {
        if let Node::Text(t) = d.value() {
            let hidden = d.ancestors().any(|a| {
                matches!(a.value(), Node::Element(e) if matches!(e.name(), "script" | "style" | "noscript"))
            });
            if !hidden {
                out.push_str(t);
            }
        }
    }
    out
}

/// `<meta name="…" content="…">` (or `property=`), first non-empty.
pub(crate) fn meta_content(doc: &Html, names: &[&str]) -> Option<String> {
    let sel = Selector::parse("meta[content]").ok()?;
    for name in names {
        for m in doc.select(&sel) {
            let v = m.value();
            let key = v.attr("name").or_else(|| v.attr("property")).unwrap_or("");
            if key.eq_ignore_ascii_case(name) {
                let content = collapse_whitespace(v.attr("content").unwrap_or(""));
                if !content.is_empty() {
                    return Some(content);
                }
            }
        }
    }
    None
}

/// The innermost short elements that read as meta lines, merged.
fn meta_line(doc: &Html) -> article::MetaLine {
    let Ok(body) = Selector::parse("body *") else {
        return article::MetaLine::default();
    };
    // Collapsed white space keeps every other character, so an element
    // with more than META_BLOCK_MAX_CHARS of them is no meta line: skipped
    // without building its text (building every element's text was
    // quadratic in the page's depth).
    let counts = visible_solid_chars(doc);
    let short = |el: &ElementRef<'_>| {
        counts.get(&el.id()).copied().unwrap_or(0) <= article::META_BLOCK_MAX_CHARS
    };
    let mut out = article::MetaLine::default();
    for el in doc.select(&body) {
        if crate::budget::exceeded() {
            // Past the page's time budget: the caller throws this away.
            break;
        }
        if matches!(el.value().name(), "script" | "style" | "head" | "title") || !short(&el) {
            continue;
        }
        let text = collapse_whitespace(&visible_text(el));
        if text.is_empty() || text.chars().count() > 200 || !article::is_meta_block(&text) {
            continue;
        }
        // Only the innermost: a child that is itself a meta line is read instead.
        let child_is_meta = el.children().filter_map(ElementRef::wrap).any(|c| {
            if !short(&c) {
                return false;
            }
            let t = collapse_whitespace(&visible_text(c));
            !t.is_empty() && article::is_meta_block(&t)
        });
        if child_is_meta {
            continue;
        }
        out.absorb(article::parse_meta_line(&text));
    }
    out
}

/// For every element, how many characters of its [`visible_text`] are not
/// white space (as [`collapse_whitespace`] reads it), in one pass.
fn visible_solid_chars(doc: &Html) -> HashMap<ego_tree::NodeId, usize> {
    let mut counts = HashMap::new();
    // Open elements with their counts so far; text under script/style/noscript is hidden.
    let mut open: Vec<usize> = Vec::new();
    let mut hidden = 0usize;
    let hides = |n: &Node| matches!(n, Node::Element(e) if matches!(e.name(), "script" | "style" | "noscript"));
    for edge in doc.tree.root().traverse() {
        match edge {
            ego_tree::iter::Edge::Open(n) => match n.value() {
                Node::Element(_) => {
                    hidden += usize::from(hides(n.value()));
                    open.push(0);
                }
                Node::Text(t) if hidden == 0 => {
                    if let Some(last) = open.last_mut() {
                        *last += t
                            .chars()
                            .filter(|c| !(c.is_whitespace() || *c == '\u{200b}'))
                            .count();
                    }
                }
                _ => {}
            },
            ego_tree::iter::Edge::Close(n) if n.value().is_element() => {
                hidden -= usize::from(hides(n.value()));
                let count = open.pop().unwrap_or(0);
                if let Some(parent) = open.last_mut() {
                    *parent += count;
                }
                counts.insert(n.id(), count);
            }
            _ => {}
        }
    }
    counts
}

/// A `□ 职务 姓名` byline anywhere in the body.
fn find_byline(doc: &Html) -> Option<Author> {
    let sel = Selector::parse("body *").ok()?;
    for el in doc.select(&sel) {
        if crate::budget::exceeded() {
            // Past the page's time budget: the caller throws this away.
            return None;
        }
        if el.children().filter_map(ElementRef::wrap).next().is_some() {
            continue; // innermost elements only
        }
        if let Some(author) = parse_byline(&visible_text(el)) {
            return Some(author);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::dates::Precision;

    #[test]
    fn a_meta_tag_refines_the_printed_date_only_when_it_agrees() {
        use crate::normalize::dates::ParsedDate;
        let tz = Tz::Asia__Shanghai;
        let at = |s: &str, precision| ParsedDate {
            utc: DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc),
            precision,
        };
        let printed = at("2024-05-10T00:26:00+08:00", Precision::Minute);
        let tag_other_time = at("2024-05-10T05:54:12+08:00", Precision::Second);
        let tag_same_minute = at("2024-05-10T00:26:41+08:00", Precision::Second);
        assert!(!more_precise_same_reading(printed, tag_other_time, tz));
        assert!(more_precise_same_reading(printed, tag_same_minute, tz));
        let day_only = at("2024-05-10T00:00:00+08:00", Precision::Day);
        assert!(more_precise_same_reading(day_only, tag_other_time, tz));
    }

    fn rule(css: &str) -> FieldRule {
        FieldRule {
            selector_text: css.into(),
            selector: Selector::parse(css).unwrap(),
            attr: None,
            regex: None,
            format: None,
            text: None,
        }
    }

    fn list_rules() -> ListRules {
        ListRules {
            item: rule("ul.list > li"),
            link: FieldRule {
                attr: Some("href".into()),
                ..rule("a")
            },
            title: Some(rule("a")),
            date: Some(rule("span")),
            date_format: Some("%Y-%m-%d".into()),
            summary: None,
            image: None,
            next_page: Some(FieldRule {
                attr: Some("href".into()),
                text: Some("下一页".into()),
                ..rule("div.page a")
            }),
            page_pattern: None,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-01T12:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    const LIST: &str = r#"<html><body>
        <ul class="side"><li><a href="dead.html">sidebar</a></li></ul>
        <ul class="list">
          <li><a href="./202402/a.html" title="全称标题很长很长">全称标题...</a><span>2024-02-26</span></li>
          <li><a href="202402/b.html">乙</a><span>02-18</span></li>
          <li><a href="/hutang/202402/c.html">丙</a><span>2024年2月5日</span></li>
          <li><a href="//other.example/x.html">丁</a><span>3天前</span></li>
          <li><a href="javascript:void(0)">戊</a></li>
          <li><a href="./202402/a.html#top">重复</a></li>
        </ul>
        <div class="page"><a href="index.html">首页</a> <a href="list_2.html">下一页</a> <a href="list_9.html">尾页</a></div>
        </body></html>"#;

    #[test]
    fn list_links_titles_dates_and_next_page() {
        let url = Url::parse("http://gov.example/hutang/index.html").unwrap();
        let page = parse_list(LIST, &url, &list_rules(), Tz::Asia__Shanghai, &[], now()).unwrap();
        let links: Vec<&str> = page.items.iter().map(|i| i.link.as_str()).collect();
        assert_eq!(
            links,
            vec![
                "http://gov.example/hutang/202402/a.html",
                "http://gov.example/hutang/202402/b.html",
                "http://gov.example/hutang/202402/c.html",
                "http://other.example/x.html",
            ]
        );
        assert_eq!(page.items[0].title.as_deref(), Some("全称标题很长很长"));
        assert!(!page.items[0].title_truncated);
        let d = page.items[0].date.unwrap();
        assert_eq!(d.utc.to_rfc3339(), "2024-02-25T16:00:00+00:00");
        assert_eq!(d.precision, Precision::Day);
        // Year-less, Chinese and relative dates on list pages.
        assert_eq!(
            page.items[1].date.unwrap().utc.to_rfc3339(),
            "2024-02-17T16:00:00+00:00"
        );
        assert_eq!(
            page.items[2].date.unwrap().utc.to_rfc3339(),
            "2024-02-04T16:00:00+00:00"
        );
        assert_eq!(
            page.items[3].date.unwrap().utc,
            now() - chrono::Duration::days(3)
        );
        // The javascript: row is no item; the repeated link is one.
        assert_eq!((page.matched, page.skipped), (5, 1));
        assert_eq!(page.filled["link"], 5);
        assert_eq!(
            page.next_page.as_ref().map(Url::as_str),
            Some("http://gov.example/hutang/list_2.html")
        );
    }

    #[test]
    fn header_spacer_pager_and_more_rows_are_no_items() {
        let html = r#"<table class="list_table">
            <tr><th>标题</th><th>日期</th></tr>
            <tr><td class="t"><a href="a.html">甲乙丙丁</a></td><td>2024-02-01</td></tr>
            <tr><td colspan="2" class="list_line"></td></tr>
            <tr><td class="t"><a href="b.html">戊己庚辛</a></td><td>2024-02-02</td></tr>
            <tr><td colspan="2"><a href="index_1.html">下一页</a> <a href="index_9.html">尾页</a></td></tr>
            <tr><td class="t"><a href="more.html">更多&gt;&gt;</a></td></tr>
            </table>"#;
        let url = Url::parse("http://gov.example/col/index.html").unwrap();
        let mut rules = list_rules();
        rules.item = rule("table.list_table tr");
        rules.date = Some(rule("td + td"));
        let page = parse_list(html, &url, &rules, Tz::UTC, &[], now()).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!((page.matched, page.skipped), (2, 4));
        assert_eq!(page.filled["date"], 2);
        // No row with a link at all: an error naming both selectors and the count.
        rules.link = FieldRule {
            attr: Some("href".into()),
            ..rule("td.title a")
        };
        let err = parse_list(html, &url, &rules, Tz::UTC, &[], now()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "selector \"td.title a\" (link) found no article link in any of the 6 elements \"table.list_table tr\" matched on http://gov.example/col/index.html"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_date_in_the_element_after_the_item() {
        let html = r#"<dl class="l"><dt><a href="a.html">甲乙丙丁</a></dt><dd>[2024-02-28]</dd>
            <dt><a href="b.html">戊己庚辛</a></dt><dd>[2024-02-27]</dd></dl>"#;
        let url = Url::parse("http://gov.example/col/").unwrap();
        let mut rules = list_rules();
        rules.item = rule("dl.l > dt");
        rules.date = Some(rule("dd"));
        let page = parse_list(html, &url, &rules, Tz::UTC, &[], now()).unwrap();
        let dates: Vec<String> = page
            .items
            .iter()
            .map(|i| i.date.unwrap().utc.format("%m-%d").to_string())
            .collect();
        assert_eq!(dates, vec!["02-28", "02-27"]);
    }

    #[test]
    fn trs_pager_script_gives_the_next_page() {
        let url = Url::parse("http://gov.example/col/index_1.html").unwrap();
        let def = "function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){}";
        let page = |call: &str| format!("<script>{def}\n{call}</script>");
        let next = |call: &str| script_next_page(&page(call), &url).map(|u| u.to_string());
        assert_eq!(
            next(r#"createPageHTML(12, 1, "index", "html");"#).as_deref(),
            Some("http://gov.example/col/index_2.html")
        );
        assert_eq!(
            next("createPageHTML('page_div', 5, 0, 'index', 'shtml', 98);").as_deref(),
            Some("http://gov.example/col/index_1.shtml")
        );
        assert_eq!(next(r#"createPageHTML(2, 1, "index", "html");"#), None);
        assert_eq!(next(""), None);
    }

    #[test]
    fn zero_items_is_an_error_naming_selector_and_page() {
        let url = Url::parse("http://gov.example/hutang/index.html").unwrap();
        let mut rules = list_rules();
        rules.item = rule("div.list li");
        let err = parse_list(LIST, &url, &rules, Tz::UTC, &[], now()).unwrap_err();
        assert_eq!(
            err.to_string().split(':').next().unwrap(),
            "selector \"div.list li\" matched 0 items on http"
        );
        assert!(
            err.to_string()
                .contains("http://gov.example/hutang/index.html")
        );
    }

    #[test]
    fn base_href_and_regex_fields() {
        let html = r#"<html><head><base href="http://cdn.example/news/"></head><body>
            <div class="item"><a href="x.html">甲</a><em>发布于 2024/1/20 09:30</em></div></body></html>"#;
        let url = Url::parse("http://gov.example/list.html").unwrap();
        let mut rules = list_rules();
        rules.item = rule("div.item");
        rules.date = Some(FieldRule {
            regex: Some(regex::Regex::new(r"发布于\s*(.+)").unwrap()),
            ..rule("em")
        });
        rules.date_format = None;
        let page = parse_list(html, &url, &rules, Tz::Asia__Shanghai, &[], now()).unwrap();
        assert_eq!(
            page.items[0].link.as_str(),
            "http://cdn.example/news/x.html"
        );
        let d = page.items[0].date.unwrap();
        assert_eq!(d.utc.to_rfc3339(), "2024-01-20T01:30:00+00:00");
        assert_eq!(d.precision, Precision::Minute);
        assert_eq!(page.next_page, None);
    }

    const ARTICLE: &str = "<html><head><title>标题_某某镇人民政府</title>\
        <meta name=\"PubDate\" content=\"2024-01-20 09:30\"><meta name=\"Author\" content=\"\"></head><body>\
        <div class=\"position\">当前位置：首页 &gt; 要闻</div>\
        <h1>凝心聚力推动高质量发展</h1>\
        <div class=\"info\">发布时间：2024-01-20 09:30&nbsp;&nbsp;来源：湖塘镇&nbsp;&nbsp;作者：丁涛 责任编辑：王五</div>\
        <div class=\"byline\">□ 湖塘镇党委副书记、镇长 丁涛</div>\
        <div class=\"content\"><style>.x{margin-top:0}</style>\
        <p>　　2024年是中华人民共和国成立75周年，是常州以GDP万亿之城身姿阔步向前的开篇之年，也是湖塘镇加快推进现代化建设的攻坚之年。</p>\
        <p>　　湖塘作为武进区域关镇和江南经济重镇，如何在产业转型升级中保持优势、在全市新能源产业布局中彰显价值，是我们面临的重大课题。</p>\
        <p>　　做好“加速”文章。加快园区更新，深化与科教城、国经集团等平台合作，争取将“基金+基地+城市”模式打造成园区发展新样板。</p>\
        <p><img src=\"./pic.png\"></p></div>\
        <div>打印本页 关闭窗口</div></body></html>";

    #[test]
    fn article_with_rules() {
        let url = Url::parse("http://gov.example/hutang/202401/t1.html").unwrap();
        let rules = ArticleRules {
            title: Some(rule("h1")),
            content: Some(rule("div.content")),
            remove: vec![],
            date: Some(FieldRule {
                regex: Some(
                    regex::Regex::new(r"发布时间：\s*(\d{4}-\d{2}-\d{2} \d{2}:\d{2})").unwrap(),
                ),
                format: Some("%Y-%m-%d %H:%M".into()),
                ..rule("div.info")
            }),
            author: Some(FieldRule {
                regex: Some(regex::Regex::new(r"作者：\s*(\S+)").unwrap()),
                ..rule("div.info")
            }),
            origin: None,
        };
        let a = parse_article(ARTICLE, &url, Some(&rules), Tz::Asia__Shanghai, &[], now());
        assert_eq!(a.title.as_deref(), Some("凝心聚力推动高质量发展"));
        assert_eq!(
            a.date.unwrap().utc.to_rfc3339(),
            "2024-01-20T01:30:00+00:00"
        );
        assert_eq!(a.authors.len(), 1);
        assert_eq!(a.authors[0].name, "丁涛");
        assert_eq!(a.authors[0].role.as_deref(), Some("湖塘镇党委副书记、镇长"));
        assert_eq!(a.origin.as_deref(), Some("湖塘镇"));
        // Only pruned here: the cleaning (indents, chrome) is the normalize stage's.
        let content = a.content_html.unwrap();
        assert!(content.starts_with("<p>　　2024年是"), "{content}");
        assert!(!content.contains("margin"), "{content}");
        let cleaned = crate::normalize::clean::clean(&content, &Default::default()).html;
        assert!(cleaned.starts_with("<p>2024年是"), "{cleaned}");
        assert!(!a.extracted);
    }

    #[test]
    fn article_without_rules_uses_heuristics() {
        let url = Url::parse("http://gov.example/hutang/202401/t1.html").unwrap();
        let a = parse_article(ARTICLE, &url, None, Tz::Asia__Shanghai, &[], now());
        assert!(a.extracted);
        assert_eq!(a.title.as_deref(), Some("凝心聚力推动高质量发展"));
        assert_eq!(
            a.date.unwrap().utc.to_rfc3339(),
            "2024-01-20T01:30:00+00:00"
        );
        assert_eq!(a.date.unwrap().precision, Precision::Minute);
        let names: Vec<_> = a.authors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["丁涛"], "the editor is no author");
        let content = a.content_html.expect("main content found");
        let cleaned = crate::normalize::clean::clean(&content, &Default::default()).html;
        let text = crate::normalize::html::to_text(&cleaned);
        assert!(
            text.starts_with("2024年是中华人民共和国成立75周年"),
            "{text}"
        );
        for chrome in ["打印本页", "当前位置", "发布时间", "margin"] {
            assert!(!text.contains(chrome), "{chrome} in {text}");
        }
    }

    #[test]
    fn every_date_form_on_a_list_page() {
        let forms = [
            ("2024-01-20", "2024-01-19T16:00:00+00:00", Precision::Day),
            (
                "2024-01-20 09:30",
                "2024-01-20T01:30:00+00:00",
                Precision::Minute,
            ),
            ("2024/1/20", "2024-01-19T16:00:00+00:00", Precision::Day),
            ("2024.01.20", "2024-01-19T16:00:00+00:00", Precision::Day),
            ("2024年1月20日", "2024-01-19T16:00:00+00:00", Precision::Day),
            (
                "2024年01月20日 09:30",
                "2024-01-20T01:30:00+00:00",
                Precision::Minute,
            ),
            (
                "发布时间：2024-01-20 09:30:15",
                "2024-01-20T01:30:15+00:00",
                Precision::Second,
            ),
            ("[01-20]", "2024-01-19T16:00:00+00:00", Precision::Day),
            ("1月20日", "2024-01-19T16:00:00+00:00", Precision::Day),
            // Year-less in the future: last year.
            ("12-30", "2023-12-29T16:00:00+00:00", Precision::Day),
            ("3小时前", "2024-03-01T01:00:00+00:00", Precision::Minute),
            ("昨天 10:30", "2024-02-29T02:30:00+00:00", Precision::Minute),
            ("Jan 20, 2024", "2024-01-19T16:00:00+00:00", Precision::Day),
            (
                "20 January 2024",
                "2024-01-19T16:00:00+00:00",
                Precision::Day,
            ),
        ];
        let url = Url::parse("http://gov.example/list.html").unwrap();
        let mut rules = list_rules();
        rules.date_format = None;
        for (text, utc, precision) in forms {
            let html = format!(
                "<ul class=\"list\"><li><a href=\"a.html\">甲</a><span>{text}</span></li></ul>"
            );
            let page = parse_list(&html, &url, &rules, Tz::Asia__Shanghai, &[], now()).unwrap();
            let d = page.items[0]
                .date
                .unwrap_or_else(|| panic!("{text}: no date"));
            assert_eq!(d.utc.to_rfc3339(), utc, "{text}");
            assert_eq!(d.precision, precision, "{text}");
        }
        // A per-field format comes first (here: day before month).
        rules.date = Some(FieldRule {
            format: Some("%d/%m/%Y".into()),
            ..rule("span")
        });
        let html =
            "<ul class=\"list\"><li><a href=\"a.html\">甲</a><span>05/02/2024</span></li></ul>";
        let page = parse_list(html, &url, &rules, Tz::Asia__Shanghai, &[], now()).unwrap();
        assert_eq!(
            page.items[0].date.unwrap().utc.to_rfc3339(),
            "2024-02-04T16:00:00+00:00"
        );
    }

    #[test]
    fn list_pages_in_every_charset_path() {
        use crate::parse::decode::{Decided, decode};
        let url = Url::parse("http://gov.example/list.html").unwrap();
        let page = |meta: &str, text: &str| {
            format!(
                "<html><head>{meta}</head><body><ul class=\"list\"><li><a href=\"a.html\">{text}</a></li></ul></body></html>"
            )
        };
        let title_of =
            |bytes: &[u8], ct: Option<&str>, over: Option<&'static encoding_rs::Encoding>| {
                let (text, _, how) = decode(bytes, ct, over);
                let p = parse_list(&text, &url, &list_rules(), Tz::UTC, &[], now()).unwrap();
                (p.items[0].title.clone().unwrap(), how)
            };
        let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
        // Meta only (the hutang case: Content-Type without charset).
        let bytes = gbk(&page("<meta charset=\"gbk\">", "湖塘要闻"));
        assert_eq!(
            title_of(&bytes, Some("text/html"), None),
            ("湖塘要闻".into(), Decided::Declaration)
        );
        // The header wins over a contradicting meta.
        let bytes = gbk(&page("<meta charset=\"utf-8\">", "湖塘要闻"));
        assert_eq!(
            title_of(&bytes, Some("text/html; charset=GB2312"), None),
            ("湖塘要闻".into(), Decided::HttpHeader)
        );
        // A character only GB18030 has, on a page labelled gb2312.
        let bytes = encoding_rs::GB18030
            .encode(&page(
                "<meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\">",
                "𠂇村新闻",
            ))
            .0
            .into_owned();
        assert_eq!(title_of(&bytes, None, None).0, "𠂇村新闻");
        // A site that lies everywhere: the per-source override.
        let bytes = gbk(&page("<meta charset=\"utf-8\">", "武进区"));
        let (wrong, _) = title_of(&bytes, Some("text/html; charset=utf-8"), None);
        assert_ne!(wrong, "武进区");
        assert_eq!(
            title_of(
                &bytes,
                Some("text/html; charset=utf-8"),
                Some(encoding_rs::GBK)
            ),
            ("武进区".into(), Decided::Override)
        );
    }
}
