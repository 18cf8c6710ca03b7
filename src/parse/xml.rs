//! A forgiving XML reader for feeds: builds a namespace-resolved tree from
//! documents a strict parser refuses. What the world writes and a reader
//! still reads: an unescaped `&`, HTML entities never declared, entities a
//! DOCTYPE declares, junk before the root, end tags that do not match, a
//! document cut off. Each repair is recorded in [`Document::problems`].

use std::collections::HashMap;

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// An element with its namespace resolved (`ns` is "" when none applies).
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// The name as written (`dc:date`).
    pub name: String,
    pub ns: String,
    /// The name without its prefix (`date`).
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// Namespace declarations made on this element (prefix, uri), kept so
    /// that markup copied out of the feed (xhtml content) still reads.
    pub declared: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    pub ns: String,
    pub local: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// The root element and what had to be repaired to read it.
#[derive(Debug)]
pub struct Document {
    pub root: Element,
    pub problems: Vec<String>,
}

impl Element {
    /// The value of the attribute whose local name is `local` (any namespace
    /// but the xml: one, unless asked for with `xml:` itself).
    pub fn attr(&self, local: &str) -> Option<&str> {
        if let Some(xml_local) = local.strip_prefix("xml:") {
            return self
                .attrs
                .iter()
                .find(|a| a.ns == XML_NS && a.local == xml_local)
                .map(|a| a.value.as_str());
        }
        self.attrs
            .iter()
            .find(|a| a.local.eq_ignore_ascii_case(local) && a.ns != XML_NS)
            .map(|a| a.value.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The text of this element and its descendants.
    pub fn text(&self) -> String {
        let mut out = String::new();
        collect_text(self, &mut out);
        out
    }

    /// The children serialized back to markup (for xhtml and unescaped HTML).
    pub fn inner_xml(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            write_node(c, &mut out);
        }
        out
    }

    pub fn has_element_children(&self) -> bool {
        self.elements().next().is_some()
    }
}

fn collect_text(e: &Element, out: &mut String) {
    for c in &e.children {
        match c {
            Node::Text(t) => out.push_str(t),
            Node::Element(child) => collect_text(child, out),
        }
    }
}

fn write_node(node: &Node, out: &mut String) {
    match node {
        Node::Text(t) => out.push_str(&escape_text(t)),
        Node::Element(e) => {
            // The xhtml namespace prefix is dropped: the markup is read as HTML.
            out.push('<');
            out.push_str(&e.local);
            for a in &e.attrs {
                if a.name.starts_with("xmlns") {
                    continue;
                }
                out.push(' ');
                out.push_str(if a.ns.is_empty() { &a.local } else { &a.name });
                out.push_str("=\"");
                out.push_str(&escape_text(&a.value).replace('"', "&quot;"));
                out.push('"');
            }
            if e.children.is_empty() && is_void(&e.local) {
                out.push_str(" />");
                return;
            }
            out.push('>');
            for c in &e.children {
                write_node(c, out);
            }
            out.push_str("</");
            out.push_str(&e.local);
            out.push('>');
        }
    }
}

fn is_void(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "br" | "hr"
            | "img"
            | "input"
            | "meta"
            | "link"
            | "area"
            | "base"
            | "col"
            | "embed"
            | "param"
            | "source"
            | "track"
            | "wbr"
    )
}

fn escape_text(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Reads `text` (already decoded) into a tree; `None` when no root element
/// is found at all.
pub fn read(text: &str) -> Option<Document> {
    Reader::new(text).run()
}

struct Open {
    el: Element,
    scope: HashMap<String, String>,
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
    entities: HashMap<String, String>,
    problems: Vec<String>,
    stack: Vec<Open>,
    root: Option<Element>,
}

impl<'a> Reader<'a> {
    fn new(s: &'a str) -> Self {
        Reader {
            s,
            pos: 0,
            entities: HashMap::new(),
            problems: Vec::new(),
            stack: Vec::new(),
            root: None,
        }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < 20 && !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn run(mut self) -> Option<Document> {
        let mut junk_before_root = false;
        while self.pos < self.s.len() && self.root.is_none() {
            let rest = self.rest();
            let Some(lt) = rest.find('<') else {
                if !self.stack.is_empty() && !rest.trim().is_empty() {
                    let t = self.decode(rest);
                    self.push_text(t);
                }
                self.pos = self.s.len();
                break;
            };
            if lt > 0 {
                let text = &rest[..lt];
                if self.stack.is_empty() {
                    junk_before_root |= !text.trim().is_empty();
                } else {
                    let t = self.decode(text);
                    self.push_text(t);
                }
                self.pos += lt;
                continue;
            }
            self.markup();
        }
        if junk_before_root {
            self.problem("text before the root element ignored".into());
        }
        if self.root.is_none() && !self.stack.is_empty() {
            let names: Vec<String> = self.stack.iter().map(|o| o.el.name.clone()).collect();
            self.problem(format!(
                "document ends inside <{}>: closed what was open",
                names.join("> <")
            ));
            while !self.stack.is_empty() {
                self.close_top();
            }
        }
        let root = self.root?;
        Some(Document {
            root,
            problems: self.problems,
        })
    }

    /// At a `<`: a comment, CDATA, declaration, PI, end tag or start tag.
    fn markup(&mut self) {
        let rest = self.rest();
        if rest.starts_with("<!--") {
            self.pos += rest.find("-->").map_or(rest.len(), |e| e + 3);
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>");
            let text = &body[..end.unwrap_or(body.len())];
            if !self.stack.is_empty() {
                self.push_text(text.to_string());
            }
            self.pos += 9 + end.map_or(body.len(), |e| e + 3);
        } else if rest.starts_with("<!") {
            self.doctype();
        } else if rest.starts_with("<?") {
            self.pos += rest.find("?>").map_or(rest.len(), |e| e + 2);
        } else if rest.starts_with("</") {
            self.end_tag();
        } else {
            self.start_tag();
        }
    }

    /// `<!DOCTYPE …[ <!ENTITY name "value"> … ]>`: keeps the entities.
    fn doctype(&mut self) {
        let rest = self.rest();
        let (end, subset) = match (rest.find('['), rest.find('>')) {
            (Some(open), Some(gt)) if open < gt => {
                let close = rest[open..].find("]").map_or(rest.len(), |c| open + c);
                let after = rest[close..]
                    .find('>')
                    .map_or(rest.len(), |g| close + g + 1);
                (after, &rest[open + 1..close.min(rest.len())])
            }
            (_, Some(gt)) => (gt + 1, ""),
            _ => (rest.len(), ""),
        };
        for decl in subset.split("<!ENTITY").skip(1) {
            let decl = decl.trim_start();
            let Some((name, value)) = decl.split_once(char::is_whitespace) else {
                continue;
            };
            let value = value.trim_start();
            let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                continue;
            };
            if let Some(v) = value[1..].split(q).next() {
                let v = self.decode(v);
                self.entities.insert(name.to_string(), v);
            }
        }
        self.pos += end;
    }

    fn end_tag(&mut self) {
        let rest = self.rest();
        let (name, used) = match rest.find('>') {
            Some(g) => (&rest[2..g], g + 1),
            None => (&rest[2..], rest.len()),
        };
        let name = name.trim().to_string();
        self.pos += used;
        let Some(depth) = self.stack.iter().rposition(|o| o.el.name == name) else {
            self.problem(format!("end tag </{name}> closes nothing: ignored"));
            return;
        };
        if depth + 1 != self.stack.len() {
            let top = self
                .stack
                .last()
                .map(|o| o.el.name.clone())
                .unwrap_or_default();
            self.problem(format!("<{top}> closed by </{name}>"));
        }
        while self.stack.len() > depth {
            self.close_top();
        }
    }

    fn start_tag(&mut self) {
        let rest = self.rest();
        let name_len = rest[1..]
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len() - 1);
        let name = &rest[1..1 + name_len];
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
        if !valid {
            // A bare `<` in text: keep it as text.
            if !self.stack.is_empty() {
                self.push_text("<".into());
            }
            self.pos += 1;
            return;
        }
        let name = name.to_string();
        let mut i = 1 + name_len;
        let bytes = rest.as_bytes();
        let mut raw_attrs: Vec<(String, String)> = Vec::new();
        let mut self_closing = false;
        loop {
            while i < bytes.len() && (bytes[i] as char).is_ascii_whitespace() {
                i += 1;
            }
            if i >= bytes.len() {
                break;
            }
            match bytes[i] {
                b'>' => {
                    i += 1;
                    break;
                }
                b'/' => {
                    i += 1;
                    if bytes.get(i) == Some(&b'>') {
                        self_closing = true;
                        i += 1;
                        break;
                    }
                    continue;
                }
                _ => {}
            }
            let start = i;
            while i < bytes.len()
                && !(bytes[i] as char).is_ascii_whitespace()
                && !matches!(bytes[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            let aname = rest[start..i].to_string();
            while i < bytes.len() && (bytes[i] as char).is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if bytes.get(i) == Some(&b'=') {
                i += 1;
                while i < bytes.len() && (bytes[i] as char).is_ascii_whitespace() {
                    i += 1;
                }
                match bytes.get(i) {
                    Some(&q) if q == b'"' || q == b'\'' => {
                        let end = rest[i + 1..]
                            .find(q as char)
                            .map_or(rest.len(), |e| i + 1 + e);
                        value = self.decode(&rest[i + 1..end]);
                        i = (end + 1).min(rest.len());
                    }
                    _ => {
                        let start = i;
                        while i < bytes.len()
                            && !(bytes[i] as char).is_ascii_whitespace()
                            && bytes[i] != b'>'
                        {
                            i += 1;
                        }
                        value = self.decode(&rest[start..i]);
                    }
                }
            }
            if !aname.is_empty() && !raw_attrs.iter().any(|(n, _)| *n == aname) {
                raw_attrs.push((aname, value));
            } else if aname.is_empty() {
                i += 1; // a stray character: step over it
            }
        }
        self.pos += i.min(rest.len());
        self.open(name, raw_attrs, self_closing);
    }

    fn open(&mut self, name: String, raw_attrs: Vec<(String, String)>, self_closing: bool) {
        // The tree is walked (and dropped) recursively: a hostile document
        // nesting 100,000 elements would overflow the stack. Deeper tags
        // are dropped, their text kept; real feeds nest a few dozen.
        if self.stack.len() >= MAX_DEPTH {
            self.problem(format!(
                "elements nested deeper than {MAX_DEPTH}: their tags were dropped, their text kept"
            ));
            return;
        }
        let mut scope = self
            .stack
            .last()
            .map(|o| o.scope.clone())
            .unwrap_or_default();
        let mut declared = Vec::new();
        for (n, v) in &raw_attrs {
            if n == "xmlns" {
                scope.insert(String::new(), v.clone());
                declared.push((String::new(), v.clone()));
            } else if let Some(p) = n.strip_prefix("xmlns:") {
                scope.insert(p.to_string(), v.clone());
                declared.push((p.to_string(), v.clone()));
            }
        }
        let (prefix, local) = split_name(&name);
        let ns = match prefix {
            Some("xml") => XML_NS.to_string(),
            Some(p) => scope.get(p).cloned().unwrap_or_else(|| p.to_string()),
            None => scope.get("").cloned().unwrap_or_default(),
        };
        let attrs = raw_attrs
            .into_iter()
            .map(|(n, value)| {
                let (prefix, local) = split_name(&n);
                let ns = match prefix {
                    Some("xml") => XML_NS.to_string(),
                    Some("xmlns") | None => String::new(),
                    Some(p) => scope.get(p).cloned().unwrap_or_else(|| p.to_string()),
                };
                Attr {
                    local: local.to_string(),
                    name: n,
                    ns,
                    value,
                }
            })
            .collect();
        let el = Element {
            local: local.to_string(),
            name,
            ns,
            attrs,
            children: Vec::new(),
            declared,
        };
        self.stack.push(Open { el, scope });
        if self_closing {
            self.close_top();
        }
    }

    fn close_top(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        match self.stack.last_mut() {
            Some(parent) => parent.el.children.push(Node::Element(open.el)),
            None => self.root = Some(open.el),
        }
    }

    fn push_text(&mut self, t: String) {
        let Some(top) = self.stack.last_mut() else {
            return;
        };
        if let Some(Node::Text(prev)) = top.el.children.last_mut() {
            prev.push_str(&t);
        } else if !t.is_empty() {
            top.el.children.push(Node::Text(t));
        }
    }

    /// Resolves character and entity references; what cannot be resolved
    /// (a bare `&`, an unknown name) is kept as written.
    fn decode(&mut self, raw: &str) -> String {
        if !raw.contains('&') {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let semi = after
                .find(';')
                .filter(|s| *s <= 32 && !after[..*s].contains(['&', '<', ' ']));
            let resolved = semi.and_then(|s| {
                let name = &after[..s];
                Some((self.entity(name)?, s + 1))
            });
            match resolved {
                Some((value, used)) => {
                    out.push_str(&value);
                    rest = &after[used..];
                }
                None => {
                    out.push('&');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn entity(&mut self, name: &str) -> Option<String> {
        if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            return Some(char_ref(code).to_string());
        }
        if let Some(v) = quick_xml::escape::resolve_xml_entity(name) {
            return Some(v.to_string());
        }
        if let Some(v) = self.entities.get(name) {
            return Some(v.clone());
        }
        let &(first, second) = markup5ever::data::NAMED_ENTITIES.get(&format!("{name};"))?;
        self.problem(format!("undeclared entity &{name}; read as HTML"));
        Some(
            [first, second]
                .into_iter()
                .filter(|c| *c != 0)
                .filter_map(char::from_u32)
                .collect(),
        )
    }
}

/// A numeric character reference; C1 codes are read as the cp1252
/// characters the writer meant (`&#147;` is a left double quote).
fn char_ref(code: u32) -> char {
    if (0x80..=0x9f).contains(&code) {
        return cp1252_c1(code as u8).unwrap_or('\u{fffd}');
    }
    char::from_u32(code).unwrap_or('\u{fffd}')
}

/// The cp1252 character for a C1 byte (0x80–0x9F), if it has one.
pub fn cp1252_c1(b: u8) -> Option<char> {
    let bytes = [b];
    let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    let c = text.chars().next()?;
    (!('\u{80}'..='\u{9f}').contains(&c)).then_some(c)
}

/// C1 control characters in decoded text are cp1252 bytes read as Latin-1
/// by some earlier step: put back the characters meant. Text that is UTF-8
/// read as Latin-1 or cp1252 (double-encoded: `&#226;&#128;&#166;`, `â€¦`,
/// for `…`) is decoded once more — only when every character is one byte
/// in cp1252 and the whole reads as UTF-8, which text in any language but
/// this mistake never does.
pub fn repair_c1(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    if let Some(fixed) = double_encoded(text) {
        return fixed.into();
    }
    if !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return text.into();
    }
    text.chars()
        .map(|c| match c {
            '\u{80}'..='\u{9f}' => cp1252_c1(c as u8).unwrap_or(c),
            _ => c,
        })
        .collect::<String>()
        .into()
}

/// UTF-8 bytes that were read as Latin-1 or cp1252 characters, decoded
/// again.
fn double_encoded(text: &str) -> Option<String> {
    static HIGH: std::sync::OnceLock<Vec<(char, u8)>> = std::sync::OnceLock::new();
    let high = HIGH.get_or_init(|| {
        (0x80..=0x9f)
            .filter_map(|b| Some((cp1252_c1(b)?, b)))
            .collect()
    });
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| {
            u8::try_from(u32::from(c))
                .ok()
                .or_else(|| high.iter().find(|(h, _)| *h == c).map(|(_, b)| *b))
        })
        .collect::<Option<_>>()?;
    String::from_utf8(bytes).ok()
}

/// How deep elements may nest (see [`Reader::open`]).
const MAX_DEPTH: usize = 512;

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) if !p.is_empty() && !l.is_empty() => (Some(p), l),
        _ => (None, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(s: &str) -> Document {
        read(s).unwrap()
    }

    #[test]
    fn namespaces_resolve() {
        let d = root(
            r#"<rss xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:date a="1">x</dc:date></rss>"#,
        );
        let e = d.root.elements().next().unwrap();
        assert_eq!(
            (e.ns.as_str(), e.local.as_str()),
            ("http://purl.org/dc/elements/1.1/", "date")
        );
        assert_eq!(e.attr("a"), Some("1"));
        assert!(d.problems.is_empty());
    }

    #[test]
    fn bare_ampersand_and_html_entities_are_read() {
        let d = root("<a><b>Q&A &eacute;t&eacute; &#147;x&#148; &amp; &#x41;</b></a>");
        assert_eq!(d.root.text(), "Q&A été \u{201c}x\u{201d} & A");
        assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
    }

    #[test]
    fn doctype_entities_are_expanded() {
        let d = root("<!DOCTYPE rss [<!ENTITY id \"Ident\">]><rss><t>&id;</t></rss>");
        assert_eq!(d.root.text(), "Ident");
    }

    #[test]
    fn junk_truncation_and_mismatched_tags_are_recovered() {
        let d = root("garbage\n<rss><channel><item><title>a</item><item><title>b</title>");
        let channel = d.root.elements().next().unwrap();
        let titles: Vec<String> = channel.elements().map(|i| i.text()).collect();
        assert_eq!(titles, ["a", "b"]);
        assert_eq!(d.problems.len(), 3, "{:?}", d.problems);
    }

    #[test]
    fn cdata_comments_and_inner_xml() {
        let d =
            root("<a><!-- c --><b><![CDATA[<p>x</p>]]></b><c><p class=\"k\">y<br/></p></c></a>");
        let mut it = d.root.elements();
        assert_eq!(it.next().unwrap().text(), "<p>x</p>");
        assert_eq!(it.next().unwrap().inner_xml(), "<p class=\"k\">y<br /></p>");
    }

    #[test]
    fn c1_characters_become_cp1252() {
        assert_eq!(repair_c1("\u{93}hi\u{94}"), "\u{201c}hi\u{201d}");
        assert_eq!(repair_c1("plain"), "plain");
    }

    #[test]
    fn double_encoded_utf8_is_decoded_once_more() {
        // `…` (E2 80 A6) and `é` (C3 A9) written as Latin-1 characters.
        assert_eq!(
            repair_c1("wait\u{e2}\u{80}\u{a6} caf\u{c3}\u{a9}"),
            "wait… café"
        );
        // The same read as cp1252 (`&#226;&#128;&#166;`: `&#128;` is `€`).
        assert_eq!(repair_c1("wait\u{e2}€\u{a6}"), "wait…");
        assert_eq!(repair_c1("5€ \u{e0} 5\u{a3}"), "5€ \u{e0} 5\u{a3}");
        // Real Latin-1 text is no UTF-8: left as it is.
        assert_eq!(repair_c1("caf\u{e9} cr\u{e8}me"), "café crème");
        assert_eq!(repair_c1("\u{c3}\u{a9}t\u{e9}"), "\u{c3}\u{a9}t\u{e9}");
        // Characters beyond Latin-1 mean the text was decoded right.
        assert_eq!(repair_c1("\u{c3}\u{a9} 汇流"), "\u{c3}\u{a9} 汇流");
    }

    #[test]
    fn nothing_is_no_document() {
        assert!(read("just text").is_none());
        assert!(read("").is_none());
    }
}
