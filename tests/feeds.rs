//! End to end for feed reading: `huiliu parse --json` on small feeds
//! written for these tests (tests/fixtures/feeds/), one per dialect or
//! repair that a mature reader handles.

mod common;

use std::path::PathBuf;
use std::process::Command;

use huiliu::refresh::{Outcome, refresh_source};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feeds")
        .join(name)
}

/// Runs `huiliu parse --json` (UTC for zone-less dates); (exit code, JSON).
fn parse(name: &str) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_huiliu"))
        .args(["parse", "--json", "--timezone", "UTC"])
        .arg(fixture(name))
        .output()
        .expect("run huiliu");
    let doc = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), doc)
}

fn read(name: &str) -> Value {
    let (code, doc) = parse(name);
    assert_eq!(code, 0, "{name}: {doc}");
    doc
}

fn entry(doc: &Value, i: usize) -> &Value {
    &doc["entries"][i]
}

#[test]
fn atom_0_3_is_read_with_its_dates_and_content_modes() {
    let doc = read("atom03.xml");
    assert_eq!(doc["format"], "Atom 0.3");
    let first = entry(&doc, 0);
    assert_eq!(first["link"], "http://example.org/2004/first");
    assert_eq!(first["published"], "2004-01-01T18:48:21+00:00");
    assert_eq!(first["updated"], "2004-01-02T08:00:00+00:00");
    assert!(
        first["content"].as_str().unwrap().contains("<b>HTML</b>"),
        "{first}"
    );
    assert_eq!(first["authors"][0]["name"], "Feed Author");
    let second = entry(&doc, 1);
    assert!(
        second["content"].as_str().unwrap().contains("Base 64 body"),
        "{second}"
    );
    assert_eq!(second["published"], "2004-01-03T00:00:00+00:00");
}

#[test]
fn versionless_rss_uses_the_permalink_guid_never_comments() {
    let doc = read("rss_noversion.xml");
    assert_eq!(doc["format"], "RSS (no version)");
    let first = entry(&doc, 0);
    assert_eq!(first["link"], "http://example.org/posts/1");
    assert_eq!(first["authors"][0]["name"], "Dana Writer");
    assert_eq!(first["updated"], "2004-02-03T04:05:06+00:00");
    let second = entry(&doc, 1);
    assert!(
        second["link"].is_null(),
        "isPermaLink=false is no link: {second}"
    );
    assert_eq!(second["guid"], "http://example.org/posts/2");
    // A colon in an RFC 822 offset is still the offset.
    assert_eq!(second["published"], "2024-01-15T02:00:00+00:00");
}

#[test]
fn userland_rss_0_90_and_rss_1_0() {
    let doc = read("userland.xml");
    assert_eq!(entry(&doc, 0)["link"], "http://example.org/u/1");
    assert_eq!(entry(&doc, 0)["published"], "2004-01-01T19:48:21+00:00");
    let doc = read("rss090.rdf");
    assert_eq!(doc["format"], "RSS 0.90");
    assert_eq!(entry(&doc, 0)["title"], "Ninety");
    let doc = read("rss10.rdf");
    assert_eq!(doc["format"], "RSS 1.0");
    let e = entry(&doc, 0);
    assert_eq!(e["guid"], "http://example.org/items/one");
    assert_eq!(e["published"], "2003-12-31T18:14:55+00:00");
    assert_eq!(e["authors"][0]["name"], "Rae");
    assert!(e["content"].as_str().unwrap().contains("<em>text</em>"));
}

#[test]
fn broken_xml_recovers_readable_entries_and_says_what_it_skipped() {
    let doc = read("broken.xml");
    let titles: Vec<&str> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Q&A café", "Cut off"]);
    assert_eq!(entry(&doc, 0)["link"], "http://example.org/b/1?a=1&b=2");
    let problems = doc["problems"].to_string();
    for expected in ["before the root", "ends inside", "skipped", "&eacute;"] {
        assert!(problems.contains(expected), "{expected} not in {problems}");
    }
}

#[test]
fn atom_link_preference_xhtml_content_and_enclosures() {
    let doc = read("atom10_links.xml");
    let e = entry(&doc, 0);
    assert_eq!(e["link"], "http://example.org/blog/2024/a.html");
    assert_eq!(e["title"], "A bold title");
    assert!(e["content"].as_str().unwrap().contains("xhtml</a>"), "{e}");
    assert_eq!(
        e["enclosures"][0]["url"],
        "http://example.org/blog/media/a.mp3"
    );
    assert_eq!(e["enclosures"][0]["length"], 1234);
    assert_eq!(e["authors"][0]["name"], "Feed Person");
}

#[test]
fn cp1252_quotes_in_utf8_are_repaired() {
    let doc = read("c1_in_utf8.xml");
    assert_eq!(
        entry(&doc, 0)["title"],
        "\u{201c}Quoted\u{201d} \u{2013} dash"
    );
}

#[test]
fn xhtml_body_and_fullitem_are_content() {
    let doc = read("xhtml_body.xml");
    assert!(
        entry(&doc, 0)["content"]
            .as_str()
            .unwrap()
            .contains("<b>body</b>")
    );
    assert!(
        entry(&doc, 1)["content"]
            .as_str()
            .unwrap()
            .contains("Full item")
    );
}

#[test]
fn json_feed_1_0() {
    let doc = read("jsonfeed10.json");
    assert_eq!(doc["format"], "JSON Feed 1.0");
    assert_eq!(entry(&doc, 0)["published"], "2024-01-15T02:00:00+00:00");
}

#[test]
fn items_with_nothing_readable_are_an_error_not_an_empty_feed() {
    let (code, doc) = parse("unreadable_items.xml");
    assert_eq!(code, 1);
    assert!(
        doc["error"].as_str().unwrap().contains("none readable"),
        "{doc}"
    );
    let (code, _) = parse("no-such-file.xml");
    assert_eq!(code, 2);
}

/// Through the real pipeline: repairs show in the source's health, and a
/// feed whose items yield nothing is a `parse` error, never an empty `ok`.
#[tokio::test]
async fn repairs_reach_source_health_and_unreadable_items_fail_the_source() {
    let work = tempfile::tempdir().unwrap();
    let dir = fixture("");
    let cfg = common::config_in(
        work.path(),
        &format!(
            "[storage]\nurl = \"sqlite:{db}\"\n\n[[source]]\nid = \"broken\"\nkind = \"file\"\nurl = \"{dir}broken.xml\"\n\n[[source]]\nid = \"empty\"\nkind = \"file\"\nurl = \"{dir}unreadable_items.xml\"\n",
            db = work.path().join("h.db").display(),
            dir = dir.display().to_string().trim_end_matches('/').to_string() + "/",
        ),
    );
    let p = common::pipeline(&cfg).await;
    let report = refresh_source(&p, cfg.source("broken").unwrap()).await;
    assert!(
        matches!(report.outcome, Outcome::Fetched(_)),
        "{:?}",
        report.outcome
    );
    let state = p.store.state("broken").await.unwrap();
    let health = state.scrape.expect("feed health recorded");
    assert_eq!((health.items, health.filled["entries"]), (3, 2));
    assert!(
        health.summary().contains("problem(s)"),
        "{}",
        health.summary()
    );
    let report = refresh_source(&p, cfg.source("empty").unwrap()).await;
    assert!(
        !matches!(report.outcome, Outcome::Fetched(_)),
        "{:?}",
        report.outcome
    );
    let state = p.store.state("empty").await.unwrap();
    assert_eq!(state.error_kind.as_deref(), Some("parse"));
    assert!(state.last_error.unwrap().contains("none readable"));
}
