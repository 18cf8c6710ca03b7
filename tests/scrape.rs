//! End to end for `kind = "html"` sources: the GBK mock site `hutang`
//! (two list pages, the last linking to itself, boilerplate, a byline,
//! broken paragraphs) served on 127.0.0.1 → poll through the real pipeline
//! into a temporary SQLite → huiliu's own server → the published feeds.

mod common;

use std::path::Path;

use common::{MockServer, config_in, fixture_copy, pipeline, serve};
use huiliu::refresh::{Outcome, Pipeline, refresh_source};
use serde_json::Value;

/// `sources.toml` of the fixture (the hutang source as users would write
/// it), with a SQLite store, a short article delay and one output feed.
fn config_text(site: &Path, base: &str) -> String {
    let sources = std::fs::read_to_string(site.join("sources.toml"))
        .unwrap()
        .replace("{base}", base)
        .replace("[defaults]\n", "[defaults]\narticle_delay = \"20ms\"\n");
    format!(
        "[storage]\nurl = \"sqlite:data/huiliu.db\"\n\n{sources}\n[[feed]]\nid = \"hutang\"\nsources = [\"hutang\"]\n"
    )
}

async fn get_json(url: &str) -> Value {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn poll(p: &Pipeline, cfg: &huiliu::config::Config) -> Outcome {
    let source = cfg.source("hutang").unwrap();
    refresh_source(p, source).await.outcome
}

fn new_count(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Fetched(c) => c.new,
        other => panic!("expected a fetch, got {other:?}"),
    }
}

fn article_requests(server: &MockServer) -> Vec<String> {
    server
        .requests()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p.starts_with("/hutang/2024"))
        .collect()
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

fn ungbk(bytes: &[u8]) -> String {
    encoding_rs::GBK.decode(bytes).0.into_owned()
}

/// Edits a GBK page of the served copy.
fn edit_gbk(path: &Path, edit: impl FnOnce(String) -> String) {
    let text = ungbk(&std::fs::read(path).unwrap());
    std::fs::write(path, gbk(&edit(text))).unwrap();
}

/// The published items are exactly those of `hutang/expected.json`, field by field.
fn check_expected(site: &Path, server: &MockServer, items: &[Value]) {
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(site.join("hutang/expected.json")).unwrap())
            .unwrap();
    assert_eq!(items.len(), expected.len());
    for exp in &expected {
        let url = exp["url"]
            .as_str()
            .unwrap()
            .replace("{base}", &server.base());
        let found: Vec<&Value> = items.iter().filter(|i| i["url"] == url.as_str()).collect();
        assert_eq!(found.len(), 1, "{url} should appear once");
        let item = found[0];
        assert_eq!(item["title"], exp["title"], "{url}");
        let published =
            chrono::DateTime::parse_from_rfc3339(item["date_published"].as_str().unwrap()).unwrap();
        let expected_published =
            chrono::DateTime::parse_from_rfc3339(exp["published"].as_str().unwrap()).unwrap();
        assert_eq!(published, expected_published, "{url}");
        assert_eq!(
            item["authors"][0]["name"].as_str(),
            exp["author"].as_str(),
            "{url}"
        );
        let html = item["content_html"].as_str().unwrap();
        let text = huiliu::normalize::html::to_text(html).replace('\n', " ");
        let start = exp["content_starts_with"].as_str().unwrap();
        assert!(
            text.starts_with(start),
            "{url}: {text:?} should start with {start:?}"
        );
        for bad in exp["content_must_not_contain"].as_array().unwrap() {
            let bad = bad.as_str().unwrap();
            assert!(!text.contains(bad), "{url}: {bad:?} in {text}");
            assert!(!html.contains(bad), "{url}: {bad:?} in {html}");
        }
    }
}

#[tokio::test]
async fn hutang_yields_exactly_the_expected_entries() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(site.path(), &server.base()));
    let p = pipeline(&cfg).await;

    let outcome = poll(&p, &cfg).await;
    assert_eq!(new_count(&outcome), 4, "{outcome:?}");
    // Pagination: list_2 (served after 300 ms) once; its 下一页 links to itself.
    assert_eq!(server.requests_to("/hutang/index.html").len(), 1);
    assert_eq!(server.requests_to("/hutang/list_2.html").len(), 1);
    assert_eq!(article_requests(&server).len(), 4);

    let ours = serve(&cfg, &p).await;
    let feed = get_json(&format!("{ours}/feeds/hutang.json")).await;
    let items = feed["items"].as_array().unwrap();
    check_expected(site.path(), &server, items);

    let by_url = |tail: &str| {
        items
            .iter()
            .find(|i| i["url"].as_str().unwrap().ends_with(tail))
            .unwrap()
    };
    // The byline gives the mayor's role; the split paragraphs are joined.
    let mayor = by_url("t20240120_4803318.html");
    assert_eq!(
        mayor["authors"][0]["_huiliu"]["role"],
        "湖塘镇党委副书记、镇长"
    );
    let html = mayor["content_html"].as_str().unwrap();
    assert!(
        html.contains("关爱服务体系，绘就更有温度的民生画卷"),
        "{html}"
    );
    assert!(html.contains("落实积极就业政策"), "{html}");
    assert!(!html.contains('\u{3000}'), "{html}");
    // Relative images become absolute.
    let lantern = by_url("t20240226_4821937.html");
    let img = format!(
        "src=\"{}/hutang/202402/W020240226391842715623.png\"",
        server.base()
    );
    assert!(lantern["content_html"].as_str().unwrap().contains(&img));

    // Atom carries the role too; the health of the scrape is recorded.
    let atom = reqwest::get(format!("{ours}/feeds/hutang.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(atom.contains("丁涛 (湖塘镇党委副书记、镇长)"), "{atom}");
    let state = p.store.state("hutang").await.unwrap();
    let health = state.scrape.expect("scrape health recorded");
    assert_eq!((health.pages, health.items), (2, 4));
    assert_eq!(health.filled["title"], 4);
    assert_eq!(health.filled["article.content"], 4);
    assert_eq!(health.articles_fetched, 4);
    let status = get_json(&format!("{ours}/status.json")).await;
    assert!(status.to_string().contains("articles_fetched"), "{status}");
}

#[tokio::test]
async fn article_pages_are_fetched_once_and_new_items_only() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(site.path(), &server.base()));
    let p = pipeline(&cfg).await;
    assert_eq!(new_count(&poll(&p, &cfg).await), 4);

    // Unchanged list page: 304, nothing else fetched.
    server.clear_log();
    assert_eq!(poll(&p, &cfg).await, Outcome::NotModified);
    assert!(article_requests(&server).is_empty());

    // A new item on the list: only its article page is fetched.
    let dir = site.path().join("hutang/202402");
    std::fs::copy(
        dir.join("t20240205_4815566.html"),
        dir.join("t20240229_4823001.html"),
    )
    .unwrap();
    edit_gbk(&site.path().join("hutang/index.html"), |t| {
        t.replace(
            "<ul class=\"list\">\n",
            "<ul class=\"list\">\n<li><a href=\"./202402/t20240229_4823001.html\">湖塘镇召开新春第一会</a><span>2024-02-29</span></li>\n",
        )
    });
    server.clear_log();
    let outcome = poll(&p, &cfg).await;
    assert_eq!(new_count(&outcome), 1, "{outcome:?}");
    match &outcome {
        Outcome::Fetched(c) => assert_eq!((c.updated, c.unchanged), (0, 4), "{c:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        article_requests(&server),
        vec!["/hutang/202402/t20240229_4823001.html".to_string()]
    );
    assert_eq!(p.store.entry_count("hutang").await.unwrap(), 5);
    let health = p.store.state("hutang").await.unwrap().scrape.unwrap();
    assert_eq!((health.articles_fetched, health.articles_known), (1, 4));
}

#[tokio::test]
async fn robots_txt_is_honoured_unless_the_source_opts_out() {
    let site = fixture_copy("mockweb");
    std::fs::write(
        site.path().join("robots.txt"),
        "User-agent: *\nDisallow: /hutang/202402/\n",
    )
    .unwrap();
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(site.path(), &server.base()));
    let p = pipeline(&cfg).await;

    // The list is allowed, the February articles are not: they are stored
    // from the list alone, and never requested.
    assert_eq!(new_count(&poll(&p, &cfg).await), 4);
    assert_eq!(
        article_requests(&server),
        vec!["/hutang/202401/t20240120_4803318.html".to_string()]
    );
    assert_eq!(
        server.requests_to("/robots.txt").len(),
        1,
        "cached per pass"
    );
    let health = p.store.state("hutang").await.unwrap().scrape.unwrap();
    assert_eq!(health.robots_denied, 3);

    // A disallowed list page is a source error.
    std::fs::write(
        site.path().join("robots.txt"),
        "User-agent: huiliu\nDisallow: /hutang/\n",
    )
    .unwrap();
    let work2 = tempfile::tempdir().unwrap();
    let cfg2 = config_in(work2.path(), &config_text(site.path(), &server.base()));
    let p2 = pipeline(&cfg2).await;
    server.clear_log();
    match poll(&p2, &cfg2).await {
        Outcome::Failed(e) => {
            assert!(
                e.contains("robots.txt") && e.contains("robots = false"),
                "{e}"
            )
        }
        other => panic!("expected an error, got {other:?}"),
    }
    let paths: Vec<String> = server.requests().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, vec!["/robots.txt".to_string()]);

    // `robots = false` opts out.
    let text = config_text(site.path(), &server.base())
        .replace("max_pages = 5", "max_pages = 5\nrobots = false");
    let work3 = tempfile::tempdir().unwrap();
    let cfg3 = config_in(work3.path(), &text);
    let p3 = pipeline(&cfg3).await;
    assert_eq!(new_count(&poll(&p3, &cfg3).await), 4);
}

#[tokio::test]
async fn a_redesigned_list_page_is_an_error_and_entries_are_kept() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(site.path(), &server.base()));
    let p = pipeline(&cfg).await;
    assert_eq!(new_count(&poll(&p, &cfg).await), 4);

    edit_gbk(&site.path().join("hutang/index.html"), |t| {
        t.replace("<ul class=\"list\">", "<ul class=\"news-list\">")
    });
    let outcome = poll(&p, &cfg).await;
    let expected = format!(
        "selector \"div.right ul.list > li\" matched 0 items on {}/hutang/index.html",
        server.base()
    );
    match &outcome {
        Outcome::Failed(e) => assert!(e.starts_with(&expected), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(p.store.entry_count("hutang").await.unwrap(), 4);
    let state = p.store.state("hutang").await.unwrap();
    assert!(state.last_error.unwrap().starts_with(&expected));
    let ours = serve(&cfg, &p).await;
    let feed = get_json(&format!("{ours}/feeds/hutang.json")).await;
    assert_eq!(feed["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn max_pages_bounds_pagination() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let text = config_text(site.path(), &server.base()).replace("max_pages = 5", "max_pages = 1");
    let cfg = config_in(work.path(), &text);
    let p = pipeline(&cfg).await;
    assert_eq!(new_count(&poll(&p, &cfg).await), 3);
    assert!(server.requests_to("/hutang/list_2.html").is_empty());
}

#[tokio::test]
async fn scrape_command_prints_entries_and_stores_nothing() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("huiliu.toml");
    std::fs::write(&config, config_text(site.path(), &server.base())).unwrap();
    let exe = env!("CARGO_BIN_EXE_huiliu");
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe).args(args).output().unwrap()
        })
    };
    let c = config.display().to_string();
    let out = run(vec![
        "scrape".into(),
        "--config".into(),
        c.clone(),
        "--source".into(),
        "hutang".into(),
        "--json".into(),
    ])
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let mayor = lines
        .iter()
        .find(|l| l["title"] == "凝心聚力推动高质量发展 用心用情建设高品质城区")
        .unwrap();
    assert_eq!(mayor["published"], "2024-01-20T09:30:00+08:00");
    assert_eq!(mayor["authors"][0]["name"], "丁涛");
    assert_eq!(mayor["authors"][0]["role"], "湖塘镇党委副书记、镇长");
    assert!(
        mayor["content_text"]
            .as_str()
            .unwrap()
            .starts_with("2024年是中华人民共和国成立75周年")
    );
    assert!(
        !work.path().join("data").exists(),
        "scrape must store nothing"
    );

    // Human-readable form, and a feed source is refused.
    let out = run(vec![
        "scrape".into(),
        "--config".into(),
        c.clone(),
        "--source".into(),
        "hutang".into(),
    ])
    .await
    .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("authors:   丁涛 (湖塘镇党委副书记、镇长)"),
        "{text}"
    );
    assert!(text.contains("2 page(s), 4 item(s)"), "{text}");
    let out = run(vec![
        "scrape".into(),
        "--config".into(),
        c,
        "--source".into(),
        "wjhtz".into(),
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn without_article_selectors_main_content_is_extracted() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let text = config_text(site.path(), &server.base());
    let from = text.find("  [source.article]").unwrap();
    let to = text.find("[[source]]\nid       = \"wjhtz\"").unwrap();
    let text = format!("{}{}", &text[..from], &text[to..]);
    assert!(!text.contains("TRS_Editor"));
    let cfg = config_in(work.path(), &text);
    let p = pipeline(&cfg).await;
    assert_eq!(new_count(&poll(&p, &cfg).await), 4);
    let ours = serve(&cfg, &p).await;
    let feed = get_json(&format!("{ours}/feeds/hutang.json")).await;
    check_expected(site.path(), &server, feed["items"].as_array().unwrap());
}

#[tokio::test]
async fn a_failed_article_page_is_retried_at_the_next_poll() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(work.path(), &config_text(site.path(), &server.base()));
    let p = pipeline(&cfg).await;
    let article = site.path().join("hutang/202402/t20240218_4819502.html");
    let saved = std::fs::read(&article).unwrap();
    std::fs::remove_file(&article).unwrap();

    assert_eq!(new_count(&poll(&p, &cfg).await), 3);
    let state = p.store.state("hutang").await.unwrap();
    let health = state.scrape.unwrap();
    assert_eq!((health.articles_fetched, health.articles_failed), (3, 1));
    assert!(
        health.problems[0].contains("t20240218_4819502.html"),
        "{:?}",
        health.problems
    );
    assert_eq!(state.etag, None, "the list must be read again next time");

    std::fs::write(&article, saved).unwrap();
    server.clear_log();
    assert_eq!(new_count(&poll(&p, &cfg).await), 1);
    assert_eq!(
        article_requests(&server),
        vec!["/hutang/202402/t20240218_4819502.html".to_string()]
    );
}
