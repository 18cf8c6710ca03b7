//! Nesting depth of HTML, bounded before any parser or tree walker sees it.
//!
//! html5ever checks the whole stack of open elements on many start tags, so
//! 100,000 nested `<div>`s cost minutes of CPU, and a walker that recurses
//! once per level (main-content extraction) overflows its stack and aborts
//! the process. Browsers cap the depth too (WebKit at 512). Here one lexical
//! pass — no tree, no allocation unless something is cut — follows the open
//! elements as the HTML parser would (void elements, implied end tags, end
//! tags stopped by block elements and scope boundaries, formatting elements
//! that the parser reopens, the namespace of each element: SVG and MathML
//! content has no implied end tags, self-closing tags and CDATA; text the
//! tokenizer reads as text: raw-text elements, script escapes, comments)
//! and *unwraps* every element that would open beyond the limit: its start
//! and end tags are dropped, its text and everything after it stay.
//!
//! The model errs on the deep side: where it cannot tell what the parser
//! does, it keeps elements open, so it never sees fewer open elements than
//! the parser keeps — but for the `<tbody>`/`<tr>` a table implies and the
//! copies of an `<a>` or `<b>` the adoption agency leaves in blocks —, and
//! the parser's real depth stays within a small multiple of the limit (3
//! in the tests and in `tests/fuzz.rs`).

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
/// Elements whose content is text up to their end tag (in HTML content;
/// `noscript` too: every parser here runs with scripting enabled).
const RAW_TEXT: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "iframe",
    "noembed",
    "noframes",
    "noscript",
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
/// Start tags that close an open `<p>` (in button scope; the model only
/// closes the innermost one). Not `table` (documents without a doctype
/// are parsed in quirks mode, where it does not) nor `form` (ignored when
/// one is open).
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "main",
    "nav",
    "ol",
    "p",
    "search",
    "section",
    "summary",
    "ul",
    "menu",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "listing",
    "li",
    "dd",
    "dt",
    "plaintext",
];
/// Start tags that close an open element of the same group, looking past
/// formatting elements (`<li><b><li>`: the parser closes both, reopens `<b>`).
/// Not `rt`/`rp` (only inside a `<ruby>`) nor `option`/`optgroup` (below).
const SIBLINGS: &[&[&str]] = &[
    &["li"],
    &["dt", "dd"],
    &["tr"],
    &["td", "th"],
    &["thead", "tbody", "tfoot"],
];
/// Start tags that break out of SVG and MathML: the parser closes the
/// foreign elements and reads them as HTML (`font` only with a `color`,
/// `face` or `size` attribute).
const BREAKOUT: &[&str] = &[
    "b",
    "big",
    "blockquote",
    "body",
    "br",
    "center",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "embed",
    "font",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "hr",
    "i",
    "img",
    "li",
    "listing",
    "menu",
    "meta",
    "nobr",
    "ol",
    "p",
    "pre",
    "ruby",
    "s",
    "small",
    "span",
    "strong",
    "strike",
    "sub",
    "sup",
    "table",
    "tt",
    "u",
    "ul",
    "var",
];
/// SVG elements whose content is HTML again (HTML integration points).
const SVG_INTEGRATION: &[&str] = &["foreignobject", "desc", "title"];
/// MathML elements whose content is HTML again (text integration points).
/// (`annotation-xml` is one only for a parser that looks at its
/// `encoding`; html5ever as scraper and ammonia use it does not.)
const MATH_INTEGRATION: &[&str] = &["mi", "mo", "mn", "ms", "mtext"];

/// A short ASCII-lower-cased tag name (longer names are in no list).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Name {
    bytes: [u8; 16],
    len: u8,
}

impl Name {
    fn of(raw: &str) -> Name {
        let mut bytes = [0u8; 16];
        let len = raw.len().min(16);
        for (b, c) in bytes.iter_mut().zip(raw.bytes()) {
            *b = c.to_ascii_lowercase();
        }
        // Long custom names: the length keeps them apart from short ones.
        Name {
            bytes,
            len: if raw.len() > 16 { 255 } else { len as u8 },
        }
    }
    fn as_str(&self) -> &str {
        let len = usize::from(self.len).min(16);
        std::str::from_utf8(&self.bytes[..len]).unwrap_or("")
    }
    fn is(&self, list: &[&str]) -> bool {
        self.len != 255 && list.contains(&self.as_str())
    }
}

/// The namespace the parser gives an element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Html,
    Svg,
    Math,
}

/// An element the model has open.
#[derive(Clone, Copy)]
struct Open {
    name: Name,
    ns: Ns,
}

impl Open {
    fn html(&self, list: &[&str]) -> bool {
        self.ns == Ns::Html && self.name.is(list)
    }

    /// An SVG/MathML element that ends the parser's scope for HTML end
    /// tags: the integration points and `annotation-xml`.
    fn foreign_boundary(&self) -> bool {
        self.integration_point() || (self.ns == Ns::Math && self.name.as_str() == "annotation-xml")
    }

    /// SVG or MathML content that is read as HTML again.
    fn integration_point(&self) -> bool {
        match self.ns {
            Ns::Html => false,
            Ns::Svg => self.name.is(SVG_INTEGRATION),
            Ns::Math => self.name.is(MATH_INTEGRATION),
        }
    }
}

/// Follows the parser's stack of open elements, erring on the deep side:
/// where it cannot tell what the parser does, it keeps elements open.
struct Model {
    stack: Vec<Open>,
    formatting: usize,
    /// Unwrapped elements still "open", by name: their end tags are dropped too.
    unwrapped: HashMap<Name, usize>,
    max: usize,
}

enum Verdict {
    Keep,
    Drop,
}

impl Model {
    /// The namespace the parser gives an element started by `name`, and
    /// whether it reads the start tag by the foreign-content rules (inside
    /// `<svg>`/`<math>`, outside their integration points): no implied end
    /// tags, `<x/>` closes itself, no raw text.
    fn placement(&self, tag: &Tag) -> (Ns, bool) {
        let (ns, foreign, _) = self.placement_and_breakout(tag);
        (ns, foreign)
    }

    /// [`Model::placement`], and whether the tag breaks out of foreign
    /// content (the parser first closes the SVG/MathML elements up to the
    /// nearest HTML element or integration point).
    fn placement_and_breakout(&self, tag: &Tag) -> (Ns, bool, bool) {
        let name = tag.name;
        let breakout = name.is(BREAKOUT) && (name.as_str() != "font" || tag.font_attributes);
        let html = match name.as_str() {
            "svg" => Ns::Svg,
            "math" => Ns::Math,
            _ => Ns::Html,
        };
        let Some(top) = self.stack.last() else {
            return (html, false, false);
        };
        let foreign_rules = if top.ns == Ns::Html {
            false
        } else if top.integration_point() {
            top.ns == Ns::Math && name.is(&["mglyph", "malignmark"])
        } else if top.ns == Ns::Math && top.name.as_str() == "annotation-xml" {
            !breakout && name.as_str() != "svg"
        } else {
            !breakout
        };
        if foreign_rules {
            (top.ns, true, false)
        } else {
            let in_foreign = top.ns != Ns::Html && !top.integration_point();
            (html, false, in_foreign && breakout)
        }
    }

    fn start(&mut self, tag: &Tag) -> Verdict {
        let (name, self_closing) = (tag.name, tag.self_closing);
        let (ns, foreign, breakout) = self.placement_and_breakout(tag);
        // Closed by the breakout; put back if the tag is dropped after all.
        let broken_out = if breakout {
            self.break_out()
        } else {
            Vec::new()
        };
        if foreign || ns != Ns::Html {
            // `<x/>` in SVG/MathML, and `<svg/>` anywhere, closes itself.
            if self_closing {
                return Verdict::Keep;
            }
        } else if name.is(VOID) || name.is(&["html", "body", "head"]) {
            // Void; or merged into the element the parser already has.
            return Verdict::Keep;
        }
        // Implied end tags: a new `<li>` closes the open one, a block closes `<p>`.
        let closes = if foreign {
            None
        } else {
            self.implied_close(name)
        };
        let depth_after = match closes {
            Some(i) => i + self.kept_above(i) + 1,
            None => self.stack.len() + 1,
        };
        let formatting = ns == Ns::Html && name.is(FORMATTING);
        if depth_after > self.max || (formatting && self.formatting >= MAX_FORMATTING) {
            // Dropped before closing anything: the parser never sees it.
            self.stack.extend(broken_out.into_iter().rev());
            *self.unwrapped.entry(name).or_insert(0) += 1;
            return Verdict::Drop;
        }
        if let Some(i) = closes {
            self.close_at(i);
        }
        if formatting {
            self.formatting += 1;
        }
        self.stack.push(Open { name, ns });
        Verdict::Keep
    }

    /// Closes the SVG/MathML elements on top, up to the nearest HTML element
    /// or integration point (what an HTML tag in foreign content does);
    /// returns them, topmost first.
    fn break_out(&mut self) -> Vec<Open> {
        let mut closed = Vec::new();
        while self
            .stack
            .last()
            .is_some_and(|o| o.ns != Ns::Html && !o.integration_point())
        {
            closed.extend(self.stack.pop());
        }
        closed
    }

    /// The open element a start tag `name` (read as HTML) closes, if any.
    fn implied_close(&self, name: Name) -> Option<usize> {
        let top = self.stack.len().checked_sub(1)?;
        let structural = self.top_structural()?;
        let s = self.stack[structural];
        if s.ns != Ns::Html {
            return None;
        }
        if SIBLINGS.iter().any(|g| name.is(g) && s.name.is(g)) {
            return Some(structural);
        }
        if name.is(CLOSES_P) && s.name.as_str() == "p" {
            return Some(structural);
        }
        // Only an `<option>` right on top (`<option><b><option>` nests).
        if matches!(name.as_str(), "option" | "optgroup") && self.stack[top].html(&["option"]) {
            return Some(top);
        }
        None
    }

    fn end(&mut self, name: Name) -> Verdict {
        if let Some(n) = self.unwrapped.get_mut(&name) {
            *n -= 1;
            if *n == 0 {
                self.unwrapped.remove(&name);
            }
            return Verdict::Drop;
        }
        // `</p>` and `</br>` break out of foreign content like HTML start tags.
        if name.is(&["p", "br"]) {
            self.break_out();
        }
        // Foreign content: the nearest SVG/MathML element of that name
        // closes (and all above it), up to the first HTML element.
        if self.stack.last().is_some_and(|o| o.ns != Ns::Html) {
            for i in (0..self.stack.len()).rev() {
                let open = self.stack[i];
                if open.ns == Ns::Html {
                    break;
                }
                if open.name == name {
                    self.close_at(i);
                    return Verdict::Keep;
                }
            }
        }
        match name.as_str() {
            // The parser never closes these before the end of the input.
            "html" | "body" | "head" => return Verdict::Keep,
            // Takes the form out of the stack, not what is open in it.
            "form" => {
                if let Some(i) = self.stack.iter().rposition(|o| o.html(&["form"])) {
                    self.remove(i);
                }
                return Verdict::Keep;
            }
            _ => {}
        }
        let formatting = name.is(FORMATTING);
        for i in (0..self.stack.len()).rev() {
            let open = self.stack[i];
            if open.ns == Ns::Html && open.name == name {
                if formatting {
                    self.end_formatting(i);
                } else {
                    self.close_at(i);
                }
                return Verdict::Keep;
            }
            // The parser's scope: special elements (here by name, whatever
            // their namespace: more stays open) and integration points.
            let boundary = open.name.is(MARKERS) || open.name.is(&["table"]);
            if (open.name.is(SPECIAL) && (!formatting || boundary)) || open.foreign_boundary() {
                break;
            }
        }
        Verdict::Keep
    }

    /// `</b>` for the open `<b>` at `i` (the adoption agency): with a block
    /// opened inside it, the parser moves that block out and reopens a copy
    /// of `<b>` inside it — as many elements as before stay open; without,
    /// it closes `<b>`.
    fn end_formatting(&mut self, i: usize) {
        let block_inside = self.stack[i + 1..]
            .iter()
            .any(|o| o.html(SPECIAL) || o.ns != Ns::Html);
        if !block_inside {
            self.remove(i);
        }
    }

    /// The topmost open element that is not an HTML formatting element.
    fn top_structural(&self) -> Option<usize> {
        self.stack.iter().rposition(|o| !o.html(FORMATTING))
    }

    /// How many of the elements above `i` stay open when it closes.
    fn kept_above(&self, i: usize) -> usize {
        if self.stack[i].html(MARKERS) {
            return 0;
        }
        self.stack[i + 1..]
            .iter()
            .filter(|o| o.html(FORMATTING))
            .count()
    }

    fn remove(&mut self, i: usize) {
        let open = self.stack.remove(i);
        self.forget(open);
    }

    fn forget(&mut self, open: Open) {
        if open.html(FORMATTING) {
            self.formatting -= 1;
        }
    }

    /// Closes the element at `i` and those above it; formatting elements
    /// above it stay counted (the parser reopens them) unless it is a marker.
    fn close_at(&mut self, i: usize) {
        let marker = self.stack[i].html(MARKERS);
        let above: Vec<Open> = self.stack.drain(i..).collect();
        for (k, open) in above.into_iter().enumerate() {
            if k > 0 && !marker && open.html(FORMATTING) {
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
        max,
    };
    // Filled from the first dropped tag on; `copied` is how much of `html` it holds.
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        let start = i + off;
        let cdata = model.stack.last().is_some_and(|o| o.ns != Ns::Html);
        let Some(tag) = read_tag(bytes, start, cdata) else {
            i = start + 1;
            continue;
        };
        let verdict = match tag.kind {
            TagKind::Start if tag.name.is(RAW_TEXT) && !model.placement(&tag).1 => {
                // Raw text up to `</name`: no elements inside, so no depth
                // beyond its own level; always kept. (Inside `<svg>` and
                // `<math>` these are ordinary elements with markup inside.)
                i = if tag.name.as_str() == "script" {
                    find_script_end(bytes, tag.end)
                } else {
                    find_end_tag(bytes, tag.end, tag.name.as_str())
                };
                continue;
            }
            TagKind::Start => model.start(&tag),
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
    memchr::memchr(b'<', bytes)
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
    /// Has a `color`, `face` or `size` attribute (a `<font>` breaking out
    /// of SVG/MathML).
    font_attributes: bool,
    /// Byte offset just after the tag.
    end: usize,
}

/// The tag starting at `bytes[start] == b'<'`, or `None` when the `<` is
/// text. `cdata`: inside SVG/MathML, where `<![CDATA[…]]>` is text.
fn read_tag(bytes: &[u8], start: usize, cdata: bool) -> Option<Tag> {
    let rest = &bytes[start + 1..];
    let other = |end: usize| Tag {
        kind: TagKind::Other,
        name: Name::of(""),
        self_closing: false,
        font_attributes: false,
        end,
    };
    if rest.starts_with(b"!--") {
        // Ends at `-->` or `--!>`; `<!-->` and `<!--->` are whole comments.
        let body = start + 4;
        let end = if bytes[body..].starts_with(b">") {
            body + 1
        } else if bytes[body..].starts_with(b"->") {
            body + 2
        } else {
            let a = find(bytes, body, b"-->").map(|p| p + 3);
            // `--!>` only matters before that `-->`: searching the rest of
            // the page for it at every comment made comment-rich pages
            // quadratic.
            let b = find(&bytes[..a.unwrap_or(bytes.len())], body, b"--!>").map(|p| p + 4);
            a.into_iter().chain(b).min().unwrap_or(bytes.len())
        };
        return Some(other(end));
    }
    if cdata && rest.starts_with(b"![CDATA[") {
        let end = find(bytes, start + 9, b"]]>").map_or(bytes.len(), |p| p + 3);
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
    let (end, self_closing, font_attributes) = attributes_end(bytes, j);
    Some(Tag {
        kind,
        name,
        self_closing,
        font_attributes,
        end,
    })
}

/// Where the tag whose attributes start at `j` ends (after `>`), whether it
/// ended with `/>`, and whether it has a `color`, `face` or `size`
/// attribute — as the tokenizer reads it: quoted values may contain `>`,
/// an unquoted value takes a `/` (`<math id=x/>` is not self-closing).
fn attributes_end(bytes: &[u8], mut j: usize) -> (usize, bool, bool) {
    enum State {
        BeforeName,
        /// In an attribute name that started at this offset, or after it.
        Name(usize),
        AfterName,
        BeforeValue,
        Unquoted,
    }
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
    let mut font = false;
    let mut state = State::BeforeName;
    while j < bytes.len() {
        let c = bytes[j];
        if let State::Name(from) = state {
            if space(c) || matches!(c, b'/' | b'>' | b'=') {
                let name = &bytes[from..j];
                font |= [&b"color"[..], b"face", b"size"]
                    .iter()
                    .any(|n| name.eq_ignore_ascii_case(n));
                state = State::AfterName;
            }
        }
        state = match state {
            State::BeforeName | State::AfterName if c == b'>' => return (j + 1, false, font),
            State::BeforeName | State::AfterName if c == b'/' => {
                if bytes.get(j + 1) == Some(&b'>') {
                    return (j + 2, true, font);
                }
                State::BeforeName
            }
            State::BeforeName | State::AfterName if space(c) => state,
            State::AfterName if c == b'=' => State::BeforeValue,
            // A new name (`=` first is part of it).
            State::BeforeName | State::AfterName => State::Name(j),
            State::Name(from) => State::Name(from),
            State::BeforeValue if space(c) => State::BeforeValue,
            State::BeforeValue if c == b'"' || c == b'\'' => {
                j = find(bytes, j + 1, &[c]).map_or(bytes.len(), |p| p + 1);
                state = State::BeforeName;
                continue;
            }
            State::BeforeValue if c == b'>' => return (j + 1, false, font),
            State::BeforeValue => State::Unquoted,
            State::Unquoted if space(c) => State::BeforeName,
            State::Unquoted if c == b'>' => return (j + 1, false, font),
            State::Unquoted => State::Unquoted,
        };
        j += 1;
    }
    (bytes.len(), false, font)
}

/// Offset of the end tag `</name` (then a space, `/` or `>`) at or after
/// `from` (or the end of input).
fn find_end_tag(bytes: &[u8], from: usize, name: &str) -> usize {
    let mut i = from;
    while let Some(p) = find(bytes, i, b"</") {
        if names_at(bytes, p + 2, name) {
            return p;
        }
        i = p + 2;
    }
    bytes.len()
}

/// `name` at `at`, followed by what ends a tag name (or the input).
fn names_at(bytes: &[u8], at: usize, name: &str) -> bool {
    let candidate = bytes.get(at..at + name.len());
    candidate.is_some_and(|c| c.eq_ignore_ascii_case(name.as_bytes()))
        && bytes
            .get(at + name.len())
            .is_none_or(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'/' | b'>'))
}

/// Where a `<script>`'s text ends (its `</script`), following the
/// tokenizer's escapes: inside `<!--`, a `<script>` hides the next
/// `</script>`, up to `-->`.
fn find_script_end(bytes: &[u8], from: usize) -> usize {
    #[derive(PartialEq)]
    enum State {
        Data,
        Escaped,
        DoubleEscaped,
    }
    let mut state = State::Data;
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'<' if bytes[i + 1..].starts_with(b"/") && names_at(bytes, i + 2, "script") => {
                if state == State::DoubleEscaped {
                    state = State::Escaped;
                } else {
                    return i;
                }
            }
            b'<' if state == State::Data && bytes[i + 1..].starts_with(b"!--") => {
                // Past `<!` only: `<!-->` is escaped and back at once.
                state = State::Escaped;
                i += 2;
                continue;
            }
            b'<' if state == State::Escaped && names_at(bytes, i + 1, "script") => {
                state = State::DoubleEscaped;
            }
            b'-' if state != State::Data && bytes[i..].starts_with(b"-->") => {
                state = State::Data;
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    // memchr's vectorised search: this pass reads every byte of every page.
    bytes
        .get(from..)
        .and_then(|rest| memchr::memmem::find(rest, needle))
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

    /// The deeper of the two parses every caller makes (fragments for
    /// entry content, documents for pages).
    fn parsed_depth(html: &str) -> usize {
        let document = tree_depth(scraper::Html::parse_document(html).tree.root());
        depth_after_parse(html).max(document)
    }

    /// Each shape repeated `n` times (and its prefix once) stays within
    /// three times the limit once bounded, whichever way it is parsed.
    fn assert_bounded(prefix: &str, shapes: &[&str]) {
        let (n, limit) = (1500, 64);
        let mut deep = Vec::new();
        for shape in shapes {
            let html = format!("{prefix}{}", shape.repeat(n));
            let out = bound_depth_to(&html, limit);
            let d = parsed_depth(&out);
            if d > limit * 3 {
                let raw = parsed_depth(&html);
                deep.push(format!("{prefix}{shape}: depth {d} ({raw} unbounded)"));
            }
        }
        assert!(deep.is_empty(), "over 3 × {limit}: {deep:#?}");
    }

    #[test]
    fn ordinary_markup_is_untouched() {
        for html in [
            "<p>a<p>b<ul><li>x<li>y</ul><table><tr><td>1<td>2</table>",
            "<div class=\"a>b\"><span title='x>y'>t</span></div><br><img src=x>",
            "<script>if (a<b) { document.write('<div><div>') }</script><p>z",
            "<!-- <div><div> --><svg><path d=''/><path/></svg><?php x ?>",
            "a < b and <3 hearts",
            "<template><tr><td>1<td>2</template><select><optgroup label=a><option>x<option>y</select>",
            "<math><mi>x</mi><mo>=</mo><mfrac><mn>1</mn><mn>2</mn></mfrac></math>",
            "<svg><foreignObject><p>a<p>b</foreignObject><title>t</title></svg>",
            "<ruby>漢<rt>kan<rt>ji</ruby><script><!--<script></script>--></script>",
            "<noscript><img src=x></noscript><form><div></div></form>",
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

    /// Template contents are parsed in their own modes (`<td>` directly in
    /// a template is a cell, no row implied), and a template is a scope
    /// boundary: end tags and formatting elements do not cross it.
    #[test]
    fn template_contents_stay_bounded() {
        assert_bounded(
            "",
            &[
                "<template>",
                "<template><div>",
                "<template><td>",
                "<template><tr><td>",
                "<template><li><template><li>",
                "<b><template></b>",
                "<template><b></template>",
                "<div><template></div>",
                "<table><template><tr><template>",
                "<template><svg><template>",
            ],
        );
        assert_bounded("<template>", &["<td><template><td>", "<caption><div>"]);
    }

    /// Inside `<svg>`/`<math>` there are no implied end tags (`<td>` after
    /// `<td>` nests), `<x/>` closes itself, `<![CDATA[…]]>` is text, and
    /// HTML tags break out (`<div/>` then opens a `<div>`); `foreignObject`,
    /// `title`, `desc` and MathML's `mi`… read HTML again.
    #[test]
    fn foreign_content_stays_bounded() {
        assert_bounded(
            "<svg>",
            &[
                "<td>",
                "<tr>",
                "<option>",
                "<thead>",
                "<image>",
                "<g><![CDATA[></g>]]>",
            ],
        );
        assert_bounded("<math>", &["<td>", "<rt>", "<mi><mglyph><td>"]);
        assert_bounded("<math><mi><mglyph>", &["<td>"]);
        assert_bounded("<math><annotation-xml>", &["<td>", "<svg><td>"]);
        assert_bounded("<svg><div>", &["<span/>", "<div/>"]);
        // After the breakout the SVG elements are closed: `</div>` leaves HTML.
        assert_bounded("<svg><g><div></div>", &["<span/>", "<g><![CDATA[</g>]]>"]);
        // `</p>` breaks out too: the `<textarea>` after it is raw text.
        assert_bounded("", &["<svg></p><textarea><p><title></textarea><b><x-y>"]);
        assert_bounded("<svg></p>", &["<span/>"]);
        assert_bounded("<div><math><annotation-xml></div>", &["<td>"]);
        assert_bounded("<svg><foreignObject>", &["<span/>", "<svg><foreignObject>"]);
        assert_bounded("<svg><title>", &["<i/>", "<svg><title>"]);
        assert_bounded(
            "",
            &[
                "<svg><g><td>",
                "<math><mtext><li>",
                "<svg><desc><svg><a>",
                "<svg></svg><div/>",
                "<svg><p><svg><td>",
                // A `<font>` without color/face/size stays SVG; its `<title>` is no raw text.
                "<math><font style=x><title x><h1><font>",
                "<svg><font color=red><title>x</title><font>",
            ],
        );
        // Self-closing foreign elements are void, not nesting.
        let html = "<svg>".to_string() + &"<path d=''/>".repeat(500) + "</svg>";
        assert!(matches!(bound_depth_to(&html, 8), Cow::Borrowed(_)));
    }

    /// Misnested tables: content in a table outside a cell is moved in
    /// front of the table (foster parenting) but stays open; a `<table>` in a
    /// table closes the first; rows and bodies are implied.
    #[test]
    fn misnested_tables_stay_bounded() {
        assert_bounded(
            "",
            &[
                "<table><div>",
                "<table><b><div>",
                "<table><tr><div><td>",
                "<table><td><table><tr>",
                "<table><a><tr><td><a>",
                "<table><b><div></b>",
                "<table><caption><table><caption>",
                "<table><svg><td>",
                "<table><template><td><div>",
                "<table><form><div></form>",
                "<p><table><p><object>",
            ],
        );
        assert_bounded("<table>", &["<div><span>", "<tbody><tr><td><table>"]);
    }

    /// What the parser keeps open where a simpler model would close it.
    #[test]
    fn parser_quirks_stay_bounded() {
        assert_bounded(
            "",
            &[
                // `</form>` takes the form out, not what is open in it.
                "<form><div></form>",
                // `</body>` and `</html>` close nothing.
                "<body><div></body>",
                "<html><div></html>",
                // An `<optgroup>` closes only an `<option>`; `<rt>` nests outside `<ruby>`.
                "<optgroup>",
                "<option><b><option>",
                "<rt>",
                // `</b>` with a block inside reopens a `<b>` in it.
                "<b><div></b>",
                "<a><div><a>",
                "<b><object></b>",
                // Raw text the parser reads as text.
                "<div><script><!--<script></script></div>--></script>",
                "<div><noscript></div></noscript>",
                "<div><style></div></stylex></style>",
                "<!-- --!><div>",
                "<!--><div>",
                // An unquoted value ending in `/` is no self-closing tag.
                "<math id=x/><source>",
                "<svg class=a/><image>",
            ],
        );
        assert_bounded("<!-- --!>", &["<div>"]);
    }

    #[test]
    fn sibling_items_and_paragraphs_do_not_count_as_nesting() {
        let html = "<ul>".to_string() + &"<li>item".repeat(500) + "</ul>" + &"<p>para".repeat(500);
        assert!(matches!(bound_depth_to(&html, 8), Cow::Borrowed(_)));
    }
}
