//! Hostile input (issue 18): a local site on 127.0.0.1 serving what an
//! attacker would — markup nested 100,000 deep in feeds, JSON Feeds and
//! article pages, absurd dates, a feed of 1,000,000 items, a 15 MB field —
//! next to a good source. `huiliu poll` and `huiliu run` must survive, the
//! bad source gets a clear error or a bounded result, the others and every
//! output are unaffected.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Utc};
use common::{MockServer, config_in, pipeline, serve};
use huiliu::model::Entry;
use huiliu::refresh::Outcome;
use huiliu::schedule::poll_once;
use huiliu::store::EntryQuery;

const BIN: &str = env!("CARGO_BIN_EXE_huiliu");

fn rss(items: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://example.org/</link><description>d</description>{items}</channel></rss>"
    )
}

fn item(guid: &str, date: &str, content: &str) -> String {
    format!(
        "<item><guid>{guid}</guid><title>{guid}</title><link>http://example.org/{guid}</link><pubDate>{date}</pubDate><description><![CDATA[{content}]]></description></item>"
    )
}

fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

const DATE: &str = "Mon, 01 Jan 2024 08:00:00 +0000";

/// The hostile site: file name → body.
fn deep_site() -> Vec<(&'static str, String)> {
    let deep_json = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "j",
        "items": [{ "id": "j1", "url": "http://example.org/j1",
                    "content_html": nested("<div>", "</div>", 100_000, "deep json") }]
    });
    vec![
        (
            "divs.xml",
            rss(&item("d1", DATE, &nested("<div>", "</div>", 100_000, "deep divs"))),
        ),
        (
            "inline.xml",
            rss(&item("i1", DATE, &nested("<b><i><span>", "</span></i></b>", 40_000, "deep inline"))),
        ),
        (
            "tables.xml",
            rss(&item("t1", DATE, &nested("<table><tr><td>", "</td></tr></table>", 20_000, "deep tables"))),
        ),
        (
            "media.xml",
            rss(&item("m1", DATE, &nested("<video><audio>", "</audio></video>", 25_000, "deep media"))),
        ),
        ("deep.json", deep_json.to_string()),
        (
            "xml-elements.xml",
            rss(&format!(
                "<item><guid>x1</guid><title>x1</title><link>http://example.org/x1</link>{}</item>",
                nested("<x>", "</x>", 100_000, "deep xml")
            )),
        ),
        (
            "atom-xhtml.xml",
            format!(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>a</title><id>urn:a</id><updated>2024-01-01T00:00:00Z</updated><entry><id>urn:a1</id><title>a1</title><updated>2024-01-01T00:00:00Z</updated><content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">{}</div></content></entry></feed>",
                nested("<div>", "</div>", 50_000, "deep xhtml")
            ),
        ),
        (
            "arrays.json",
            format!(
                "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"j\",\"_x\":{},\"items\":[]}}",
                nested("[", "]", 100_000, "")
            ),
        ),
        (
            "list.html",
            "<html><body><ul class=\"list\"><li><a href=\"deep.html\">deep article</a></li><li><a href=\"wide.html\">wide article</a></li></ul></body></html>".into(),
        ),
        (
            "deep.html",
            format!(
                "<html><head><title>deep</title></head><body><h1>deep article</h1>{}</body></html>",
                nested("<div>", "</div>", 100_000, "<p>deep article text</p>")
            ),
        ),
        (
            "wide.html",
            format!(
                "<html><head><title>wide</title></head><body><h1>wide article</h1>{}</body></html>",
                "<div><p>many huge elements</p></div>".repeat(60_000)
            ),
        ),
        ("good.xml", rss(&item("g1", DATE, "<p>good entry</p>"))),
    ]
}

fn deep_config(dir: &Path, base: &str, extra: &str) -> String {
    let feed =
        |id: &str, file: &str| format!("[[source]]\nid = \"{id}\"\nurl = \"{base}/{file}\"\n");
    let mut text = format!(
        "{extra}[storage]\nurl = \"sqlite:{}\"\n[fetch]\nhost_delay = \"0s\"\nmax_body_size = \"16MiB\"\n",
        dir.join("h.db").display()
    );
    for (id, file) in [
        ("divs", "divs.xml"),
        ("inline", "inline.xml"),
        ("tables", "tables.xml"),
        ("media", "media.xml"),
        ("json", "deep.json"),
        ("xml", "xml-elements.xml"),
        ("atom", "atom-xhtml.xml"),
        ("arrays", "arrays.json"),
        ("good", "good.xml"),
    ] {
        text.push_str(&feed(id, file));
    }
    text.push_str(&format!(
        "[[source]]\nid = \"page\"\nkind = \"html\"\nurl = \"{base}/list.html\"\narticle_delay = \"0s\"\n[source.list]\nitem = \"ul.list li\"\nlink = \"a\"\ntitle = \"a\"\n"
    ));
    text.push_str("[[feed]]\nid = \"all\"\nsources = [\"divs\", \"good\", \"json\", \"page\"]\n");
    text
}

async fn site(files: &[(&str, String)]) -> (MockServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    for (name, body) in files {
        std::fs::write(www.join(name), body).unwrap();
    }
    (MockServer::start(&www).await, dir)
}

async fn entries(p: &huiliu::refresh::Pipeline, source: &str) -> Vec<Entry> {
    p.store
        .entries(&EntryQuery {
            sources: vec![source.to_string()],
            limit: 10_000,
            offset: 0,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.entry)
        .collect()
}

/// `huiliu poll` over every deeply nested source: the process ends normally
/// (no abort, no signal), reports every source, and stores the text that was
/// nested; the deep JSON arrays are a clear parse error of their source only.
#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_cannot_end_huiliu_poll() {
    let (server, dir) = site(&deep_site()).await;
    let config = dir.path().join("huiliu.toml");
    std::fs::write(&config, deep_config(dir.path(), &server.base(), "")).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(["poll", "--config"])
            .arg(&config)
            .env("HUILIU_LOG", "warn")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Ended normally (0, or 1 when a source failed): no abort, no signal.
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    let line = |id: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{stdout}\n{stderr}"))
            .to_string()
    };
    for id in [
        "divs", "inline", "tables", "media", "json", "atom", "page", "good",
    ] {
        assert!(line(id).contains(" ok "), "{}\n{stderr}", line(id));
    }
    // Deep junk beside the items: the feed is read (its items, none here)
    // or refused with a clear error, on that source only.
    let arrays = line("arrays");
    assert!(
        arrays.contains(" ok ") || arrays.contains("recursion limit"),
        "{arrays}"
    );
    // 100,000 nested unknown elements in an item: their tags are dropped
    // past the reader's depth limit, the item is read.
    assert!(line("xml").contains(" ok "), "{}", line("xml"));

    let cfg = huiliu::config::load_file(&dir.path().join("huiliu.toml")).unwrap();
    let p = pipeline(&cfg).await;
    for (id, text) in [
        ("divs", "deep divs"),
        ("inline", "deep inline"),
        ("tables", "deep tables"),
        ("media", "deep media"),
        ("json", "deep json"),
        ("atom", "deep xhtml"),
    ] {
        let e = entries(&p, id).await;
        assert_eq!(e.len(), 1, "{id}");
        assert!(e[0].text.contains(text), "{id}: {:?}", &e[0].text);
    }
    assert_eq!(entries(&p, "xml").await.len(), 1);
    let page = entries(&p, "page").await;
    assert_eq!(page.len(), 2);
    let deep = page.iter().find(|e| e.title == "deep article").unwrap();
    assert!(deep.text.contains("deep article text"), "{}", deep.text);
    // Over the extraction budget: stored without content, not a stalled poll.
    let wide = page.iter().find(|e| e.title == "wide article").unwrap();
    assert_eq!(wide.content, None);
}

/// A running `huiliu run` with its JSON log lines on a channel.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
}

impl Daemon {
    fn start(config: &Path) -> (Daemon, String) {
        let mut child = Command::new(BIN)
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .env("HUILIU_LOG", "info")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "message": line }));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut d = Daemon { child, lines };
        let ready = d.wait_for(|v| v["message"] == "huiliu is serving");
        let addr = ready["address"].as_str().unwrap().to_string();
        (d, addr)
    }

    fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!(
                    "log line not found; the daemon {}",
                    match self.child.try_wait() {
                        Ok(Some(status)) => format!("ended: {status}"),
                        _ => "is still running".into(),
                    }
                ),
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Under `huiliu run` the same sources are polled and the daemon keeps
/// serving: health and the merged feed answer after every source was polled.
#[tokio::test(flavor = "multi_thread")]
async fn deep_nesting_cannot_end_huiliu_run() {
    let (server, dir) = site(&deep_site()).await;
    let config = dir.path().join("huiliu.toml");
    let extra = "[server]\nlisten = \"127.0.0.1:0\"\n";
    std::fs::write(&config, deep_config(dir.path(), &server.base(), extra)).unwrap();
    let (mut daemon, addr) = tokio::task::block_in_place(|| Daemon::start(&config));
    let mut left: std::collections::HashSet<String> = [
        "divs", "inline", "tables", "media", "json", "xml", "atom", "arrays", "page", "good",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    tokio::task::block_in_place(|| {
        while !left.is_empty() {
            let v = daemon.wait_for(|v| v["message"] == "polled" || v["message"] == "poll failed");
            left.remove(v["source"].as_str().unwrap_or(""));
        }
    });
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let feed = reqwest::get(format!("http://{addr}/feeds/all.json"))
        .await
        .unwrap();
    assert_eq!(feed.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&feed.bytes().await.unwrap()).unwrap();
    assert!(body["items"].as_array().unwrap().len() >= 4, "{body}");
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon ended"
    );
}

/// Absurd dates: a relative date of 3,000,000,000 hours, a year 99999 and a
/// date a year ahead. The poll succeeds, the first two are undated, the
/// third is no date either (shown at its first-seen time), and every output
/// format answers 200 — also with a bad row already in the store.
#[tokio::test(flavor = "multi_thread")]
async fn absurd_dates_neither_panic_nor_poison_outputs() {
    let ahead = (Utc::now() + chrono::Duration::days(365)).to_rfc2822();
    let body = rss(&[
        item("hours", "3000000000小时前", "<p>a</p>"),
        item("year", "99999-01-01T00:00:00Z", "<p>b</p>"),
        item("ahead", &ahead, "<p>c</p>"),
        item("fine", DATE, "<p>d</p>"),
    ]
    .concat());
    let (server, dir) = site(&[
        ("dates.xml", body),
        ("good.xml", rss(&item("g1", DATE, "<p>g</p>"))),
    ])
    .await;
    let cfg = config_in(
        dir.path(),
        &format!(
            "[storage]\nurl = \"sqlite:{}\"\n[fetch]\nhost_delay = \"0s\"\n[[source]]\nid = \"dates\"\nurl = \"{b}/dates.xml\"\n[[source]]\nid = \"good\"\nurl = \"{b}/good.xml\"\n[[feed]]\nid = \"all\"\nsources = [\"dates\", \"good\"]\n",
            dir.path().join("h.db").display(),
            b = server.base()
        ),
    );
    let p = pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 2).await;
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(matches!(r.outcome, Outcome::Fetched(_)), "{r:?}");
    }
    let stored = entries(&p, "dates").await;
    assert_eq!(stored.len(), 4);
    for e in &stored {
        match e.title.as_str() {
            "fine" => assert_eq!(e.published.map(|d| d.year()), Some(2024)),
            other => assert_eq!(e.published, None, "{other}"),
        }
    }

    // A row written before these checks existed (or by hand).
    let mut bad = stored[0].clone();
    bad.id = "ffffffffffffffffffffffffffffffff".into();
    bad.key = "guid:bad".into();
    bad.title = "bad row".into();
    bad.published = chrono::DateTime::from_timestamp(3_093_527_980_800, 0);
    let state = p.store.state("dates").await.unwrap();
    p.store
        .commit_poll(&state, &[bad], Utc::now())
        .await
        .unwrap();
    p.changes.fetch_add(1, std::sync::atomic::Ordering::Release);

    let base = serve(&cfg, &p).await;
    for ext in ["rss", "atom", "json", "html"] {
        let r = reqwest::get(format!("{base}/feeds/all.{ext}"))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{ext}");
        let text = r.text().await.unwrap();
        assert!(text.contains("fine") && text.contains("g1"), "{ext}");
        assert!(!text.contains("bad row"), "{ext}");
    }
}

/// A JSON Feed of 1,000,000 items (13 MB) keeps `fetch.max_entries`
/// entries and says so in the source's health; a 15 MB content field is
/// cut before it is cleaned.
#[tokio::test(flavor = "multi_thread")]
async fn huge_feeds_are_capped_and_the_cut_is_reported() {
    let items: Vec<String> = (0..1_000_000)
        .map(|i| format!("{{\"id\":\"{i}\"}}"))
        .collect();
    let million = format!(
        "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"m\",\"items\":[{}]}}",
        items.join(",")
    );
    assert!(million.len() > 12_000_000);
    let huge_field = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1", "title": "h",
        "items": [{ "id": "h1", "content_html": format!("<p>{}</p>", "x".repeat(15 << 20)) }]
    })
    .to_string();
    let (server, dir) = site(&[("million.json", million), ("huge.json", huge_field)]).await;
    let cfg = config_in(
        dir.path(),
        &format!(
            "[storage]\nurl = \"sqlite:{}\"\n[fetch]\nhost_delay = \"0s\"\nmax_body_size = \"32MiB\"\nmax_entries = 500\n[[source]]\nid = \"million\"\nurl = \"{b}/million.json\"\n[[source]]\nid = \"huge\"\nurl = \"{b}/huge.json\"\n",
            dir.path().join("h.db").display(),
            b = server.base()
        ),
    );
    let p = pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 2).await;
    assert!(
        reports
            .iter()
            .all(|r| matches!(r.outcome, Outcome::Fetched(_))),
        "{reports:?}"
    );
    assert_eq!(entries(&p, "million").await.len(), 500);
    let health = huiliu::health::source_health(p.store.as_ref(), &cfg)
        .await
        .unwrap();
    let million = health.iter().find(|h| h.id == "million").unwrap();
    assert_eq!(million.status, "ok");
    assert_eq!(million.error_kind.as_deref(), Some("entries_capped"));
    let note = million.error.as_deref().unwrap();
    assert!(note.contains("1000000") && note.contains("500"), "{note}");
    let huge = entries(&p, "huge").await;
    let content = huge[0].content.as_deref().unwrap();
    assert!(content.len() <= huiliu::normalize::limits::MAX_CONTENT_BYTES + 64);
}

/// `fetch.parse_budget` (issue 18, "CPU per page bounded by a time
/// budget"). With the budget injected as zero every page is over it, so the
/// outcome does not depend on how fast the machine is: a feed and a scraped
/// list fail with kind `parse_budget`, naming the budget and the page, and
/// the poll ends (the worker is released) with the other source kept.
#[tokio::test(flavor = "multi_thread")]
async fn pages_over_the_parse_budget_fail_their_source_with_a_clear_kind() {
    let (server, dir) = site(&[
        ("feed.xml", rss(&item("f1", DATE, "<p>feed entry</p>"))),
        (
            "list.html",
            "<html><body><ul class=\"list\"><li><a href=\"a.html\">a</a></li></ul></body></html>"
                .into(),
        ),
        ("a.html", "<html><body><p>article</p></body></html>".into()),
    ])
    .await;
    let b = server.base();
    let mut cfg = config_in(
        dir.path(),
        &format!(
            "[storage]\nurl = \"sqlite:{}\"\n[fetch]\nhost_delay = \"0s\"\n\
             [[source]]\nid = \"feed\"\nurl = \"{b}/feed.xml?apikey=SECRET123\"\n\
             [[source]]\nid = \"list\"\nkind = \"html\"\nurl = \"{b}/list.html\"\narticle_delay = \"0s\"\n\
             [source.list]\nitem = \"ul.list li\"\nlink = \"a\"\ntitle = \"a\"\n",
            dir.path().join("h.db").display(),
        ),
    );
    assert_eq!(
        cfg.fetch.parse_budget,
        huiliu::budget::DEFAULT,
        "the default"
    );
    cfg.fetch.parse_budget = Duration::ZERO;
    let p = pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 2).await;
    for (r, page) in reports.iter().zip(["/feed.xml?apikey=***", "/list.html"]) {
        let Outcome::Failed(message) = &r.outcome else {
            panic!("{r:?}")
        };
        assert!(
            message.contains("fetch.parse_budget (0ms)") && message.contains(page),
            "{message}"
        );
        assert!(!message.contains("SECRET123"), "{message}");
        assert!(r.next_due.is_some(), "retried later: {r:?}");
        let state = p.store.state(&r.source_id).await.unwrap();
        assert_eq!(state.error_kind.as_deref(), Some("parse_budget"), "{r:?}");
        assert!(entries(&p, &r.source_id).await.is_empty());
    }
}

/// One article page of a scraped list over the budget counts as a failed
/// article; the list and the other article are kept. The slow page is a
/// real CPU trap: 40,000 chrome spans (`打印本页`) 200 `<div>`s deep, which
/// cleaning compares pairwise through their ancestors (~10¹¹ steps,
/// minutes of CPU unbounded; meta-line search ~10⁹); the budget
/// is the floor `huiliu check` allows, 1s, and every other page here takes
/// milliseconds — the outcome asserted does not depend on timing within
/// two orders of magnitude.
#[tokio::test(flavor = "multi_thread")]
async fn an_article_over_the_parse_budget_fails_alone() {
    let chrome = format!(
        "<html><body><h1>slow</h1><div class=\"content\">{}</div></body></html>",
        nested(
            "<div>",
            "</div>",
            200,
            &"<span>打印本页</span>".repeat(40_000)
        )
    );
    let (server, dir) = site(&[
        (
            "list.html",
            "<html><body><ul class=\"list\"><li><a href=\"slow.html\">slow</a></li><li><a href=\"fine.html\">fine</a></li></ul></body></html>".into(),
        ),
        ("slow.html", chrome),
        (
            "fine.html",
            "<html><body><h1>fine</h1><div class=\"content\"><p>fine article text</p></div></body></html>".into(),
        ),
    ])
    .await;
    let cfg = config_in(
        dir.path(),
        &format!(
            "[storage]\nurl = \"sqlite:{}\"\n[fetch]\nhost_delay = \"0s\"\nparse_budget = \"1s\"\n\
             [[source]]\nid = \"list\"\nkind = \"html\"\nurl = \"{}/list.html\"\narticle_delay = \"0s\"\n\
             [source.list]\nitem = \"ul.list li\"\nlink = \"a\"\ntitle = \"a\"\n\
             [source.article]\ncontent = \"div.content\"\n",
            dir.path().join("h.db").display(),
            server.base()
        ),
    );
    assert_eq!(cfg.fetch.parse_budget, Duration::from_secs(1));
    let p = pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 1).await;
    assert!(
        matches!(reports[0].outcome, Outcome::Fetched(c) if c.new == 1),
        "{reports:?}"
    );
    let stored = entries(&p, "list").await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0].text.contains("fine article text"));
    let state = p.store.state("list").await.unwrap();
    let health = state.scrape.expect("scrape health");
    assert_eq!(health.articles_failed, 1, "{health:?}");
    assert_eq!(health.articles_fetched, 1, "{health:?}");
    let problem = health.problems.join(" | ");
    assert!(
        problem.contains("/slow.html") && problem.contains("fetch.parse_budget (1s)"),
        "{problem}"
    );
    // Retried at the next poll: the list page's ETag is not kept, so it is
    // read again in full.
    assert_eq!(state.etag, None);
    // The cleaning thread stopped at its next check: nothing left running.
    for _ in 0..100 {
        if p.fetcher.budgets().detached() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p.fetcher.budgets().detached(), 0);
}
