//! HTML content: sanitized for republishing, and turned into plain text.

use ammonia::UrlRelative;
use scraper::{Html, Node};
use url::Url;

/// Removes scripts, event handlers, `javascript:` URLs, iframes and styles;
/// makes relative links and images absolute against `base` when it is a web
/// address (`http`/`https`); without one they are dropped: resolved against
/// a local file (a `kind = "file"` source with no link or `xml:base`) they
/// would publish `file:///local/path/…`. Nesting deeper than
/// [`super::nesting::MAX_DEPTH`] is unwrapped first.
pub fn sanitize(html: &str, base: Option<&Url>) -> String {
    let html = super::nesting::bound_depth(html);
    thread_local! {
        // Building the allow-lists (sets of tags and attributes) costs more
        // than cleaning a short entry: built once per thread, and only the
        // base changes between calls.
        static BUILDER: std::cell::RefCell<ammonia::Builder<'static>> = {
            let mut builder = ammonia::Builder::default();
            builder
                .link_rel(Some("noopener noreferrer"))
                .add_tag_attributes("img", &["loading"])
                .strip_comments(true);
            std::cell::RefCell::new(builder)
        };
    }
    let cleaned = BUILDER.with(|b| {
        let mut builder = b.borrow_mut();
        builder.url_relative(match base {
            Some(b) if matches!(b.scheme(), "http" | "https") => {
                UrlRelative::RewriteWithBase(b.clone())
            }
            _ => UrlRelative::Deny,
        });
        builder.clean(&html).to_string()
    });
    strip_control_chars(cleaned.trim())
}

/// Escapes text for XML and HTML (element content and quoted attributes).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Characters XML 1.0 forbids (C0 controls but tab/LF/CR, U+FFFE, U+FFFF):
/// removed so every output format serializes.
pub fn strip_control_chars(s: &str) -> String {
    s.chars()
        .filter(|&c| {
            !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' | '\u{7f}')
        })
        .collect()
}

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "tr",
    "td",
    "th",
    "blockquote",
    "pre",
    "section",
    "article",
    "header",
    "footer",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "dl",
    "hr",
    "center",
    "aside",
    "nav",
    "main",
];
const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "head", "title"];

/// Plain text: one line per block element, whitespace (including U+00A0
/// and the full-width U+3000 indent) collapsed, empty lines dropped, and
/// paragraphs broken mid-sentence joined again.
pub fn to_text(html: &str) -> String {
    let doc = Html::parse_fragment(&super::nesting::bound_depth(html));
    let mut raw = String::with_capacity(html.len() / 2);
    walk(doc.tree.root(), &mut raw);
    let lines: Vec<String> = raw
        .lines()
        .map(collapse_whitespace)
        .filter(|l| !l.is_empty())
        .collect();
    strip_control_chars(&super::text::join_broken_lines(&lines).join("\n"))
}

/// The text under `root`, a line break around each block. Iterative: a
/// tree of any depth costs no stack.
fn walk(root: ego_tree::NodeRef<'_, Node>, out: &mut String) {
    use ego_tree::iter::Edge;
    let mut traverse = root.traverse();
    while let Some(edge) = traverse.next() {
        match edge {
            Edge::Open(n) => match n.value() {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) if n != root => {
                    if SKIPPED.contains(&e.name()) {
                        // Jump past the element: its text is not shown.
                        for inner in traverse.by_ref() {
                            if matches!(inner, Edge::Close(c) if c == n) {
                                break;
                            }
                        }
                    } else if BLOCKS.contains(&e.name()) {
                        out.push('\n');
                    }
                }
                _ => {}
            },
            Edge::Close(n) if n != root => {
                if let Node::Element(e) = n.value()
                    && BLOCKS.contains(&e.name())
                {
                    out.push('\n');
                }
            }
            Edge::Close(_) => {}
        }
    }
}

/// Collapses runs of any Unicode white space to one ASCII space and trims.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() || c == '\u{200b}' {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}

/// Plain text of a title that may contain markup and entities.
pub fn inline_text(s: &str) -> String {
    if !s.contains('<') && !s.contains('&') {
        return strip_control_chars(&collapse_whitespace(s));
    }
    to_text(s).replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_removes_active_content_and_absolutizes() {
        let base = Url::parse("http://example.org/news/").unwrap();
        let out = sanitize(
            r#"<p onclick="x()">a<script>alert(1)</script><a href="javascript:evil()">j</a><a href="b.html">b</a><img src="/i.png"><iframe src="http://x"></iframe><style>p{}</style></p>"#,
            Some(&base),
        );
        assert!(
            !out.contains("script") && !out.contains("onclick") && !out.contains("javascript"),
            "{out}"
        );
        assert!(!out.contains("iframe") && !out.contains("p{}"), "{out}");
        assert!(
            out.contains("href=\"http://example.org/news/b.html\""),
            "{out}"
        );
        assert!(out.contains("src=\"http://example.org/i.png\""), "{out}");
    }

    #[test]
    fn each_call_uses_its_own_base() {
        let a = Url::parse("http://a.example/x/").unwrap();
        let b = Url::parse("http://b.example/y/").unwrap();
        let html = r#"<a href="p.html">p</a>"#;
        assert!(sanitize(html, Some(&a)).contains("http://a.example/x/p.html"));
        assert!(sanitize(html, Some(&b)).contains("http://b.example/y/p.html"));
        let none = sanitize(html, None);
        assert!(!none.contains("p.html"), "{none}");
        assert!(sanitize(html, Some(&a)).contains("http://a.example/x/p.html"));
    }

    #[test]
    fn relative_links_never_resolve_against_a_local_file() {
        let file = Url::parse("file:///srv/private/feeds/a.xml").unwrap();
        let out = sanitize(
            r#"<p><a href="b.html">b</a><img src="../i.png" alt="i"><a href="https://example.org/ok">ok</a></p>"#,
            Some(&file),
        );
        assert!(!out.contains("file:") && !out.contains("/srv/"), "{out}");
        assert!(!out.contains("b.html") && !out.contains("i.png"), "{out}");
        assert!(out.contains(r#"href="https://example.org/ok""#), "{out}");
        assert!(
            out.contains(">b</a>") && out.contains(r#"alt="i""#),
            "{out}"
        );
    }

    #[test]
    fn text_collapses_and_skips_styles() {
        let t = to_text(
            "<style>.TRS_Editor P{margin:0}</style><p>&nbsp;&nbsp;党员冬训是“必修课”。</p><p>　　第二段。</p>",
        );
        assert_eq!(t, "党员冬训是“必修课”。\n第二段。");
    }

    /// Runs `f` on a thread with a 256 KiB stack: a walker that recursed per
    /// level would overflow it (and abort the test binary) at these depths.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        on_small_stack(|| {
            for (open, close) in [
                ("<div>", "</div>"),
                ("<span>", "</span>"),
                ("<table><tr><td>", "</td></tr></table>"),
                ("<video><audio>", "</audio></video>"),
            ] {
                let n = 100_000;
                let html = format!("{}deep{}", open.repeat(n), close.repeat(n));
                assert!(sanitize(&html, None).contains("deep"), "{open}");
                assert_eq!(to_text(&html), "deep", "{open}");
            }
        });
    }

    #[test]
    fn text_skips_hidden_elements_at_any_depth() {
        assert_eq!(
            to_text("<div>a<script>x<b>y</b></script><p>b<style>p{}</style>c</p></div>d"),
            "a\nbc\nd"
        );
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(strip_control_chars("a\u{1}b\u{b}c\td"), "abc\td");
        assert_eq!(inline_text("T&amp;C <b>x</b>\u{1}"), "T&C x");
    }
}
