//! Canonical links: absolute, lower-case host (the `url` crate does that),
//! no fragment, no tracking parameters.

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

/// Resolves `href` against `base` and canonicalizes it; `None` for
/// unusable links (`javascript:`, unparsable).
pub fn canonical(href: &str, base: Option<&Url>) -> Option<String> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let mut url = match base {
        Some(b) => b.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    if !matches!(url.scheme(), "http" | "https" | "ftp" | "file") {
        return None;
    }
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
}
