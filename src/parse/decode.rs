//! Bytes → text. The order follows DESIGN.md: a configured override, the HTTP
//! charset, a BOM, the document's own declaration (`<?xml encoding>`,
//! `<meta charset>`, `http-equiv`), then valid UTF-8, then detection.

use encoding_rs::{Encoding, UTF_8};

/// How the encoding was decided (shown by `huiliu scrape` and in tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    Override,
    HttpHeader,
    Bom,
    Declaration,
    Utf8,
    Detected,
}

/// Decodes `bytes`; returns the text and the encoding used.
pub fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    overridden: Option<&'static Encoding>,
) -> (String, &'static Encoding, Decided) {
    let (text, encoding, decided, _) = decode_checked(bytes, content_type, overridden);
    (text, encoding, decided)
}

/// [`decode`], also telling whether some bytes were malformed in the
/// encoding chosen (each became U+FFFD): a repair a feed's health reports.
pub fn decode_checked(
    bytes: &[u8],
    content_type: Option<&str>,
    overridden: Option<&'static Encoding>,
) -> (String, &'static Encoding, Decided, bool) {
    let (encoding, decided) = decide(bytes, content_type, overridden);
    // `decode` strips a BOM of the chosen encoding; malformed bytes become U+FFFD.
    let (text, _, malformed) = encoding.decode(bytes);
    (text.into_owned(), encoding, decided, malformed)
}

/// The problem listed for a document with malformed bytes.
pub fn malformed_problem(encoding: &'static Encoding) -> String {
    format!("bytes invalid in {} replaced with U+FFFD", encoding.name())
}

fn decide(
    bytes: &[u8],
    content_type: Option<&str>,
    overridden: Option<&'static Encoding>,
) -> (&'static Encoding, Decided) {
    if let Some(enc) = overridden {
        return (enc, Decided::Override);
    }
    if let Some(enc) = content_type.and_then(charset_param).and_then(label) {
        return (enc, Decided::HttpHeader);
    }
    if let Some((enc, _)) = Encoding::for_bom(bytes) {
        return (enc, Decided::Bom);
    }
    if let Some(enc) = declared(bytes) {
        // A page re-saved as UTF-8 that kept its old `<meta charset=gb2312>`:
        // GBK text with Chinese in it is practically never valid UTF-8.
        if enc != UTF_8 && !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok() {
            return (UTF_8, Decided::Utf8);
        }
        return (enc, Decided::Declaration);
    }
    if std::str::from_utf8(bytes).is_ok() {
        return (UTF_8, Decided::Utf8);
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    // `None` as the TLD: chardetng panics on a TLD that is not plain lower-case ASCII.
    (detector.guess(None, true), Decided::Detected)
}

/// `text/html; charset="GBK"` → `GBK`.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
    })
}

/// An encoding label; GB2312 and GBK are read as GB18030, their superset,
/// so that characters sites use beyond the declared set still decode.
fn label(name: &str) -> Option<&'static Encoding> {
    let enc = Encoding::for_label(name.trim().as_bytes())?;
    if enc == encoding_rs::GBK {
        return Some(encoding_rs::GB18030);
    }
    Some(enc)
}

/// The encoding a document declares in its first 2 KiB.
fn declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(2048)];
    // The declaration itself is ASCII in every encoding we care about.
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if let Some(start) = head.find("<?xml") {
        let decl = &head[start..head[start..].find("?>").map_or(head.len(), |e| start + e)];
        if let Some(v) = attr_value(decl, "encoding") {
            return label(v);
        }
    }
    let mut rest = head.as_str();
    while let Some(i) = rest.find("<meta") {
        rest = &rest[i + 5..];
        let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
        if let Some(v) = attr_value(tag, "charset") {
            return label(v);
        }
        if tag.contains("http-equiv") {
            if let Some(ct) = attr_value(tag, "content") {
                if let Some(enc) = charset_param(&format!("x;{ct}")).and_then(label) {
                    return Some(enc);
                }
            }
        }
    }
    None
}

/// The value of `name=` in a tag or declaration (quoted or not).
fn attr_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(pos) = tag[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0
            || !tag.as_bytes()[at - 1].is_ascii_alphanumeric() && tag.as_bytes()[at - 1] != b'-';
        let rest = tag[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=').filter(|_| before_ok) else {
            continue;
        };
        let rest = rest.trim_start();
        let value = if let Some(r) = rest.strip_prefix('"') {
            &r[..r.find('"').unwrap_or(r.len())]
        } else if let Some(r) = rest.strip_prefix('\'') {
            &r[..r.find('\'').unwrap_or(r.len())]
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | ';' | '"' | '\''))
                .unwrap_or(rest.len());
            &rest[..end]
        };
        return Some(value);
    }
    None
}

/// Removes a leading `<?xml …?>` declaration, so a parser reading the
/// (now UTF-8) text is not misled by a stale `encoding=` attribute.
pub fn strip_xml_declaration(text: &str) -> &str {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with("<?xml") {
        if let Some(end) = trimmed.find("?>") {
            return &trimmed[end + 2..];
        }
    }
    trimmed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_bytes_are_told() {
        let mut doc =
            b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><t>\xe2\x80\x99 ok \xa9</t></rss>"
                .to_vec();
        let (text, enc, _, malformed) = decode_checked(&doc, None, None);
        assert_eq!(enc, UTF_8);
        assert!(malformed);
        assert!(text.contains("\u{2019} ok \u{fffd}"), "{text}");
        assert!(malformed_problem(enc).contains("UTF-8"));
        doc.retain(|b| *b != 0xa9);
        assert!(!decode_checked(&doc, None, None).3);
    }

    #[test]
    fn utf8_bytes_under_a_stale_gb2312_declaration_are_utf8() {
        let page = "<html><head><meta charset=\"gb2312\"></head><body>青年网新闻</body></html>";
        let (text, enc, how) = decode(page.as_bytes(), None, None);
        assert_eq!((enc, how), (UTF_8, Decided::Utf8));
        assert!(text.contains("青年网新闻"));
        let gbk = encoding_rs::GBK.encode(page).0.into_owned();
        let (text, _, how) = decode(&gbk, None, None);
        assert_eq!(how, Decided::Declaration);
        assert!(text.contains("青年网新闻"));
    }

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    #[test]
    fn header_charset_wins() {
        let bytes = gbk("<meta charset=\"utf-8\">湖塘镇");
        let (text, _, how) = decode(&bytes, Some("text/html; charset=GBK"), None);
        assert!(text.contains("湖塘镇"));
        assert_eq!(how, Decided::HttpHeader);
    }

    #[test]
    fn xml_declaration_and_meta() {
        let xml = gbk("<?xml version=\"1.0\" encoding=\"gb2312\"?><rss>武进</rss>");
        let (text, enc, how) = decode(&xml, Some("application/xml"), None);
        assert!(text.contains("武进"), "{text}");
        assert_eq!(enc, encoding_rs::GB18030);
        assert_eq!(how, Decided::Declaration);
        let html = gbk(
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gbk\"></head>高新区</html>",
        );
        let (text, _, how) = decode(&html, None, None);
        assert!(text.contains("高新区"));
        assert_eq!(how, Decided::Declaration);
    }

    #[test]
    fn undeclared_gbk_is_detected_and_utf8_preferred() {
        let bytes = gbk(
            "<rss><channel><title>武进国家高新区管委会门户网站园区动态栏目</title></channel></rss>",
        );
        let (text, _, how) = decode(&bytes, None, None);
        assert!(text.contains("武进国家高新区"), "{text}");
        assert_eq!(how, Decided::Detected);
        let (_, enc, how) = decode("plain ü".as_bytes(), None, None);
        assert_eq!((enc, how), (UTF_8, Decided::Utf8));
    }

    #[test]
    fn gb18030_only_characters_survive_a_gbk_label() {
        // U+20087 exists in GB18030 (4-byte sequence), not in GBK.
        let bytes = encoding_rs::GB18030.encode("𠂇").0.into_owned();
        let (text, _, _) = decode(&bytes, Some("text/html; charset=gbk"), None);
        assert_eq!(text, "𠂇");
    }

    #[test]
    fn strips_declaration() {
        assert_eq!(
            strip_xml_declaration("\n <?xml version='1.0' encoding='gbk'?><rss/>"),
            "<rss/>"
        );
        assert_eq!(strip_xml_declaration("<rss/>"), "<rss/>");
    }
}
