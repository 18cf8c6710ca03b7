//! List detection: the selectors of a news list found on a page nobody
//! configured (`huiliu discover`, and `html` sources without
//! `[source.list]`). Pure: a decoded page in, selectors out.
//!
//! The list is the repeated block holding one article link (a title of
//! some length) and usually a date. Every group of same-tag siblings with
//! such links proposes item selectors of growing specificity; each is
//! scored on what it selects in the whole page (long titles and dates
//! count, navigation, blocks of several long links and look-alike lists
//! elsewhere on the page count against), and the best one wins. Then the
//! link, title and date selectors inside an item are chosen the same way:
//! the simplest one that gives the expected value on (nearly) every item.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;
use scraper::{ElementRef, Html, Selector};
use url::Url;

use super::scrape::{document_base, field_value, is_nav_text, resolve_link, visible_text};
use crate::config::{FieldRule, ListRules};
use crate::normalize::html::collapse_whitespace;

/// A detected list, as selectors (the text a config would hold).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectedList {
    pub item: String,
    pub link: String,
    /// The title is the link's `title` attribute (its text is empty).
    pub title_attr: bool,
    /// The title's own element inside the item, when the link wraps a
    /// whole card (date, title, a view count): `div.title`. `None`: the
    /// link's text (or `title` attribute) is the title.
    pub title: Option<String>,
    pub date: Option<DetectedDate>,
    pub next_page: Option<NextPage>,
    /// Items (blocks with an article link) the selectors give on the page.
    pub items: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DetectedDate {
    pub selector: String,
    /// `datetime` of a `<time>` element: exact, in any language.
    pub attr: Option<String>,
    /// Set when the element holds more than the date (`发布时间：…`, `(点击 12)`).
    pub regex: Option<String>,
    /// A strftime format every date on the page matched; `None` for
    /// year-less or relative dates (the built-in forms read those).
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextPage {
    /// A link found by its text (`下一页`, `Next`).
    Link { selector: String, text: String },
    /// A TRS/WCM `createPageHTML(…)` pager script: followed without settings.
    Script,
}

/// What a date looks like in a list. Group 1 is the date itself. Besides
/// full dates: two-digit years (`20-09-22`, before the year-less `09-22`
/// would take its first half), year-first English dates (`2021 Sep 03`),
/// Minguo-calendar dates (`115.03.19`) of Taiwanese sites, and relative
/// ages (`3 hours ago`, `2 小时前`), which the scraper reads against the
/// time of the poll. No digit right before or after: the `14-20` inside a
/// title's `2014-2015` is no date.
macro_rules! date_forms {
    () => {
        r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?|\b\d{2}-\d{2}-\d{2}\b|\d{1,2}[-/月]\d{1,2}日?(?:\s+\d{1,2}:\d{2})?|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2},?\s+\d{4}|\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{4}|\d{4}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}\b|\b1\d{2}[./]\d{1,2}[./]\d{1,2}\b|民國\s*1\d{2}年\d{1,2}月\d{1,2}日|\d+\s*(?:秒|分钟|分|小时|天|周)前|\d+\s+(?:seconds?|minutes?|hours?|days?|weeks?)\s+ago\b"
    };
}
const DATE_PATTERN: &str = concat!(r"(?:^|\D)(", date_forms!(), r")(?:\D|$)");

/// The same forms without the guards against digits around them: an
/// element whose text has none of them holds no date anywhere inside.
static DATE_LOOSE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(date_forms!()).unwrap_or_else(|_| never()));

static DATE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(DATE_PATTERN).unwrap_or_else(|_| never()));

fn never() -> Regex {
    Regex::new("$^").expect("constant regex")
}

/// Formats tried, most specific first.
const FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%Y %b %d",
    "%Y %B %d",
    "%y-%m-%d",
];

/// Texts of "next page" links, in the order they are preferred.
const NEXT_TEXTS: &[&str] = &[
    "下一页",
    "下页",
    "后页",
    "下一页>",
    "下一页>>",
    "下一页 >",
    "下一頁",
    "下頁",
    "下頁 ›",
    "Next",
    "next",
    "Next »",
    "Next ›",
    "»",
    "›",
    ">",
];

/// Minimum characters of an article title (shorter links are navigation).
const MIN_TITLE: usize = 4;

/// Finds the list on a page. `None` when no block repeats with article links.
pub fn detect_list(html: &str, page_url: &Url) -> Option<DetectedList> {
    // A page from the network, like any scraped page: nesting bounded
    // before the tree is built (its walkers then stay shallow).
    let html = &*crate::normalize::nesting::bound_depth(html);
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let best = item_selectors(&doc, &base)
        .into_iter()
        .filter_map(|css| {
            // Past the page's time budget: the rest is skipped (and the
            // caller throws the result away).
            if crate::budget::exceeded() {
                return None;
            }
            let sel = Selector::parse(&css).ok()?;
            let score = score_items(&doc, &sel, &base)?;
            Some((css, sel, score))
        })
        // Higher score; on a near tie the one catching nothing from
        // elsewhere on the page, then the shorter selector.
        .max_by(|a, b| {
            let (sa, sb) = (a.2.score, b.2.score);
            if (sa - sb).abs() <= 0.01 * sa.abs().max(sb.abs()) {
                b.2.stray.cmp(&a.2.stray).then(b.0.len().cmp(&a.0.len()))
            } else {
                sa.total_cmp(&sb)
            }
        })?;
    let (item, item_sel, scored) = best;
    let items: Vec<ElementRef<'_>> = doc
        .select(&item_sel)
        .filter(|e| title_anchor(*e, &base).is_some())
        .collect();
    let item_ids: HashSet<_> = doc.select(&item_sel).map(|e| e.id()).collect();
    let (link, title_attr) = link_selector(&items, &base)?;
    let title = if title_attr {
        None
    } else {
        title_selector(&items, &base)
    };
    let date = date_selector(&items, &item_ids);
    Some(DetectedList {
        item,
        link,
        title_attr,
        title,
        date,
        next_page: next_page(&doc, html, &base),
        items: scored.good,
    })
}

impl DetectedList {
    /// The rules the selectors compile to (`None` if one does not compile).
    pub fn rules(&self) -> Option<ListRules> {
        let date = match &self.date {
            None => None,
            Some(d) => Some(FieldRule {
                regex: match &d.regex {
                    Some(r) => Some(Regex::new(r).ok()?),
                    None => None,
                },
                format: d.format.clone(),
                ..rule(&d.selector, d.attr.as_deref())?
            }),
        };
        let next_page = match &self.next_page {
            Some(NextPage::Link { selector, text }) => Some(FieldRule {
                text: Some(text.clone()),
                ..rule(selector, Some("href"))?
            }),
            _ => None,
        };
        Some(ListRules {
            item: rule(&self.item, None)?,
            link: rule(&self.link, Some("href"))?,
            title: Some(match &self.title {
                Some(css) => rule(css, None)?,
                None => rule(&self.link, self.title_attr.then_some("title"))?,
            }),
            date,
            date_format: None,
            summary: None,
            image: None,
            next_page,
            page_pattern: None,
        })
    }

    /// The `[source.list]` table, indented as in a `[[source]]`.
    pub fn toml(&self) -> String {
        let mut out = String::from("  [source.list]\n");
        out += &format!("  item  = {}\n", quote(&self.item));
        out += &format!("  link  = {}\n", quote(&self.link));
        if let Some(css) = &self.title {
            out += &format!("  title = {}\n", quote(css));
        } else if self.title_attr {
            out += &format!(
                "  title = {{ selector = {}, attr = \"title\" }}\n",
                quote(&self.link)
            );
        } else {
            out += &format!("  title = {}\n", quote(&self.link));
        }
        if let Some(d) = &self.date {
            let mut parts = vec![format!("selector = {}", quote(&d.selector))];
            if let Some(a) = &d.attr {
                parts.push(format!("attr = {}", quote(a)));
            }
            if let Some(r) = &d.regex {
                parts.push(format!("regex = '{r}'"));
            }
            if let Some(f) = &d.format {
                parts.push(format!("format = {}", quote(f)));
            }
            out += &format!("  date  = {{ {} }}\n", parts.join(", "));
        }
        match &self.next_page {
            Some(NextPage::Link { selector, text }) => {
                out += &format!(
                    "  next_page = {{ selector = {}, text = {} }}\n",
                    quote(selector),
                    quote(text)
                );
            }
            Some(NextPage::Script) => {
                out += "  # paging: the createPageHTML(…) pager script is followed by itself\n";
            }
            None => {}
        }
        out
    }
}

/// A TOML basic string.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn rule(css: &str, attr: Option<&str>) -> Option<FieldRule> {
    Some(FieldRule {
        selector_text: css.to_string(),
        selector: Selector::parse(css).ok()?,
        attr: attr.map(str::to_string),
        regex: None,
        format: None,
        text: None,
    })
}

/// The article link of a block: its link with the longest title
/// (text, or the `title` attribute when longer), if long enough.
fn title_anchor<'a>(el: ElementRef<'a>, base: &Url) -> Option<(ElementRef<'a>, Url, String)> {
    anchors(el, base)
        .into_iter()
        .filter(|(_, _, t)| looks_like_title(t))
        .max_by_key(|(_, _, t)| t.chars().count())
}

/// Long enough, not a pager word, and words rather than a date or a count.
fn looks_like_title(t: &str) -> bool {
    let letters = t.chars().filter(|c| c.is_alphabetic()).count();
    t.chars().count() >= MIN_TITLE && letters >= 2 && !is_nav_text(t) && {
        let dateless = DATE.replace_all(t, "");
        dateless.chars().filter(|c| c.is_alphabetic()).count() >= 2
    }
}

/// Every `<a href>` in `el` (itself included) with a usable URL and its title.
fn anchors<'a>(el: ElementRef<'a>, base: &Url) -> Vec<(ElementRef<'a>, Url, String)> {
    static A: LazyLock<Option<Selector>> = LazyLock::new(|| Selector::parse("a[href]").ok());
    let Some(a) = A.as_ref() else {
        return Vec::new();
    };
    let own = (el.value().name() == "a").then_some(el);
    own.into_iter()
        .chain(el.select(a))
        .filter_map(|a| {
            let url = resolve_link(a.value().attr("href")?, base)?;
            let text = collapse_whitespace(&visible_text(a));
            let attr = a.value().attr("title").map(collapse_whitespace);
            let title = match attr {
                Some(t) if t.chars().count() > text.chars().count() => t,
                _ => text,
            };
            Some((a, url, title))
        })
        .collect()
}

/// Item selectors proposed by every group of same-tag siblings holding article links.
fn item_selectors(doc: &Html, base: &Url) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for parent in doc
        .root_element()
        .descendants()
        .filter_map(ElementRef::wrap)
    {
        if matches!(
            parent.value().name(),
            "head" | "script" | "style" | "select" | "a"
        ) {
            continue;
        }
        let mut by_tag: HashMap<&str, usize> = HashMap::new();
        // Items told apart by their own class from same-tag siblings that
        // hold other links (`tr.athing`, each followed by a row of meta links).
        let mut by_class: HashMap<(&str, String), usize> = HashMap::new();
        for child in parent.children().filter_map(ElementRef::wrap) {
            if title_anchor(child, base).is_some() {
                let tag = child.value().name();
                *by_tag.entry(tag).or_insert(0) += 1;
                let own = describe(child);
                if own != tag && !own.contains('#') {
                    *by_class.entry((tag, own)).or_insert(0) += 1;
                }
            }
        }
        let mut groups: Vec<(&str, String)> = Vec::new();
        for (tag, n) in &by_tag {
            if *n >= 2 {
                groups.push((tag, tag.to_string()));
            }
        }
        for ((tag, own), n) in by_class {
            if n >= 2 && by_tag.get(tag).is_some_and(|all| n < *all) {
                groups.push((tag, own));
            }
        }
        for (tag, item) in groups {
            for css in selectors_for(parent, tag, &item) {
                if !out.contains(&css) {
                    out.push(css);
                }
            }
        }
    }
    out
}

/// `parent > item` at growing specificity; table rows as `table… tr`.
/// `tag` is the item's element name, `item` its selector (`tr`, `tr.athing`).
fn selectors_for(parent: ElementRef<'_>, tag: &str, item: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (scope, join) = if tag == "tr" && matches!(parent.value().name(), "tbody" | "thead") {
        match parent.parent().and_then(ElementRef::wrap) {
            Some(table) => (table, " "),
            None => (parent, " > "),
        }
    } else {
        (parent, " > ")
    };
    let tag = item;
    let own = describe(scope);
    out.push(format!("{own}{join}{tag}"));
    // A bare container beside same-named ones that have an id or a class
    // (`<ul id="tagcloud">` then the plain `<ul>` of articles): the list
    // is the one that is none of them.
    if own == scope.value().name() {
        let nots: Vec<String> = scope
            .parent()
            .into_iter()
            .flat_map(|p| p.children())
            .filter_map(ElementRef::wrap)
            .filter(|sib| sib.id() != scope.id() && sib.value().name() == own)
            .map(describe)
            .filter(|d| *d != own)
            .map(|d| {
                let mark = d.trim_start_matches(own.as_str());
                // `.a.b` → `:not(.a)`: one class is enough to tell them apart.
                let first = match mark.strip_prefix('.') {
                    Some(classes) => format!(".{}", classes.split('.').next().unwrap_or_default()),
                    None => mark.to_string(),
                };
                format!(":not({first})")
            })
            .collect();
        if !nots.is_empty() && nots.len() <= 3 {
            out.push(format!("{own}{}{join}{tag}", nots.join("")));
        }
    }
    // The nearest ancestors that have an id or a class, one and two levels up.
    let mut path = own.clone();
    let mut added = 0;
    for anc in scope.ancestors().filter_map(ElementRef::wrap) {
        if matches!(anc.value().name(), "body" | "html") || added == 2 {
            break;
        }
        let d = describe(anc);
        if d == anc.value().name() {
            continue;
        }
        path = format!("{d} {path}");
        out.push(format!("{path}{join}{tag}"));
        added += 1;
        if anc.value().id().is_some_and(valid_ident) {
            break; // an id is specific enough
        }
    }
    out
}

/// `tag#id`, `tag.class1.class2` or `tag`.
fn describe(el: ElementRef<'_>) -> String {
    let tag = el.value().name();
    if let Some(id) = el
        .value()
        .id()
        .filter(|i| valid_ident(i) && !looks_generated(i))
    {
        return format!("{tag}#{id}");
    }
    let classes: Vec<&str> = el
        .value()
        .classes()
        .filter(|c| valid_ident(c) && !is_state_class(c))
        .collect();
    if classes.is_empty() {
        tag.to_string()
    } else {
        format!("{tag}.{}", classes.join("."))
    }
}

fn valid_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Ids with long numbers change between pages (`content_4821937`).
fn looks_generated(id: &str) -> bool {
    id.chars().filter(char::is_ascii_digit).count() >= 4
}

/// Classes that mark one item, not the list (`on`, `active`, `odd`…).
fn is_state_class(c: &str) -> bool {
    matches!(
        c.to_ascii_lowercase().as_str(),
        "on" | "active"
            | "current"
            | "cur"
            | "selected"
            | "odd"
            | "even"
            | "first"
            | "last"
            | "hover"
            | "new"
            | "hot"
            | "top"
            | "clearfix"
    ) || c.starts_with("bg")
        || c.ends_with("-on")
}

struct Scored {
    score: f64,
    good: usize,
    /// Article links caught under other parents than the list's (a tab bar
    /// with the same class): the near-tie breaker before the length.
    stray: usize,
}

/// How list-like what `sel` selects is; `None` when it is no list.
fn score_items(doc: &Html, sel: &Selector, base: &Url) -> Option<Scored> {
    let all: Vec<ElementRef<'_>> = doc.select(sel).collect();
    let ids: HashSet<_> = all.iter().map(|e| e.id()).collect();
    let mut good: Vec<(String, f64, bool)> = Vec::new(); // (parent description, quality, dated)
    let mut junk = 0usize;
    let mut seen: HashSet<Url> = HashSet::new();
    for el in &all {
        let links = anchors(*el, base);
        if links.is_empty() {
            continue; // header, spacer: skipped by the scraper too
        }
        let Some((_, url, title)) = title_anchor(*el, base) else {
            junk += 1; // navigation, pager
            continue;
        };
        // Other links as long as the title (an author or a category is shorter).
        let title_len = title.chars().count();
        let long: HashSet<&Url> = links
            .iter()
            .filter(|(_, _, t)| {
                let n = t.chars().count();
                n >= 8 && n * 2 >= title_len && looks_like_title(t)
            })
            .map(|(_, u, _)| u)
            .collect();
        if long.len() >= 2 || !seen.insert(url) {
            junk += 1; // a block of several articles, or a repeat
            continue;
        }
        let mut q = title.chars().count().min(40) as f64;
        let dated = date_in(*el).is_some() || tail_date(*el, &ids).is_some();
        if dated {
            q *= 2.5;
        }
        q *= place_factor(*el);
        // Where it sits: items of one list share their ancestors' names.
        let parent: Vec<String> = el
            .ancestors()
            .filter_map(ElementRef::wrap)
            .take(3)
            .map(describe)
            .collect();
        good.push((parent.join(" "), q, dated));
    }
    if good.len() < 2 || good.len() < junk {
        return None;
    }
    // In a list dated on most items, undated links are another list caught
    // too (a tag cloud in a plain `<ul>` beside the articles' plain `<ul>`).
    let mostly_dated = good.iter().filter(|g| g.2).count() * 2 > good.len();
    // Items under other kinds of parents are another list caught too.
    let mut per_parent: HashMap<&str, f64> = HashMap::new();
    for (p, q, _) in &good {
        *per_parent.entry(p.as_str()).or_insert(0.0) += q;
    }
    let main = per_parent
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(p, _)| *p)?;
    let score: f64 = good
        .iter()
        .map(|(p, q, dated)| {
            if p == main && (*dated || !mostly_dated) {
                *q
            } else {
                -0.5 * q
            }
        })
        .sum::<f64>()
        - 10.0 * junk as f64;
    let stray = good.iter().filter(|(p, _, _)| p != main).count();
    Some(Scored {
        score,
        good: good.len(),
        stray,
    })
}

/// Lists inside navigation, footers or side bars are rarely the column.
fn place_factor(el: ElementRef<'_>) -> f64 {
    let mut f: f64 = 1.0;
    for anc in el.ancestors().filter_map(ElementRef::wrap) {
        let name = anc.value().name();
        if matches!(name, "nav" | "footer" | "header") {
            f = f.min(0.2);
        }
        let marks = anc
            .value()
            .id()
            .into_iter()
            .chain(anc.value().classes())
            .map(str::to_ascii_lowercase);
        for m in marks {
            if [
                "nav",
                "menu",
                "foot",
                "breadcrumb",
                "friend",
                "share",
                "banner",
            ]
            .iter()
            .any(|w| m.contains(w))
            {
                f = f.min(0.2);
            } else if m.contains("side") || m.contains("hot") || m.contains("rank") {
                f = f.min(0.5);
            }
        }
    }
    f
}

/// The innermost element of `el` (itself included) whose text holds a date,
/// with the date text.
fn date_in(el: ElementRef<'_>) -> Option<(ElementRef<'_>, String)> {
    let text = collapse_whitespace(&visible_text(el));
    if !DATE_LOOSE.is_match(&text) {
        return None;
    }
    // Children first: their texts run together in the item's
    // (`<li>27 January 2021</li><li>3783 words</li>`), digits against digits.
    for child in el.children().filter_map(ElementRef::wrap) {
        if let Some(inner) = date_in(child) {
            return Some(inner);
        }
    }
    let found = DATE.captures(&text)?.get(1)?.as_str().to_string();
    Some((el, found))
}

/// A date in the elements after an item, before the next item.
fn tail_date<'a>(
    el: ElementRef<'a>,
    ids: &HashSet<ego_tree::NodeId>,
) -> Option<(ElementRef<'a>, String)> {
    el.next_siblings()
        .filter_map(ElementRef::wrap)
        .take(3)
        .take_while(|s| !ids.contains(&s.id()))
        .find_map(date_in)
}

/// The link selector inside an item, and whether the title is the `title` attribute.
fn link_selector(items: &[ElementRef<'_>], base: &Url) -> Option<(String, bool)> {
    let wanted: Vec<(ElementRef<'_>, Url, String)> = items
        .iter()
        .filter_map(|i| title_anchor(*i, base))
        .collect();
    let mut proposals: Vec<String> = vec!["a".into()];
    let mut classes: HashMap<String, usize> = HashMap::new();
    for (a, _, _) in &wanted {
        for c in a.value().classes().filter(|c| valid_ident(c)) {
            *classes.entry(format!("a.{c}")).or_insert(0) += 1;
        }
        if let Some(p) = a.parent().and_then(ElementRef::wrap) {
            let d = describe(p);
            if d != p.value().name() || !matches!(d.as_str(), "li" | "div" | "tr") {
                *classes.entry(format!("{d} a")).or_insert(0) += 1;
            }
            // Not the first link of its parent (an empty or image link to
            // the same article before it): by its place among them.
            let links: Vec<_> = p
                .children()
                .filter_map(ElementRef::wrap)
                .filter(|c| c.value().name() == "a")
                .collect();
            if links.len() > 1 && links.first().is_some_and(|f| f.id() != a.id()) {
                if links.last().is_some_and(|l| l.id() == a.id()) {
                    *classes.entry("a:last-of-type".into()).or_insert(0) += 1;
                }
                if let Some(i) = links.iter().position(|l| l.id() == a.id()) {
                    *classes
                        .entry(format!("a:nth-of-type({})", i + 1))
                        .or_insert(0) += 1;
                }
            }
        }
    }
    let mut more: Vec<(String, usize)> = classes.into_iter().collect();
    more.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())));
    proposals.extend(more.into_iter().map(|(c, _)| c));
    let best = proposals
        .iter()
        .filter_map(|css| {
            let r = rule(css, Some("href"))?;
            let text = rule(css, None)?;
            let title = rule(css, Some("title"))?;
            // The right URL, from a link that also gives a title (text or
            // `title`): the scraper takes the title from the same link.
            let hits = items
                .iter()
                .zip(&wanted)
                .filter(|(item, (_, url, _))| {
                    field_value(**item, &r, true)
                        .and_then(|h| resolve_link(&h, base))
                        .is_some_and(|u| &u == url)
                        && (field_value(**item, &text, true).is_some()
                            || field_value(**item, &title, true).is_some())
                })
                .count();
            Some((css.clone(), hits))
        })
        // The first proposal (the simplest) among the most accurate.
        .fold(None::<(String, usize)>, |acc, (css, hits)| match acc {
            Some((c, h)) if h >= hits => Some((c, h)),
            _ => Some((css, hits)),
        })?;
    let title_attr = wanted.iter().all(|(a, _, _)| {
        collapse_whitespace(&visible_text(*a)).is_empty() && a.value().attr("title").is_some()
    });
    Some((best.0, title_attr))
}

/// The title's element when the article link wraps a whole card: the link's
/// text then holds the date (and often a count) besides the title, and the
/// title is the longest element inside it without a date. `None` when the
/// link's text is the title on most items.
fn title_selector(items: &[ElementRef<'_>], base: &Url) -> Option<String> {
    let mut wanted: Vec<(ElementRef<'_>, String)> = Vec::new();
    for item in items {
        let (a, url, _) = title_anchor(*item, base)?;
        // No date in the link: a plain link, whose text is the title.
        date_in(a)?;
        // Inside every link of the item to the same article (a card may
        // link its heading and, apart, its summary with the date); a
        // heading or an element named a title first, then the longest.
        let best = anchors(*item, base)
            .into_iter()
            .filter(|(_, u, _)| *u == url)
            .flat_map(|(l, _, _)| l.descendants().skip(1).filter_map(ElementRef::wrap))
            .map(|e| (e, collapse_whitespace(&visible_text(e))))
            .filter(|(e, t)| looks_like_title(t) && date_in(*e).is_none())
            .max_by_key(|(e, t)| (names_a_title(*e), t.chars().count()))?;
        wanted.push(best);
    }
    if wanted.len() < 2 {
        return None;
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (el, _) in &wanted {
        let own = describe(*el);
        let tag = el.value().name().to_string();
        for css in [own.clone(), tag, format!("a {own}")] {
            *counts.entry(css).or_insert(0) += 1;
        }
    }
    let mut proposals: Vec<(String, usize)> = counts.into_iter().collect();
    proposals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())));
    let best = proposals
        .iter()
        .filter_map(|(css, _)| {
            let r = rule(css, None)?;
            let hits = items
                .iter()
                .zip(&wanted)
                .filter(|(item, (_, t))| field_value(**item, &r, true).as_deref() == Some(t))
                .count();
            Some((css.clone(), hits))
        })
        .fold(None::<(String, usize)>, |acc, (css, hits)| match acc {
            Some((c, h)) if h >= hits => Some((c, h)),
            _ => Some((css, hits)),
        })?;
    (best.1 * 10 >= items.len() * 9).then_some(best.0)
}

/// A heading, or an element whose class, id or `itemprop` says title or headline.
fn names_a_title(el: ElementRef<'_>) -> bool {
    let v = el.value();
    matches!(v.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
        || v.id()
            .into_iter()
            .chain(v.classes())
            .chain(v.attr("itemprop"))
            .any(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("title") || m.contains("headline")
            })
}

/// The date selector inside an item (or in the elements after it).
fn date_selector(
    items: &[ElementRef<'_>],
    ids: &HashSet<ego_tree::NodeId>,
) -> Option<DetectedDate> {
    let per_item: Vec<Option<(ElementRef<'_>, String)>> = items
        .iter()
        .map(|i| date_in(*i).or_else(|| tail_date(*i, ids)))
        .collect();
    let found: Vec<(ElementRef<'_>, String)> = per_item.iter().flatten().cloned().collect();
    if found.len() * 2 < items.len() {
        return None; // no date on most items: leave it to the article pages
    }
    if let Some(time) = datetime_selector(items) {
        return Some(time);
    }
    let needs_regex = found.iter().any(|(el, date)| {
        let text = collapse_whitespace(&visible_text(*el));
        text.trim_matches(|c: char| "[]()（）【】".contains(c))
            .trim()
            != date
    });
    let regex = needs_regex.then(|| DATE_PATTERN.to_string());
    let mut counts: HashMap<String, usize> = HashMap::new();
    for (el, _) in &found {
        for css in date_proposals(*el, ids) {
            *counts.entry(css).or_insert(0) += 1;
        }
    }
    let mut proposals: Vec<(String, usize)> = counts.into_iter().collect();
    proposals.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())));
    let compiled_regex = regex.as_deref().and_then(|r| Regex::new(r).ok());
    let best = proposals
        .iter()
        .take(12)
        .filter_map(|(css, _)| {
            let r = FieldRule {
                regex: compiled_regex.clone(),
                ..rule(css, None)?
            };
            // A hit gives the item's own date element, not a larger block
            // that merely holds a date (`div` selecting the whole item).
            let hits = items
                .iter()
                .zip(&per_item)
                .filter(|(item, found)| {
                    let Some((el, date)) = found else {
                        return false;
                    };
                    let want = if compiled_regex.is_some() {
                        date.clone()
                    } else {
                        collapse_whitespace(&visible_text(*el))
                    };
                    let v = field_value(**item, &r, true).or_else(|| {
                        item.next_siblings()
                            .filter_map(ElementRef::wrap)
                            .take(3)
                            .take_while(|s| !ids.contains(&s.id()))
                            .find_map(|s| field_value(s, &r, true))
                    });
                    v.is_some_and(|v| v == want)
                })
                .count();
            Some((css.clone(), hits))
        })
        .fold(None::<(String, usize)>, |acc, (css, hits)| match acc {
            Some((c, h)) if h >= hits => Some((c, h)),
            _ => Some((css, hits)),
        })?;
    if best.1 * 2 < items.len() {
        return None;
    }
    let dates: Vec<&str> = found.iter().map(|(_, d)| d.as_str()).collect();
    Some(DetectedDate {
        selector: best.0,
        attr: None,
        regex,
        format: date_format(&dates),
    })
}

/// `<time datetime>` on (nearly) every item: its attribute is the date.
fn datetime_selector(items: &[ElementRef<'_>]) -> Option<DetectedDate> {
    let css = "time[datetime]";
    let r = rule(css, Some("datetime"))?;
    let dated = items
        .iter()
        .filter(|i| {
            field_value(**i, &r, true).is_some_and(|v| {
                chrono::DateTime::parse_from_rfc3339(&v).is_ok()
                    || NaiveDate::parse_from_str(&v, "%Y-%m-%d").is_ok()
            })
        })
        .count();
    (dated * 10 >= items.len() * 9).then(|| DetectedDate {
        selector: css.into(),
        attr: Some("datetime".into()),
        regex: None,
        format: None,
    })
}

/// Selectors for a date element relative to its item, simplest first.
fn date_proposals(el: ElementRef<'_>, items: &HashSet<ego_tree::NodeId>) -> Vec<String> {
    let tag = el.value().name();
    let own = describe(el);
    let mut out = vec![own.clone()];
    if own != tag {
        out.push(tag.to_string());
    }
    // With the parents' names: `td.by em span` where `span` alone hits another span first.
    let mut path = own;
    for anc in el.ancestors().filter_map(ElementRef::wrap).take(2) {
        if items.contains(&anc.id()) {
            break;
        }
        path = format!("{} {path}", describe(anc));
        out.push(path.clone());
    }
    if let Some(parent) = el.parent().and_then(ElementRef::wrap) {
        let same: Vec<_> = parent
            .children()
            .filter_map(ElementRef::wrap)
            .filter(|c| c.value().name() == tag)
            .collect();
        if same.len() > 1 {
            if same.last().is_some_and(|l| l.id() == el.id()) {
                out.push(format!("{tag}:last-of-type"));
            }
            if let Some(i) = same.iter().position(|c| c.id() == el.id()) {
                out.push(format!("{tag}:nth-of-type({})", i + 1));
            }
        }
    }
    out
}

/// The one strftime format all `dates` match, if any.
fn date_format(dates: &[&str]) -> Option<String> {
    let fits = |f: &str, d: &str| {
        let d = d.trim();
        // `%Y` reads any number of digits: a Minguo `115.03.19` is no year 115.
        if f.starts_with("%Y") && d.chars().take_while(char::is_ascii_digit).count() != 4 {
            return false;
        }
        NaiveDateTime::parse_from_str(d, f).is_ok() || NaiveDate::parse_from_str(d, f).is_ok()
    };
    FORMATS
        .iter()
        .find(|f| !dates.is_empty() && dates.iter().all(|d| fits(f, d)))
        .map(|f| f.to_string())
}

/// The pager: a next link found by its text, or a pager script.
fn next_page(doc: &Html, html: &str, base: &Url) -> Option<NextPage> {
    if html.contains("createPageHTML(") && super::scrape::script_next_page(html, base).is_some() {
        return Some(NextPage::Script);
    }
    let sel = Selector::parse("a[href]").ok()?;
    let links: Vec<(String, ElementRef<'_>)> = doc
        .select(&sel)
        .map(|a| (collapse_whitespace(&visible_text(a)), a))
        .collect();
    NEXT_TEXTS.iter().find_map(|want| {
        links
            .iter()
            .find(|(t, a)| {
                t == want
                    && a.value()
                        .attr("href")
                        .and_then(|h| resolve_link(h, base))
                        .is_some()
            })
            .map(|_| NextPage::Link {
                selector: "a".into(),
                text: want.to_string(),
            })
    })
}

/// Feeds the page advertises (`<link rel="alternate" type="…rss|atom|json">`).
pub fn feed_links(html: &str, page_url: &Url) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let base = document_base(&doc, page_url);
    let Ok(sel) = Selector::parse("link[rel~=alternate][href]") else {
        return Vec::new();
    };
    doc.select(&sel)
        .filter(|l| {
            l.value().attr("type").is_some_and(|t| {
                let t = t.to_ascii_lowercase();
                t.contains("rss") || t.contains("atom") || t.contains("feed+json")
            })
        })
        .filter_map(|l| resolve_link(l.value().attr("href")?, &base))
        .collect()
}

/// The page's `<title>`, for the source's name.
pub fn page_title(html: &str) -> Option<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse("title").ok()?;
    doc.select(&sel)
        .next()
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty())
}

pub mod eval;

#[cfg(test)]
mod tests;
