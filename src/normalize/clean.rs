//! The cleaning every entry's HTML goes through, whatever its source kind
//! (feed, file, scraped page): meta lines and bylines read and taken out,
//! gov-site chrome removed, paragraphs broken mid-sentence joined, full-width
//! indents trimmed. Each step can be turned off per source (`[source.clean]`).

use ego_tree::NodeId;
use scraper::{Html, Node};

use super::article::{
    element_text, is_chrome, is_meta_block, join_broken_paragraphs, merge_byline, parse_byline,
    parse_meta_line, trim_indents,
};
use super::html::collapse_whitespace;
use crate::model::Author;

/// Which cleaning steps run on a source's entries (`[source.clean]`); all on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanSteps {
    /// `□ 职务 姓名` bylines: the author (with the role) is read, the line removed.
    pub bylines: bool,
    /// `来源：… 作者：… 记者 … 责任编辑：… 发布时间：…` lines: read, then removed.
    pub meta_lines: bool,
    /// Page chrome (`【字体：大 中 小】`, `打印本页`, share bars, ICP lines) removed.
    pub boilerplate: bool,
    /// Paragraphs broken mid-sentence (`…服务体</p><p>系，…`) joined.
    pub join_paragraphs: bool,
    /// Leading full-width indents (`　　`, `&nbsp;`) trimmed.
    pub indents: bool,
}

impl Default for CleanSteps {
    fn default() -> Self {
        CleanSteps {
            bylines: true,
            meta_lines: true,
            boilerplate: true,
            join_paragraphs: true,
            indents: true,
        }
    }
}

impl CleanSteps {
    pub const KEYS: &'static [&'static str] = &[
        "bylines",
        "meta_lines",
        "boilerplate",
        "join_paragraphs",
        "indents",
    ];

    /// Turns the step named `key` (one of [`CleanSteps::KEYS`]) on or off.
    pub fn set(&mut self, key: &str, on: bool) -> bool {
        let slot = match key {
            "bylines" => &mut self.bylines,
            "meta_lines" => &mut self.meta_lines,
            "boilerplate" => &mut self.boilerplate,
            "join_paragraphs" => &mut self.join_paragraphs,
            "indents" => &mut self.indents,
            _ => return false,
        };
        *slot = on;
        true
    }

    fn any(&self) -> bool {
        self.bylines || self.meta_lines || self.boilerplate || self.join_paragraphs || self.indents
    }
}

/// What cleaning found out about the article, beside the cleaned HTML.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cleaned {
    pub html: String,
    /// From meta lines (`作者：` `记者`) then bylines (which add a role).
    pub authors: Vec<Author>,
    /// `来源：`.
    pub origin: Option<String>,
    /// The text after `发布时间：` (still to be parsed as a date).
    pub published: Option<String>,
}

/// Blocks longer than this are prose, never a meta line or a byline.
const SHORT_BLOCK: usize = 120;

/// Cleans one HTML fragment (an entry's content or summary).
pub fn clean(html: &str, steps: &CleanSteps) -> Cleaned {
    let mut out = Cleaned::default();
    if !steps.any() {
        out.html = html.to_string();
        return out;
    }
    // Nesting bounded first, as for every HTML parser (hostile input).
    let mut doc = Html::parse_fragment(&super::nesting::bound_depth(html));
    let mut doomed: Vec<NodeId> = Vec::new();
    let mut bylines: Vec<Author> = Vec::new();
    let mut meta = super::article::MetaLine::default();
    for node in doc.tree.root().descendants() {
        if crate::budget::exceeded() {
            // Past the page's time budget: the caller throws this away.
            break;
        }
        let Node::Element(e) = node.value() else {
            continue;
        };
        let block = is_block(e.name());
        // Chrome also hides in inline elements (`<span>扫一扫在手机打开当前页</span>`).
        if !(block || is_inline(e.name()))
            || doomed
                .iter()
                .any(|d| node.ancestors().any(|a| a.id() == *d))
        {
            continue;
        }
        let has_media = node.descendants().any(|d| {
            matches!(d.value(), Node::Element(e) if matches!(e.name(), "img" | "video" | "audio" | "table"))
        });
        if has_media {
            continue;
        }
        let text = collapse_whitespace(&element_text(node));
        if text.is_empty() || text.chars().count() > SHORT_BLOCK {
            continue;
        }
        // Only the innermost block that reads as a meta line: an outer
        // `<div>` holding the whole article is never removed for it.
        let inner_block = node.descendants().skip(1).any(|d| {
            matches!(d.value(), Node::Element(c) if is_block(c.name()))
                && !collapse_whitespace(&element_text(d)).is_empty()
        });
        if !block {
            if steps.boilerplate && is_chrome(&text) {
                doomed.push(node.id());
            }
            continue;
        }
        if steps.bylines && !inner_block {
            if let Some(a) = parse_byline(&text) {
                bylines.push(a);
                doomed.push(node.id());
                continue;
            }
        }
        if steps.meta_lines && !inner_block && is_meta_block(&text) {
            meta.absorb(parse_meta_line(&text));
            doomed.push(node.id());
            continue;
        }
        if steps.boilerplate && is_chrome(&text) {
            doomed.push(node.id());
        }
    }
    for id in doomed {
        if let Some(mut n) = doc.tree.get_mut(id) {
            n.detach();
        }
    }
    out.published = meta.published;
    out.origin = meta.origin;
    out.authors = meta.authors;
    for b in bylines {
        merge_byline(&mut out.authors, b);
    }
    if steps.join_paragraphs {
        join_broken_paragraphs(&mut doc);
    }
    if steps.indents {
        trim_indents(&mut doc);
    }
    out.html = doc.root_element().inner_html().trim().to_string();
    out
}

fn is_inline(name: &str) -> bool {
    matches!(
        name,
        "span" | "a" | "font" | "strong" | "b" | "em" | "i" | "small" | "label"
    )
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "div"
            | "li"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "td"
            | "dd"
            | "dt"
            | "blockquote"
            | "section"
            | "header"
            | "footer"
            | "center"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAYOR: &str = "<p>□ 湖塘镇党委副书记、镇长 丁涛</p>\
        <p>　　2024年是中华人民共和国成立75周年，是常州以GDP万亿之城身姿阔步向前的开篇之年。</p>\
        <h3>聚焦经济建设中心任务， 促进镇域经济高质量发展</h3>\
        <p>加快产业升级，持续对能耗高、产出低的业态“腾笼换鸟”，促进传统产业提档升级、新兴产业培育壮大、</p>\
        <p>现代服务业提质增效，引领产业层次整体迈向中高端。</p>\
        <p>完善妇女、儿童、老年人、残疾人、退役军人关爱服务体</p><p>系，绘就更有温度的民生画卷。</p>\
        <p>来源：湖塘镇 责任编辑：王五</p><p>【字体：大 中 小】 打印本页</p>";

    #[test]
    fn byline_meta_chrome_breaks_and_indents() {
        let c = clean(MAYOR, &CleanSteps::default());
        assert_eq!(c.authors.len(), 1);
        assert_eq!(c.authors[0].name, "丁涛");
        assert_eq!(c.authors[0].role.as_deref(), Some("湖塘镇党委副书记、镇长"));
        assert_eq!(c.origin.as_deref(), Some("湖塘镇"));
        for gone in [
            "□",
            "来源",
            "字体",
            "打印本页",
            "\u{3000}",
            "</p><p>系",
            "壮大、</p>",
        ] {
            assert!(!c.html.contains(gone), "{gone} in {}", c.html);
        }
        assert!(c.html.contains("关爱服务体系，绘就"), "{}", c.html);
        assert!(c.html.contains("<h3>聚焦经济建设中心任务"), "{}", c.html);
        assert!(c.html.starts_with("<p>2024年是"), "{}", c.html);
    }

    #[test]
    fn every_step_can_be_turned_off() {
        let off = CleanSteps {
            bylines: false,
            meta_lines: false,
            boilerplate: false,
            join_paragraphs: false,
            indents: false,
        };
        assert_eq!(clean(MAYOR, &off).html, MAYOR);
        let mut only_join = off;
        assert!(only_join.set("join_paragraphs", true));
        assert!(!only_join.set("nonsense", true));
        let c = clean(MAYOR, &only_join);
        assert!(c.html.contains("关爱服务体系"), "{}", c.html);
        assert!(
            c.html.contains("□ 湖塘镇") && c.html.contains("来源："),
            "{}",
            c.html
        );
        assert!(c.authors.is_empty() && c.origin.is_none());
    }

    #[test]
    fn an_article_wrapper_is_never_taken_for_a_meta_line() {
        let html = "<div><p>作者：张三</p><p>短文。</p></div>";
        let c = clean(html, &CleanSteps::default());
        assert_eq!(c.html, "<div><p>短文。</p></div>");
        assert_eq!(c.authors, vec![Author::named("张三")]);
    }
}
