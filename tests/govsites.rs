//! Government sites as they are, end to end on 127.0.0.1: a TRS-style
//! table column (header row, spacer rows, titles cut with `...`, a
//! `createPageHTML` pager script), paging by pattern, a source without
//! `[source.list]`, `huiliu discover`, and `render = "browser"` on a list
//! written by script and on a script cookie wall (skipped, visibly,
//! without Chromium).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{MockServer, config_in, fixture_copy, pipeline};
use huiliu::refresh::{Outcome, refresh_source};
use serde_json::Value;

fn trs_config(base: &str, list: &str) -> String {
    format!(
        r#"[storage]
url = "sqlite:data/huiliu.db"

[fetch]
host_delay = "10ms"

[defaults]
timezone = "Asia/Shanghai"
article_delay = "10ms"

[[source]]
id = "zwdt"
kind = "html"
url = "{base}/trs/index.html"
max_pages = 5
{list}
"#
    )
}

const TRS_LIST: &str = r#"
  [source.list]
  item  = "table.list_table tr"
  link  = "td.list_title a"
  title = "td.list_title a"
  date  = "td.list_date"
"#;

async fn stored(p: &huiliu::refresh::Pipeline) -> Vec<huiliu::model::Entry> {
    let query = huiliu::store::EntryQuery {
        sources: vec!["zwdt".into()],
        limit: 100,
        offset: 0,
    };
    let entries = p.store.entries(&query).await.unwrap();
    entries.into_iter().map(|s| s.entry).collect()
}

async fn poll(cfg: &huiliu::config::Config) -> (huiliu::refresh::Pipeline, Outcome) {
    let p = pipeline(cfg).await;
    let outcome = refresh_source(&p, cfg.source("zwdt").unwrap())
        .await
        .outcome;
    (p, outcome)
}

fn new_count(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Fetched(c) => c.new,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

#[tokio::test]
async fn trs_table_column_pages_by_script_and_raises_no_false_alarm() {
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &trs_config(&server.base(), TRS_LIST));
    let (p, outcome) = poll(&cfg).await;
    // 3 pages × (header + items + spacers): only the 10 items count.
    assert_eq!(new_count(&outcome), 10, "{outcome:?}");
    for page in ["index.html", "index_1.html", "index_2.html"] {
        assert_eq!(
            server.requests_to(&format!("/trs/{page}")).len(),
            1,
            "{page}"
        );
    }
    assert!(server.requests_to("/trs/index_3.html").is_empty());
    let health = p.store.state("zwdt").await.unwrap().scrape.unwrap();
    assert_eq!((health.pages, health.items), (3, 10));
    assert_eq!(health.filled["title"], 10);
    assert_eq!(health.filled["date"], 10);
    assert!(health.problems.is_empty(), "{:?}", health.problems);
    // The cut title (`...`) is replaced by the full one of its `title` attribute.
    let entries = stored(&p).await;
    let long = "区人社局举办2024年春风行动专场招聘会 提供岗位3200余个";
    assert!(entries.iter().any(|e| e.title == long), "{entries:?}");
}

#[tokio::test]
async fn paging_by_pattern_stops_at_the_404_and_max_pages() {
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let list = format!("{TRS_LIST}  next_page = {{ pattern = \"index_{{n}}.html\", start = 1 }}\n");
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &trs_config(&server.base(), &list));
    let (p, outcome) = poll(&cfg).await;
    assert_eq!(new_count(&outcome), 10, "{outcome:?}");
    assert_eq!(server.requests_to("/trs/index_3.html").len(), 1);
    assert!(server.requests_to("/trs/index_4.html").is_empty());
    let health = p.store.state("zwdt").await.unwrap().scrape.unwrap();
    assert!(
        health.problems.is_empty(),
        "a 404 ends the pages: {:?}",
        health.problems
    );

    let work = tempfile::tempdir().unwrap();
    let text = trs_config(&server.base(), &list).replace("max_pages = 5", "max_pages = 2");
    let cfg = config_in(work.path(), &text);
    server.clear_log();
    let (_, outcome) = poll(&cfg).await;
    assert_eq!(new_count(&outcome), 8);
    assert!(server.requests_to("/trs/index_2.html").is_empty());
}

#[tokio::test]
async fn a_redesigned_column_names_selector_page_and_rows_and_keeps_entries() {
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &trs_config(&server.base(), TRS_LIST));
    let (p, outcome) = poll(&cfg).await;
    assert_eq!(new_count(&outcome), 10);

    // The title cells lose their class: the rows are there, the links are not found.
    let index = site.path().join("trs/index.html");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(
        &index,
        text.replace("class=\"list_title\"", "class=\"title\""),
    )
    .unwrap();
    let outcome = refresh_source(&p, cfg.source("zwdt").unwrap())
        .await
        .outcome;
    let expected = format!(
        "selector \"td.list_title a\" (link) found no article link in any of the 9 elements \"table.list_table tr\" matched on {}/trs/index.html",
        server.base()
    );
    match &outcome {
        Outcome::Failed(e) => assert!(e.starts_with(&expected), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(p.store.entry_count("zwdt").await.unwrap(), 10);
}

#[tokio::test]
async fn without_source_list_the_list_is_detected() {
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &trs_config(&server.base(), ""));
    let (p, outcome) = poll(&cfg).await;
    assert_eq!(new_count(&outcome), 10, "{outcome:?}");
    let entries = stored(&p).await;
    assert!(entries.iter().all(|e| e.published.is_some()));
}

fn huiliu(args: &[String]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_huiliu"))
        .args(args)
        .output()
        .unwrap()
}

async fn huiliu_async(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || huiliu(&args))
        .await
        .unwrap()
}

#[tokio::test]
async fn discover_proposes_a_source_that_works() {
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let url = format!("{}/trs/index.html", server.base());
    let out = huiliu_async(vec!["discover".into(), url.clone()]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("item  = \"table.list_table tr\""), "{text}");
    assert!(text.contains("The page yields 4 item(s)"), "{text}");
    assert!(
        text.contains("main content found without selectors"),
        "{text}"
    );

    // The printed table, pasted into a config, polls all pages.
    let toml: String = text
        .lines()
        .take_while(|l| !l.starts_with("# The page yields"))
        .map(|l| format!("{l}\n"))
        .collect();
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(
        work.path(),
        &format!("[storage]\nurl = \"sqlite:data/h.db\"\n[fetch]\nhost_delay = \"10ms\"\n\n{toml}"),
    );
    let source = &cfg.sources[0];
    let p = pipeline(&cfg).await;
    let outcome = refresh_source(&p, source).await.outcome;
    assert_eq!(new_count(&outcome), 10, "{outcome:?}");

    let out = huiliu_async(vec!["discover".into(), url, "--json".into()]).await;
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["list"]["item"], "table.list_table tr");
    assert_eq!(doc["items"].as_array().unwrap().len(), 4);
    assert_eq!(doc["items"][0]["published"], "2024-03-01T00:00:00+08:00");
}

#[tokio::test]
async fn discover_prefers_the_advertised_feed() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let out = huiliu_async(vec![
        "discover".into(),
        format!("{}/wjhtz/index.html", server.base()),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind = \"feed\""), "{text}");
    assert!(
        text.contains(&format!("url  = \"{}/wjhtz/rss.xml\"", server.base())),
        "{text}"
    );
}

#[tokio::test]
async fn discover_on_a_page_without_a_list_says_so() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("x")).unwrap();
    std::fs::write(
        site.path().join("x/index.html"),
        "<html><body><p>只有一段话。</p></body></html>",
    )
    .unwrap();
    let server = MockServer::start(site.path()).await;
    let out = huiliu_async(vec![
        "discover".into(),
        format!("{}/x/index.html", server.base()),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no list of article links found"), "{err}");
    assert!(err.contains("--browser"), "{err}");
}

// ---- render = "browser" ------------------------------------------------

fn chromium_or_skip(test: &str) -> bool {
    if huiliu::fetch::browser::chromium().is_some() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: headless Chromium not found (apt-get install chromium; .ci/run installs it)"
    );
    false
}

fn browser_config(base: &str, path: &str) -> String {
    format!(
        r#"[storage]
url = "sqlite:data/huiliu.db"

[fetch]
host_delay = "10ms"

[defaults]
timezone = "Asia/Shanghai"

[[source]]
id = "zwdt"
kind = "html"
url = "{base}{path}"
render = "browser"
fetch_articles = false
robots = false

  [source.list]
  item = "ul.notice-list > li"
  link = "a"
  title = "a"
  date = "span"
"#
    )
}

#[tokio::test]
async fn a_list_written_by_script_is_read_through_the_browser() {
    if !chromium_or_skip("a_list_written_by_script_is_read_through_the_browser") {
        return;
    }
    let site = fixture_copy("lists");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    // Plain HTTP sees an empty list: a located error.
    let plain = browser_config(&server.base(), "/scripted/index.html")
        .replace("render = \"browser\"\n", "");
    let cfg = config_in(work.path(), &plain);
    let (p, outcome) = poll(&cfg).await;
    match &outcome {
        Outcome::Failed(e) => assert!(e.contains("matched 0 items"), "{e}"),
        other => panic!("{other:?}"),
    }
    let cfg = config_in(
        work.path(),
        &browser_config(&server.base(), "/scripted/index.html"),
    );
    let outcome = refresh_source(&p, cfg.source("zwdt").unwrap())
        .await
        .outcome;
    assert_eq!(new_count(&outcome), 3, "{outcome:?}");
}

/// A site that answers 412 with a script setting a cookie and reloading,
/// and serves the list only with that cookie.
async fn cookie_wall() -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderMap, StatusCode, header};
    let walls = Arc::new(AtomicUsize::new(0));
    let seen = walls.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            let cookie = headers
                .get(header::COOKIE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let html = "text/html; charset=utf-8";
            if !cookie.contains("wall=ok") {
                seen.fetch_add(1, Ordering::SeqCst);
                return (
                    StatusCode::PRECONDITION_FAILED,
                    [(header::CONTENT_TYPE, html)],
                    "<html><head><script>document.cookie='wall=ok; path=/';location.reload();</script></head><body></body></html>".to_string(),
                );
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, html)],
                "<html><body><ul class=\"notice-list\"><li><a href=\"/a/1.html\">关于做好春季防火工作的通知</a><span>2024-02-20</span></li><li><a href=\"/a/2.html\">街道召开安全生产工作会议</a><span>2024-02-18</span></li></ul></body></html>".to_string(),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), walls)
}

#[tokio::test]
async fn a_script_cookie_wall_is_passed_through_the_browser() {
    let (base, walls) = cookie_wall().await;
    let work = tempfile::tempdir().unwrap();
    let plain = browser_config(&base, "/list.html").replace("render = \"browser\"\n", "");
    let cfg = config_in(work.path(), &plain);
    let (p, outcome) = poll(&cfg).await;
    match &outcome {
        Outcome::Failed(e) => assert!(e.contains("412"), "{e}"),
        other => panic!("{other:?}"),
    }
    if !chromium_or_skip("a_script_cookie_wall_is_passed_through_the_browser") {
        return;
    }
    let cfg = config_in(work.path(), &browser_config(&base, "/list.html"));
    let outcome = refresh_source(&p, cfg.source("zwdt").unwrap())
        .await
        .outcome;
    assert_eq!(new_count(&outcome), 2, "{outcome:?}");
    assert!(walls.load(Ordering::SeqCst) >= 2, "the wall was met first");
}
