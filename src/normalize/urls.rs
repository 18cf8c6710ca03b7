//! Every URL field of an entry passes here once, on the way in: only
//! `http`, `https` and `mailto` URLs (relative ones made absolute) are kept,
//! anything else (`javascript:`, `data:`, `file:`, `vbscript:` — in any case,
//! with tabs, spaces or character references inside) is dropped. Links are
//! also made canonical: lower-case host (the `url` crate does that), no
//! fragment, no tracking parameters.

use url::Url;

/// Query parameters that only track the reader.
fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_")
        || matches!(
            name.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "msclkid"
                | "mc_cid"
                | "mc_eid"
                | "yclid"
                | "igshid"
                | "spm"
                | "_hsenc"
                | "_hsmi"
        )
}

/// The schemes an entry's URLs may have.
fn allowed_scheme(scheme: &str) -> bool {
    matches!(scheme, "http" | "https" | "mailto")
}

/// Resolves `href` against `base`: `None` unless the result is an absolute
/// `http`, `https` or `mailto` URL.
pub fn safe(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    if href.is_empty() {
        return None;
    }
    // What an HTML reader would see once character references are decoded
    // (`&#106;avascript:`) must be safe too.
    if let Some(scheme) = written_scheme(&decode_references(href)) {
        if !allowed_scheme(&scheme) {
            return None;
        }
    }
    let url = match base {
        Some(b) => b.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    allowed_scheme(url.scheme()).then_some(url)
}

/// `safe` as a string, for fields kept as text (enclosures, author URIs).
pub fn safe_string(href: &str, base: Option<&Url>) -> Option<String> {
    safe(href, base).map(String::from)
}

/// Whether a stored URL may be written into an output (the guard at output,
/// for rows stored before this check existed): absolute and of an allowed scheme.
pub fn is_publishable(url: &str) -> bool {
    safe(url, None).is_some()
}

/// The scheme a browser would read in `href` (tabs, newlines and other
/// controls inside it are ignored, as browsers do), lower-cased.
fn written_scheme(href: &str) -> Option<String> {
    let cleaned: String = href
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace())
        .take_while(|c| *c != '/' && *c != '?' && *c != '#')
        .collect();
    let (scheme, _) = cleaned.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| scheme.to_ascii_lowercase())
}

/// Decodes the character references that can hide a scheme: numeric ones
/// (`&#106;`, `&#x6A;`, with or without `;`) and `&colon;`, `&Tab;`,
/// `&NewLine;`, `&amp;`.
fn decode_references(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (decoded, used) = reference(rest);
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[used..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character a reference at the start of `s` stands for, and its length.
fn reference(s: &str) -> (Option<char>, usize) {
    let lower = s.to_ascii_lowercase();
    for (name, c) in [
        ("&colon;", ':'),
        ("&tab;", '\t'),
        ("&newline;", '\n'),
        ("&amp;", '&'),
    ] {
        if lower.starts_with(name) {
            return (Some(c), name.len());
        }
    }
    let Some(num) = lower.strip_prefix("&#") else {
        return (None, 0);
    };
    let (digits, radix, skip) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16, 3),
        None => (num, 10, 2),
    };
    let len = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let value = u32::from_str_radix(&digits[..len.min(8)], radix).ok();
    let semicolon = usize::from(digits[len..].starts_with(';'));
    match value.and_then(char::from_u32) {
        Some(c) if len > 0 => (Some(c), skip + len + semicolon),
        _ => (None, 0),
    }
}

/// Resolves `href` against `base` and canonicalizes it; `None` for
/// unusable links (see [`safe`]).
pub fn canonical(href: &str, base: Option<&Url>) -> Option<String> {
    let mut url = safe(href, base)?;
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalizes() {
        let base = Url::parse("http://Example.ORG/wjhtz/rss.xml").unwrap();
        assert_eq!(
            canonical("tzgg/a.html#top", Some(&base)).as_deref(),
            Some("http://example.org/wjhtz/tzgg/a.html")
        );
        assert_eq!(
            canonical(
                "HTTP://WWW.Example.org:80/a?utm_source=x&id=3&fbclid=y",
                None
            )
            .as_deref(),
            Some("http://www.example.org/a?id=3")
        );
        assert_eq!(
            canonical("/x?utm_medium=rss", Some(&base)).as_deref(),
            Some("http://example.org/x")
        );
        assert_eq!(
            canonical("./a/../b.html", Some(&base)).as_deref(),
            Some("http://example.org/wjhtz/b.html")
        );
        assert_eq!(canonical("javascript:alert(1)", Some(&base)), None);
        assert_eq!(canonical("  ", Some(&base)), None);
    }

    #[test]
    fn only_web_and_mail_urls_pass() {
        let base = Url::parse("http://example.org/feed/").unwrap();
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "  javascript:alert(1)",
            "\tjavascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "\u{1}javascript:alert(1)",
            "&#106;avascript:alert(1)",
            "&#x6A;avascript:alert(1)",
            "&#106avascript:alert(1)",
            "javascript&colon;alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "file:///etc/passwd",
            "ftp://example.org/a",
        ] {
            assert_eq!(safe_string(bad, Some(&base)), None, "{bad:?}");
        }
        assert_eq!(
            safe_string("a.mp3", Some(&base)).as_deref(),
            Some("http://example.org/feed/a.mp3")
        );
        assert_eq!(
            safe_string("mailto:x@example.org", Some(&base)).as_deref(),
            Some("mailto:x@example.org")
        );
        assert_eq!(
            safe_string("https://example.org/?a=1&amp;b=2", None).as_deref(),
            Some("https://example.org/?a=1&amp;b=2")
        );
        // Relative to a local file: a path, not a link anyone can follow.
        let file = Url::parse("file:///srv/feeds/a.xml").unwrap();
        assert_eq!(safe_string("b.html", Some(&file)), None);
        assert!(is_publishable("https://example.org/a"));
        assert!(!is_publishable("javascript:alert(1)"));
        assert!(!is_publishable(" javascript:alert(1)"));
        assert!(!is_publishable("/relative"));
    }
}
