//! Polling never stalls, whatever the number of sources on one host: many
//! scraped columns of one site (list page + article pages each), many feeds
//! of one host that each redirect, and sources on other hosts that must keep
//! their schedule meanwhile. Default `[fetch]` limits (8 workers, 2 requests
//! per host) with short delays so each test ends in seconds; the limits, not
//! the delays, are what used to deadlock. Each pass is bounded by a timeout,
//! and the per-host limit is checked on every request.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use huiliu::refresh::{Outcome, PollReport};
use huiliu::schedule::poll_once;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Default)]
struct Log {
    requests: Vec<String>,
    in_flight: usize,
    max_in_flight: usize,
}

/// A site on one loopback address: `/colN/index.html` lists two articles
/// `/colN/aK.html`; `/feedN` redirects to `/feedN.xml`.
struct Site {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl Site {
    async fn start(ip: &str) -> Site {
        let listener = TcpListener::bind(format!("{ip}:0")).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let l = log.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(handle(sock, l.clone()));
            }
        });
        Site { addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn count(&self, prefix: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.requests
            .iter()
            .filter(|p| p.starts_with(prefix))
            .count()
    }

    fn max_in_flight(&self) -> usize {
        self.log.lock().unwrap().max_in_flight
    }
}

async fn handle(mut sock: TcpStream, log: Arc<Mutex<Log>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let path = text.split(' ').nth(1).unwrap_or("/").to_string();
    {
        let mut l = log.lock().unwrap();
        l.requests.push(path.clone());
        l.in_flight += 1;
        l.max_in_flight = l.max_in_flight.max(l.in_flight);
    }
    // A little server time, so requests overlap if the limits let them.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (status, ctype, location, body) = answer(&path);
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(loc) = location {
        head.push_str(&format!("Location: {loc}\r\n"));
    }
    head.push_str("\r\n");
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
    let _ = sock.flush().await;
    log.lock().unwrap().in_flight -= 1;
}

fn answer(path: &str) -> (&'static str, &'static str, Option<String>, String) {
    let html = "text/html; charset=utf-8";
    if let Some(col) = path
        .strip_prefix("/col")
        .and_then(|r| r.strip_suffix("/index.html"))
    {
        let items: String = (1..=2)
            .map(|k| {
                format!(
                    "<li><a href=\"/col{col}/a{k}.html\">第{col}栏 第{k}篇</a><span>2024-05-0{k}</span></li>"
                )
            })
            .collect();
        let body = format!("<html><body><ul class=\"list\">{items}</ul></body></html>");
        return ("200 OK", html, None, body);
    }
    if path.starts_with("/col") && path.ends_with(".html") {
        let body = format!(
            "<html><body><h1>文章 {path}</h1><div class=\"content\"><p>正文 {path}，内容完整。</p></div></body></html>"
        );
        return ("200 OK", html, None, body);
    }
    if let Some(n) = path.strip_prefix("/feed") {
        if let Some(n) = n.strip_suffix(".xml") {
            let body = format!(
                "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>feed {n}</title><link>http://example.org/</link>\
                 <item><guid>f{n}-{}</guid><title>Item of feed {n}</title><link>http://example.org/{n}</link><description>Body {n}</description></item>\
                 </channel></rss>",
                rand_tag()
            );
            return ("200 OK", "application/rss+xml", None, body);
        }
        return (
            "302 Found",
            html,
            Some(format!("/feed{n}.xml")),
            String::new(),
        );
    }
    ("404 Not Found", html, None, "not found".into())
}

/// A new guid per request, so every poll of a feed stores something.
fn rand_tag() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn html_source(site: &Site, n: usize) -> String {
    format!(
        "[[source]]\nid = \"col{n}\"\nkind = \"html\"\nurl = \"{}\"\nrobots = false\narticle_delay = \"10ms\"\n\
         [source.list]\nitem = \"ul.list > li\"\nlink = \"a\"\ntitle = \"a\"\ndate = \"span\"\ndate_format = \"%Y-%m-%d\"\n\
         [source.article]\ncontent = \"div.content\"\n\n",
        site.url(&format!("/col{n}/index.html"))
    )
}

fn feed_source(site: &Site, id: &str, n: usize, interval: &str) -> String {
    format!(
        "[[source]]\nid = \"{id}\"\nurl = \"{}\"\ninterval = \"{interval}\"\nmin_interval = \"{interval}\"\n\n",
        site.url(&format!("/feed{n}"))
    )
}

/// Default `[fetch]` limits; only the delay between two requests to a host
/// is shortened (the deadlock came from the limits, not from the delays).
fn config(dir: &std::path::Path, sources: &str) -> huiliu::config::Config {
    common::config_in(
        dir,
        &format!(
            "[storage]\nurl = \"sqlite:s.db\"\n[fetch]\nhost_delay = \"10ms\"\ntimeout = \"5s\"\n\n{sources}"
        ),
    )
}

async fn pass(cfg: &huiliu::config::Config) -> Vec<PollReport> {
    let p = common::pipeline(cfg).await;
    tokio::time::timeout(
        Duration::from_secs(60),
        poll_once(&p, &cfg.sources, cfg.fetch.concurrency),
    )
    .await
    .expect("the pass stalled: not finished within 60 s")
}

fn new_entries(r: &PollReport) -> usize {
    match &r.outcome {
        Outcome::Fetched(c) => c.new,
        other => panic!("{}: {other:?}", r.source_id),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_scraped_columns_of_one_site_are_all_polled() {
    let site = Site::start("127.0.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let sources: String = (0..20).map(|n| html_source(&site, n)).collect();
    let cfg = config(dir.path(), &sources);
    assert_eq!(cfg.fetch.host_concurrency, 2, "the default limit");
    let reports = pass(&cfg).await;
    assert_eq!(reports.len(), 20);
    for r in &reports {
        assert_eq!(new_entries(r), 2, "{}", r.source_id);
    }
    assert_eq!(site.count("/col"), 20 * 3, "a list and two articles each");
    assert!(
        site.max_in_flight() <= 2,
        "per-host limit broken: {} requests at once",
        site.max_in_flight()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_redirecting_feeds_of_one_host_are_all_polled() {
    let site = Site::start("127.0.0.1").await;
    let dir = tempfile::tempdir().unwrap();
    let sources: String = (0..20)
        .map(|n| feed_source(&site, &format!("f{n}"), n, "30m"))
        .collect();
    let cfg = config(dir.path(), &sources);
    let reports = pass(&cfg).await;
    for r in &reports {
        assert_eq!(new_entries(r), 1, "{}", r.source_id);
    }
    assert_eq!(site.count("/feed"), 40, "a redirect and the feed each");
    assert!(site.max_in_flight() <= 2, "{}", site.max_in_flight());
}

/// Under the daemon's scheduler: one host busy with scraped columns and
/// redirecting feeds for many seconds, while two feeds on another host are
/// due every second and must be polled on schedule all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_host_never_holds_up_another_hosts_schedule() {
    let busy = Site::start("127.0.0.1").await;
    let other = Site::start("127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let mut sources: String = (0..20).map(|n| html_source(&busy, n)).collect();
    sources.extend((0..20).map(|n| feed_source(&busy, &format!("f{n}"), n, "30m")));
    sources.push_str(&feed_source(&other, "quick-a", 100, "1s"));
    sources.push_str(&feed_source(&other, "quick-b", 101, "1s"));
    // 100 requests to the busy host, 200 ms apart: about 20 s of work.
    let text = format!(
        "[storage]\nurl = \"sqlite:s.db\"\n[fetch]\nhost_delay = \"10ms\"\ntimeout = \"5s\"\n\
         [[host]]\nname = \"127.0.0.1\"\ndelay = \"200ms\"\n\
         [[host]]\nname = \"127.0.0.2\"\nmin_interval = \"1s\"\n\n{sources}"
    );
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let run = tokio::spawn(huiliu::schedule::run(
        p.clone(),
        cfg.sources.clone(),
        cfg.fetch.concurrency,
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_secs(8)).await;
    let quick = other.count("/feed100.xml").min(other.count("/feed101.xml"));
    let busy_done = busy.count("/");
    let report = p.liveness.report();
    let _ = stop_tx.send(true);
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the scheduler stops")
        .unwrap();
    // Started within 3 s (spread), then every ~1 s: 5 to 7 polls each on a
    // quiet machine; at least 3 on a busy one. (Starved, it was 0 or 1.)
    assert!(
        quick >= 3,
        "the other host's feeds were polled {quick} times in 8 s"
    );
    assert!(busy_done >= 20, "the busy host moved: {busy_done} requests");
    assert!(busy.max_in_flight() <= 2, "{}", busy.max_in_flight());
    // The busy host's backlog is visible, and is not a stall.
    assert!(report.polls_in_flight > 0, "{report:?}");
    assert!(report.oldest_due.is_some(), "{report:?}");
    assert_eq!(
        report.stalled(chrono::Utc::now(), Duration::from_secs(5)),
        None
    );
}

/// A poll that never ends (a server that accepts and never answers, a
/// long time-out) with `stall_after = "1s"`: `/healthz` turns 503 and says
/// why, and `/metrics` shows the poll in flight and how long it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_scheduler_fails_healthz() {
    let hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = hole.accept().await {
            h.lock().unwrap().push(sock);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\nstall_after = \"1s\"\n[storage]\nurl = \"sqlite:s.db\"\n[fetch]\ntimeout = \"60s\"\n\
         [[source]]\nid = \"hole\"\nurl = \"http://{hole_addr}/feed\"\n"
    );
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let base = common::serve(&cfg, &p).await;
    let health = || async {
        let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(health().await.0, 200, "healthy before any poll is due");
    let (stop_tx, stop_rx) = watch::channel(false);
    let run = tokio::spawn(huiliu::schedule::run(
        p.clone(),
        cfg.sources.clone(),
        cfg.fetch.concurrency,
        stop_rx,
    ));
    // Due within 3 s of start, then stuck; stalled 1 s later.
    let mut seen = (0, String::new());
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = health().await;
        if seen.0 == 503 {
            break;
        }
    }
    assert_eq!(seen.0, 503, "{}", seen.1);
    assert!(seen.1.contains("scheduler stalled"), "{}", seen.1);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauges: HashMap<&str, f64> = metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    assert_eq!(
        gauges.get("huiliu_polls_in_flight"),
        Some(&1.0),
        "{metrics}"
    );
    assert!(
        gauges
            .get("huiliu_oldest_due_seconds")
            .is_some_and(|s| *s >= 1.0),
        "{metrics}"
    );
    let _ = stop_tx.send(true);
    run.abort();
}
