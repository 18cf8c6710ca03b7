//! Nesting depth of HTML, bounded before any parser or tree walker sees it.
//!
//! html5ever checks the whole stack of open elements on many start tags, so
//! 100,000 nested `<div>`s cost minutes of CPU, and a walker that recurses
//! once per level (main-content extraction) overflows its stack and aborts
//! the process. Browsers cap the depth too (WebKit at 512). Here one lexical
//! pass — no tree, no allocation unless something is cut — follows the open
//! elements as the HTML parser would (void elements, implied end tags, end
//! tags stopped by block elements, formatting elements that the parser
//! reopens) and *unwraps* every element that would open beyond the limit: its
//! start and end tags are dropped, its text and everything after it stay.
//!
//! The model errs on the deep side (it never sees fewer open elements than
//! the parser keeps, but for the `<tbody>`/`<tr>` a table implies), so the
//! parser's real depth stays within a small multiple of the limit.

use std::borrow::Cow;
use std::collections::HashMap;

/// Elements open at once that a document keeps; deeper ones are unwrapped.
/// Real pages stay under 60 (the seed sites: 23 at most).
pub const MAX_DEPTH: usize = 256;

/// Formatting elements (`<b>`, `<font>`…) open at once. The parser reopens
/// unclosed ones after every block, so many distinct unclosed ones multiply
/// the elements it builds; beyond this they are unwrapped.
const MAX_FORMATTING: usize = 24;

/// `html` with at most [`MAX_DEPTH`] elements open at once.
pub fn bound_depth(html: &str) -> Cow<'_, str> {
    bound_depth_to(html, MAX_DEPTH)
}

/// Elements without content or end tag.
const VOID: &[&str] = &[
    "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image", "img",
    "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
];
/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "plaintext",
];
/// Reopened by the parser when a block closes them implicitly.
const FORMATTING: &[&str] = &[
    "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u",
];
/// Closing one of these clears the formatting elements opened inside it.
const MARKERS: &[&str] = &[
    "td", "th", "caption", "applet", "object", "marquee", "template", "html", "body",
];
/// An end tag for an element not open stops at one of these (the parser's
/// "special" category): `<span><div></span>` leaves both open.
const SPECIAL: &[&str] = &[
    "address",
    "applet",
    "article",
    "aside",
    "blockquote",
    "body",
    "button",
    "caption",
    "center",
    "colgroup",
    "dd",
    "details",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "html",
    "li",
    "listing",
    "main",
    "marquee",
    "menu",
    "nav",
    "object",
    "ol",
    "p",
    "pre",
    "search",
    "section",
    "select",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];
/// Start tags that close an open element of the same group on top.
const SIBLINGS: &[&[&str]] = &[
    &["li"],
    &["dt", "dd"],
    &["option", "optgroup"],
    &["tr"],
    &["td", "th"],
    &["thead", "tbody", "tfoot"],
    &["rt", "rp"],
];

/// A short ASCII-lower-cased tag name (longer names are in no list).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Name {
    bytes: [u8; 12],
    len: u8,
}

impl Name {
    fn of(raw: &str) -> Name {
        let mut bytes = [0u8; 12];
        let len = raw.len().min(12);
        for (b, c) in bytes.iter_mut().zip(raw.bytes()) {
            *b = c.to_ascii_lowercase();
        }
        // Long custom names: the length keeps them apart from short ones.
        Name {
            bytes,
            len: if raw.len() > 12 { 255 } else { len as u8 },
        }
    }
    fn as_str(&self) -> &str {
        let len = usize::from(self.len).min(12);
        std::str::from_utf8(&self.bytes[..len]).unwrap_or("")
    }
    fn is(&self, list: &[&str]) -> bool {
        self.len != 255 && list.contains(&self.as_str())
    }
}

/// An element the model has open.
#[derive(Clone, Copy)]
struct Open {
    name: Name,
}

struct Model {
    stack: Vec<Open>,
    formatting: usize,
    /// Unwrapped elements still "open", by name: their end tags are dropped too.
    unwrapped: HashMap<Name, usize>,
    /// Inside `<svg>`/`<math>`, where `<x/>` closes itself.
    foreign: usize,
    max: usize,
}

enum Verdict {
    Keep,
    Drop,
}

impl Model {
    fn start(&mut self, name: Name, self_closing: bool) -> Verdict {
        if name.is(VOID) || (self_closing && self.foreign > 0) {
            return Verdict::Keep;
        }
        // Implied end tags: a new `<li>` closes the open one, a block closes `<p>`.
        if let Some(top) = self.top_structural() {
            let top_name = self.stack[top].name;
            let sibling = SIBLINGS.iter().any(|g| name.is(g) && top_name.is(g));
            let closes_p = top_name.as_str() == "p" && name.is(SPECIAL);
            if sibling || closes_p {
                self.close_at(top);
            }
        }
        let formatting = name.is(FORMATTING);
        if self.stack.len() >= self.max || (formatting && self.formatting >= MAX_FORMATTING) {
            *self.unwrapped.entry(name).or_insert(0) += 1;
            return Verdict::Drop;
        }
        if formatting {
            self.formatting += 1;
        }
        if matches!(name.as_str(), "svg" | "math") {
            self.foreign += 1;
        }
        self.stack.push(Open { name });
        Verdict::Keep
    }

    fn end(&mut self, name: Name) -> Verdict {
        if let Some(n) = self.unwrapped.get_mut(&name) {
            *n -= 1;
            if *n == 0 {
                self.unwrapped.remove(&name);
            }
            return Verdict::Drop;
        }
        let formatting = name.is(FORMATTING);
        for i in (0..self.stack.len()).rev() {
            let open = self.stack[i].name;
            if open == name {
                if formatting {
                    // The adoption agency closes just this one.
                    self.remove(i);
                } else {
                    self.close_at(i);
                }
                return Verdict::Keep;
            }
            if open.is(SPECIAL) && !formatting {
                break;
            }
        }
        Verdict::Keep
    }

    /// The topmost open element that is not a formatting element.
    fn top_structural(&self) -> Option<usize> {
        self.stack.iter().rposition(|o| !o.name.is(FORMATTING))
    }

    fn remove(&mut self, i: usize) {
        let open = self.stack.remove(i);
        self.forget(open);
    }

    fn forget(&mut self, open: Open) {
        if open.name.is(FORMATTING) {
            self.formatting -= 1;
        }
        if matches!(open.name.as_str(), "svg" | "math") {
            self.foreign -= 1;
        }
    }

    /// Closes the element at `i` and those above it; formatting elements
    /// above it stay counted (the parser reopens them) unless it is a marker.
    fn close_at(&mut self, i: usize) {
        let marker = self.stack[i].name.is(MARKERS);
        let above: Vec<Open> = self.stack.drain(i..).collect();
        for (k, open) in above.into_iter().enumerate() {
            if k > 0 && !marker && open.name.is(FORMATTING) {
                self.stack.push(open);
            } else {
                self.forget(open);
            }
        }
    }
}

/// [`bound_depth`] with another limit.
pub fn bound_depth_to(html: &str, max: usize) -> Cow<'_, str> {
    let bytes = html.as_bytes();
    let mut model = Model {
        stack: Vec::new(),
        formatting: 0,
        unwrapped: HashMap::new(),
        foreign: 0,
        max,
    };
    // Filled from the first dropped tag on; `copied` is how much of `html` it holds.
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        let start = i + off;
        let Some(tag) = read_tag(bytes, start) else {
            i = start + 1;
            continue;
        };
        let verdict = match tag.kind {
            TagKind::Start if tag.name.is(RAW_TEXT) && model.foreign == 0 => {
                // Raw text up to `</name`: no elements inside, so no depth
                // beyond its own level; always kept. (Inside `<svg>` and
                // `<math>` these are ordinary elements with markup inside.)
                i = find_end_tag(bytes, tag.end, tag.name.as_str());
                continue;
            }
            TagKind::Start => model.start(tag.name, tag.self_closing),
            TagKind::End => model.end(tag.name),
            TagKind::Other => Verdict::Keep,
        };
        if matches!(verdict, Verdict::Drop) {
            let buf = out.get_or_insert_with(|| String::with_capacity(html.len()));
            buf.push_str(&html[copied..start]);
            copied = tag.end;
        }
        i = tag.end;
    }
    match out {
        None => Cow::Borrowed(html),
        Some(mut buf) => {
            buf.push_str(&html[copied..]);
            Cow::Owned(buf)
        }
    }
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Start,
    End,
    /// Comment, doctype, processing instruction, CDATA.
    Other,
}

struct Tag {
    kind: TagKind,
    name: Name,
    self_closing: bool,
    /// Byte offset just after the tag.
    end: usize,
}

/// The tag starting at `bytes[start] == b'<'`, or `None` when the `<` is text.
fn read_tag(bytes: &[u8], start: usize) -> Option<Tag> {
    let rest = &bytes[start + 1..];
    let other = |end: usize| Tag {
        kind: TagKind::Other,
        name: Name::of(""),
        self_closing: false,
        end,
    };
    if rest.starts_with(b"!--") {
        let end = find(bytes, start + 4, b"-->").map_or(bytes.len(), |p| p + 3);
        return Some(other(end));
    }
    match rest.first() {
        Some(b'!') | Some(b'?') => {
            let end = find(bytes, start + 1, b">").map_or(bytes.len(), |p| p + 1);
            return Some(other(end));
        }
        _ => {}
    }
    let (kind, name_at) = match rest.first() {
        Some(b'/') => (TagKind::End, start + 2),
        Some(c) if c.is_ascii_alphabetic() => (TagKind::Start, start + 1),
        _ => return None,
    };
    if !bytes.get(name_at).is_some_and(|c| c.is_ascii_alphabetic()) {
        // `</>` or `</ x>`: not an element (skipped or a bogus comment).
        let end = find(bytes, start + 1, b">").map_or(bytes.len(), |p| p + 1);
        return Some(other(end));
    }
    let mut j = name_at;
    while j < bytes.len() && !matches!(bytes[j], b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'>')
    {
        j += 1;
    }
    // `name_at..j` is ASCII-started; slicing on a char boundary (j stops at ASCII).
    let name = Name::of(std::str::from_utf8(&bytes[name_at..j]).unwrap_or(""));
    let (end, self_closing) = attributes_end(bytes, j);
    Some(Tag {
        kind,
        name,
        self_closing,
        end,
    })
}

/// Where the tag whose attributes start at `j` ends (after `>`), and whether
/// it ended with `/>`. Quoted values may contain `>`.
fn attributes_end(bytes: &[u8], mut j: usize) -> (usize, bool) {
    let mut after_eq = false;
    let mut slash = false;
    while j < bytes.len() {
        match bytes[j] {
            b'>' => return (j + 1, slash),
            b'=' => {
                after_eq = true;
                slash = false;
                j += 1;
                continue;
            }
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => {}
            q @ (b'"' | b'\'') if after_eq => {
                j = find(bytes, j + 1, &[q]).map_or(bytes.len(), |p| p + 1);
                after_eq = false;
                slash = false;
                continue;
            }
            b'/' => {
                slash = true;
                after_eq = false;
            }
            _ => {
                slash = false;
                after_eq = false;
            }
        }
        j += 1;
    }
    (bytes.len(), false)
}

/// Offset of the end tag `</name` at or after `from` (or the end of input).
fn find_end_tag(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut i = from;
    while let Some(p) = find(bytes, i, b"</") {
        let after = p + 2;
        let candidate = bytes.get(after..after + name.len());
        if candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes())) {
            return p;
        }
        i = after;
    }
    bytes.len()
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from >= bytes.len() {
        return None;
    }
    bytes[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The deepest nesting of elements in a parsed tree (no recursion).
pub fn tree_depth(root: ego_tree::NodeRef<'_, scraper::Node>) -> usize {
    let mut depth = 0usize;
    let mut max = 0usize;
    for edge in root.traverse() {
        match edge {
            ego_tree::iter::Edge::Open(n) if n.value().is_element() => {
                depth += 1;
                max = max.max(depth);
            }
            ego_tree::iter::Edge::Close(n) if n.value().is_element() => depth -= 1,
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_after_parse(html: &str) -> usize {
        tree_depth(scraper::Html::parse_fragment(html).tree.root())
    }

    #[test]
    fn ordinary_markup_is_untouched() {
        for html in [
            "<p>a<p>b<ul><li>x<li>y</ul><table><tr><td>1<td>2</table>",
            "<div class=\"a>b\"><span title='x>y'>t</span></div><br><img src=x>",
            "<script>if (a<b) { document.write('<div><div>') }</script><p>z",
            "<!-- <div><div> --><svg><path d=''/><path/></svg><?php x ?>",
            "a < b and <3 hearts",
        ] {
            assert!(
                matches!(bound_depth_to(html, 8), Cow::Borrowed(_)),
                "{html}"
            );
        }
    }

    #[test]
    fn deep_divs_are_unwrapped_and_text_kept() {
        let html = format!("{}deep text{}", "<div>".repeat(1000), "</div>".repeat(1000));
        let out = bound_depth(&html);
        assert!(out.contains("deep text"));
        assert_eq!(out.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(out.matches("</div>").count(), MAX_DEPTH);
        assert!(depth_after_parse(&out) <= MAX_DEPTH + 2);
    }

    #[test]
    fn what_follows_the_deep_part_keeps_its_structure() {
        let html = format!("{}x{}<p>after</p>", "<div>".repeat(50), "</div>".repeat(50));
        let out = bound_depth_to(&html, 10);
        assert!(out.ends_with("</div><p>after</p>"), "{out}");
        assert_eq!(out.matches("<div>").count(), 10);
    }

    #[test]
    fn hostile_shapes_stay_within_a_small_multiple_of_the_limit() {
        let n = 3000;
        let cases = [
            "<div>".repeat(n),
            "<span>".repeat(n),
            "<table><tr><td>".repeat(n),
            "<table><td>".repeat(n),
            "<video><audio>".repeat(n),
            "<span><div></span>".repeat(n),
            "<li><ul>".repeat(n),
            (0..n).map(|i| format!("<b id={i}>")).collect::<String>() + &"<p>x</p>".repeat(50),
            "<div/>".repeat(n),
            "<svg><g>".repeat(n),
            "<svg><title>".to_string() + &"<video>".repeat(n),
            "<math><style>".to_string() + &"<x-y>".repeat(n),
            "<p><font>".repeat(n),
        ];
        for html in cases {
            let out = bound_depth_to(&html, 64);
            let d = depth_after_parse(&out);
            assert!(d <= 64 * 3, "{}: depth {d}", &html[..30]);
        }
    }

    #[test]
    fn sibling_items_and_paragraphs_do_not_count_as_nesting() {
        let html = "<ul>".to_string() + &"<li>item".repeat(500) + "</ul>" + &"<p>para".repeat(500);
        assert!(matches!(bound_depth_to(&html, 8), Cow::Borrowed(_)));
    }
}
