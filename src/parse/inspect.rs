//! `huiliu parse FILE|URL`: what huiliu reads from one feed — dialect, the
//! charset decision and why, each entry's fields, what was repaired or
//! skipped — without storing anything. The feed counterpart of `huiliu scrape`.

use std::collections::HashMap;
use std::process::ExitCode;

use serde_json::{Value, json};
use url::Url;

use super::decode::{Decided, decode_checked, malformed_problem};
use super::{ParsedFeed, parse_feed};
use crate::config::{FetchConfig, SourceConfig, SourceKind};
use crate::fetch::{Fetched, Fetcher, Validators};
use crate::model::Entry;
use crate::normalize::normalize_entry;

/// Where the feed is: a URL, or a path (relative to the current directory).
pub fn target_url(target: &str) -> Result<Url, String> {
    if let Ok(url) = Url::parse(target) {
        if matches!(url.scheme(), "http" | "https" | "file") {
            return Ok(url);
        }
    }
    let path = std::fs::canonicalize(target)
        .map_err(|e| format!("cannot read {target}: {e} (give a file path or an http(s) URL)"))?;
    Url::from_file_path(&path).map_err(|_| format!("{} is not a usable path", path.display()))
}

/// Runs the command for `source` at `url`; prints text or one JSON object.
pub async fn run(source: &SourceConfig, url: &Url, fetch: &FetchConfig, as_json: bool) -> ExitCode {
    let mut source = source.clone();
    // Read as the URL says: a local file or over HTTP.
    let local = url.scheme() == "file";
    if let crate::config::Reading::Feed { local: l, .. } = &mut source.reading {
        *l = local;
    } else if local {
        source.reading = crate::config::Reading::of_kind(SourceKind::File);
    }
    let fetcher = match Fetcher::new(fetch) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("huiliu: {e}");
            return ExitCode::from(2);
        }
    };
    let body = match fetcher.fetch(&source, url, &Validators::default()).await {
        Ok(Fetched::Body(b)) => b,
        Ok(Fetched::NotModified(_)) => {
            eprintln!("huiliu: {url}: not modified");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("huiliu: {url}: {e}");
            return ExitCode::from(1);
        }
    };
    let (text, encoding, decided, malformed) =
        decode_checked(&body.bytes, body.content_type.as_deref(), source.encoding);
    let parsed = match parse_feed(&text, &body.url, source.timezone, &source.date_formats) {
        Ok(mut p) => {
            if malformed {
                p.problems.insert(0, malformed_problem(encoding));
            }
            p
        }
        Err(e) => {
            if as_json {
                println!("{}", json!({"url": url.as_str(), "error": e.to_string()}));
            }
            eprintln!("huiliu: {e}");
            return ExitCode::from(1);
        }
    };
    let doc = report(&parsed, &source, &body.url, encoding.name(), decided);
    if as_json {
        println!("{doc}");
    } else {
        print_text(&doc);
    }
    ExitCode::SUCCESS
}

fn why(decided: Decided) -> &'static str {
    match decided {
        Decided::Override => "the source's `encoding` setting",
        Decided::HttpHeader => "the HTTP Content-Type charset",
        Decided::Bom => "a byte-order mark",
        Decided::Declaration => "the document's own declaration",
        Decided::Utf8 => "nothing declared; the bytes are valid UTF-8",
        Decided::Detected => "nothing declared and not UTF-8: detected from the bytes",
    }
}

/// Everything the command shows, as one JSON document.
fn report(
    parsed: &ParsedFeed,
    source: &SourceConfig,
    url: &Url,
    charset: &str,
    decided: Decided,
) -> Value {
    let base = parsed.base.clone().unwrap_or_else(|| url.clone());
    // Each entry read is shown next to its own raw fields; one that repeats
    // an earlier entry (same key) is marked, as `normalize_feed` drops it.
    let normalized: Vec<Entry> = parsed
        .entries
        .iter()
        .map(|raw| normalize_entry(raw, source, &base, parsed.language.as_deref()))
        .collect();
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    let repeat_of: Vec<Option<usize>> = normalized
        .iter()
        .enumerate()
        .map(|(i, e)| match first_of.entry(e.key.as_str()) {
            std::collections::hash_map::Entry::Occupied(o) => Some(*o.get() + 1),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
                None
            }
        })
        .collect();
    let kept = repeat_of.iter().filter(|r| r.is_none()).count();
    let date = |d: Option<chrono::DateTime<chrono::Utc>>| d.map(|d| d.to_rfc3339());
    let entries: Vec<Value> = parsed
        .entries
        .iter()
        .zip(&normalized)
        .zip(&repeat_of)
        .map(|((raw, e), repeat)| {
            json!({
                "repeat_of": repeat,
                "guid": e.guid,
                "url": e.url,
                "link": raw.link,
                "title": e.title,
                "published": date(raw.published),
                "updated": date(raw.updated),
                "authors": e.authors.iter().map(|a| json!({"name": a.name, "email": a.email, "url": a.url})).collect::<Vec<_>>(),
                "summary": e.summary,
                "content": e.content,
                "text": e.text,
                "categories": e.categories,
                "enclosures": e.enclosures.iter().map(|x| json!({"url": x.url, "type": x.mime_type, "length": x.length})).collect::<Vec<_>>(),
                "language": e.language,
            })
        })
        .collect();
    json!({
        "url": url.as_str(),
        "format": parsed.format,
        "charset": charset,
        "charset_reason": why(decided),
        "title": parsed.title,
        "link": parsed.link,
        "language": parsed.language,
        "items_seen": parsed.items_seen,
        "entries_read": parsed.entries.len(),
        "entries_kept": kept,
        "problems": parsed.problems,
        "entries": entries,
    })
}

fn print_text(doc: &Value) {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("format:    {}", s(&doc["format"]));
    println!(
        "charset:   {} ({})",
        s(&doc["charset"]),
        s(&doc["charset_reason"])
    );
    println!("title:     {}", s(&doc["title"]));
    println!("link:      {}", s(&doc["link"]));
    println!(
        "entries:   {} read of {} item/entry element(s), {} kept after removing repeats",
        doc["entries_read"], doc["items_seen"], doc["entries_kept"]
    );
    for p in doc["problems"].as_array().into_iter().flatten() {
        println!("problem:   {}", s(p));
    }
    for e in doc["entries"].as_array().into_iter().flatten() {
        println!();
        if let Some(n) = e["repeat_of"].as_u64() {
            println!("  (repeats entry {n}: not kept)");
        }
        println!("  id:        {}", s(&e["guid"]));
        println!("  url:       {}", s(&e["url"]));
        println!("  title:     {}", s(&e["title"]));
        println!("  published: {}", s(&e["published"]));
        println!("  updated:   {}", s(&e["updated"]));
        let authors: Vec<String> = e["authors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| s(&a["name"]))
            .collect();
        println!(
            "  authors:   {}",
            if authors.is_empty() {
                "-".into()
            } else {
                authors.join(", ")
            }
        );
        let text = s(&e["text"]);
        let short: String = text.chars().take(200).collect();
        let more = if text.chars().count() > 200 {
            " …"
        } else {
            ""
        };
        println!("  text:      {}{more}", short.replace('\n', " "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_entry_is_marked_and_the_others_keep_their_own_fields() {
        let url = Url::parse("http://example.org/feed.xml").expect("a URL");
        let parsed = parse_feed(
            r#"<rss version="2.0"><channel><title>t</title>
            <item><title>one</title><link>http://example.org/a</link></item>
            <item><title>one again</title><link>http://example.org/a</link></item>
            <item><title>two</title><link>http://example.org/b</link><pubDate>Mon, 15 Jan 2024 10:00:00 +0000</pubDate></item>
            </channel></rss>"#,
            &url,
            chrono_tz::UTC,
            &[],
        )
        .expect("a feed");
        let source = SourceConfig::new("t", SourceKind::Feed, url.clone());
        let doc = report(&parsed, &source, &url, "UTF-8", Decided::Utf8);
        assert_eq!(doc["entries_read"], 3);
        assert_eq!(doc["entries_kept"], 2);
        let entries = doc["entries"].as_array().expect("entries");
        let row = |i: usize| {
            (
                entries[i]["repeat_of"].as_u64(),
                entries[i]["link"].as_str().unwrap_or_default().to_string(),
                entries[i]["published"].as_str().map(str::to_string),
            )
        };
        assert_eq!(row(0), (None, "http://example.org/a".into(), None));
        assert_eq!(row(1), (Some(1), "http://example.org/a".into(), None));
        assert_eq!(
            row(2),
            (
                None,
                "http://example.org/b".into(),
                Some("2024-01-15T10:00:00+00:00".into())
            )
        );
    }
}
