//! Article pages as Chinese government sites write them: meta lines
//! (`发布时间：… 来源：… 作者：…`), bylines (`□ 湖塘镇党委副书记、镇长 丁涛`),
//! page chrome inside the content (`【字体：大 中 小】`, `打印本页`, share bars,
//! hit counters, ICP footers), paragraphs broken mid-sentence and full-width
//! indents. Pure functions over text and HTML fragments.

use std::sync::OnceLock;

use ego_tree::NodeId;
use regex::Regex;
use scraper::{Html, Node, Selector};

use super::html::collapse_whitespace;
use super::text::{SENTENCE_END, is_cjk};
use crate::model::Author;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("article regex is valid"))
}

/// What a meta line says about its article.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetaLine {
    /// The text after `发布时间：` / `日期：` (still to be parsed as a date).
    pub published: Option<String>,
    /// `来源：` — the organisation that published it first.
    pub origin: Option<String>,
    /// `作者：` (no role), `记者` and `通讯员` (that role).
    pub authors: Vec<Author>,
    /// `责任编辑：` / `编辑：` — editors are not authors.
    pub editors: Vec<String>,
}

impl MetaLine {
    /// Adds a later meta line of the same page: the first date and origin
    /// stay, authors are added once by name, editors all.
    pub fn absorb(&mut self, m: MetaLine) {
        if self.published.is_none() {
            self.published = m.published;
        }
        if self.origin.is_none() {
            self.origin = m.origin;
        }
        for a in m.authors {
            if !self.authors.iter().any(|x| x.name == a.name) {
                self.authors.push(a);
            }
        }
        self.editors.extend(m.editors);
    }

    pub fn is_empty(&self) -> bool {
        self.published.is_none()
            && self.origin.is_none()
            && self.authors.is_empty()
            && self.editors.is_empty()
    }
}

const LABELS: &str = r"发布时间|发布日期|更新时间|时间|日期|信息来源|文章来源|稿源|来源|作者|撰稿人|撰稿|撰文|文字|责任编辑|编辑|审核|摄影|记者|通讯员|浏览次数|点击数|阅读次数|访问次数|字号|字体";

fn label_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, &format!(r"(?:{LABELS})\s*[：:]?"))
}

/// Parses a meta line such as `发布时间：2024-01-20 09:30  来源：湖塘镇  作者：丁涛`
/// or `记者 张三 通讯员 李四 责任编辑：王五`.
pub fn parse_meta_line(text: &str) -> MetaLine {
    let text = collapse_whitespace(text);
    let mut out = MetaLine::default();
    let labels: Vec<regex::Match<'_>> = label_re().find_iter(&text).collect();
    for (i, m) in labels.iter().enumerate() {
        let label = m
            .as_str()
            .trim_end_matches(|c: char| c == '：' || c == ':' || c.is_whitespace());
        let has_colon = m.as_str().contains(['：', ':']);
        let end = labels.get(i + 1).map_or(text.len(), |n| n.start());
        let value = text[m.end()..end]
            .trim()
            .trim_matches(|c: char| {
                matches!(c, '|' | '丨' | '/' | '（' | '）' | '(' | ')' | '，' | ',')
            })
            .trim();
        // `记者`/`通讯员` need no colon; other words only count as labels with one.
        let role_word = matches!(label, "记者" | "通讯员" | "摄影");
        if !has_colon && !role_word {
            continue;
        }
        match label {
            "发布时间" | "发布日期" | "时间" | "日期"
                if out.published.is_none() && !value.is_empty() =>
            {
                out.published = Some(value.to_string());
            }
            "信息来源" | "文章来源" | "稿源" | "来源"
                if out.origin.is_none() && !value.is_empty() =>
            {
                out.origin = Some(value.to_string());
            }
            "作者" | "撰稿人" | "撰稿" | "撰文" | "文字" => out
                .authors
                .extend(person_names(value).into_iter().map(|n| Author::named(&n))),
            "记者" | "通讯员" | "摄影" => {
                out.authors
                    .extend(person_names(value).into_iter().map(|n| Author {
                        name: n,
                        role: Some(label.to_string()),
                        ..Author::default()
                    }))
            }
            "责任编辑" | "编辑" | "审核" => out.editors.extend(names(value)),
            _ => {}
        }
    }
    out
}

/// The people of an author field: [`names`], a Chinese name padded with a
/// space (`方  敏`) joined again, and no organisation (`作者：新京报` is the
/// paper, not a writer).
fn person_names(value: &str) -> Vec<String> {
    let parts = names(value);
    let single_han = |s: &str| s.chars().count() == 1 && s.chars().all(is_cjk);
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        if single_han(&parts[i]) && parts.get(i + 1).is_some_and(|n| single_han(n)) {
            out.push(format!("{}{}", parts[i], parts[i + 1]));
            i += 2;
            continue;
        }
        out.push(parts[i].clone());
        i += 1;
    }
    out.retain(|n| !super::credits::is_organisation(n));
    out
}

/// `张三 李四`, `张三、李四`, `张三，李四` → names; drops what cannot be a name.
pub fn names(value: &str) -> Vec<String> {
    value
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '、' | '，' | ',' | ';' | '；' | '/' | '|')
        })
        .map(|n| n.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|n| {
            let len = n.chars().count();
            (1..=24).contains(&len) && !n.chars().any(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

/// The e-paper byline `□ 湖塘镇党委副书记、镇长 丁涛`: the last word is the
/// name, what precedes it the role. Also `■ 记者 张三` (role 记者).
pub fn parse_byline(text: &str) -> Option<Author> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(&RE, r"^[□■◇◆▲△]\s*(?:(.+?)\s+)?(\S{1,12})$");
    let text = collapse_whitespace(text);
    if text.chars().count() > 60 {
        return None;
    }
    let c = re.captures(&text)?;
    let name = c[2].to_string();
    if !name.chars().any(|ch| is_cjk(ch) || ch.is_alphabetic()) {
        return None;
    }
    let role = c
        .get(1)
        .map(|m| m.as_str().trim().to_string())
        .filter(|r| !r.is_empty());
    Some(Author {
        name,
        role,
        ..Author::default()
    })
}

/// Adds a byline's author to `authors`: a name already there gets the
/// byline's role, a new name is added first.
pub fn merge_byline(authors: &mut Vec<Author>, byline: Author) {
    if let Some(a) = authors.iter_mut().find(|a| a.name == byline.name) {
        if a.role.is_none() {
            a.role = byline.role;
        }
    } else {
        authors.insert(0, byline);
    }
}

/// Cuts the site name off a page title: `湖塘要闻_常州市武进区湖塘镇人民政府` →
/// `湖塘要闻`.
pub fn clean_page_title(title: &str) -> String {
    let title = collapse_whitespace(title);
    for sep in ["_", " - ", " | ", "|", " — ", "--", "－"] {
        if let Some((head, _)) = title.split_once(sep) {
            let head = head.trim();
            if head.chars().count() >= 4 {
                return head.to_string();
            }
        }
    }
    title
}

/// Removes every phrase of page chrome from `text`; what is left over.
fn without_chrome(text: &str) -> String {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = re(
        &RE,
        r"(?x)
        【?\s*字[体号]\s*[：:]?\s*[大中小\s]*】?
        | 【?\s*(?:打印本页|打印此页|打印文章|关闭窗口|关闭本页|收藏本页|返回顶部|返回列表)\s*】?
        | [【\[]\s*(?:打印|关闭|收藏|纠错|返回)\s*[】\]]
        | 分享到\s*[：:]?\s*(?:微信|微博|新浪微博|腾讯微博|QQ空间|QQ好友|QQ|朋友圈|人人网|豆瓣|\s)*
        | 扫一扫在手机(?:上)?打开当前页 | 扫一扫
        | (?:上一篇|下一篇)\s*[：:].*
        | (?:浏览次数|访问次数|点击数|阅读次数|浏览量|点击量|阅读量)\s*[：:]?\s*\d*
        | .*ICP备.* | .*公网安备.* | 网站标识码\s*[：:]?\s*\w*
        | 当前位置\s*[：:].*
        | [|｜\[\]【】·\s]",
    );
    re.replace_all(text, "").into_owned()
}

/// Whether a block's text is nothing but page chrome.
pub fn is_chrome(text: &str) -> bool {
    let text = collapse_whitespace(text);
    !text.is_empty() && text.chars().count() <= 120 && without_chrome(&text).is_empty()
}

/// Characters (white space collapsed) beyond which a block is no meta line.
pub const META_BLOCK_MAX_CHARS: usize = 120;

/// Whether a short block is a meta line (`发布时间：… 来源：…`) or a byline,
/// i.e. information about the article rather than part of it.
pub fn is_meta_block(text: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    let start = re(
        &RE,
        r"^(?:发布时间|发布日期|更新时间|信息来源|文章来源|来源|作者|责任编辑|编辑|日期)\s*[：:]",
    );
    let text = collapse_whitespace(text);
    if text.chars().count() > META_BLOCK_MAX_CHARS {
        return false;
    }
    if parse_byline(&text).is_some() {
        return true;
    }
    start.is_match(&text) && !parse_meta_line(&text).is_empty()
}

const DROPPED_TAGS: &[&str] = &[
    "script", "style", "noscript", "template", "iframe", "form", "input", "button", "select",
    "textarea", "object", "embed",
];
const PARAGRAPH_TAGS: &[&str] = &[
    "p",
    "div",
    "li",
    "td",
    "dd",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "center",
];

/// What the extraction of an article page keeps of its content: scripts,
/// styles, forms and the `remove` selectors dropped. The cleaning proper
/// (meta lines, bylines, chrome, broken paragraphs, indents) is the normalize
/// stage's, the same for every entry ([`super::clean`]).
pub fn prune(html: &str, remove: &[Selector]) -> String {
    let mut doc = Html::parse_fragment(html);
    let mut doomed: Vec<NodeId> = Vec::new();
    for sel in remove {
        doomed.extend(doc.select(sel).map(|e| e.id()));
    }
    for node in doc.tree.root().descendants() {
        if let Node::Element(e) = node.value() {
            if DROPPED_TAGS.contains(&e.name()) {
                doomed.push(node.id());
            }
        }
    }
    for id in doomed {
        if let Some(mut n) = doc.tree.get_mut(id) {
            n.detach();
        }
    }
    doc.root_element().inner_html().trim().to_string()
}

/// Text of a node, without scripts and styles.
pub(crate) fn element_text(node: ego_tree::NodeRef<'_, Node>) -> String {
    let mut out = String::new();
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            let in_script = d.ancestors().any(
                |a| matches!(a.value(), Node::Element(e) if matches!(e.name(), "script" | "style")),
            );
            if !in_script {
                out.push_str(t);
            }
        }
        if let Node::Element(e) = d.value() {
            if e.name() == "br" {
                out.push('\n');
            }
        }
    }
    out
}

const INDENT: &[char] = &['\u{3000}', '\u{a0}', ' ', '\t', '\n', '\r'];

fn starts_with_indent(node: ego_tree::NodeRef<'_, Node>) -> bool {
    for d in node.descendants() {
        if let Node::Text(t) = d.value() {
            if t.is_empty() {
                continue;
            }
            return t.starts_with(['\u{3000}', '\u{a0}']) || t.starts_with("  ");
        }
    }
    false
}

/// A `<p>` that is all bold is a heading, not half a sentence.
fn is_bold_heading(node: ego_tree::NodeRef<'_, Node>) -> bool {
    let mut bold = false;
    for c in node.children() {
        match c.value() {
            Node::Text(t) if t.trim_matches(INDENT).is_empty() => {}
            Node::Element(e) if matches!(e.name(), "strong" | "b") => bold = true,
            _ => return false,
        }
    }
    bold
}

/// Joins sibling paragraphs split mid-sentence: the first ends with a CJK
/// character (not a sentence end), the second starts with CJK text and
/// without an indent (an indented paragraph is a real new paragraph).
pub(crate) fn join_broken_paragraphs(doc: &mut Html) {
    // Pairs (kept, merged-into-it), found first, applied after.
    let mut pairs: Vec<(NodeId, NodeId)> = Vec::new();
    for parent in doc.tree.root().descendants() {
        let paragraphs: Vec<_> = parent
            .children()
            .filter(|c| !matches!(c.value(), Node::Text(t) if t.trim_matches(INDENT).is_empty()))
            .collect();
        if paragraphs.len() < 2 {
            continue;
        }
        let any_indent = paragraphs.iter().any(|p| starts_with_indent(*p));
        let mut target: Option<NodeId> = None;
        for w in paragraphs.windows(2) {
            let (a, b) = (w[0], w[1]);
            let both_p = [a, b]
                .iter()
                .all(|n| matches!(n.value(), Node::Element(e) if e.name() == "p"));
            let ta = collapse_whitespace(&element_text(a));
            let tb = collapse_whitespace(&element_text(b));
            let end = ta.chars().last();
            let start = tb.chars().next();
            let broken = both_p
                && !is_bold_heading(a)
                && !starts_with_indent(b)
                && (any_indent || is_prose(&ta))
                && match (end, start) {
                    (Some(e), Some(s)) => {
                        !SENTENCE_END.contains(&e)
                            && (is_cjk(e) || matches!(e, '，' | '、' | '“' | '《' | '（'))
                            && (is_cjk(s)
                                || matches!(s, '，' | '、' | '“' | '《' | '（')
                                || s.is_ascii_digit())
                    }
                    _ => false,
                };
            if broken {
                let into = target.unwrap_or(a.id());
                pairs.push((into, b.id()));
                target = Some(into);
            } else {
                target = None;
            }
        }
    }
    for (into, from) in pairs {
        let children: Vec<NodeId> = match doc.tree.get(from) {
            Some(n) => n.children().map(|c| c.id()).collect(),
            None => continue,
        };
        for child in children {
            if let Some(mut into_node) = doc.tree.get_mut(into) {
                into_node.append_id(child);
            }
        }
        if let Some(mut n) = doc.tree.get_mut(from) {
            n.detach();
        }
    }
}

/// A paragraph long enough, or with a whole sentence inside it, is
/// prose that may continue in the next one; a short line without either is
/// a heading.
pub(crate) fn is_prose(text: &str) -> bool {
    let inner: String = text
        .chars()
        .take(text.chars().count().saturating_sub(1))
        .collect();
    // A comma is not enough: headings have them (`聚焦…任务，促进…发展`).
    text.chars().count() > 30 || inner.contains(['。', '；', '！', '？'])
}

/// Removes the leading full-width indent (`　　`, `&nbsp;`) of every block.
pub(crate) fn trim_indents(doc: &mut Html) {
    let mut at_block_start = true;
    let mut edits: Vec<(NodeId, String)> = Vec::new();
    for edge in doc.tree.root().traverse() {
        let (node, opening) = match edge {
            ego_tree::iter::Edge::Open(n) => (n, true),
            ego_tree::iter::Edge::Close(n) => (n, false),
        };
        match node.value() {
            Node::Element(e) if PARAGRAPH_TAGS.contains(&e.name()) || e.name() == "br" => {
                at_block_start = true;
            }
            Node::Element(e) if e.name() == "img" && opening => at_block_start = false,
            Node::Text(t) if opening && at_block_start => {
                let trimmed = t.trim_start_matches(INDENT);
                if trimmed.len() != t.len() {
                    edits.push((node.id(), trimmed.to_string()));
                }
                if !trimmed.is_empty() {
                    at_block_start = false;
                }
            }
            _ => {}
        }
    }
    for (id, text) in edits {
        if let Some(mut n) = doc.tree.get_mut(id) {
            if let Node::Text(t) = n.value() {
                t.text = text.as_str().into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_line_with_nbsp_separators() {
        let m = parse_meta_line(
            "发布时间：2024-01-20 09:30\u{a0}\u{a0}\u{a0}来源：湖塘镇\u{a0}\u{a0}\u{a0}作者：丁涛",
        );
        assert_eq!(m.published.as_deref(), Some("2024-01-20 09:30"));
        assert_eq!(m.origin.as_deref(), Some("湖塘镇"));
        assert_eq!(m.authors, vec![Author::named("丁涛")]);
        let empty = parse_meta_line("发布时间：2024-02-18 15:40   来源：湖塘镇   作者：");
        assert!(empty.authors.is_empty(), "{empty:?}");
    }

    #[test]
    fn reporters_correspondents_and_editors() {
        let m = parse_meta_line("记者 张三 李四 通讯员 王五、赵六 责任编辑：钱七");
        let got: Vec<(String, Option<String>)> = m
            .authors
            .iter()
            .map(|a| (a.name.clone(), a.role.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("张三".into(), Some("记者".into())),
                ("李四".into(), Some("记者".into())),
                ("王五".into(), Some("通讯员".into())),
                ("赵六".into(), Some("通讯员".into())),
            ]
        );
        assert_eq!(m.editors, vec!["钱七".to_string()]);
        // An editor alone is no author.
        let m = parse_meta_line("来源：武进日报 | 责任编辑：王燕");
        assert!(m.authors.is_empty());
        assert_eq!(m.origin.as_deref(), Some("武进日报"));
        assert_eq!(m.editors, vec!["王燕".to_string()]);
    }

    #[test]
    fn bylines() {
        let a = parse_byline("□ 湖塘镇党委副书记、镇长 丁涛").unwrap();
        assert_eq!(a.name, "丁涛");
        assert_eq!(a.role.as_deref(), Some("湖塘镇党委副书记、镇长"));
        let a = parse_byline("■ 王燕").unwrap();
        assert_eq!((a.name.as_str(), a.role), ("王燕", None));
        assert!(parse_byline("湖塘镇党委副书记、镇长 丁涛").is_none());
        let mut authors = vec![Author::named("丁涛")];
        merge_byline(&mut authors, parse_byline("□ 镇长 丁涛").unwrap());
        assert_eq!(authors.len(), 1);
        assert_eq!(authors[0].role.as_deref(), Some("镇长"));
    }

    #[test]
    fn chrome_is_recognised_and_content_is_not() {
        for chrome in [
            "【字体：大 中 小】",
            "【字体：大 中 小】\u{a0}\u{a0}浏览次数：523",
            "打印本页\u{a0}\u{a0}关闭窗口",
            "【打印】【关闭】",
            "分享到：微信 微博 QQ空间",
            "扫一扫在手机打开当前页",
            "上一篇：湖塘镇开展节前安全生产大检查",
            "下一篇：没有了",
            "苏ICP备05012345号-1 苏公网安备 32041202001234号 网站标识码：3204120012",
            "当前位置：首页 > 新闻中心 > 湖塘要闻",
        ] {
            assert!(is_chrome(chrome), "{chrome}");
        }
        for content in [
            "2月24日是农历正月十五元宵节。",
            "关闭了三家企业。",
            "大家纷纷分享到朋友圈。",
        ] {
            assert!(!is_chrome(content), "{content}");
        }
        assert!(is_meta_block(
            "发布时间：2024-01-20 09:30 来源：湖塘镇 作者：丁涛"
        ));
        assert!(is_meta_block("□ 湖塘镇党委副书记、镇长 丁涛"));
        assert!(!is_meta_block(
            "来源于群众，服务于群众，这是我们的工作方法。"
        ));
    }

    #[test]
    fn content_is_cleaned_joined_and_unindented() {
        let html = "<style>.TRS_Editor P{margin-top:0px}</style><div>\
            <p>　　<strong>聚焦经济建设中心任务，促进镇域经济高质量发展</strong></p>\
            <p>　　持续加强民生保障。完善妇女、儿童、老年人、残疾人、退役军人关爱服务体</p>\n<p>系，绘就更有温度的民生画卷。</p>\
            <p>　　着力推进富民增收。强化就业优先导向，落实积极</p><p>就业政策，稳住“最大民生”。</p>\
            <p>　　坚守安全发展底线。</p><p>以“时时放心不下”的责任感，守牢底线。</p>\
            <p>【字体：大 中 小】</p><p>打印本页 关闭窗口</p><div class=\"ad\">广告</div>\
            <p><img src=\"./a.png\"></p></div>";
        let remove = vec![Selector::parse("div.ad").unwrap()];
        let out = super::super::clean::clean(&prune(html, &remove), &Default::default()).html;
        assert!(!out.contains("margin-top"), "{out}");
        assert!(
            !out.contains("字体") && !out.contains("打印本页") && !out.contains("广告"),
            "{out}"
        );
        assert!(out.contains("关爱服务体系，绘就更有温度"), "{out}");
        assert!(out.contains("落实积极就业政策"), "{out}");
        assert!(out.contains("<p>坚守安全发展底线。</p>"), "{out}");
        // The heading stays its own paragraph, without its indent.
        assert!(
            out.contains("<p><strong>聚焦经济建设中心任务，促进镇域经济高质量发展</strong></p>"),
            "{out}"
        );
        assert!(!out.contains('\u{3000}'), "{out}");
        assert!(out.contains("<img src=\"./a.png\">"), "{out}");
        let text = super::super::html::to_text(&out);
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    #[test]
    fn page_titles_lose_the_site_name() {
        assert_eq!(
            clean_page_title("湖塘镇开展节前安全生产大检查_常州市武进区湖塘镇人民政府"),
            "湖塘镇开展节前安全生产大检查"
        );
        assert_eq!(clean_page_title("A title - Site"), "A title");
        assert_eq!(clean_page_title("短_站"), "短_站");
    }
}
