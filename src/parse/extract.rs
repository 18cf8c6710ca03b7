//! Selector-free reading of an article page's headline and date: what a
//! person sees first. The headline is the heading the `<title>` starts with
//! (so the `_站名` suffix goes); the date is the one printed next to the
//! headline, labelled or not (`2022-02-13 20:04:17`, `2005年03月21日 11:21`,
//! `2024年5月22日週三 上午8:21`) — never a sidebar's or the footer's.

use std::sync::OnceLock;

use regex::Regex;
use scraper::{ElementRef, Html, Node, Selector};

use crate::normalize::article::clean_page_title;
use crate::normalize::html::collapse_whitespace;
use crate::parse::scrape::meta_content;

/// Elements whose text is never page content.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "head", "title"];

/// The visible text chunks of the body, in document order (one per text node).
pub fn text_chunks(doc: &Html) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(body) = Selector::parse("body") else {
        return out;
    };
    let root = doc.select(&body).next().unwrap_or(doc.root_element());
    collect(*root, &mut out);
    out
}

fn collect(node: ego_tree::NodeRef<'_, Node>, out: &mut Vec<String>) {
    for child in node.children() {
        match child.value() {
            Node::Text(t) => {
                let t = collapse_whitespace(t);
                if !t.is_empty() {
                    out.push(t);
                }
            }
            Node::Element(e) if HIDDEN.contains(&e.name()) => {}
            _ => collect(child, out),
        }
    }
}

fn element_text(el: ElementRef<'_>) -> String {
    let mut chunks = Vec::new();
    collect(*el, &mut chunks);
    collapse_whitespace(&chunks.join(" "))
}

/// Comparable form of a title: no white space, no punctuation.
fn squash(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// The headline: the heading (`h1`–`h3`, or an element whose class or id
/// says title) that the page's `<title>` / `og:title` begins with or
/// contains; else the `<title>` without the site name.
pub fn headline(doc: &Html) -> Option<String> {
    let page_title = first_text(doc, "title");
    let og = meta_content(doc, &["og:title", "twitter:title", "ArticleTitle", "title"]);
    let references: Vec<String> = [page_title.clone(), og.clone()]
        .into_iter()
        .flatten()
        .map(|t| squash(&t))
        .filter(|t| !t.is_empty())
        .collect();
    let Ok(sel) = Selector::parse(
        "h1, h2, h3, [class*=title], [id*=title], [class*=Title], [id*=Title], [class*=headline]",
    ) else {
        return None;
    };
    let mut best: Option<(usize, String)> = None;
    for el in doc.select(&sel) {
        if HIDDEN.contains(&el.value().name()) {
            continue;
        }
        let text = element_text(el);
        let n = text.chars().count();
        if !(4..=120).contains(&n) {
            continue;
        }
        let key = squash(&text);
        if key.chars().count() < 4 {
            continue;
        }
        let matches = references
            .iter()
            .any(|r| r.starts_with(&key) || (r.contains(&key) && key.chars().count() >= 8));
        if !matches {
            continue;
        }
        // The longest heading that matches: a section heading repeating part
        // of the title is shorter than the headline itself.
        let rank = key.chars().count() * 4 + heading_bonus(el.value().name());
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, text));
        }
    }
    if let Some((_, text)) = best {
        return Some(text);
    }
    // No heading repeats the title: the page's one `<h1>`, if it has one.
    if let Ok(h1) = Selector::parse("h1") {
        let h1s: Vec<String> = doc.select(&h1).map(element_text).collect();
        if let [one] = h1s.as_slice() {
            if (4..=120).contains(&one.chars().count()) {
                return Some(one.clone());
            }
        }
    }
    if let Some(og) = og.filter(|t| t.chars().count() >= 4) {
        return Some(clean_page_title(&og));
    }
    page_title
        .map(|t| clean_page_title(&t))
        .filter(|t| !t.is_empty())
}

fn heading_bonus(name: &str) -> usize {
    match name {
        "h1" => 3,
        "h2" => 2,
        "h3" => 1,
        _ => 0,
    }
}

fn first_text(doc: &Html, css: &str) -> Option<String> {
    let sel = Selector::parse(css).ok()?;
    doc.select(&sel)
        .map(|e| {
            let mut s = String::new();
            for t in e.text() {
                s.push_str(t);
            }
            collapse_whitespace(&s)
        })
        .find(|t| !t.is_empty())
}

fn date_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?:\s*日)?(?:\s*(?:周|星期|週|禮拜)[一二三四五六日天])?(?:\s*(上午|下午|早上|晚上|AM|PM)?\s*(\d{1,2})\s*[:：时]\s*(\d{2})(?:\s*[:：分]\s*(\d{2}))?)?",
        )
        .expect("date regex is valid")
    })
}

/// The first full date (year, month, day; time if printed) in `text`, as
/// `YYYY-MM-DD[ HH:MM[:SS]]`.
pub fn find_date(text: &str) -> Option<String> {
    for c in date_re().captures_iter(text) {
        let (y, m, d): (u32, u32, u32) =
            (c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?);
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            continue;
        }
        let mut out = format!("{y:04}-{m:02}-{d:02}");
        if let (Some(h), Some(min)) = (c.get(5), c.get(6)) {
            let mut h: u32 = h.as_str().parse().ok()?;
            let min: u32 = min.as_str().parse().ok()?;
            match c.get(4).map(|m| m.as_str()) {
                Some("下午" | "晚上" | "PM") if h < 12 => h += 12,
                Some("上午" | "早上" | "AM") if h == 12 => h = 0,
                _ => {}
            }
            if h < 24 && min < 60 {
                out.push_str(&format!(" {h:02}:{min:02}"));
                if let Some(s) = c.get(7).and_then(|s| s.as_str().parse::<u32>().ok()) {
                    if s < 60 {
                        out.push_str(&format!(":{s:02}"));
                    }
                }
            }
        }
        return Some(out);
    }
    None
}

/// How far from the headline a date may be printed (characters of text).
const AFTER: usize = 400;
const BEFORE: usize = 120;

/// The date printed next to the headline: the first one after it (within
/// a few lines), else one just before it. `None` without a headline on the page.
pub fn date_near_headline(chunks: &[String], headline: &str) -> Option<String> {
    let key: Vec<char> = squash(headline).chars().collect();
    if key.len() < 4 {
        return None;
    }
    // The squashed text of the page, each character with its chunk: a
    // headline split over several elements is still found.
    let mut flat: Vec<char> = Vec::new();
    let mut chunk_of: Vec<usize> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        for ch in c.chars().filter(|c| c.is_alphanumeric()) {
            flat.push(ch);
            chunk_of.push(i);
        }
    }
    let mut fallback = None;
    let mut at = 0;
    while at + key.len() <= flat.len() {
        if flat[at..at + key.len()] != key[..] {
            at += 1;
            continue;
        }
        let (first, last) = (chunk_of[at], chunk_of[at + key.len() - 1]);
        at += key.len();
        // Part of a longer line (a breadcrumb, a related link) is not the headline.
        let around: usize = chunks[first..=last]
            .iter()
            .map(|c| squash(c).chars().count())
            .sum();
        if around > key.len() + 12 {
            continue;
        }
        let mut window = String::new();
        for next in &chunks[last + 1..] {
            if window.chars().count() > AFTER {
                break;
            }
            window.push_str(next);
            window.push('\n');
        }
        if let Some(d) = find_date(&window) {
            return Some(d);
        }
        if fallback.is_none() {
            let mut before = String::new();
            for prev in chunks[..first].iter().rev() {
                if before.chars().count() > BEFORE {
                    break;
                }
                before = format!("{prev}\n{before}");
            }
            fallback = find_date(&before);
        }
    }
    fallback
}

/// Where the article ends and the site's lists begin, on pages that put
/// them in the same container as the article.
const END_MARKERS: &[&str] = &[
    "大家都在看",
    "推荐阅读",
    "相关阅读",
    "相关新闻",
    "相关推荐",
    "相关文章",
    "返回搜狐",
    "平台声明",
    "猜你喜欢",
    "热门推荐",
    "延伸阅读",
    "网友评论",
    "热点推荐",
    "精彩推荐",
];

/// Tidies what main-content extraction kept: blocks that are mostly links
/// (related-news lists, tag clouds) go, and so does everything from an end
/// marker (`相关新闻`, `大家都在看`, …) on.
pub fn trim_extracted(html: &str) -> String {
    let mut doc = Html::parse_fragment(html);
    let mut doomed: Vec<ego_tree::NodeId> = Vec::new();
    let mut end: Option<ego_tree::NodeId> = None;
    for node in doc.tree.root().descendants() {
        match node.value() {
            Node::Element(e)
                if matches!(
                    e.name(),
                    "ul" | "ol" | "li" | "dl" | "div" | "section" | "table" | "p" | "aside" | "nav"
                ) =>
            {
                let (all, linked) = text_and_link_chars(node);
                if all >= 10 && linked * 10 >= all * 6 {
                    doomed.push(node.id());
                }
            }
            Node::Text(t) if end.is_none() => {
                let t = t.trim();
                if END_MARKERS.iter().any(|m| t.starts_with(m)) && t.chars().count() < 40 {
                    end = Some(node.id());
                }
            }
            _ => {}
        }
    }
    if let Some(id) = end {
        // Everything after the marker, at every level, and the marker itself.
        let mut cur = doc.tree.get(id).map(|n| n.id());
        while let Some(c) = cur {
            let Some(n) = doc.tree.get(c) else { break };
            let mut sib = n.next_sibling();
            while let Some(s) = sib {
                doomed.push(s.id());
                sib = s.next_sibling();
            }
            cur = n.parent().map(|p| p.id());
        }
        doomed.push(id);
    }
    for id in doomed {
        if let Some(mut n) = doc.tree.get_mut(id) {
            n.detach();
        }
    }
    doc.root_element().inner_html()
}

/// Characters of text under `node`, and how many of them are inside links.
fn text_and_link_chars(node: ego_tree::NodeRef<'_, Node>) -> (usize, usize) {
    let (mut all, mut linked) = (0, 0);
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            let n = t.chars().filter(|c| !c.is_whitespace()).count();
            all += n;
            let in_link = d
                .ancestors()
                .take_while(|a| a.id() != node.id())
                .any(|a| matches!(a.value(), Node::Element(e) if e.name() == "a"));
            if in_link {
                linked += n;
            }
        }
    }
    (all, linked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_lists_and_what_follows_an_end_marker_go() {
        let html = "<div><p>正文第一段，内容完整。</p>\
            <ul><li><a href=\"/1\">别的新闻标题一</a></li><li><a href=\"/2\">别的新闻标题二</a></li></ul>\
            <p>正文第二段，引用了<a href=\"/x\">一个链接</a>但主要是文字内容。</p>\
            <div><h3>相关新闻</h3><p>不属于正文的一段推荐内容。</p></div><p>还有更多推荐。</p></div>";
        let out = trim_extracted(html);
        assert!(
            out.contains("正文第一段") && out.contains("正文第二段"),
            "{out}"
        );
        for gone in ["别的新闻", "相关新闻", "推荐内容", "更多推荐"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
    }

    #[test]
    fn dates_in_every_form_a_page_prints() {
        assert_eq!(
            find_date("2022-02-13 20:04:17").as_deref(),
            Some("2022-02-13 20:04:17")
        );
        assert_eq!(
            find_date("2005年03月21日 11:21").as_deref(),
            Some("2005-03-21 11:21")
        );
        assert_eq!(
            find_date("2024年05月10日06:58 | 来源").as_deref(),
            Some("2024-05-10 06:58")
        );
        assert_eq!(
            find_date("2024年5月22日週三 上午8:21").as_deref(),
            Some("2024-05-22 08:21")
        );
        assert_eq!(
            find_date("2024年5月20日週一 下午2:05").as_deref(),
            Some("2024-05-20 14:05")
        );
        assert_eq!(find_date("时间：2024.05.11").as_deref(), Some("2024-05-11"));
        assert_eq!(find_date("© 2003-2024 版权所有"), None);
        assert_eq!(find_date("2024-13-45"), None);
    }

    #[test]
    fn the_date_next_to_the_headline_not_the_sidebar_or_footer() {
        let html = "<html><head><title>湖塘镇开展节前安全生产大检查_湖塘镇人民政府</title></head><body>\
            <div class=side><a>2024-01-01 旧闻一则</a></div>\
            <div class=crumb>首页 &gt; 湖塘镇开展节前安全生产大检查</div>\
            <h1>湖塘镇开展节前安全生产大检查</h1>\
            <div class=info><span>2022-02-13 20:04:17</span> <span>湖塘镇</span></div>\
            <p>正文。</p><div class=foot>Copyright © 2003-2024 2023年12月31日</div></body></html>";
        let doc = Html::parse_document(html);
        let h = headline(&doc).unwrap();
        assert_eq!(h, "湖塘镇开展节前安全生产大检查");
        let chunks = text_chunks(&doc);
        assert_eq!(
            date_near_headline(&chunks, &h).as_deref(),
            Some("2022-02-13 20:04:17")
        );
    }

    #[test]
    fn headline_is_the_heading_the_title_starts_with() {
        let html = "<html><head><title>新华视界｜河北遵化：数字农机服务助力农业生产-新华网</title></head><body>\
            <h1>新华网</h1><div class=\"h-title\">新华视界｜河北遵化：数字农机服务助力农业生产</div>\
            <h2>相关新闻</h2></body></html>";
        let doc = Html::parse_document(html);
        assert_eq!(
            headline(&doc).as_deref(),
            Some("新华视界｜河北遵化：数字农机服务助力农业生产")
        );
        let bare = Html::parse_document(
            "<html><head><title>短视频与大众文化生产_1905电影网</title></head><body><p>x</p></body></html>",
        );
        assert_eq!(headline(&bare).as_deref(), Some("短视频与大众文化生产"));
    }
}
