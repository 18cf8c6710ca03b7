//! Secrets never leave the process: the one place that turns a URL (or a
//! message that quotes URLs) into the form every output, page, log line and
//! error shows. The real URL is still the one fetched.
//!
//! What is hidden (README, "Secrets and internal addresses"):
//! - userinfo (`user:password@`) becomes `***@`;
//! - the value of a query parameter whose name, split into words (`_`, `-`,
//!   `.`, camelCase), has a word that is or ends with a secret word (`key`,
//!   `token`, `secret`, `password`, `auth`, `sig`, `session`, …) becomes `***`
//!   (`apikey`, `access_token`, `X-Amz-Signature`, `feedToken`, `oauth`);
//! - a path segment that looks like a token (20 or more letters and digits,
//!   mixed, e.g. a private podcast feed's key) becomes `***`;
//! - a local file (`file://`) shows only its file name.

use std::borrow::Cow;

use url::Url;

/// The public form of a URL.
pub fn url(u: &Url) -> String {
    if u.scheme() == "file" {
        let name = u
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or("");
        return format!("file:///…/{name}");
    }
    let mut out = String::with_capacity(u.as_str().len());
    out.push_str(u.scheme());
    out.push(':');
    if let Some(host) = u.host_str() {
        out.push_str("//");
        if !u.username().is_empty() || u.password().is_some() {
            out.push_str("***@");
        }
        out.push_str(host);
        if let Some(port) = u.port() {
            out.push(':');
            out.push_str(&port.to_string());
        }
    }
    let path = u.path();
    if path.starts_with('/') {
        let segments: Vec<&str> = path.split('/').collect();
        let redacted: Vec<&str> = segments
            .iter()
            .map(|s| if looks_like_token(s) { "***" } else { s })
            .collect();
        out.push_str(&redacted.join("/"));
    } else {
        out.push_str(path);
    }
    if let Some(q) = u.query() {
        out.push('?');
        out.push_str(&query(q));
    }
    if let Some(f) = u.fragment() {
        out.push('#');
        out.push_str(&query(f));
    }
    out
}

/// The public form of a URL given as text (left as is when it does not parse
/// as an absolute URL: then it has no userinfo or query to hide).
pub fn url_str(s: &str) -> String {
    match Url::parse(s) {
        Ok(u) => url(&u),
        Err(_) => s.to_string(),
    }
}

/// `message` with every URL in it in its public form.
pub fn text(message: &str) -> Cow<'_, str> {
    if !message.contains("://") {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("://") {
        // The scheme: letters, digits, `+`, `-`, `.` before `://`.
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            .last()
            .map_or(at, |(i, _)| i);
        // A serialized URL is ASCII without spaces or quotes.
        let end = rest[at..]
            .find(|c: char| {
                c.is_whitespace() || !c.is_ascii() || matches!(c, '"' | '\'' | '<' | '>' | '`')
            })
            .map_or(rest.len(), |i| at + i);
        // Punctuation closing the sentence is not part of the URL.
        let token = rest[start..end].trim_end_matches([')', ']', ',', ';', ':', '.', '!', '?']);
        out.push_str(&rest[..start]);
        if start == at {
            out.push_str(token);
        } else {
            out.push_str(&url_str(token));
        }
        rest = &rest[start + token.len()..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `a=1&apikey=x` → `a=1&apikey=***`; everything else byte for byte.
fn query(q: &str) -> String {
    q.split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}=***"),
            None if looks_like_token(pair) => "***".to_string(),
            _ => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A word of a parameter name equal to one of these marks it as secret.
const SECRET_WORDS: &[&str] = &[
    "sig",
    "sid",
    "otp",
    "jwt",
    "hmac",
    "pass",
    "pwd",
    "private",
    "credential",
    "credentials",
];

/// A word of a parameter name ending with one of these (or equal to it)
/// marks it as secret: `apikey`, `accesstoken`, `clientsecret`, `oauth`.
const SECRET_ENDINGS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "authorization",
    "signature",
    "session",
    "sessionid",
];

/// Whether a query parameter named `name` carries a secret.
pub fn is_secret_name(name: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(name).decode_utf8_lossy();
    words(&decoded).iter().any(|w| {
        SECRET_WORDS.contains(&w.as_str()) || SECRET_ENDINGS.iter().any(|e| w.ends_with(e))
    })
}

/// `X-Amz-Signature` → `x amz signature`; `feedToken` → `feed token`.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A token rather than a word or an id: 20 or more characters of letters and
/// digits (`-` and `_` allowed inside), with at least two of each.
fn looks_like_token(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or("");
    if stem.len() < 20
        || !stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return false;
    }
    // A slug (`report-on-the-2024-budget`) is words: no part is long.
    if stem.split(['-', '_']).all(|part| part.len() < 16) {
        return false;
    }
    let digits = stem.bytes().filter(u8::is_ascii_digit).count();
    let letters = stem.bytes().filter(u8::is_ascii_alphabetic).count();
    digits >= 2 && letters >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        url_str(s)
    }

    #[test]
    fn userinfo_and_secret_parameters_are_hidden() {
        assert_eq!(
            r("http://user:password@host.example/feed?apikey=abc&page=2"),
            "http://***@host.example/feed?apikey=***&page=2"
        );
        assert_eq!(
            r("https://h/f?access_token=t1&X-Amz-Signature=s&feedToken=x&oauth=o&q=news"),
            "https://h/f?access_token=***&X-Amz-Signature=***&feedToken=***&oauth=***&q=news"
        );
        assert_eq!(
            r("https://h/f?key=1&sig=2&sid=3"),
            "https://h/f?key=***&sig=***&sid=***"
        );
        assert_eq!(
            r("https://h:8443/f?Password=1"),
            "https://h:8443/f?Password=***"
        );
        // Names that only contain a secret word by accident stay.
        assert_eq!(
            r("https://h/f?author=me&keyword=x&signal=1&design=2"),
            "https://h/f?author=me&keyword=x&signal=1&design=2"
        );
    }

    #[test]
    fn token_like_path_segments_are_hidden_slugs_and_ids_stay() {
        assert_eq!(
            r("https://feeds.example/private/3f9a8b7c6d5e4f3a2b1c0d9e8f7a/podcast.rss"),
            "https://feeds.example/private/***/podcast.rss"
        );
        assert_eq!(
            r("https://x.example/feed/a1b2c3d4e5f6a7b8c9d0e1f2.rss"),
            "https://x.example/feed/***"
        );
        assert_eq!(
            r("http://gov.example/art/2024/1/15/art_1234_567890.html"),
            "http://gov.example/art/2024/1/15/art_1234_567890.html"
        );
        assert_eq!(
            r("http://x.example/report-on-the-2024-budget-of-the-town-2025"),
            "http://x.example/report-on-the-2024-budget-of-the-town-2025"
        );
    }

    #[test]
    fn local_files_show_their_name_only() {
        assert_eq!(r("file:///home/ops/secret/feeds/a.xml"), "file:///…/a.xml");
    }

    #[test]
    fn urls_inside_messages_are_hidden() {
        let m =
            "timeout: http://u:p@h/feed?token=abc: operation timed out (see https://h/x?key=1).";
        assert_eq!(
            text(m),
            "timeout: http://***@h/feed?token=***: operation timed out (see https://h/x?key=***)."
        );
        let loop_msg = "redirect loop: http://h/a?apikey=1 → http://h/b?apikey=1";
        assert_eq!(
            text(loop_msg),
            "redirect loop: http://h/a?apikey=*** → http://h/b?apikey=***"
        );
        assert_eq!(text("no url here"), "no url here");
        assert_eq!(text("odd ://x"), "odd ://x");
    }
}
