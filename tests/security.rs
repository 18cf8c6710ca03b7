//! Hostile input, the security half: secrets in source URLs and headers never
//! reach an output, a page, a log line or an error; redirects and scraped
//! links from a "public" address to an internal one are refused; dangerous
//! URLs never reach a feed; the config refuses what would hammer a host,
//! break at run time or inject a header.
//!
//! Everything runs on loopback. 127.0.0.1 stands for the public internet
//! (through the fetcher's injectable address classifier) and 127.0.0.2 for
//! an intranet host.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use huiliu::fetch::address::{AddressClass, classify};
use huiliu::refresh::Pipeline;
use huiliu::schedule::poll_once;

/// Status, headers and body of a canned answer.
type Answer = (u16, Vec<(String, String)>, String);

/// A server answering canned responses by path, recording every request.
#[derive(Clone, Default)]
struct Canned {
    routes: Arc<Mutex<HashMap<String, Answer>>>,
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

struct Host {
    addr: SocketAddr,
    canned: Canned,
}

impl Host {
    async fn start(ip: [u8; 4]) -> Host {
        let listener = tokio::net::TcpListener::bind((IpAddr::from(ip), 0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let canned = Canned::default();
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(canned.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Host { addr, canned }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn route(&self, path: &str, status: u16, headers: &[(&str, &str)], body: &str) {
        self.canned.routes.lock().unwrap().insert(
            path.to_string(),
            (
                status,
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                body.to_string(),
            ),
        );
    }

    fn seen(&self) -> Vec<(String, HeaderMap)> {
        self.canned.seen.lock().unwrap().clone()
    }
}

async fn answer(State(c): State<Canned>, req: Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    c.seen.lock().unwrap().push((target, req.headers().clone()));
    let route = c.routes.lock().unwrap().get(req.uri().path()).cloned();
    let Some((status, headers, body)) = route else {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::from("not here"))
            .unwrap();
    };
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    r.body(Body::from(body)).unwrap()
}

/// 127.0.0.1 is "public" here; everything else keeps its real class.
fn pipeline_with_public_loopback(cfg: &huiliu::config::Config, store: Pipeline) -> Pipeline {
    let fetcher = huiliu::fetch::Fetcher::with_classifier(
        &cfg.fetch,
        Arc::new(|ip: IpAddr| {
            if ip == IpAddr::from([127, 0, 0, 1]) {
                AddressClass::Public
            } else {
                classify(ip)
            }
        }),
    )
    .unwrap();
    let mut p = Pipeline::new(fetcher, store.store.clone());
    p.dedup = store.dedup.clone();
    p
}

async fn get(url: &str) -> String {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.text().await.unwrap()
}

async fn get_all(base: &str, feed: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        format!("/feeds/{feed}.rss"),
        format!("/feeds/{feed}.atom"),
        format!("/feeds/{feed}.json"),
        format!("/feeds/{feed}.html"),
        "/opml".to_string(),
        "/status".to_string(),
        "/status.json".to_string(),
    ] {
        out.push((path.clone(), get(&format!("{base}{path}")).await));
    }
    out
}

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://example.org/</link>
<item><guid>a1</guid><title>first</title><link>http://example.org/a1</link><description>one</description></item>
</channel></rss>"#;

fn secret_config(dir: &Path, host: &Host) -> String {
    let with_creds = host
        .url("/feed.xml?apikey=SECRETKEY1&page=1")
        .replace("http://", "http://reader:hunter2pw@");
    format!(
        r#"[storage]
url = "sqlite:h.db"
[fetch]
host_delay = "0s"
timeout = "5s"

[[source]]
id = "paid"
url = "{with_creds}"
headers = {{ X-Api-Token = "HEADERSECRET3" }}

[[source]]
id = "broken"
url = "{broken}"

[[source]]
id = "local"
kind = "file"
url = "{missing}"

[[feed]]
id = "all"
title = "all"
sources = ["paid", "broken", "local"]
"#,
        broken = host.url("/private/3f9a8b7c6d5e4f3a2b1c0d9e8f7a/x.rss?token=TOKENSECRET2"),
        missing = dir.join("private-folder-x9").join("gone.xml").display(),
    )
}

const SECRETS: &[&str] = &[
    "hunter2pw",
    "SECRETKEY1",
    "TOKENSECRET2",
    "HEADERSECRET3",
    "3f9a8b7c6d5e4f3a2b1c0d9e8f7a",
    "private-folder-x9",
];

fn assert_no_secret(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret {s}:\n{text}");
    }
}

#[tokio::test]
async fn secrets_never_reach_an_output_a_page_or_an_error() {
    let host = Host::start([127, 0, 0, 1]).await;
    host.route(
        "/feed.xml",
        200,
        &[("content-type", "application/rss+xml")],
        RSS,
    );
    host.route(
        "/private/3f9a8b7c6d5e4f3a2b1c0d9e8f7a/x.rss",
        500,
        &[],
        "boom",
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_in(dir.path(), &secret_config(dir.path(), &host));
    let p = common::pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 3).await;
    for r in &reports {
        if let huiliu::refresh::Outcome::Failed(e) = &r.outcome {
            assert_no_secret("a poll report", e);
        }
    }
    assert!(
        reports
            .iter()
            .any(|r| r.source_id == "broken" && r.failed())
    );

    // The real URL and the header were used to fetch.
    let seen = host.seen();
    let feed = seen
        .iter()
        .find(|(t, _)| t.starts_with("/feed.xml"))
        .expect("the feed was fetched");
    assert_eq!(feed.0, "/feed.xml?apikey=SECRETKEY1&page=1");
    assert_eq!(feed.1["x-api-token"], "HEADERSECRET3");
    assert!(
        feed.1.contains_key("authorization"),
        "userinfo → basic auth"
    );

    let base = common::serve(&cfg, &p).await;
    let outputs = get_all(&base, "all").await;
    for (path, body) in &outputs {
        assert_no_secret(path, body);
    }
    let by_path: HashMap<_, _> = outputs.into_iter().collect();
    // The sources still show where they come from, without their secrets.
    assert!(
        by_path["/feeds/all.rss"].contains("/feed.xml?apikey=***&amp;page=1"),
        "{}",
        by_path["/feeds/all.rss"]
    );
    assert!(by_path["/opml"].contains("http://***@127.0.0.1"));
    let status: serde_json::Value = serde_json::from_str(&by_path["/status.json"]).unwrap();
    let rows = status["sources"].as_array().unwrap();
    let broken = rows.iter().find(|r| r["id"] == "broken").unwrap();
    assert_eq!(broken["error_kind"], "http_500");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("/private/***/x.rss?token=***"),
        "{broken}"
    );
    let local = rows.iter().find(|r| r["id"] == "local").unwrap();
    assert!(
        local["error"].as_str().unwrap().contains("\"gone.xml\""),
        "{local}"
    );
}

#[test]
fn secrets_never_reach_the_logs_or_the_command_line() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let host = rt.block_on(Host::start([127, 0, 0, 1]));
    host.route("/feed.xml", 502, &[], "bad gateway");
    host.route(
        "/private/3f9a8b7c6d5e4f3a2b1c0d9e8f7a/x.rss",
        500,
        &[],
        "boom",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huiliu.toml");
    std::fs::write(&path, secret_config(dir.path(), &host)).unwrap();
    let bin = env!("CARGO_BIN_EXE_huiliu");
    let poll = Command::new(bin)
        .args(["poll", "--config"])
        .arg(&path)
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&poll.stdout),
        String::from_utf8_lossy(&poll.stderr)
    );
    assert!(out.contains("apikey=***"), "{out}");
    assert_no_secret("huiliu poll", &out);
    let sources = Command::new(bin)
        .args(["sources", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&sources.stdout);
    assert!(out.contains("http_502"), "{out}");
    assert_no_secret("huiliu sources", &out);
    drop(rt);
}

const PUBLIC_LIST: &str = r#"<html><body><ul class="list">
<li><a href="/art/1.html">Public report</a></li>
<li><a href="{internal}/art/2.html">Internal report</a></li>
</ul></body></html>"#;

const ARTICLE: &str =
    r#"<html><body><h1>{title}</h1><div class="content"><p>{text}</p></div></body></html>"#;

fn article(title: &str, text: &str) -> String {
    ARTICLE.replace("{title}", title).replace("{text}", text)
}

fn private_config(public: &Host, extra_source: &str, extra: &str) -> String {
    format!(
        r#"[storage]
url = "sqlite:h.db"
[fetch]
host_delay = "0s"
timeout = "5s"
{extra}
[[source]]
id = "moved"
url = "{redirect}"
{extra_source}
[[source]]
id = "page"
kind = "html"
url = "{list}"
robots = false
article_delay = "0s"
{extra_source}
  [source.list]
  item = "ul.list li"
  link = "a"
  title = "a"
  [source.article]
  content = "div.content"

[[feed]]
id = "all"
title = "all"
sources = ["moved", "page"]
"#,
        redirect = public.url("/redirect.xml"),
        list = public.url("/list.html"),
    )
}

async fn private_setup() -> (Host, Host) {
    let public = Host::start([127, 0, 0, 1]).await;
    let internal = Host::start([127, 0, 0, 2]).await;
    let inside = internal.url("");
    public.route(
        "/redirect.xml",
        302,
        &[("location", &internal.url("/intranet.xml"))],
        "",
    );
    public.route(
        "/list.html",
        200,
        &[("content-type", "text/html")],
        &PUBLIC_LIST.replace("{internal}", &inside),
    );
    public.route(
        "/art/1.html",
        200,
        &[("content-type", "text/html")],
        &article("Public report", "Published for everyone."),
    );
    internal.route(
        "/art/2.html",
        200,
        &[("content-type", "text/html")],
        &article("Internal report", "INTRANET-ONLY salary table."),
    );
    internal.route(
        "/intranet.xml",
        200,
        &[("content-type", "application/rss+xml")],
        &RSS.replace("first", "INTRANET-ONLY feed"),
    );
    (public, internal)
}

#[tokio::test]
async fn redirects_and_links_from_public_to_internal_addresses_are_refused() {
    let (public, internal) = private_setup().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_in(dir.path(), &private_config(&public, "", ""));
    let p = pipeline_with_public_loopback(&cfg, common::pipeline(&cfg).await);
    let reports = poll_once(&p, &cfg.sources, 2).await;

    assert!(internal.seen().is_empty(), "{:?}", internal.seen());
    let moved = reports.iter().find(|r| r.source_id == "moved").unwrap();
    assert!(moved.failed());
    let state = p.store.state("moved").await.unwrap();
    assert_eq!(state.error_kind.as_deref(), Some("private_address"));
    let error = state.last_error.unwrap();
    assert!(error.contains("allow_private = true"), "{error}");
    assert!(error.contains("loopback address 127.0.0.2"), "{error}");

    // The public article is published, the internal one is not fetched.
    let page = p.store.state("page").await.unwrap();
    let health = page.scrape.unwrap();
    assert_eq!(health.articles_fetched, 1);
    assert_eq!(health.articles_failed, 1);
    assert!(
        health
            .problems
            .iter()
            .any(|m| m.contains("private_address")),
        "{:?}",
        health.problems
    );
    let base = common::serve(&cfg, &p).await;
    let json = get(&format!("{base}/feeds/all.json")).await;
    assert!(json.contains("Published for everyone."), "{json}");
    assert!(!json.contains("INTRANET-ONLY"), "{json}");
}

#[tokio::test]
async fn allow_private_on_the_source_or_the_host_lets_them_through() {
    for (extra_source, extra) in [
        ("allow_private = true", ""),
        ("", "[[host]]\nname = \"127.0.0.2\"\nallow_private = true\n"),
    ] {
        let (public, internal) = private_setup().await;
        let dir = tempfile::tempdir().unwrap();
        let cfg = common::config_in(dir.path(), &private_config(&public, extra_source, extra));
        let p = pipeline_with_public_loopback(&cfg, common::pipeline(&cfg).await);
        let reports = poll_once(&p, &cfg.sources, 2).await;
        assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
        let paths: Vec<String> = internal.seen().into_iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&"/intranet.xml".to_string()), "{paths:?}");
        assert!(paths.contains(&"/art/2.html".to_string()), "{paths:?}");
    }
}

#[tokio::test]
async fn a_source_on_an_internal_address_keeps_its_own_redirects_and_headers() {
    // The standard classification: the source itself is on loopback, so
    // loopback targets are its own class; its headers go to its host only.
    let (_public, internal) = private_setup().await;
    let other = Host::start([127, 0, 0, 3]).await;
    internal.route(
        "/start.xml",
        302,
        &[("location", &other.url("/feed.xml"))],
        "",
    );
    other.route(
        "/feed.xml",
        200,
        &[("content-type", "application/rss+xml")],
        RSS,
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_in(
        dir.path(),
        &format!(
            "[storage]\nurl = \"sqlite:h.db\"\n[fetch]\nhost_delay = \"0s\"\n[[source]]\nid = \"own\"\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer HEADERSECRET3\" }}\n",
            internal.url("/start.xml")
        ),
    );
    let p = common::pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 1).await;
    assert!(!reports[0].failed(), "{reports:?}");
    let first = &internal.seen()[0];
    assert_eq!(first.1["authorization"], "Bearer HEADERSECRET3");
    let hop = &other.seen()[0];
    assert_eq!(hop.0, "/feed.xml");
    assert!(
        !hop.1.contains_key("authorization"),
        "a source's headers never follow a redirect to another host"
    );
}

#[tokio::test]
async fn dangerous_urls_never_reach_any_output_format() {
    let host = Host::start([127, 0, 0, 1]).await;
    let vectors = [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(2)",
        "  javascript:alert(3)",
        "\tjava\tscript:alert(4)",
        "&#106;avascript:alert(5)",
        "vbscript:msgbox(6)",
        "data:text/html;base64,PHNjcmlwdD4=",
    ];
    let esc = |s: &str| s.replace('&', "&amp;").replace('\t', "&#9;");
    let mut rss = String::from(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://example.org/</link>"#,
    );
    let mut atom = String::from(
        r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:t</id><updated>2024-01-01T00:00:00Z</updated>"#,
    );
    let mut json_items = Vec::new();
    for (i, v) in vectors.iter().enumerate() {
        rss.push_str(&format!(
            r#"<item><guid>r{i}</guid><title>rss {i}</title><link>{v}</link><description>x</description><enclosure url="{v}" type="audio/mpeg" length="1"/></item>"#,
            v = esc(v)
        ));
        atom.push_str(&format!(
            r#"<entry><id>urn:a{i}</id><title>atom {i}</title><updated>2024-01-01T00:00:00Z</updated><link href="{v}"/><author><name>n{i}</name><uri>{v}</uri></author><summary>x</summary></entry>"#,
            v = esc(v)
        ));
        json_items.push(serde_json::json!({
            "id": format!("j{i}"), "title": format!("json {i}"), "url": v,
            "content_text": "x",
            "authors": [{ "name": format!("n{i}"), "url": v }],
            "attachments": [{ "url": v, "mime_type": "audio/mpeg" }],
        }));
    }
    rss.push_str("</channel></rss>");
    atom.push_str("</feed>");
    let json = serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1", "title": "t", "items": json_items,
    });
    host.route(
        "/f.rss",
        200,
        &[("content-type", "application/rss+xml")],
        &rss,
    );
    host.route(
        "/f.atom",
        200,
        &[("content-type", "application/atom+xml")],
        &atom,
    );
    host.route(
        "/f.json",
        200,
        &[("content-type", "application/feed+json")],
        &json.to_string(),
    );
    let mut list = String::from(r#"<html><body><ul class="list">"#);
    for (i, v) in vectors.iter().enumerate() {
        list.push_str(&format!(
            r#"<li><a href="/a{i}.html">list {i}</a><img src="{v}"></li>"#,
            v = esc(v)
        ));
    }
    list.push_str("</ul></body></html>");
    host.route("/list.html", 200, &[("content-type", "text/html")], &list);

    let dir = tempfile::tempdir().unwrap();
    let cfg = common::config_in(
        dir.path(),
        &format!(
            r#"[storage]
url = "sqlite:h.db"
[fetch]
host_delay = "0s"
[[source]]
id = "rss"
url = "{rss}"
[[source]]
id = "atom"
url = "{atom}"
[[source]]
id = "json"
url = "{json}"
[[source]]
id = "list"
kind = "html"
url = "{list}"
fetch_articles = false
robots = false
  [source.list]
  item = "ul.list li"
  link = "a"
  title = "a"
  image = "img"
[[feed]]
id = "all"
title = "all"
limit = 100
dedup = false
sources = ["rss", "atom", "json", "list"]
"#,
            rss = host.url("/f.rss"),
            atom = host.url("/f.atom"),
            json = host.url("/f.json"),
            list = host.url("/list.html"),
        ),
    );
    let p = common::pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 4).await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");

    // A row stored before the check existed: the guard at output drops it.
    let mut old = huiliu::normalize::normalize_entry(
        &huiliu::parse::RawEntry {
            guid: Some("old".into()),
            title: Some("stored long ago".into()),
            ..Default::default()
        },
        cfg.source("rss").unwrap(),
        &cfg.source("rss").unwrap().url,
        None,
    );
    old.url = Some("javascript:alert(7)".into());
    old.enclosures.push(huiliu::model::Enclosure {
        url: " JAVASCRIPT:alert(8)".into(),
        mime_type: "audio/mpeg".into(),
        length: None,
    });
    old.authors.push(huiliu::model::Author {
        url: Some("javascript:alert(9)".into()),
        ..huiliu::model::Author::named("old")
    });
    let state = p.store.state("rss").await.unwrap();
    p.store
        .commit_poll(&state, &[old], chrono::Utc::now())
        .await
        .unwrap();

    let base = common::serve(&cfg, &p).await;
    // Every URL an output carries (attributes, elements, JSON fields) is
    // http, https or mailto. A vector that was made into a harmless http
    // URL (`java script:` as a relative path) may stay.
    let url_fields = regex::Regex::new(
        r#"(?i)(?:url|href|src|uri)\s*=\s*"([^"]*)"|<(?:link|uri|comments)>([^<]*)<|"(?:url|external_url|home_page_url|feed_url)"\s*:\s*"([^"]*)""#,
    )
    .unwrap();
    for format in ["rss", "atom", "json", "html"] {
        let body = get(&format!("{base}/feeds/all.{format}")).await;
        let mut urls = 0;
        for c in url_fields.captures_iter(&body) {
            let value = (1..=3).find_map(|i| c.get(i)).unwrap().as_str();
            let value = value.replace("&amp;", "&").replace("&#x3A;", ":");
            urls += 1;
            assert!(
                value.starts_with("http://")
                    || value.starts_with("https://")
                    || value.starts_with("mailto:"),
                "{format} carries the URL {value:?}"
            );
        }
        assert!(urls > 10, "{format}: {urls} URLs found");
        let lower = body.to_ascii_lowercase();
        for bad in [
            "\"javascript",
            ">javascript",
            "\"vbscript",
            "\"data:",
            ">data:",
        ] {
            assert!(!lower.contains(bad), "{format} contains {bad}:\n{body}");
        }
        for title in ["rss 0", "atom 0", "json 0", "list 0", "stored long ago"] {
            assert!(body.contains(title), "{format} lost the entry {title}");
        }
    }
}

/// The located errors `huiliu check` gives for each refused value.
fn check_errors(body: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, body).unwrap();
    match huiliu::config::load_file(&path) {
        Ok(_) => Vec::new(),
        Err(e) => {
            e.0.iter()
                .map(|e| format!("{}:{}: {}: {}", e.line, e.column, e.field, e.message))
                .collect()
        }
    }
}

#[test]
fn the_config_refuses_what_would_hammer_break_or_inject() {
    let src = |extra: &str| {
        format!("[[source]]\nid = \"a\"\nurl = \"https://news.example.org/feed\"\n{extra}\n")
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            &src("interval = \"1ms\""),
            "4:12: source[1].interval",
            "at least 1m",
        ),
        (
            &src("interval = \"30s\""),
            "4:12: source[1].interval",
            "at least 1m",
        ),
        (
            &src("min_interval = \"5s\""),
            "4:16: source[1].min_interval",
            "at least 1m",
        ),
        (
            &src("interval = \"99999999999d\""),
            "4:12: source[1].interval",
            "too long",
        ),
        (
            &src("interval = \"400d\""),
            "4:12: source[1].interval",
            "365d",
        ),
        (
            &src("max_interval = \"3000d\""),
            "4:16: source[1].max_interval",
            "365d",
        ),
        (
            "[fetch]\ntimeout = \"0s\"\n",
            "2:11: fetch.timeout",
            "at least 1s",
        ),
        (
            "[fetch]\nconnect_timeout = \"500ms\"\n",
            "2:19: fetch.connect_timeout",
            "at least 1s",
        ),
        (
            "[fetch]\nparse_budget = \"0s\"\n",
            "2:16: fetch.parse_budget",
            "at least 1s",
        ),
        (
            "[fetch]\nparse_budget = \"10ms\"\n",
            "2:16: fetch.parse_budget",
            "at least 1s",
        ),
        (
            "[fetch]\nuser_agent = \"huiliu\\r\\nX-Injected: 1\"\n",
            "2:14: fetch.user_agent",
            "control character",
        ),
        (
            &src("headers = { Authorization = \"Bearer x\\nX-Evil: 1\" }"),
            "4:29: source[1].headers.Authorization",
            "control character",
        ),
        (
            "[retention]\nprune_interval = \"99999999999d\"\n",
            "2:18: retention.prune_interval",
            "too long",
        ),
    ];
    for (body, at, message) in cases {
        let errors = check_errors(body);
        assert!(
            errors
                .iter()
                .any(|e| e.starts_with(at) && e.contains(message)),
            "{body}\n→ {errors:?}"
        );
    }
    // A `[[host]]` may allow shorter intervals for its own sources.
    let host = "[[host]]\nname = \"news.example.org\"\nmin_interval = \"10s\"\n";
    assert!(check_errors(&format!("{host}{}", src("interval = \"10s\""))).is_empty());
    let errors = check_errors(&format!("{host}{}", src("interval = \"5s\"")));
    assert!(
        errors[0].contains("at least 10s") && errors[0].contains("news.example.org"),
        "{errors:?}"
    );
    // Another host's rule does not.
    let other = "[[host]]\nname = \"other.example.org\"\nmin_interval = \"10s\"\n";
    assert!(!check_errors(&format!("{other}{}", src("interval = \"10s\""))).is_empty());
    // A config error never prints a URL's secrets.
    let errors =
        check_errors("[[source]]\nid = \"a\"\nurl = \"ftp://u:hunter2pw@h/x?apikey=SECRETKEY1\"\n");
    assert!(!errors.is_empty());
    for e in &errors {
        assert_no_secret("a config error", e);
    }
}

#[test]
fn huiliu_check_reports_the_refusal_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[fetch]\ntimeout = \"0s\"\n\n[[source]]\nid = \"a\"\nurl = \"https://news.example.org/feed\"\ninterval = \"1ms\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_huiliu"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad.toml:2:11: fetch.timeout"), "{text}");
    assert!(text.contains("bad.toml:7:12: source[1].interval"), "{text}");
}
