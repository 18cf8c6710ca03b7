//! The outputs as readers, people, other sites and sysadmins see them:
//! validity of every format, filters, paging, HTML pages, compression,
//! conditional requests, status, OPML, metrics and WebSub.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::sync::{Arc, Mutex};

use common::{config_in, demo, pipeline, serve, serve_state};
use huiliu::schedule::poll_once;
use serde_json::Value;

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
}

async fn text(url: &str) -> String {
    get(url).await.text().await.unwrap()
}

fn is_absolute(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Every demo output parses back with feed-rs, rss and atom_syndication;
/// RSS dates are RFC 822, Atom RFC 3339, ids unique; the JSON Feed meets the
/// JSON Feed 1.1 schema's requirements.
#[tokio::test]
async fn demo_outputs_are_valid_in_every_format() {
    let (_w, cfg, p) = demo().await;
    let ours = serve(&cfg, &p).await;

    let rss_bytes = get(&format!("{ours}/feeds/wujin.rss"))
        .await
        .bytes()
        .await
        .unwrap();
    let channel = rss::Channel::read_from(&rss_bytes[..]).unwrap();
    assert!(!channel.title().is_empty() && is_absolute(channel.link()));
    assert!(!channel.description().is_empty());
    let mut guids = HashSet::new();
    for item in channel.items() {
        chrono::DateTime::parse_from_rfc2822(item.pub_date().unwrap()).unwrap();
        let guid = item.guid().unwrap();
        assert!(!guid.is_permalink());
        assert!(guids.insert(guid.value().to_string()), "duplicate guid");
        assert!(is_absolute(item.link().unwrap()));
        assert!(item.title().is_some());
    }
    assert_eq!(channel.items().len(), 7);
    let rss_text = String::from_utf8(rss_bytes.to_vec()).unwrap();
    assert!(rss_text.contains("rel=\"self\""));
    assert!(!rss_text.contains("<script"), "sanitized");

    let atom_bytes = get(&format!("{ours}/feeds/wujin.atom"))
        .await
        .bytes()
        .await
        .unwrap();
    let atom = atom_syndication::Feed::read_from(&atom_bytes[..]).unwrap();
    assert!(atom.updated().timestamp() > 0);
    let mut ids = HashSet::new();
    for e in atom.entries() {
        assert!(e.id().starts_with("urn:uuid:"));
        assert!(ids.insert(e.id().to_string()));
        assert!(e.updated().timestamp() > 0);
        assert!(e.published().is_some());
        assert!(e.source().unwrap().updated().timestamp() > 0);
    }
    assert_eq!(ids, guids, "RSS and Atom share ids");
    let atom_text = String::from_utf8(atom_bytes.to_vec()).unwrap();
    for stamp in atom_text.split("<updated>").skip(1) {
        let value = &stamp[..stamp.find('<').unwrap()];
        chrono::DateTime::parse_from_rfc3339(value).unwrap_or_else(|e| panic!("{value}: {e}"));
    }
    let parsed = feed_rs::parser::parse(&atom_bytes[..]).unwrap();
    assert_eq!(parsed.entries.len(), 7);
    feed_rs::parser::parse(&rss_bytes[..]).unwrap();

    let json_bytes = get(&format!("{ours}/feeds/wujin.json"))
        .await
        .bytes()
        .await
        .unwrap();
    feed_rs::parser::parse(&json_bytes[..]).unwrap();
    let json: Value = serde_json::from_slice(&json_bytes).unwrap();
    check_json_feed_schema(&json);

    // The mayor's article and the English entries, with their dates and authors.
    let items = json["items"].as_array().unwrap();
    let mayor = items
        .iter()
        .find(|i| i["title"] == "凝心聚力推动高质量发展 用心用情建设高品质城区")
        .unwrap();
    assert_eq!(mayor["authors"][0]["name"], "丁涛");
    assert_eq!(mayor["date_published"], "2024-01-20T01:30:00+00:00");
    let english = items
        .iter()
        .find(|i| {
            i["title"] == "Wujin high-tech zone opens eight new projects worth 3.6 billion yuan"
        })
        .unwrap();
    assert_eq!(english["authors"][0]["name"], "Li Wei");
    assert!(
        english["content_html"]
            .as_str()
            .unwrap()
            .contains("https://www.cz.example.org/img/groundbreaking.jpg")
    );
    assert_eq!(
        english["url"],
        "https://www.cz.example.org/en/2024/02/21/wujin-projects.html"
    );
}

/// The requirements of the JSON Feed 1.1 schema, checked field by field.
fn check_json_feed_schema(feed: &Value) {
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert!(feed["title"].is_string());
    for key in ["home_page_url", "feed_url"] {
        assert!(is_absolute(feed[key].as_str().unwrap()), "{key}");
    }
    let allowed_top = [
        "version",
        "title",
        "home_page_url",
        "feed_url",
        "description",
        "user_comment",
        "next_url",
        "icon",
        "favicon",
        "authors",
        "language",
        "expired",
        "hubs",
        "items",
    ];
    for key in feed.as_object().unwrap().keys() {
        assert!(
            allowed_top.contains(&key.as_str()) || key.starts_with('_'),
            "unknown key {key}"
        );
    }
    let allowed_item = [
        "id",
        "url",
        "external_url",
        "title",
        "content_html",
        "content_text",
        "summary",
        "image",
        "banner_image",
        "date_published",
        "date_modified",
        "authors",
        "tags",
        "language",
        "attachments",
    ];
    let mut ids = HashSet::new();
    for item in feed["items"].as_array().unwrap() {
        let obj = item.as_object().unwrap();
        for key in obj.keys() {
            assert!(
                allowed_item.contains(&key.as_str()) || key.starts_with('_'),
                "unknown item key {key}"
            );
        }
        let id = item["id"].as_str().expect("id is a string");
        assert!(ids.insert(id.to_string()), "ids unique");
        assert!(
            item["content_html"].is_string() || item["content_text"].is_string(),
            "content required"
        );
        for key in ["date_published", "date_modified"] {
            if let Some(d) = item.get(key) {
                chrono::DateTime::parse_from_rfc3339(d.as_str().unwrap()).unwrap();
            }
        }
        if let Some(url) = item.get("url") {
            assert!(is_absolute(url.as_str().unwrap()));
        }
        for a in item
            .get("authors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(a["name"].is_string() || a["url"].is_string() || a["avatar"].is_string());
        }
        for t in item
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            assert!(t.is_string());
        }
    }
}

#[tokio::test]
async fn filters_paging_and_links() {
    let (_w, mut cfg, p) = demo().await;
    // An output of English entries only, and one paged by two without notices.
    let work = tempfile::tempdir().unwrap();
    let extra = config_in(
        work.path(),
        &format!(
            r#"
[[source]]
id = "hutang"
kind = "file"
url = "{root}/config/demo/hutang.atom"
[[source]]
id = "wjhtz"
kind = "file"
url = "{root}/config/demo/wjhtz.xml"
[[source]]
id = "czdaily-en"
kind = "file"
url = "{root}/config/demo/english.xml"
[[feed]]
id = "english"
language = ["en"]
[[feed]]
id = "paged"
limit = 2
exclude = ["通知", "/(?i)lantern/"]
[[feed]]
id = "fairs"
include = ["招聘", "job fair"]
match = ["title"]
"#,
            root = env!("CARGO_MANIFEST_DIR")
        ),
    );
    cfg.feeds = extra.feeds;
    let ours = serve(&cfg, &p).await;

    let english: Value =
        serde_json::from_str(&text(&format!("{ours}/feeds/english.json")).await).unwrap();
    assert_eq!(english["items"].as_array().unwrap().len(), 3);

    let fairs: Value =
        serde_json::from_str(&text(&format!("{ours}/feeds/fairs.json")).await).unwrap();
    let titles: Vec<&str> = fairs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Spring job fair offers more than 5,000 positions"]);

    // 7 entries, minus the notice and the lanterns = 5: pages of 2, 2, 1.
    let mut seen = Vec::new();
    let mut next = Some(format!("{ours}/feeds/paged.json"));
    while let Some(url) = next {
        let page: Value = serde_json::from_str(&text(&url).await).unwrap();
        for i in page["items"].as_array().unwrap() {
            seen.push(i["title"].as_str().unwrap().to_string());
        }
        next = page
            .get("next_url")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|t| t.contains("通知") || t.contains("Lantern"))
    );
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 5);

    let atom2 = text(&format!("{ours}/feeds/paged.atom?page=2")).await;
    assert!(
        atom2.contains("rel=\"next\"")
            && atom2.contains("rel=\"previous\"")
            && atom2.contains("rel=\"first\"")
    );
    assert!(atom2.contains("paged.atom?page=3"));
    let rss3 = text(&format!("{ours}/feeds/paged.rss?page=3")).await;
    assert!(!rss3.contains("rel=\"next\"") && rss3.contains("rel=\"previous\""));
    assert_eq!(
        get(&format!("{ours}/feeds/paged.rss?page=4"))
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&format!("{ours}/feeds/paged.rss?page=zero"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn html_pages_escape_and_forbid_scripts() {
    let (_w, cfg, p) = demo().await;
    let ours = serve(&cfg, &p).await;
    let r = get(&format!("{ours}/feeds/wujin.html")).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"));
    let html = r.text().await.unwrap();
    assert!(html.contains("凝心聚力推动高质量发展"));
    assert!(
        html.contains("type=\"application/atom+xml\""),
        "autodiscovery"
    );
    assert!(
        html.contains("2024-01-20 09:30"),
        "local time in Asia/Shanghai"
    );
    assert!(!html.contains("<script"));
    assert!(
        html.contains("Hutang&#x27;s")
            || html.contains("Hutang&#39;s")
            || html.contains("Hutang's")
    );
    assert_eq!(
        text(&format!("{ours}/feeds/wujin")).await,
        html,
        "/feeds/{{id}} is the page"
    );
    let index = text(&format!("{ours}/")).await;
    assert!(index.contains("/feeds/wujin.html") && index.contains("/feeds/wujin.json"));
}

#[tokio::test]
async fn compression_validators_cors_and_cache_control() {
    let (_w, cfg, p) = demo().await;
    let (ours, state) = serve_state(&cfg, &p).await;
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let url = format!("{ours}/feeds/wujin.atom");
    let plain = client.get(&url).send().await.unwrap();
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    assert_eq!(plain.headers()["cache-control"], "public, max-age=150");
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
    let plain_body = plain.bytes().await.unwrap();

    let gz = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let gz_etag = gz.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(gz_etag, plain_etag, "each encoding has its own strong ETag");
    let gz_body = gz.bytes().await.unwrap();
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz_body[..])
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, plain_body);

    let br = client
        .get(&url)
        .header("Accept-Encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &br.bytes().await.unwrap()[..], &mut out).unwrap();
    assert_eq!(out, plain_body);

    let r = client
        .get(&url)
        .header("Accept-Encoding", "gzip")
        .header("If-None-Match", &gz_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());

    // The cached bytes are reused until the store changes.
    let again = client.get(&url).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), plain_etag);
    let generation = p.changes.load(std::sync::atomic::Ordering::Acquire);
    let first = state.cache.get("wujin", "atom", 1, generation).unwrap();
    let _ = client.get(&url).send().await.unwrap();
    assert!(Arc::ptr_eq(
        &first,
        &state.cache.get("wujin", "atom", 1, generation).unwrap()
    ));
}

#[tokio::test]
async fn status_opml_metrics_and_token() {
    let (_w, mut cfg, p) = demo().await;
    let ours = serve(&cfg, &p).await;
    let status = get(&format!("{ours}/status")).await;
    assert_eq!(status.status(), 200);
    let html = status.text().await.unwrap();
    assert!(html.contains("湖塘镇人民政府 · 湖塘要闻") && html.contains("<svg"));
    let json: Value = serde_json::from_str(&text(&format!("{ours}/status.json")).await).unwrap();
    assert_eq!(json["sources"].as_array().unwrap().len(), 3);
    assert_eq!(json["sources"][0]["status"], "ok");
    assert_eq!(json["sources"][0]["url"], "(local file)");
    assert_eq!(json["per_day"].as_array().unwrap().len(), 30);

    let opml = text(&format!("{ours}/opml")).await;
    let feeds = huiliu::config::parse_opml(&opml).unwrap();
    assert!(
        feeds
            .iter()
            .any(|f| f.xml_url.ends_with("/feeds/wujin.rss"))
    );
    assert!(!opml.contains("file://"), "local paths stay private");

    let metrics = text(&format!("{ours}/metrics")).await;
    assert!(metrics.contains("huiliu_polls_total{result=\"ok\"}"));
    assert!(metrics.contains("huiliu_entries_stored 7"));
    assert!(metrics.contains("huiliu_http_requests_total{route=\"/status\",status=\"200\"}"));

    cfg.server.admin_token = Some("s3cret-token-0123456789".into());
    let ours = serve(&cfg, &p).await;
    assert_eq!(get(&format!("{ours}/metrics")).await.status(), 401);
    assert_eq!(get(&format!("{ours}/status.json")).await.status(), 401);
    let ok = reqwest::Client::new()
        .get(format!("{ours}/status"))
        .bearer_auth("s3cret-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        get(&format!("{ours}/feeds/wujin.rss")).await.status(),
        200,
        "feeds stay public"
    );
}

/// A fake hub on 127.0.0.1 records what huiliu tells it.
#[tokio::test]
async fn websub_hub_is_announced_and_notified_on_change() {
    let recorded: Arc<Mutex<Vec<String>>> = Arc::default();
    let rec = recorded.clone();
    let hub = axum::Router::new().route(
        "/hub",
        axum::routing::post(move |body: String| {
            let rec = rec.clone();
            async move {
                rec.lock().unwrap().push(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hub_url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hub).await });

    // Sources served from a folder the test edits.
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(
        root.join("config/demo/english.xml"),
        dir.path().join("en.xml"),
    )
    .unwrap();
    let cfg = config_in(
        dir.path(),
        &format!(
            "[server]\nwebsub_hub = \"{hub_url}\"\n[storage]\nurl = \"sqlite:h.db\"\n[[source]]\nid = \"en\"\nkind = \"file\"\nurl = \"en.xml\"\n[[feed]]\nid = \"news\"\n"
        ),
    );
    let p = pipeline(&cfg).await;
    poll_once(&p, &cfg.sources, 1).await;
    let (ours, state) = serve_state(&cfg, &p).await;
    let atom = text(&format!("{ours}/feeds/news.atom")).await;
    assert!(
        atom.contains(&format!("href=\"{hub_url}\" rel=\"hub\"")),
        "{atom}"
    );
    let json: Value =
        serde_json::from_str(&text(&format!("{ours}/feeds/news.json")).await).unwrap();
    assert_eq!(json["hubs"][0]["url"], hub_url.as_str());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let hub_parsed = url::Url::parse(&hub_url).unwrap();
    let notifier = tokio::spawn(huiliu::serve::websub::notify_loop(
        state.clone(),
        hub_parsed,
        std::time::Duration::from_millis(50),
        stop_rx,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(recorded.lock().unwrap().is_empty(), "nothing changed yet");

    let xml = std::fs::read_to_string(dir.path().join("en.xml")).unwrap();
    std::fs::write(
        dir.path().join("en.xml"),
        xml.replace("about 12,000 residents", "about 13,000 residents"),
    )
    .unwrap();
    poll_once(&p, &cfg.sources, 1).await;
    let mut waited = 0;
    while recorded.lock().unwrap().len() < 3 && waited < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    let got = recorded.lock().unwrap().clone();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|b| b.starts_with("hub.mode=publish&hub.url="))
    );
    assert!(got.iter().any(|b| b.contains("news.atom")));
    let _ = stop_tx.send(true);
    let _ = notifier.await;
}

/// Reads one HTTP/1.1 response (head, then a body of Content-Length bytes
/// unless `head_only`) from a keep-alive connection.
fn read_response(
    conn: &mut std::io::BufReader<std::net::TcpStream>,
    head_only: bool,
) -> (String, Vec<u8>) {
    use std::io::BufRead;
    let mut head = String::new();
    loop {
        let mut line = String::new();
        conn.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; if head_only { 0 } else { length }];
    conn.read_exact(&mut body).unwrap();
    (head, body)
}

/// On one keep-alive connection: HEAD answers headers only (with the
/// length GET would send), a page is built on a miss and served from the
/// cache after, and other methods are refused with 405.
#[tokio::test]
async fn one_connection_serves_head_get_and_refuses_other_methods() {
    use std::io::Write;
    let (_w, cfg, p) = demo().await;
    let ours = serve(&cfg, &p).await;
    let addr = ours
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let answers = tokio::task::spawn_blocking(move || {
        let stream = std::net::TcpStream::connect(&addr).unwrap();
        let mut conn = std::io::BufReader::new(stream.try_clone().unwrap());
        let send = |req: &str| {
            (&stream)
                .write_all(format!("{req} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap()
        };
        let mut answers = Vec::new();
        send("HEAD /feeds/wujin.rss");
        answers.push(read_response(&mut conn, true));
        send("GET /feeds/wujin.rss");
        answers.push(read_response(&mut conn, false));
        send("GET /feeds/wujin.rss");
        answers.push(read_response(&mut conn, false));
        send("DELETE /feeds/wujin.rss");
        answers.push(read_response(&mut conn, false));
        send("GET /healthz");
        answers.push(read_response(&mut conn, false));
        answers
    })
    .await
    .unwrap();
    let status = |i: usize| answers[i].0.lines().next().unwrap_or("").to_string();
    assert!(status(0).contains(" 200 "), "{}", answers[0].0);
    let len = |i: usize| {
        answers[i]
            .0
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap_or("")
            .to_string()
    };
    assert!(status(1).contains(" 200 ") && status(2).contains(" 200 "));
    assert_eq!(len(0), len(1), "HEAD announces GET's length");
    assert!(answers[1].1.starts_with(b"<?xml"));
    assert_eq!(answers[1].1, answers[2].1, "the cached copy is the same");
    assert!(status(3).contains(" 405 "), "{}", answers[3].0);
    assert!(status(4).contains(" 200 "), "{}", answers[4].0);
}
