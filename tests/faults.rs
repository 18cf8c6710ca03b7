//! Fault injection: a raw HTTP/1.1 server on 127.0.0.1 that misbehaves on
//! purpose (5xx, 429 + Retry-After, 410, redirect chains and loops, huge
//! bodies, a gzip bomb, truncated bodies, a server that never answers, one
//! that drips a byte a second, binary content types). Each test polls the bad
//! source together with good sources on the *same host* and checks the bad
//! source's state and schedule, and that the good ones were polled on time.

mod common;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use huiliu::config::Config;
use huiliu::model::{PollStatus, SourceState};
use huiliu::refresh::{Outcome, Pipeline, PollReport};
use huiliu::schedule::poll_once;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the fault server saw.
#[derive(Debug, Clone)]
struct Seen {
    /// The request target as sent (absolute through a proxy).
    target: String,
    path: String,
    headers: HashMap<String, String>,
    at: Instant,
}

#[derive(Default)]
struct Log {
    seen: Vec<Seen>,
    in_flight: HashMap<String, usize>,
    max_in_flight: HashMap<String, usize>,
    path_in_flight: HashMap<String, usize>,
    max_path_in_flight: usize,
    counter: u64,
}

struct FaultServer {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    async fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let l = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(handle(sock, l.clone(), addr));
            }
        });
        FaultServer {
            addr,
            log,
            _task: task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        let log = self.log.lock().unwrap();
        log.seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    fn max_in_flight(&self, host: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.max_in_flight.get(host).copied().unwrap_or(0)
    }
}

fn feed(path: &str, extra_channel: &str, item: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>{path}</title><link>http://example.org/</link>{extra_channel}
<item><guid>{item}</guid><title>Item {item}</title><link>http://example.org/{item}</link>
<description>Body of {item}</description></item>
</channel></rss>"#
    )
    .into_bytes()
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    let mut has_len = false;
    for (k, v) in headers {
        has_len |= k.eq_ignore_ascii_case("content-length");
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_len {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn gzip_bomb() -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    enc.finish().unwrap()
}

async fn handle(mut sock: TcpStream, log: Arc<Mutex<Log>>, addr: SocketAddr) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut first = [0u8; 1];
    if sock.peek(&mut first).await.is_ok() && first[0] == 0x16 {
        // A TLS ClientHello to this plain-HTTP server: answer in plain text.
        let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        return;
    }
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map_or("/".to_string(), |i| rest[i..].to_string()),
        None => target.clone(),
    };
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let host = headers.get("host").cloned().unwrap_or_default();
    let host = host.split(':').next().unwrap_or("").to_string();
    let counter = {
        let mut l = log.lock().unwrap();
        l.seen.push(Seen {
            target: target.clone(),
            path: path.clone(),
            headers: headers.clone(),
            at: Instant::now(),
        });
        let n = l.in_flight.entry(host.clone()).or_default();
        *n += 1;
        let n = *n;
        let m = l.max_in_flight.entry(host.clone()).or_default();
        *m = (*m).max(n);
        let p = l.path_in_flight.entry(path.clone()).or_default();
        *p += 1;
        let p = *p;
        l.max_path_in_flight = l.max_path_in_flight.max(p);
        l.counter += 1;
        l.counter
    };
    answer(&mut sock, &path, &headers, counter, addr).await;
    let _ = sock.flush().await;
    let mut l = log.lock().unwrap();
    *l.in_flight.entry(host).or_default() -= 1;
    *l.path_in_flight.entry(path).or_default() -= 1;
}

async fn answer(
    sock: &mut TcpStream,
    path: &str,
    headers: &HashMap<String, String>,
    counter: u64,
    addr: SocketAddr,
) {
    let xml = || ("Content-Type", "application/rss+xml".to_string());
    let ok = |extra: &str| {
        let etag = format!("\"{}-v1\"", path.replace('/', "_"));
        if headers.get("if-none-match") == Some(&etag) {
            return response("304 Not Modified", &[("ETag", etag)], b"");
        }
        response(
            "200 OK",
            &[xml(), ("ETag", etag)],
            &feed(path, extra, &format!("item{}", path.replace('/', "_"))),
        )
    };
    let date_in =
        |secs: u64| httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs));
    let bytes = match path {
        p if p.starts_with("/ok/") => ok(""),
        p if p.starts_with("/slow/") => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            ok("")
        }
        "/ttl" => ok("<ttl>120</ttl>"),
        "/sy" => {
            ok("<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>")
        }
        "/maxage" => {
            let mut r = ok("");
            // Inject the header after the status line.
            let at = r.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            r.splice(
                at..at,
                b"Cache-Control: public, max-age=3600\r\n".iter().copied(),
            );
            r
        }
        "/changing" => response(
            "200 OK",
            &[xml()],
            &feed(path, "", &format!("change{counter}")),
        ),
        "/500" => response("500 Internal Server Error", &[], b"oops"),
        "/429-secs" | "/limited/a" | "/limited/b" | "/limited/c" => response(
            "429 Too Many Requests",
            &[("Retry-After", "120".into())],
            b"slow down",
        ),
        "/429-date" => response(
            "429 Too Many Requests",
            &[("Retry-After", date_in(3600))],
            b"slow down",
        ),
        "/503" => response(
            "503 Service Unavailable",
            &[("Retry-After", "90".into())],
            b"maintenance",
        ),
        "/410" => response("410 Gone", &[], b"gone"),
        "/moved/a" => response(
            "301 Moved Permanently",
            &[("Location", "/moved/b".into())],
            b"",
        ),
        "/moved/b" => response(
            "308 Permanent Redirect",
            &[("Location", format!("http://{addr}/ok/moved-here"))],
            b"",
        ),
        "/temp" => response("302 Found", &[("Location", "/ok/temp-target".into())], b""),
        "/temp307" => response(
            "307 Temporary Redirect",
            &[("Location", "/ok/temp307-target".into())],
            b"",
        ),
        "/loop/a" => response("302 Found", &[("Location", "/loop/b".into())], b""),
        "/loop/b" => response(
            "301 Moved Permanently",
            &[("Location", "/loop/a".into())],
            b"",
        ),
        "/image" => response(
            "200 OK",
            &[("Content-Type", "image/png".into())],
            b"\x89PNG\r\n\x1a\n",
        ),
        "/big" => {
            // No Content-Length: the cap must hold while streaming.
            let head =
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/rss+xml\r\n\r\n";
            let _ = sock.write_all(head.as_bytes()).await;
            let block = vec![b'x'; 64 * 1024];
            for _ in 0..64 {
                if sock.write_all(&block).await.is_err() {
                    return;
                }
            }
            return;
        }
        "/bomb" => response(
            "200 OK",
            &[xml(), ("Content-Encoding", "gzip".into())],
            &gzip_bomb(),
        ),
        "/truncated" => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/rss+xml\r\nContent-Length: 10000\r\n\r\n<?xml version=\"1.0\"?><rss";
            let _ = sock.write_all(head.as_bytes()).await;
            return;
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        "/drip" => {
            let head = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n";
            let _ = sock.write_all(head.as_bytes()).await;
            for _ in 0..30 {
                if sock.write_all(b"<").await.is_err() {
                    return;
                }
                let _ = sock.flush().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            return;
        }
        _ => response("404 Not Found", &[], b"no"),
    };
    let _ = sock.write_all(&bytes).await;
}

/// A config with `bad` (at `bad_url`) and three good sources on the same host.
fn config(dir: &std::path::Path, server: &FaultServer, bad_url: &str, extra: &str) -> Config {
    let text = format!(
        r#"
[storage]
url = "sqlite:h.db"
[fetch]
timeout = "2s"
connect_timeout = "1s"
max_body_size = "1MiB"
host_delay = "0s"
{extra}
[defaults]
interval = "20m"
min_interval = "1m"
max_interval = "4h"
[[source]]
id = "bad"
url = "{bad_url}"
[[source]]
id = "good1"
url = "{g1}"
[[source]]
id = "good2"
url = "{g2}"
[[source]]
id = "good3"
url = "{g3}"
"#,
        g1 = server.url("/ok/1"),
        g2 = server.url("/ok/2"),
        g3 = server.url("/ok/3"),
    );
    common::config_in(dir, &text)
}

struct Pass {
    reports: Vec<PollReport>,
    started: Instant,
    started_utc: chrono::DateTime<Utc>,
}

async fn pass(p: &Pipeline, cfg: &Config) -> Pass {
    let started = Instant::now();
    let started_utc = Utc::now();
    let reports = poll_once(p, &cfg.sources, 4).await;
    Pass {
        reports,
        started,
        started_utc,
    }
}

/// The good sources were polled within 1.2 s of the pass start (a bad one
/// holds its worker for 2 s or more) and succeeded; the margin absorbs a busy CI machine.
fn good_ones_on_time(server: &FaultServer, pass: &Pass) {
    for (i, path) in ["/ok/1", "/ok/2", "/ok/3"].iter().enumerate() {
        let seen = server.seen(path);
        let last = seen
            .last()
            .unwrap_or_else(|| panic!("{path} was not polled"));
        let late = last.at.saturating_duration_since(pass.started);
        assert!(
            late < Duration::from_millis(1200),
            "{path} polled {late:?} after the start"
        );
        let r = &pass.reports[i + 1];
        assert!(
            matches!(r.outcome, Outcome::Fetched(_) | Outcome::NotModified),
            "{:?}",
            r.outcome
        );
        assert!(r.elapsed < Duration::from_millis(1200), "{:?}", r.elapsed);
    }
}

async fn state(p: &Pipeline, id: &str) -> SourceState {
    p.store.state(id).await.unwrap()
}

/// Seconds from the pass start to the stored next due time.
fn due_in(st: &SourceState, pass: &Pass) -> i64 {
    (st.next_due.expect("scheduled") - pass.started_utc).num_seconds()
}

async fn setup(path: &str, extra: &str) -> (FaultServer, tempfile::TempDir, Config, Pipeline) {
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &server, &server.url(path), extra);
    let p = common::pipeline(&cfg).await;
    (server, dir, cfg, p)
}

/// Polls once and checks the bad source's error kind and the good ones.
async fn failing(
    path: &str,
    kind: &str,
) -> (FaultServer, tempfile::TempDir, Pipeline, Pass, SourceState) {
    let (server, dir, cfg, p) = setup(path, "").await;
    let pass = pass(&p, &cfg).await;
    assert!(pass.reports[0].failed(), "{:?}", pass.reports[0].outcome);
    let st = state(&p, "bad").await;
    assert_eq!(st.error_kind.as_deref(), Some(kind), "{:?}", st.last_error);
    assert_eq!(st.last_status, Some(PollStatus::Error));
    assert_eq!(st.consecutive_failures, 1);
    assert!(st.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    good_ones_on_time(&server, &pass);
    (server, dir, p, pass, st)
}

#[tokio::test]
async fn server_errors_back_off_exponentially() {
    let (_server, dir, p, pass1, st) = failing("/500", "http_500").await;
    assert_eq!(st.http_status, Some(500));
    // backoff: a quarter of the 20m interval, ±10%.
    let d = due_in(&st, &pass1);
    assert!((265..=335).contains(&d), "{d}");
    let cfg = huiliu::config::load_file(&dir.path().join("huiliu.toml")).unwrap();
    let pass2 = pass(&p, &cfg).await;
    let st = state(&p, "bad").await;
    assert_eq!(st.consecutive_failures, 2);
    let d = due_in(&st, &pass2);
    assert!((535..=665).contains(&d), "{d}");
    // A success resets everything.
    let good = state(&p, "good1").await;
    assert_eq!(good.consecutive_failures, 0);
    assert_eq!(good.error_kind, None);
}

#[tokio::test]
async fn too_many_requests_with_retry_after_seconds() {
    let (_s, _d, _p, pass, st) = failing("/429-secs", "http_429").await;
    let d = due_in(&st, &pass);
    assert!((119..=133).contains(&d), "{d}");
    assert!(st.last_error.unwrap().contains("Retry-After: 120s"));
}

#[tokio::test]
async fn too_many_requests_with_retry_after_date() {
    let (_s, _d, _p, pass, st) = failing("/429-date", "http_429").await;
    let d = due_in(&st, &pass);
    assert!((3590..=3965).contains(&d), "{d}");
}

#[tokio::test]
async fn unavailable_with_retry_after() {
    let (_s, _d, _p, pass, st) = failing("/503", "http_503").await;
    let d = due_in(&st, &pass);
    assert!((89..=100).contains(&d), "{d}");
}

#[tokio::test]
async fn one_limited_url_does_not_pause_the_host_several_do() {
    let (server, _d, p, _pass, _st) = failing("/429-secs", "http_429").await;
    let url = url::Url::parse(&server.url("/ok/1")).unwrap();
    assert_eq!(p.fetcher.politeness().paused_for(&url), None);

    // Three different URLs of one host answering 429 in a row: the host is limiting.
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\nurl = \"sqlite:h.db\"\n[fetch]\nhost_delay = \"0s\"\nhost_concurrency = 1\n\
         [[source]]\nid = \"a\"\nurl = \"{}\"\n[[source]]\nid = \"b\"\nurl = \"{}\"\n\
         [[source]]\nid = \"c\"\nurl = \"{}\"\n",
        server.url("/limited/a"),
        server.url("/limited/b"),
        server.url("/limited/c"),
    );
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    poll_once(&p, &cfg.sources, 4).await;
    let url = url::Url::parse(&server.url("/ok/1")).unwrap();
    let paused = p
        .fetcher
        .politeness()
        .paused_for(&url)
        .expect("host paused");
    assert!(paused > Duration::from_secs(100), "{paused:?}");
}

#[tokio::test]
async fn gone_disables_the_source_until_its_url_changes() {
    let (server, dir, cfg, p) = setup("/410", "").await;
    let pass1 = pass(&p, &cfg).await;
    good_ones_on_time(&server, &pass1);
    let st = state(&p, "bad").await;
    assert_eq!(st.last_status, Some(PollStatus::Gone));
    assert_eq!(st.error_kind.as_deref(), Some("http_410"));
    assert_eq!(st.next_due, None);
    assert_eq!(
        st.disabled_url.as_deref(),
        Some(server.url("/410").as_str())
    );
    assert!(pass1.reports[0].disabled);

    let pass2 = pass(&p, &cfg).await;
    assert!(matches!(pass2.reports[0].outcome, Outcome::Skipped(_)));
    assert_eq!(
        server.seen("/410").len(),
        1,
        "a gone source is not polled again"
    );

    let health = huiliu::health::source_health(p.store.as_ref(), &cfg)
        .await
        .unwrap();
    assert_eq!(health[0].status, "gone");
    assert!(health[0].disabled);
    assert!(health[0].error.as_deref().unwrap().contains("disabled"));
    let table = huiliu::cli::health_table(&health, Utc::now());
    assert!(table.contains("disabled"), "{table}");

    // A new url in the config: polled again.
    let text = std::fs::read_to_string(dir.path().join("huiliu.toml"))
        .unwrap()
        .replace(&server.url("/410"), &server.url("/ok/new"));
    let cfg = common::config_in(dir.path(), &text);
    let pass3 = pass(&p, &cfg).await;
    assert!(matches!(pass3.reports[0].outcome, Outcome::Fetched(_)));
    let health = huiliu::health::source_health(p.store.as_ref(), &cfg)
        .await
        .unwrap();
    assert_eq!(health[0].status, "ok");
    assert!(!health[0].disabled);
}

#[tokio::test]
async fn permanent_redirect_chains_move_the_source_temporary_ones_do_not() {
    let (server, _dir, cfg, p) = setup("/moved/a", "").await;
    let pass1 = pass(&p, &cfg).await;
    good_ones_on_time(&server, &pass1);
    assert!(matches!(pass1.reports[0].outcome, Outcome::Fetched(_)));
    let st = state(&p, "bad").await;
    let target = server.url("/ok/moved-here");
    assert_eq!(
        st.moved_to,
        Some(format!("{} {target}", server.url("/moved/a")))
    );
    assert_eq!(pass1.reports[0].url.as_str(), target);
    // The next poll goes straight to the new URL.
    pass(&p, &cfg).await;
    assert_eq!(server.seen("/moved/a").len(), 1);
    assert_eq!(server.seen("/ok/moved-here").len(), 2);

    for (from, to) in [
        ("/temp", "/ok/temp-target"),
        ("/temp307", "/ok/temp307-target"),
    ] {
        let (server, _dir, cfg, p) = setup(from, "").await;
        pass(&p, &cfg).await;
        pass(&p, &cfg).await;
        assert_eq!(state(&p, "bad").await.moved_to, None);
        assert_eq!(server.seen(from).len(), 2, "followed, not stored");
        assert_eq!(server.seen(to).len(), 2);
    }
}

#[tokio::test]
async fn redirect_loops_are_caught() {
    let (_s, _d, _p, pass, st) = failing("/loop/a", "redirect_loop").await;
    assert!(pass.reports[0].elapsed < Duration::from_secs(1));
    assert!(st.last_error.unwrap().contains("/loop/b"));
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let (_s, _d, _p, pass, _st) = failing("/big", "too_large").await;
    assert!(pass.reports[0].elapsed < Duration::from_secs(2));
}

#[tokio::test]
async fn gzip_bombs_are_capped_after_decompression() {
    let (_s, _d, _p, pass, st) = failing("/bomb", "too_large").await;
    assert!(pass.reports[0].elapsed < Duration::from_secs(2));
    assert!(st.last_error.unwrap().contains("larger than"));
}

#[tokio::test]
async fn truncated_bodies_are_their_own_kind() {
    let (_s, _d, _p, _pass, st) = failing("/truncated", "truncated").await;
    assert!(st.last_error.unwrap().contains("of 10000 bytes"));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_alone() {
    let (_s, _d, _p, pass, _st) = failing("/hang", "timeout").await;
    let e = pass.reports[0].elapsed;
    assert!(
        e >= Duration::from_millis(1900) && e < Duration::from_secs(4),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_dripping_server_is_bounded_by_the_total_timeout() {
    let (_s, _d, _p, pass, _st) = failing("/drip", "slow_body").await;
    let e = pass.reports[0].elapsed;
    assert!(
        e >= Duration::from_millis(1900) && e < Duration::from_secs(4),
        "{e:?}"
    );
}

#[tokio::test]
async fn binary_content_types_are_refused() {
    failing("/image", "content_type").await;
}

#[tokio::test]
async fn connection_refused_and_tls_errors_have_their_kinds() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &server,
        &format!("http://{closed}/feed.xml"),
        "",
    );
    let p = common::pipeline(&cfg).await;
    let pass1 = pass(&p, &cfg).await;
    good_ones_on_time(&server, &pass1);
    assert_eq!(
        state(&p, "bad").await.error_kind.as_deref(),
        Some("connect")
    );

    // https:// to a plain-HTTP server: the TLS handshake fails.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &server,
        &format!("https://{}/ok/tls", server.addr),
        "",
    );
    let p = common::pipeline(&cfg).await;
    pass(&p, &cfg).await;
    let st = state(&p, "bad").await;
    assert_eq!(st.error_kind.as_deref(), Some("tls"), "{:?}", st.last_error);
}

#[tokio::test]
async fn per_host_limits_hold() {
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = "[storage]\nurl = \"sqlite:h.db\"\n[fetch]\nconcurrency = 16\nhost_concurrency = 2\nhost_delay = \"100ms\"\n\
        [[host]]\nname = \"localhost\"\nmax_concurrent = 1\ndelay = \"0s\"\n"
        .to_string();
    for i in 0..6 {
        text.push_str(&format!(
            "[[source]]\nid = \"ip{i}\"\nurl = \"{}\"\n[[source]]\nid = \"name{i}\"\nurl = \"http://localhost:{}/slow/n{i}\"\n",
            server.url(&format!("/slow/{i}")),
            server.addr.port()
        ));
    }
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 16).await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    assert_eq!(server.max_in_flight("127.0.0.1"), 2);
    assert_eq!(server.max_in_flight("localhost"), 1);
    // Starts to 127.0.0.1 are at least host_delay apart.
    let mut starts: Vec<Instant> = {
        let log = server.log.lock().unwrap();
        log.seen
            .iter()
            .filter(|s| {
                s.headers
                    .get("host")
                    .is_some_and(|h| h.starts_with("127.0.0.1"))
            })
            .map(|s| s.at)
            .collect()
    };
    starts.sort();
    assert_eq!(starts.len(), 6);
    for w in starts.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(95),
            "{:?}",
            w[1] - w[0]
        );
    }
}

#[tokio::test]
async fn source_headers_and_proxy_are_used() {
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\nurl = \"sqlite:h.db\"\n[fetch]\nproxy = \"http://{}\"\n\
         [[source]]\nid = \"via-proxy\"\nurl = \"http://feeds.example.invalid/ok/proxied\"\n\
         headers = {{ \"User-Agent\" = \"custom-agent/1\", \"Cookie\" = \"consent=1\" }}\n",
        server.addr
    );
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let reports = poll_once(&p, &cfg.sources, 1).await;
    assert!(
        matches!(reports[0].outcome, Outcome::Fetched(_)),
        "{:?}",
        reports[0].outcome
    );
    let seen = server.seen("/ok/proxied");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].target, "http://feeds.example.invalid/ok/proxied");
    assert_eq!(seen[0].headers["user-agent"], "custom-agent/1");
    assert_eq!(seen[0].headers["cookie"], "consent=1");
}

#[tokio::test]
async fn hints_are_lower_bounds_and_intervals_adapt() {
    for (path, secs) in [("/ttl", 7200), ("/maxage", 3600), ("/sy", 4 * 3600)] {
        let (_server, _dir, cfg, p) = setup(path, "").await;
        let pass = pass(&p, &cfg).await;
        let st = state(&p, "bad").await;
        let d = due_in(&st, &pass);
        // /sy says every 12 hours: capped at max_interval (4h).
        assert!((secs - 2..=secs + 2).contains(&d), "{path}: {d}");
    }

    // A source that changes at every poll: its interval halves down to the minimum.
    let (_server, dir, cfg, p) = setup("/changing", "").await;
    let mut intervals = Vec::new();
    for _ in 0..6 {
        poll_once(&p, &cfg.sources, 4).await;
        intervals.push(state(&p, "bad").await.interval_secs.unwrap());
    }
    assert_eq!(intervals, vec![1200, 600, 300, 150, 75, 60]);
    // Quiet sources (304) slow down, up to the maximum.
    let mut quiet = Vec::new();
    for _ in 0..3 {
        poll_once(&p, &cfg.sources, 4).await;
        quiet.push(state(&p, "good1").await.interval_secs.unwrap());
    }
    // good1 answered 304 at every poll but the first: ×1.25 each time, up to 4h.
    assert!(quiet[0] > 1200 * 3, "{quiet:?}");
    for w in quiet.windows(2) {
        assert!(w[1].abs_diff(w[0] * 5 / 4) <= 1, "{quiet:?}");
    }
    for _ in 0..10 {
        poll_once(&p, &cfg.sources, 4).await;
    }
    assert_eq!(state(&p, "good1").await.interval_secs, Some(4 * 3600));
    let health = huiliu::health::source_health(p.store.as_ref(), &cfg)
        .await
        .unwrap();
    assert_eq!(health[0].entries, 19);
    assert_eq!(health[0].entries_recent, 19);
    assert_eq!(health[0].interval_secs, 60);
    drop(dir);
}

#[tokio::test]
async fn the_scheduler_polls_due_sources_and_never_one_twice_at_once() {
    let server = FaultServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = "[storage]\nurl = \"sqlite:h.db\"\n[fetch]\nconcurrency = 3\nhost_concurrency = 8\nhost_delay = \"0s\"\ntimeout = \"2s\"\n\
        [[host]]\nname = \"127.0.0.1\"\nmin_interval = \"1s\"\n\
        [defaults]\ninterval = \"1s\"\nmin_interval = \"1s\"\nmax_interval = \"1s\"\n"
        .to_string();
    for i in 0..8 {
        text.push_str(&format!(
            "[[source]]\nid = \"s{i}\"\nurl = \"{}\"\n",
            server.url(&format!("/slow/{i}"))
        ));
    }
    text.push_str(&format!(
        "[[source]]\nid = \"hang\"\nurl = \"{}\"\n",
        server.url("/hang")
    ));
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(huiliu::schedule::run(
        p.clone(),
        cfg.sources.clone(),
        cfg.fetch.concurrency,
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_millis(7500)).await;
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("stops promptly")
        .unwrap();
    for i in 0..8 {
        let n = server.seen(&format!("/slow/{i}")).len();
        assert!(n >= 3, "s{i} polled {n} times");
    }
    assert_eq!(server.log.lock().unwrap().max_path_in_flight, 1);
    let hang = state(&p, "hang").await;
    assert_eq!(hang.error_kind.as_deref(), Some("timeout"));
}
