//! End to end: mock sites on 127.0.0.1 → `poll` into a temporary SQLite →
//! huiliu's own server → the published RSS, Atom and JSON Feed.

mod common;

use std::sync::atomic::Ordering;

use common::{MockServer, config_in, fixture_copy, pipeline, serve};
use huiliu::refresh::Outcome;
use huiliu::schedule::poll_once;
use huiliu::store::PollCounts;
use serde_json::Value;

fn config_text(base: &str) -> String {
    format!(
        r#"
[storage]
url = "sqlite:data/huiliu.db"

[defaults]
timezone = "Asia/Shanghai"

[[source]]
id   = "wjhtz"
name = "武进国家高新区 · 园区动态"
url  = "{base}/wjhtz/rss.xml"

[[source]]
id   = "wjrb"
name = "武进日报 · 镇区新闻"
url  = "{base}/wjrb/atom.xml"

# Every copy, so the entries can be checked one by one (tests/dedup.rs
# checks the merged view).
[[feed]]
id    = "all"
title = "武进要闻"
dedup = false
"#
    )
}

fn counts(outcome: &Outcome) -> PollCounts {
    match outcome {
        Outcome::Fetched(c) => *c,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

async fn get_json(url: &str) -> Value {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn items_by_url(feed: &Value) -> Vec<(String, Value)> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["url"].as_str().unwrap_or("").to_string(), i.clone()))
        .collect()
}

#[tokio::test]
async fn feeds_are_polled_stored_and_published_in_three_formats() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(&server.base()));
    let p = pipeline(&cfg).await;

    let reports = poll_once(&p, &cfg.sources, 4).await;
    assert_eq!(counts(&reports[0].outcome).new, 4, "{reports:?}");
    assert_eq!(counts(&reports[1].outcome).new, 3, "{reports:?}");
    let ours = serve(&cfg, &p).await;

    // Every expected entry of both sites, once, field by field.
    let json = get_json(&format!("{ours}/feeds/all.json")).await;
    let items = items_by_url(&json);
    assert_eq!(items.len(), 7);
    for site_name in ["wjhtz", "wjrb"] {
        let expected: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(site.path().join(site_name).join("expected.json")).unwrap(),
        )
        .unwrap();
        for exp in expected {
            let url = exp["url"]
                .as_str()
                .unwrap()
                .replace("{base}", &server.base());
            let found: Vec<&Value> = items
                .iter()
                .filter(|(u, _)| *u == url)
                .map(|(_, i)| i)
                .collect();
            assert_eq!(found.len(), 1, "{url} should appear once");
            let item = found[0];
            assert_eq!(item["title"], exp["title"], "{url}");
            let published =
                chrono::DateTime::parse_from_rfc3339(item["date_published"].as_str().unwrap())
                    .unwrap();
            let expected_published =
                chrono::DateTime::parse_from_rfc3339(exp["published"].as_str().unwrap()).unwrap();
            assert_eq!(published, expected_published, "{url}");
            let author = item["authors"][0]["name"].as_str();
            assert_eq!(author, exp["author"].as_str(), "{url}");
            let html = item["content_html"].as_str().unwrap();
            let text = huiliu::normalize::html::to_text(html).replace('\n', " ");
            let start = exp["content_starts_with"].as_str().unwrap();
            assert!(
                text.starts_with(start),
                "{url}: {text:?} should start with {start:?}"
            );
            for bad in exp["content_must_not_contain"].as_array().unwrap() {
                assert!(
                    !text.contains(bad.as_str().unwrap()),
                    "{url}: {bad} in {text}"
                );
            }
        }
    }

    // RSS and Atom carry the same ids, and parse back.
    let rss = reqwest::get(format!("{ours}/feeds/all.rss")).await.unwrap();
    assert_eq!(
        rss.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let rss = rss.bytes().await.unwrap();
    let channel = rss::Channel::read_from(&rss[..]).unwrap();
    let atom_bytes = reqwest::get(format!("{ours}/feeds/all.atom"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let atom = atom_syndication::Feed::read_from(&atom_bytes[..]).unwrap();
    let mut rss_ids: Vec<String> = channel
        .items()
        .iter()
        .map(|i| i.guid().unwrap().value().to_string())
        .collect();
    let mut atom_ids: Vec<String> = atom.entries().iter().map(|e| e.id().to_string()).collect();
    let mut json_ids: Vec<String> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    rss_ids.sort();
    atom_ids.sort();
    json_ids.sort();
    assert_eq!(rss_ids, atom_ids);
    assert_eq!(rss_ids, json_ids);
    for item in channel.items() {
        chrono::DateTime::parse_from_rfc2822(item.pub_date().unwrap()).unwrap();
    }
    let parsed = feed_rs::parser::parse(&atom_bytes[..]).unwrap();
    assert_eq!(parsed.entries.len(), 7);
}

#[tokio::test]
async fn ids_survive_repolls_and_restarts_and_304_skips_everything() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(&server.base()));

    let ids = |json: Value| -> Vec<String> {
        let mut v: Vec<String> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let first = {
        let p = pipeline(&cfg).await;
        poll_once(&p, &cfg.sources, 4).await;
        let ours = serve(&cfg, &p).await;
        ids(get_json(&format!("{ours}/feeds/all.json")).await)
    };

    // A restart: a new pipeline on the same database.
    server.clear_log();
    let p = pipeline(&cfg).await;
    let before = p.changes.load(Ordering::Acquire);
    let reports = poll_once(&p, &cfg.sources, 4).await;
    for r in &reports {
        assert_eq!(r.outcome, Outcome::NotModified, "{r:?}");
    }
    assert_eq!(
        p.changes.load(Ordering::Acquire),
        before,
        "a 304 changes nothing"
    );
    let seen = server.requests_to("/wjhtz/rss.xml");
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].headers.contains_key("if-none-match"),
        "conditional GET sent"
    );
    assert_eq!(seen[0].status, 304);
    let ours = serve(&cfg, &p).await;
    assert_eq!(
        ids(get_json(&format!("{ours}/feeds/all.json")).await),
        first
    );

    // Our own server answers conditional requests with 304, on both validators.
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{ours}/feeds/all.atom"))
        .send()
        .await
        .unwrap();
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = r.headers()["last-modified"].to_str().unwrap().to_string();
    let r = client
        .get(format!("{ours}/feeds/all.atom"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client
        .get(format!("{ours}/feeds/all.atom"))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = client
        .head(format!("{ours}/feeds/all.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag"));
    let r = client
        .get(format!("{ours}/feeds/nope.rss"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .get(format!("{ours}/feeds/all.xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_edited_entry_is_updated_not_duplicated() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(&server.base()));
    let p = pipeline(&cfg).await;
    poll_once(&p, &cfg.sources, 4).await;
    let ours = serve(&cfg, &p).await;
    let before = get_json(&format!("{ours}/feeds/all.json")).await;

    let rss_path = site.path().join("wjhtz/rss.xml");
    let rss = std::fs::read_to_string(&rss_path).unwrap();
    std::fs::write(
        &rss_path,
        rss.replace("此次集中开工项目共8个", "此次集中开工项目共9个"),
    )
    .unwrap();
    let reports = poll_once(&p, &cfg.sources[..1], 1).await;
    assert_eq!(
        counts(&reports[0].outcome),
        PollCounts {
            new: 0,
            updated: 1,
            unchanged: 3
        }
    );

    let after = get_json(&format!("{ours}/feeds/all.json")).await;
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        before["items"].as_array().unwrap().len()
    );
    let url = format!("{}/wjhtz/yqdt/202402/t20240220_5123.html", server.base());
    let find = |feed: &Value| {
        items_by_url(feed)
            .into_iter()
            .find(|(u, _)| *u == url)
            .unwrap()
            .1
    };
    let (old, new) = (find(&before), find(&after));
    assert_eq!(old["id"], new["id"]);
    assert!(new["content_html"].as_str().unwrap().contains("共9个"));
    assert_ne!(old["date_modified"], new["date_modified"]);
    assert_eq!(old["date_published"], new["date_published"]);
}

#[tokio::test]
async fn gbk_feeds_decode_with_or_without_a_declared_charset() {
    let site = fixture_copy("mockweb");
    let rss = std::fs::read_to_string(site.path().join("wjhtz/rss.xml")).unwrap();
    let body = rss.replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "");
    let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
    std::fs::create_dir_all(site.path().join("gbk")).unwrap();
    // No declaration, no charset anywhere: detection.
    std::fs::write(site.path().join("gbk/bare.xml"), gbk(&body)).unwrap();
    // Declared in the XML declaration only.
    std::fs::write(
        site.path().join("gbk/declared.xml"),
        gbk(&format!(
            "<?xml version=\"1.0\" encoding=\"gb2312\"?>\n{body}"
        )),
    )
    .unwrap();
    // Declared in the HTTP header only.
    std::fs::write(site.path().join("gbk/header.xml"), gbk(&body)).unwrap();
    std::fs::write(
        site.path().join("gbk/_headers.json"),
        r#"{"header.xml": {"Content-Type": "application/rss+xml; charset=GBK"}}"#,
    )
    .unwrap();
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let base = server.base();
    let cfg = config_in(
        work.path(),
        &format!(
            r#"
[storage]
url = "sqlite:h.db"
[[source]]
id = "bare"
url = "{base}/gbk/bare.xml"
[[source]]
id = "declared"
url = "{base}/gbk/declared.xml"
[[source]]
id = "header"
url = "{base}/gbk/header.xml"
[[feed]]
id = "all"
dedup = false
"#
        ),
    );
    let p = pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 3).await;
    for r in &reports {
        assert_eq!(counts(&r.outcome).new, 4, "{r:?}");
    }
    let ours = serve(&cfg, &p).await;
    let json = get_json(&format!("{ours}/feeds/all.json")).await;
    let titles: Vec<&str> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles
            .iter()
            .filter(|t| **t == "武进区“春风行动”大型招聘会举行 提供就业岗位5000余个")
            .count(),
        3,
        "{titles:?}"
    );
}

#[tokio::test]
async fn a_failing_source_keeps_its_entries_and_spares_the_others() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(&server.base()));
    let p = pipeline(&cfg).await;
    poll_once(&p, &cfg.sources, 4).await;

    // The RSS site breaks: first a 500, then garbage.
    std::fs::write(
        site.path().join("wjhtz/_headers.json"),
        r#"{"rss.xml": {"status": 500}}"#,
    )
    .unwrap();
    std::fs::write(site.path().join("wjrb/atom.xml"), "<feed><entry>").unwrap();
    let reports = poll_once(&p, &cfg.sources, 4).await;
    match &reports[0].outcome {
        Outcome::Failed(e) => assert!(e.contains("500"), "{e}"),
        other => panic!("{other:?}"),
    }
    match &reports[1].outcome {
        Outcome::Failed(e) => assert!(e.contains("malformed"), "{e}"),
        other => panic!("{other:?}"),
    }
    let state = p.store.state("wjhtz").await.unwrap();
    assert_eq!(state.consecutive_failures, 1);
    assert!(state.last_error.as_deref().unwrap().contains("500"));
    assert!(state.next_due.unwrap() > chrono::Utc::now());

    let ours = serve(&cfg, &p).await;
    let json = get_json(&format!("{ours}/feeds/all.json")).await;
    assert_eq!(
        json["items"].as_array().unwrap().len(),
        7,
        "stored entries stay published"
    );
}

#[test]
fn the_example_and_demo_configs_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for name in ["config/example.toml", "config/demo.toml"] {
        huiliu::config::load_file(&root.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
