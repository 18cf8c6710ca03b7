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
    // The titles without the site's and section's names after a separator
    // (`… -- Puppet Masters -- Sott.net`): a heading found only there is a
    // section label, not the headline.
    let heads: Vec<String> = [page_title.as_deref(), og.as_deref()]
        .into_iter()
        .flatten()
        .map(|t| squash(&clean_page_title(t)))
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
        // An English headline may run past 120 characters; one that long
        // is only taken when the title begins with it.
        if !(4..=250).contains(&n) {
            continue;
        }
        let key = squash(&text);
        if key.chars().count() < 4 {
            continue;
        }
        let prefix = references.iter().any(|r| r.starts_with(&key));
        let inside = n <= 120 && key.chars().count() >= 8 && heads.iter().any(|r| r.contains(&key));
        if !(prefix || inside) {
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
    // No heading repeats the title: the printed `<h1>`.
    let description = meta_content(doc, &["description", "og:description"]);
    let told: Vec<&str> = [page_title.as_deref(), og.as_deref(), description.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    if let Some(h1) = printed_h1(doc, &told) {
        return Some(h1);
    }
    if let Some(og) = og.filter(|t| t.chars().count() >= 4) {
        return Some(clean_page_title(&og));
    }
    page_title
        .map(|t| clean_page_title(&t))
        .filter(|t| !t.is_empty())
}

/// The page's `<h1>` when no heading repeats the title (the title is
/// written for search engines: `Miami-area CEOs are asked: …` over the
/// printed `From Metrorail to bike paths, …`). One `<h1>` (the same text
/// twice counts once) is the headline up to 120 characters, or up to 250
/// when it shares [`H1_SHARED_WORDS`] words with the title, `og:title` or
/// the description. Of several, the one sharing the most words with them
/// (at least as many), alone at the top: a section's name (`Business
/// Monday`, `More Science`, `Top Articles`) tells another story.
fn printed_h1(doc: &Html, told: &[&str]) -> Option<String> {
    let sel = Selector::parse("h1").ok()?;
    let mut h1s: Vec<String> = Vec::new();
    for el in doc.select(&sel) {
        let text = element_text(el);
        if (4..=250).contains(&text.chars().count()) && !h1s.contains(&text) {
            h1s.push(text);
        }
    }
    let told_words: std::collections::HashSet<String> =
        told.iter().flat_map(|t| title_words(t)).collect();
    let shared = |h: &str| {
        title_words(h)
            .into_iter()
            .collect::<std::collections::HashSet<_>>()
            .intersection(&told_words)
            .count()
    };
    if let [one] = h1s.as_slice() {
        let n = one.chars().count();
        return (n <= 120 || shared(one) >= H1_SHARED_WORDS).then(|| one.clone());
    }
    let mut ranked: Vec<(usize, &String)> = h1s.iter().map(|h| (shared(h), h)).collect();
    ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
    match ranked.as_slice() {
        [(best, h), rest @ ..]
            if *best >= H1_SHARED_WORDS && rest.first().is_none_or(|(n, _)| n < best) =>
        {
            Some((*h).clone())
        }
        _ => None,
    }
}

/// Words an `<h1>` must share with the title or the description to be
/// taken for the headline when the title does not repeat it.
const H1_SHARED_WORDS: usize = 2;

/// The words of a title that tell its story: lower-cased runs of letters or
/// digits of three or more characters (`of`, `a`, `to` say nothing), each
/// CJK character on its own.
fn title_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |w: &mut String, out: &mut Vec<String>| {
        if w.chars().count() >= 3 && !matches!(w.as_str(), "the" | "and" | "for" | "with") {
            out.push(std::mem::take(w));
        }
        w.clear();
    };
    for c in s.chars().flat_map(char::to_lowercase) {
        if crate::normalize::text::is_cjk(c) {
            flush(&mut word, &mut out);
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
        }
    }
    flush(&mut word, &mut out);
    out
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

/// Where the headline is printed in `chunks`: the (first, last) chunk of
/// each place its text stands alone (a headline split over several elements
/// is still found; part of a longer line — a breadcrumb, a related link — is not it).
fn headline_spans(chunks: &[String], headline: &str) -> Vec<(usize, usize)> {
    let key: Vec<char> = squash(headline).chars().collect();
    if key.len() < 4 {
        return Vec::new();
    }
    // The squashed text of the page, each character with its chunk.
    let mut flat: Vec<char> = Vec::new();
    let mut chunk_of: Vec<usize> = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        for ch in c.chars().filter(|c| c.is_alphanumeric()) {
            flat.push(ch);
            chunk_of.push(i);
        }
    }
    let mut out = Vec::new();
    let mut at = 0;
    while at + key.len() <= flat.len() {
        if flat[at..at + key.len()] != key[..] {
            at += 1;
            continue;
        }
        let (first, last) = (chunk_of[at], chunk_of[at + key.len() - 1]);
        at += key.len();
        let around: usize = chunks[first..=last]
            .iter()
            .map(|c| squash(c).chars().count())
            .sum();
        if around <= key.len() + 12 {
            out.push((first, last));
        }
    }
    out
}

/// The date printed next to the headline: the first one after it (within
/// a few lines), else one just before it. `None` without a headline on the page.
pub fn date_near_headline(chunks: &[String], headline: &str) -> Option<String> {
    let mut fallback = None;
    for (first, last) in headline_spans(chunks, headline) {
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

/// The date a blog prints with its post (`posted @ 2024-05-09 14:45`,
/// `Posted on …`, `发表于 …`): the first such label on the page.
pub fn date_after_posted_label(chunks: &[String]) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"(?i)(?:(?:^|\s)posted\s*(?:@|on|at)|发表于)(?:\s|[:：]|$|\d)")
            .expect("posted label regex is valid")
    });
    for (i, c) in chunks.iter().enumerate() {
        if !re.is_match(c) {
            continue;
        }
        // The date is in the same chunk or in the next ones.
        let window: String = chunks[i..chunks.len().min(i + 3)].join(" ");
        if let Some(d) = find_date(&window) {
            return Some(d);
        }
    }
    None
}

/// The lines printed under the headline (its first place on the page): where
/// a reporter line stands when main-content extraction leaves it out.
pub fn lines_after_headline(chunks: &[String], headline: &str, n: usize) -> Vec<String> {
    headline_spans(chunks, headline)
        .first()
        .map(|&(_, last)| chunks[last + 1..].iter().take(n).cloned().collect())
        .unwrap_or_default()
}

/// Where the article ends and the site's lists begin, on pages that put
/// them in the same container as the article: a short line starting with
/// one of these.
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
    "展开阅读全文",
];

/// The disclaimer self-publishing platforms print under every post
/// (`…用户上传并发布，本平台仅提供信息存储服务`): what follows is the
/// platform's, not the post's (buttons, comments, the next post).
const END_PHRASES: &[&str] = &["仅提供信息存储", "用户上传并发布"];

/// The editor's line that closes a Chinese report: `【责任编辑：张三】`,
/// `（编辑：李四）`, `责任编辑：王五`.
fn editor_line_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"^[（(【\[]?\s*(?:责任编辑|责编|编辑)\s*[:：]?\s*[\p{Han}·A-Za-z]{1,8}(?:\s*[、，,\s]\s*[\p{Han}·A-Za-z]{1,8}){0,3}\s*[）)】\]]?$",
        )
        .expect("editor line regex is valid")
    })
}

/// Text before an editor line for it to close the report: one at the top
/// of the page (`来源：… 编辑：…`) closes nothing.
const EDITOR_LINE_AFTER: usize = 100;

/// Tidies what main-content extraction kept: blocks that are mostly links
/// (related-news lists, tag clouds) go, and so does everything from an end
/// marker (`相关新闻`, `大家都在看`, a platform's disclaimer, …) on, and
/// everything after the editor's line (`【责任编辑：张三】`).
pub fn trim_extracted(html: &str) -> String {
    let mut doc = Html::parse_fragment(html);
    let mut doomed: Vec<ego_tree::NodeId> = Vec::new();
    let mut link_blocks: Vec<ego_tree::NodeId> = Vec::new();
    // The first end: the node, and whether it goes too (a marker) or stays
    // (the editor's line).
    let mut end: Option<(ego_tree::NodeId, bool)> = None;
    let mut seen = 0usize;
    for node in doc.tree.root().descendants() {
        match node.value() {
            Node::Element(e) => {
                if matches!(
                    e.name(),
                    "ul" | "ol" | "li" | "dl" | "div" | "section" | "table" | "p" | "aside" | "nav"
                ) {
                    let (all, linked) = text_and_link_chars(node);
                    if all >= 10 && linked * 10 >= all * 6 && all - linked < PROSE_MIN_CHARS {
                        link_blocks.push(node.id());
                    }
                }
                if end.is_none() && !HIDDEN.contains(&e.name()) {
                    end = end_at(node, seen);
                }
            }
            Node::Text(t) => {
                if end.is_none() {
                    end = end_at(node, seen);
                }
                seen += t.chars().filter(|c| !c.is_whitespace()).count();
            }
            _ => {}
        }
    }
    if !links_are_the_article(&doc, &link_blocks) {
        doomed.extend(link_blocks);
    }
    doomed.extend(repeated_and_credit_lines(&doc));
    if let Some((id, inclusive)) = end {
        // Everything after the end, at every level, and a marker itself.
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
        if inclusive {
            doomed.push(id);
        }
    }
    for id in doomed {
        if let Some(mut n) = doc.tree.get_mut(id) {
            n.detach();
        }
    }
    doc.root_element().inner_html()
}

/// Text outside links (non-space characters) that makes a block more than
/// a link list: an introduction above a list of deals, a paragraph that
/// cites its sources.
const PROSE_MIN_CHARS: usize = 200;

/// Mean length of a link's text (non-space characters) in a post whose
/// lines are links: a product's name, a story's headline — a menu's
/// entries (`Teams`, `Scores`) are shorter.
const LINK_LINE_MIN_CHARS: usize = 40;

/// Whether the link lists are the post itself (a list of deals, a link
/// roundup): they hold three quarters of its text or more, and their links
/// read as lines ([`LINK_LINE_MIN_CHARS`]). A related-news box beside an
/// article holds less; a menu that extraction took for the article has
/// short links, and goes.
fn links_are_the_article(doc: &Html, link_blocks: &[ego_tree::NodeId]) -> bool {
    let root = doc.tree.root();
    let (all, _) = text_and_link_chars(root);
    let mut in_blocks = 0;
    for id in link_blocks {
        let Some(n) = doc.tree.get(*id) else { continue };
        // Blocks inside another link block are counted with it.
        if n.ancestors().any(|a| link_blocks.contains(&a.id())) {
            continue;
        }
        in_blocks += text_and_link_chars(n).0;
    }
    if all == 0 || in_blocks * 4 < all * 3 {
        return false;
    }
    let (mut links, mut link_chars) = (0, 0);
    for d in root.descendants() {
        if matches!(d.value(), Node::Element(e) if e.name() == "a") {
            let n = text_and_link_chars(d).0;
            if n > 0 {
                links += 1;
                link_chars += n;
            }
        }
    }
    links > 0 && link_chars >= links * LINK_LINE_MIN_CHARS
}

/// Elements that hold a line of text and no other block.
const LINE_BLOCKS: &[&str] = &[
    "p",
    "div",
    "li",
    "span",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "figcaption",
    "cite",
    "small",
];

/// Longest line a gallery's slide title or a picture credit may be.
const SHORT_LINE_MAX_CHARS: usize = 80;

/// How often one short line must repeat, line after line, to be a
/// gallery's (`Weather threatens holiday plans` over each of 14 slides),
/// not the text's.
const REPEATED_LINE_MIN: usize = 3;

/// Lines that are not the article's: a short line repeated
/// [`REPEATED_LINE_MIN`] times or more in a row (every copy; a line that
/// comes back between others — a price, a line of code — stays), and a
/// picture's credit or a copyright notice alone on its line (`Credit: Riot
/// Games`, `Screenshot by …`, `© Agency`), and a wire report's sign-off.
fn repeated_and_credit_lines(doc: &Html) -> Vec<ego_tree::NodeId> {
    // Every line of text, in order: (element, text).
    let mut lines: Vec<(ego_tree::NodeId, String)> = Vec::new();
    let mut doomed = Vec::new();
    for node in doc.tree.root().descendants() {
        let Node::Element(e) = node.value() else {
            continue;
        };
        if !LINE_BLOCKS.contains(&e.name()) {
            continue;
        }
        let nested = node.descendants().skip(1).any(|d| {
            matches!(d.value(), Node::Element(x) if LINE_BLOCKS.contains(&x.name()) || matches!(x.name(), "ul" | "ol" | "table"))
        });
        if nested {
            continue;
        }
        // `<br>` ends a line: `kokobj@yna.co.kr<br>(END)`.
        let mut raw = String::new();
        for d in node.descendants() {
            match d.value() {
                Node::Text(t) => raw.push_str(t),
                Node::Element(x) if x.name() == "br" => raw.push('\n'),
                _ => {}
            }
        }
        let text = collapse_whitespace(&raw);
        let n = text.chars().count();
        if n == 0 {
            continue;
        }
        let sign_off = raw
            .lines()
            .filter(|l| !l.trim().is_empty())
            .all(is_sign_off);
        if (n <= SHORT_LINE_MAX_CHARS && sign_off)
            || (n <= NOTICE_MAX_CHARS && is_credit_line(&text))
        {
            doomed.push(node.id());
        }
        lines.push((node.id(), text));
    }
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && lines[j].1 == lines[i].1 {
            j += 1;
        }
        let t = &lines[i].1;
        if j - i >= REPEATED_LINE_MIN
            && t.chars().count() <= SHORT_LINE_MAX_CHARS
            && t.chars().any(char::is_alphanumeric)
        {
            doomed.extend(lines[i..j].iter().map(|(id, _)| *id));
        }
        i = j;
    }
    doomed
}

/// Longest line a copyright notice may be (`The-CNN-Wire ™ & © 2013 Cable
/// News Network, Inc., a Time Warner Company. All rights reserved.`).
const NOTICE_MAX_CHARS: usize = 160;

/// A wire report's sign-off: `(END)`, or the reporter's e-mail address
/// alone on its line.
fn is_sign_off(text: &str) -> bool {
    let t = text.trim();
    let email_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    t.eq_ignore_ascii_case("(end)")
        || t.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty()
                && user.chars().all(email_char)
                && host.contains('.')
                && !host.starts_with('.')
                && host.chars().all(email_char)
        })
}

/// A picture's credit or a copyright notice alone on its line: `Credit:
/// Riot Games, ONE Esports`, `Screenshot by Amanda Tan/ONE Esports`, `Photo:
/// AP`, `© UC Global`, `™ & © 2013 Cable News Network, Inc. … All rights reserved.`
fn is_credit_line(text: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^(?:(?:photo|image|picture)\s+)?(?:credits?|photo|photograph|image|screenshot|picture)(?:\s*:|\s+by\s)|^(?:™\s*&\s*)?©|all rights reserved\.?$")
            .expect("credit line regex is valid")
    })
    .is_match(text)
}

/// Whether the article ends at `node` (an element or a text node, `seen`
/// characters of text before it): `Some((node, true))` for a marker line
/// (`<p><span>相关</span>新闻</p>` too), `Some((node, false))` for the
/// editor's line.
fn end_at(node: ego_tree::NodeRef<'_, Node>, seen: usize) -> Option<(ego_tree::NodeId, bool)> {
    let text: String = match node.value() {
        Node::Text(t) => t.to_string(),
        Node::Element(_) => {
            // Only short elements: a container holding the whole article
            // also "contains" its disclaimer.
            let mut s = String::new();
            for d in node.descendants() {
                if let Node::Text(t) = d.value() {
                    s.push_str(t);
                    if s.len() > 600 {
                        return None;
                    }
                }
            }
            s
        }
        _ => return None,
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let n = text.chars().count();
    if n < 40 && END_MARKERS.iter().any(|m| text.starts_with(m)) {
        return Some((node.id(), true));
    }
    // A disclaimer is one text node: an element "containing" one may hold the post too.
    if node.value().is_text() && n < 150 && END_PHRASES.iter().any(|m| text.contains(m)) {
        return Some((node.id(), true));
    }
    if n < 40 && seen >= EDITOR_LINE_AFTER && editor_line_re().is_match(text) {
        return Some((node.id(), false));
    }
    if n < 40 && seen >= EDITOR_LINE_AFTER && is_pager(text) {
        return Some((node.id(), true));
    }
    None
}

/// A pager under a report split over pages (`1234下一页`, `首页 | 上一页 1 下一页 | 尾页`):
/// page numbers and the words around them, nothing else.
fn is_pager(text: &str) -> bool {
    if !text.contains("下一页") && !text.contains("上一页") {
        return false;
    }
    let mut rest = text.to_string();
    for w in ["首页", "上一页", "下一页", "尾页", "末页"] {
        rest = rest.replace(w, "");
    }
    rest.chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "|｜<>«»…·.,，、".contains(c))
}

/// Prepares a whole page for main-content extraction, as a reader sees it:
/// a container hidden by an inline style until the page's scripts show it
/// (`<div id="js_content" style="visibility: hidden;">`, holding the whole
/// post) is shown, and teaser lists (`<li>` after `<li>` of a linked
/// headline with a picture or heading and a line of text: "more stories",
/// related news) go, so a stream of teasers cannot outweigh a short article.
pub fn prepare_page(doc: &dom_query::Document) {
    for node in doc.select("[style]").nodes() {
        let Some(style) = node.attr("style") else {
            continue;
        };
        if style_hides(&style) && non_space_chars(&node.text()) >= UNHIDE_MIN_CHARS {
            node.remove_attr("style");
        }
    }
    // A video player's controls (`倍速` `2.0X` `高清` `00:00`): the text
    // around a `<video>` made only of short labels.
    let videos: Vec<_> = doc.select("video").nodes().to_vec();
    for video in videos {
        remove_label_block(&video);
    }
    let lists: Vec<_> = doc.select("ul, ol").nodes().to_vec();
    for list in lists {
        let items: Vec<_> = list
            .element_children()
            .into_iter()
            .filter(|c| c.has_name("li"))
            .collect();
        if items.len() < 3 {
            continue;
        }
        let teasers = items.iter().filter(|li| is_teaser(li)).count();
        if teasers * 4 >= items.len() * 3 {
            list.remove_from_parent();
        }
    }
    drop_video_cards(doc);
    keep_subheadings(doc);
    drop_breadcrumbs(doc);
    drop_dialogs(doc);
    drop_menus(doc);
    drop_other_posts(doc);
}

/// Fewest letters and digits of a post's heading that names the page.
const POST_HEADING_MIN_CHARS: usize = 15;

/// A stream of posts (a blog of short posts, the next stories loaded under
/// the one asked for): each `<article>` with its own heading, and together
/// they outweigh the post the page is about. When exactly one of them has
/// the heading the page's `<title>` or `og:title` begins with, the others
/// with a heading go; an `<article>` without one (the post whose headline
/// sits above it) stays.
fn drop_other_posts(doc: &dom_query::Document) {
    let articles: Vec<_> = doc
        .select("article")
        .nodes()
        .iter()
        .filter(|a| !a.ancestors_it(None).any(|p| p.has_name("article")))
        .cloned()
        .collect();
    if articles.len() < 2 {
        return;
    }
    let titles: Vec<String> = [
        doc.select("title").text().to_string(),
        doc.select("meta[property='og:title'], meta[name='og:title']")
            .attr("content")
            .map(|c| c.to_string())
            .unwrap_or_default(),
    ]
    .iter()
    .map(|t| squash(t).to_lowercase())
    .filter(|t| !t.is_empty())
    .collect();
    let headings: Vec<Option<String>> = articles
        .iter()
        .map(|a| {
            a.descendants_it()
                .find(|d| d.has_name("h1") || d.has_name("h2"))
                .map(|h| squash(&h.text()).to_lowercase())
        })
        .collect();
    let names_page = |h: &str| {
        h.chars().count() >= POST_HEADING_MIN_CHARS && titles.iter().any(|t| t.starts_with(h))
    };
    let matching: Vec<usize> = headings
        .iter()
        .enumerate()
        .filter(|(_, h)| h.as_deref().is_some_and(names_page))
        .map(|(i, _)| i)
        .collect();
    let [keep] = matching.as_slice() else {
        return;
    };
    for (i, (a, h)) in articles.iter().zip(&headings).enumerate() {
        if i != *keep && h.is_some() {
            a.remove_from_parent();
        }
    }
}

/// Fewest links of a menu.
const MENU_MIN_LINKS: usize = 10;

/// Longest average text of a menu's links (non-space characters): `Teams`,
/// `Power Rankings`; a list of stories' headlines says more.
const MENU_LINK_MAX_CHARS: usize = 20;

/// The site's menu (`<header>` or `<nav>` with dozens of short links and
/// nothing else): Readability drops a class or id that says `header` or
/// `menu`, not the element, and a menu of 160 links outweighs a short
/// article — the article then goes with the menu as a block of links. A
/// `<header>`, `<nav>` or `role="navigation"` whose text is nine tenths
/// link text, in at least ten short links, goes.
fn drop_menus(doc: &dom_query::Document) {
    let menus: Vec<_> = doc
        .select("header, nav, [role=navigation], [role=menubar]")
        .nodes()
        .to_vec();
    for m in menus {
        if m.has_name("body") || m.has_name("html") {
            continue;
        }
        let (mut links, mut linked) = (0, 0);
        for d in m.descendants_it() {
            if d.has_name("a") {
                links += 1;
                linked += non_space_chars(&d.text());
            }
        }
        let all = non_space_chars(&m.text());
        if links >= MENU_MIN_LINKS
            && linked * 10 >= all * 9
            && linked <= links * MENU_LINK_MAX_CHARS
        {
            m.remove_from_parent();
        }
    }
}

/// Most text a dialog holds (non-space characters): a paywall's offer, a
/// post editor's lock notice; an article shown in an overlay holds more.
const DIALOG_MAX_CHARS: usize = 1500;

/// A dialog the page's scripts open over the article — `<div
/// class="subscribe_overlay">` (`You have now reached your allowance of 3
/// free articles…`), `<div class="modal-content">` — is hidden until then
/// by a style sheet: an element whose class or id has the word `modal`,
/// `overlay`, `dialog` or `popup` goes, unless it holds an article's worth
/// of text.
fn drop_dialogs(doc: &dom_query::Document) {
    let says_dialog = |v: &str| {
        v.to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| matches!(w, "modal" | "overlay" | "dialog" | "popup"))
    };
    let dialogs: Vec<_> = doc
        .select("[class], [id]")
        .nodes()
        .iter()
        .filter(|n| {
            !n.has_name("body")
                && !n.has_name("html")
                && ["class", "id"]
                    .iter()
                    .any(|a| n.attr(a).is_some_and(|v| says_dialog(&v)))
        })
        .cloned()
        .collect();
    for d in dialogs {
        if non_space_chars(&d.text()) <= DIALOG_MAX_CHARS {
            d.remove_from_parent();
        }
    }
}

/// Longest breadcrumb trail: a few links and the headline.
const BREADCRUMB_MAX_CHARS: usize = 250;

/// The breadcrumb trail above a post (`<nav id="breadcrumb">Home › Latest
/// News › the headline</nav>`): Readability only knows `breadcrumbs`, and
/// the trail ends with the headline rather than with links.
fn drop_breadcrumbs(doc: &dom_query::Document) {
    let trails: Vec<_> = doc
        .select("[id*=breadcrumb], [class*=breadcrumb], [id*=Breadcrumb], [class*=Breadcrumb]")
        .nodes()
        .to_vec();
    for t in trails {
        if !t.has_name("body") && non_space_chars(&t.text()) <= BREADCRUMB_MAX_CHARS {
            t.remove_from_parent();
        }
    }
}

/// A section heading inside the text (`<h2 class="subheader">` at CNN)
/// would go with the page's header: Readability drops every element whose
/// class or id says `header` as unlikely content. A heading without a link
/// loses that class and id, so it stays with its section.
fn keep_subheadings(doc: &dom_query::Document) {
    for h in doc.select("h2, h3, h4, h5, h6").nodes() {
        let says_header = ["class", "id"].iter().any(|a| {
            h.attr(a)
                .is_some_and(|v| v.to_ascii_lowercase().contains("head"))
        });
        if says_header && !h.descendants_it().any(|d| d.has_name("a")) {
            h.remove_attr("class");
            h.remove_attr("id");
        }
    }
}

/// A video card without a `<video>` (the player is loaded by a script): its
/// length (`<span class="video-resource__duration">01:40</span>`) among
/// short labels — `Video Ad Feedback`, the video's title, `- Source: CNN`.
/// The card goes, up to the element that holds more than labels.
fn drop_video_cards(doc: &dom_query::Document) {
    let durations: Vec<_> = doc
        .select("[class*=duration], [class*=Duration]")
        .nodes()
        .to_vec();
    for d in durations {
        if is_duration(d.text().trim()) {
            remove_label_block(&d);
        }
    }
}

/// Removes the largest ancestor of `node` (up to 8 levels, never `<body>`)
/// made only of short labels: a player's controls, a video card.
fn remove_label_block(node: &dom_query::NodeRef<'_>) {
    let mut top = None;
    for a in node.ancestors_it(Some(8)) {
        if !a.is_element() || a.has_name("body") || !only_labels(&a) {
            break;
        }
        top = Some(a);
    }
    if let Some(top) = top {
        top.remove_from_parent();
    }
}

/// `01:40`, `1:02:03`: the length of a video.
fn is_duration(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().enumerate().all(|(i, p)| {
            (1..=2).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && (i == 0 || p.len() == 2)
        })
}

/// Whether the text under `node` is only short labels (at most
/// [`LABEL_MAX_CHARS`] each, [`LABELS_MAX_CHARS`] in all) and at most one
/// title (the video's, up to [`PLAYER_TITLE_MAX_CHARS`]): a control panel, not prose.
fn only_labels(node: &dom_query::NodeRef<'_>) -> bool {
    let (mut all, mut titles) = (0, 0);
    for d in node.descendants_it() {
        if !d.is_text() {
            continue;
        }
        let n = non_space_chars(&d.text());
        all += n;
        if n > LABEL_MAX_CHARS {
            titles += 1;
        }
        if n > PLAYER_TITLE_MAX_CHARS || titles > 1 || all > LABELS_MAX_CHARS {
            return false;
        }
    }
    true
}

const LABEL_MAX_CHARS: usize = 24;
const LABELS_MAX_CHARS: usize = 400;
const PLAYER_TITLE_MAX_CHARS: usize = 60;

/// Text a hidden container must hold to be shown: more than a menu or a dialog.
const UNHIDE_MIN_CHARS: usize = 200;

/// Longest text of a teaser item: a headline and a line or two (an item of
/// a list inside an article — a step, a product — says more).
const TEASER_MAX_CHARS: usize = 300;

/// `visibility: hidden` in an inline style (any case and spacing).
fn style_hides(style: &str) -> bool {
    style.split(';').any(|decl| {
        let mut kv = decl.splitn(2, ':');
        let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
            return false;
        };
        k.trim().eq_ignore_ascii_case("visibility") && v.trim().eq_ignore_ascii_case("hidden")
    })
}

fn non_space_chars(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

/// A list item that reads as a teaser for another page: a link (not to a
/// picture, not within the page) and a picture or a heading, with a little
/// text; or a linked heading with a summary (a stream clamps the summary on
/// screen but may carry the first paragraphs).
fn is_teaser(li: &dom_query::NodeRef<'_>) -> bool {
    let (mut link, mut picture, mut linked_heading) = (false, false, false);
    for d in li.descendants_it() {
        let Some(name) = d.node_name() else {
            continue;
        };
        match &*name {
            "a" if d.attr("href").is_some_and(|h| is_page_link(&h)) => {
                link = true;
                linked_heading |= d.ancestors_it(Some(3)).any(|a| {
                    a.node_name()
                        .is_some_and(|n| matches!(&*n, "h1" | "h2" | "h3" | "h4" | "h5" | "h6"))
                });
            }
            "img" | "picture" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => picture = true,
            _ => {}
        }
    }
    let n = non_space_chars(&li.text());
    (link && picture && (4..=TEASER_MAX_CHARS).contains(&n))
        || (linked_heading && (4..=SUMMARY_MAX_CHARS).contains(&n))
}

/// Longest text of a teaser under a linked heading.
const SUMMARY_MAX_CHARS: usize = 1000;

/// A link to another page: not within this one, not a script, not a picture.
fn is_page_link(href: &str) -> bool {
    let h = href.trim().to_ascii_lowercase();
    let path = h.split(['?', '#']).next().unwrap_or("");
    let image = [".jpg", ".jpeg", ".png", ".gif", ".webp"]
        .iter()
        .any(|x| path.ends_with(x));
    !h.is_empty() && !h.starts_with('#') && !h.starts_with("javascript:") && !image
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
    fn a_marker_split_over_elements_a_platform_disclaimer_and_the_editor_line_end_the_article() {
        let body = "正文第一段，讲述了本镇开展安全生产检查的经过和结果，内容完整。".repeat(4);
        let split = format!(
            "<div><p>{body}</p><p><span>相关</span>新闻</p><ul><li>另一篇报道的摘要，不属于正文。</li></ul></div>"
        );
        let out = trim_extracted(&split);
        assert!(out.contains("正文第一段"), "{out}");
        assert!(!out.contains("新闻") && !out.contains("摘要"), "{out}");

        let platform = format!(
            "<div><p>{body}</p><p>以上内容为创作者平台用户上传并发布，本平台仅提供信息存储服务</p>\
             <p>不喜欢</p><p>另一位作者的下一篇文章，不属于这篇。</p></div>"
        );
        let out = trim_extracted(&platform);
        assert!(out.contains("正文第一段"), "{out}");
        for gone in ["仅提供信息存储", "不喜欢", "下一篇"] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }

        let edited = format!(
            "<div><p>{body}</p><p>【责任编辑：张三】</p></div><div><p>首页 | 上一页 1 下一页 | 尾页</p></div>"
        );
        let out = trim_extracted(&edited);
        assert!(
            out.contains("正文第一段") && out.contains("责任编辑：张三"),
            "{out}"
        );
        assert!(!out.contains("上一页"), "{out}");

        let paged = format!(
            "<div><p>{body}</p><p><a href=\"/1\">1</a><a href=\"/2\">2</a><a href=\"/2\">下一页</a></p><p>标签一 标签二</p></div>"
        );
        let out = trim_extracted(&paged);
        assert!(
            out.contains("正文第一段") && !out.contains("下一页") && !out.contains("标签一"),
            "{out}"
        );
        assert!(!is_pager("下一页我们将介绍更多内容"));

        // An editor named at the top of the page closes nothing.
        let top = format!("<div><p>（编辑：李四）</p><p>{body}</p></div>");
        assert!(trim_extracted(&top).contains("正文第一段"));
    }

    #[test]
    fn a_page_is_read_as_shown_without_its_teaser_streams() {
        let post = "会议指出，要充分认识这项工作的重要意义，切实把各项任务落到实处。".repeat(8);
        let teaser = |n: u32| {
            format!(
                "<li><img src=\"/t{n}.jpg\"><h4><a href=\"/news/{n}.html\">另一条新闻的标题{n}</a></h4>\
                 <p>另一条新闻的摘要，只有一两句话，点进去才能看全文。</p></li>"
            )
        };
        let stream: String = (1..=5).map(teaser).collect();
        // Summaries clamped on screen but long in the page, no pictures.
        let long = |n: u32| {
            format!(
                "<li><h4><a href=\"/more/{n}.html\">又一条新闻{n}</a></h4><p>{}</p></li>",
                "摘要很长，".repeat(60)
            )
        };
        let stream = stream + "</ul><ul>" + &(1..=4).map(long).collect::<String>();
        let html = format!(
            "<html><body><div id=\"content\" style=\"visibility: hidden;\"><p>{post}</p></div>\
             <ul id=\"more\">{stream}</ul>\
             <ol><li>第一步，<a href=\"/guide\">填写申请表</a>。</li><li>第二步，提交材料。</li><li>第三步，等待审核。</li></ol>\
             <ul><li><a href=\"/big1.jpg\"><img src=\"/s1.jpg\">图一</a></li><li><a href=\"/big2.jpg\"><img src=\"/s2.jpg\">图二</a></li>\
             <li><a href=\"/big3.jpg\"><img src=\"/s3.jpg\">图三</a></li></ul>\
             <div class=\"player\"><div><video src=\"/v.mp4\"></video></div><div class=\"title\">《某某访谈》之《某某人物》5月20日起每晚22:00播出</div><div><span>倍速</span><span>2.0X</span>\
             <span>高清</span><span>00:00</span></div></div><p>视频下方的说明文字。</p>\
             <div style=\"visibility:hidden\">弹窗</div></body></html>"
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        let out = doc.html().to_string();
        assert!(
            !out.contains("另一条新闻") && !out.contains("又一条新闻"),
            "{out}"
        );
        assert!(out.contains("id=\"content\">"), "the post is shown: {out}");
        assert!(out.contains("第一步") && out.contains("图三"), "{out}");
        assert!(
            out.contains("visibility:hidden"),
            "a short hidden element stays hidden"
        );
        assert!(
            !out.contains("倍速") && !out.contains("2.0X") && !out.contains("某某访谈"),
            "{out}"
        );
        assert!(out.contains("视频下方的说明文字"), "{out}");
    }

    #[test]
    fn a_video_card_without_a_player_goes_and_subheadings_keep_no_header_class() {
        let card = |title: &str, len: &str| {
            format!(
                "<div class=\"video-resource\"><div class=\"image\"><img src=\"/v.jpg\"></div>\
                 <div class=\"ad-feedback\"><div>Video Ad Feedback</div></div>\
                 <div class=\"details\"><div class=\"headline\">{title}</div>\
                 <div><span class=\"video-resource__duration\"> {len} </span>\
                 <span> - Source: <a href=\"https://news.example/\">Example</a></span></div></div></div>"
            )
        };
        let html = format!(
            "<html><body><div class=\"article\">{}<p>The hearing began at nine in the morning.</p>\
             <h2 class=\"subheader\" id=\"the-judge-header\">The judge responds</h2>\
             <p>A judge answered the lawyers.</p><h2 class=\"section-head\"><a href=\"/more\">More news</a></h2>\
             {}<p>It lasted 12:30 hours.</p></div></body></html>",
            card("Watch what the witness did outside the courtroom", "02:12"),
            card("A second clip", "1:02:03")
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        let out = doc.html().to_string();
        for gone in [
            "Video Ad Feedback",
            "outside the courtroom",
            "02:12",
            "Source",
            "A second clip",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("<h2>The judge responds</h2>"), "{out}");
        assert!(
            out.contains("class=\"section-head\""),
            "a linked heading keeps its class: {out}"
        );
        assert!(
            out.contains("12:30 hours") && out.contains("nine in the morning"),
            "{out}"
        );

        let crumbs = "<html><body><nav id=\"breadcrumb\"><a href=\"/\">Home</a><em></em>\
            <a href=\"/label/news\">Latest News</a><span class=\"current\">An actress in new photos</span></nav>\
            <div class=\"post\"><p>The actress shared new photos.</p></div></body></html>";
        let doc = dom_query::Document::from(crumbs);
        prepare_page(&doc);
        let out = doc.html().to_string();
        assert!(
            !out.contains("Latest News") && out.contains("shared new photos"),
            "{out}"
        );
        assert!(
            is_duration("01:40")
                && is_duration("1:02:03")
                && !is_duration("1:2")
                && !is_duration("12:30 hours")
        );
    }

    #[test]
    fn a_gallerys_repeated_slide_title_and_picture_credits_go() {
        let slides: String = (1..=5)
            .map(|n| format!("<div id=\"slide{n}\">Weather threatens holiday plans</div>"))
            .collect();
        let html = format!(
            "<div><p>Storms are moving east before the holiday.</p>{slides}\
             <figure><img src=\"/a.jpg\"><figcaption>Credit: Riot Games, Example Esports</figcaption></figure>\
             <p><span>Screenshot by Amanda Tan/Example</span></p><p>Photographers waited in the rain.</p>\
             <p>Twice said.</p><p>Twice said.</p><p>Seniors: 25</p><p>Adults: 30</p><p>Seniors: 25</p>\
             <p>Kids: 10</p><p>Seniors: 25</p><p>© Example Photo Agency</p>\
             <p>The-Example-Wire<br>™ & © 2013 Example Network, Inc., a Holding Company. All rights reserved.</p>\
             <p> reporter@news.example<br>(END)</p></div>"
        );
        let out = trim_extracted(&html);
        assert!(!out.contains("Weather threatens"), "{out}");
        for gone in [
            "Credit:",
            "Screenshot by",
            "Photo Agency",
            "rights reserved",
            "reporter@",
            "(END)",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(
            out.contains("Storms are moving east") && out.contains("Photographers waited"),
            "{out}"
        );
        assert_eq!(out.matches("Twice said.").count(), 2, "{out}");
        assert_eq!(out.matches("Seniors: 25").count(), 3, "not in a row: {out}");
        assert!(!is_sign_off("投稿邮箱：news@example.com"));
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
    fn a_blog_date_under_the_post() {
        let chunks: Vec<String> = [
            "正文。",
            "posted @",
            "2024-05-09 14:45",
            "作者甲",
            "阅读(430)",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            date_after_posted_label(&chunks).as_deref(),
            Some("2024-05-09 14:45")
        );
        let one = vec!["Posted on 2019-10-15 09:11 by someone".to_string()];
        assert_eq!(
            date_after_posted_label(&one).as_deref(),
            Some("2019-10-15 09:11")
        );
        assert_eq!(
            date_after_posted_label(&["repost @ 2020-01-01".to_string()]),
            None
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

    #[test]
    fn a_long_english_headline_not_the_section_name_in_the_title() {
        let long = "'The friends abroad': New court files show a private security team \
            was involved in a spy operation against a journalist in the embassy";
        let html = format!(
            "<html><head><title>{long} -- Puppet Masters -- Example.net</title></head><body>\
             <div class=\"section-title\">Puppet Masters</div>\
             <h1><a href=\"/a\">{long}</a></h1><p>Text.</p></body></html>"
        );
        assert!(long.chars().count() > 120);
        let doc = Html::parse_document(&html);
        assert_eq!(headline(&doc).as_deref(), Some(long));
    }

    #[test]
    fn the_printed_h1_when_the_title_is_written_for_search_engines() {
        // Several h1: the one telling the title's story, not the section's name.
        let html = "<html><head><title>Local bosses are asked: when did you last take \
            the bus to work? | Example Herald</title>\
            <meta name=\"description\" content=\"Bosses on public transit and bike paths.\">\
            </head><body><h1>Business Monday</h1>\
            <h1>From the metro to bike paths, what bosses think of public transit</h1>\
            <p>Text.</p><h1>Related content</h1></body></html>";
        let doc = Html::parse_document(html);
        assert_eq!(
            headline(&doc).as_deref(),
            Some("From the metro to bike paths, what bosses think of public transit")
        );
        // The same h1 twice (one for phones) is one h1.
        let twice = "<html><head><title>The probe ends its mission in a comet | Example</title>\
            </head><body><h1>An ode to the probe as it flings itself into a comet</h1>\
            <h1>An ode to the probe as it flings itself into a comet</h1>\
            <h1>More Science</h1><p>Text.</p></body></html>";
        let doc = Html::parse_document(twice);
        assert_eq!(
            headline(&doc).as_deref(),
            Some("An ode to the probe as it flings itself into a comet")
        );
        // One h1 longer than 120 characters, sharing the title's words.
        let long = "First lady suggests the country has lost hope since the election: \
            'We are feeling what not having hope feels like', she tells a host";
        assert!(long.chars().count() > 120);
        let one = format!(
            "<html><head><title>First lady: 'We are feeling what not having hope feels like' \
             - Example News</title></head><body><h1>{long}</h1><p>Text.</p></body></html>"
        );
        assert_eq!(headline(&Html::parse_document(&one)).as_deref(), Some(long));
        // Section names only: no h1 is the headline, the title is.
        let none = "<html><head><title>Why the sky is blue - Example</title></head>\
            <body><h1>Top Articles</h1><h1>More Science</h1><p>Text.</p></body></html>";
        assert_eq!(
            headline(&Html::parse_document(none)).as_deref(),
            Some("Why the sky is blue")
        );
    }

    #[test]
    fn a_post_made_of_links_keeps_them_a_menu_does_not() {
        let deal = |n: usize| {
            format!(
                "<p><a href=\"https://shop.example/item{n}\">Wireless noise-cancelling \
                 headphones with microphone, model {n}, black, for $29.99 (list price $59.99)</a></p>"
            )
        };
        let deals: String = (0..12).map(deal).collect();
        let html = format!(
            "<div><p>As a recurring feature, our team combs the web for deals. Here is what \
             caught our eye today.</p><p><em>We may receive a small share of any sale, but only \
             on items you keep, so we are only happy if you are happy. Good luck hunting!</em></p>\
             <h4>GADGETS</h4>{deals}</div>"
        );
        let out = trim_extracted(&html);
        assert!(out.contains("recurring feature"), "{out}");
        assert!(
            out.contains("model 0,") && out.contains("model 11,"),
            "{out}"
        );

        // A menu taken for the article: short links, they go.
        let items: String = [
            "Teams",
            "Scores",
            "Schedule",
            "Standings",
            "Shop",
            "Tickets",
        ]
        .iter()
        .map(|t| format!("<li><a href=\"/{t}\">{t}</a></li>"))
        .collect();
        let menu = format!("<div><ul>{items}</ul><ul>{items}</ul></div>");
        assert!(!trim_extracted(&menu).contains("Teams"));

        // A related-news box under an article still goes.
        let story = "<p>The council voted on Tuesday to extend the library's opening hours \
            through the winter, after a year in which visits rose by a third.</p>"
            .repeat(3);
        let related: String = (0..4)
            .map(|n| {
                format!(
                    "<li><a href=\"/s{n}\">Another story about the town council number {n}</a></li>"
                )
            })
            .collect();
        let article = format!("<div>{story}<ul>{related}</ul></div>");
        let out = trim_extracted(&article);
        assert!(
            out.contains("library") && !out.contains("Another story"),
            "{out}"
        );
    }

    #[test]
    fn a_dialog_over_the_article_goes_an_article_in_an_overlay_stays() {
        let text = "<p>The council voted on Tuesday to extend the library's opening hours \
            through the winter, after a year in which visits rose by a third.</p>"
            .repeat(4);
        let html = format!(
            "<html><body><article><h1>Library hours</h1>{text}\
             <div class=\"subscribe_overlay\"><div class=\"text5\">You have now reached your \
             allowance of 3 free articles in the last 30 days.</div></div></article>\
             <div id=\"post-lock-dialog\" class=\"modal-content\"><p>This Post Is Locked</p></div>\
             </body></html>"
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        let out = doc.root().text();
        assert!(out.contains("library's opening hours"), "{out}");
        assert!(
            !out.contains("allowance") && !out.contains("Locked"),
            "{out}"
        );

        let long = format!(
            "<html><body><div class=\"article-overlay\">{}</div></body></html>",
            text.repeat(6)
        );
        let doc = dom_query::Document::from(long.as_str());
        prepare_page(&doc);
        assert!(doc.root().text().contains("library's opening hours"));
    }
    #[test]
    fn the_sites_menu_goes_the_articles_header_stays() {
        let section = |s: &str| -> String {
            [
                "Teams",
                "News Feed",
                "Scores",
                "Power Rankings",
                "Draft",
                "Recruiting",
            ]
            .iter()
            .map(|t| format!("<li><a href=\"/{s}/{t}\">{t}</a></li>"))
            .collect()
        };
        let menu: String = ["NFL", "NBA", "MLB", "NHL"]
            .iter()
            .map(|s| {
                format!(
                    "<li><a href=\"#\">{s}</a><div><ul>{}</ul></div></li>",
                    section(s)
                )
            })
            .collect();
        let text = "<p>The council voted on Tuesday to extend the library's opening hours \
            through the winter, after a year in which visits rose by a third.</p>"
            .repeat(3);
        let html = format!(
            "<html><body><header class=\"top-nav\"><span>Follow us</span><ul>{menu}</ul></header>\
             <nav><a href=\"/a\">Home</a> <a href=\"/b\">World</a></nav>\
             <article><header><h1>Library hours</h1><p>By <a href=\"/staff/ann\">Ann Lee</a>, \
             4 hours ago</p></header>{text}</article></body></html>"
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        let out = doc.root().text();
        assert!(!out.contains("Power Rankings"), "{out}");
        assert!(
            out.contains("Library hours") && out.contains("Ann Lee"),
            "{out}"
        );
        // Two links are not a menu worth dropping here.
        assert!(out.contains("World"), "{out}");
        assert!(out.contains("library's opening hours"), "{out}");
    }
    #[test]
    fn of_a_stream_of_posts_the_one_the_page_names_stays() {
        let post = |title: &str, words: &str| {
            format!(
                "<article><header><h1>{title}</h1></header><div><p>{}</p></div></article>",
                format!("{words} ").repeat(30)
            )
        };
        let html = format!(
            "<html><head><title>Maybe the account is more than a smoke screen. | The Weekly</title>\
             </head><body>{}<h2>November 29</h2>{}{}</body></html>",
            post(
                "Maybe the account is more than a smoke screen.",
                "Persistent narratives."
            ),
            post("Do readers hate long posts?", "Survey results abound."),
            post("The center will always hold.", "Columnists everywhere."),
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        let out = doc.root().text();
        assert!(out.contains("Persistent narratives"), "{out}");
        assert!(
            !out.contains("Survey results") && !out.contains("Columnists"),
            "{out}"
        );

        // No post named by the title: the stream stays.
        let html = html.replace(
            "Maybe the account is more than a smoke screen. |",
            "The Weekly |",
        );
        let doc = dom_query::Document::from(html.as_str());
        prepare_page(&doc);
        assert!(doc.root().text().contains("Survey results"));
    }
}
