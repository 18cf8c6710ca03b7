//! One full polling pass over many sources (default 10,000) served by a local
//! HTTP server on 127.0.0.1, compared with `wrk` sending the same number of
//! conditional GETs to the same server.
//!
//!     cargo bench --bench poll                # 10,000 sources, 64 workers
//!     BENCH_SOURCES=2000 BENCH_CONCURRENCY=32 BENCH_THREADS=1 cargo bench --bench poll
//!
//! The server runs in a child process (this binary with `serve`), so the
//! CPU time (getrusage) and peak RSS (VmHWM) reported are huiliu's alone.
//! wrk runs until the server has answered as many requests as there are
//! sources (the server counts them); its wall time for those is the ceiling.
//! Source `i` is `/f/i`: two thirds answer 304 to the conditional request
//! (stable ETag), one third return a small feed with one new entry every
//! time (an ETag that never matches). A warm-up pass stores the ETags; the
//! second pass is measured.

mod common;

use common::{cpu_seconds, env_usize, peak_rss_kib};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        serve();
        return;
    }
    // `cargo bench` passes `--bench`; anything else is ignored.
    let n = env_usize("BENCH_SOURCES", 10_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 64);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_string();
    println!("server: http://{addr} (child process {})", child.id());

    let result = std::panic::catch_unwind(|| {
        let wrk = run_wrk(&addr, n, concurrency);
        let client = run_client_only(&addr, n, concurrency);
        let huiliu = run_huiliu(&addr, n, concurrency);
        (wrk, client, huiliu)
    });
    let _ = child.kill();
    let _ = child.wait();
    let (wrk, client, (wall, cpu, polls, failed)) = match result {
        Ok(r) => r,
        Err(e) => std::panic::resume_unwind(e),
    };
    let rss = peak_rss_kib();
    println!();
    println!("sources                {n}");
    println!("workers                {concurrency}");
    println!(
        "huiliu pass            {:.2} s ({polls} polls, {failed} failed)",
        wall.as_secs_f64()
    );
    println!(
        "polls/s                {:.0}",
        polls as f64 / wall.as_secs_f64()
    );
    println!(
        "CPU per 1,000 polls    {:.3} s (user+sys, huiliu only)",
        cpu / polls as f64 * 1000.0
    );
    println!(
        "peak RSS               {:.1} MiB (VmHWM)",
        rss as f64 / 1024.0
    );
    println!(
        "reqwest alone          {:.2} s (the same GETs, bodies read, nothing parsed or stored)",
        client.as_secs_f64()
    );
    match wrk {
        Some(w) => {
            println!(
                "reqwest alone / wrk    {:.2}× (the HTTP client's own floor)",
                client.as_secs_f64() / w.as_secs_f64()
            );
            println!(
                "wrk, same {n} GETs    {:.2} s ({:.0} req/s, -c {concurrency})",
                w.as_secs_f64(),
                n as f64 / w.as_secs_f64()
            );
            println!(
                "huiliu / wrk           {:.2}× (target ≤ 2×)",
                wall.as_secs_f64() / w.as_secs_f64()
            );
        }
        None => println!("wrk                    not installed (apt-get install wrk)"),
    }
}

fn run_huiliu(addr: &str, n: usize, concurrency: usize) -> (Duration, f64, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = format!(
        "[storage]\nurl = \"sqlite:bench.db\"\n\
         [fetch]\nconcurrency = {concurrency}\ntimeout = \"30s\"\n\
         [[host]]\nname = \"127.0.0.1\"\nmax_concurrent = {concurrency}\ndelay = \"0s\"\n"
    );
    for i in 0..n {
        text.push_str(&format!(
            "[[source]]\nid = \"s{i}\"\nurl = \"http://{addr}/f/{i}\"\n"
        ));
    }
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let cfg = huiliu::config::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    // BENCH_THREADS: tokio worker threads (default: one per core).
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        builder.worker_threads(n);
    }
    let rt = builder.enable_all().build().unwrap();
    rt.block_on(async {
        let p = huiliu::refresh::Pipeline::new(
            huiliu::fetch::Fetcher::new(&cfg.fetch).unwrap(),
            huiliu::store::open(&cfg.storage).await.unwrap(),
        );
        let t = Instant::now();
        let warm = huiliu::schedule::poll_once(&p, &cfg.sources, concurrency).await;
        println!(
            "warm-up pass (stores the ETags): {:.2} s, {} failed",
            t.elapsed().as_secs_f64(),
            warm.iter().filter(|r| r.failed()).count()
        );
        let cpu0 = cpu_seconds();
        let t = Instant::now();
        let reports = huiliu::schedule::poll_once(&p, &cfg.sources, concurrency).await;
        let wall = t.elapsed();
        let cpu = cpu_seconds() - cpu0;
        let failed = reports.iter().filter(|r| r.failed()).count();
        if let Some(r) = reports.iter().find(|r| r.failed()) {
            println!("first failure: {} {:?}", r.source_id, r.outcome);
        }
        let not_modified = reports
            .iter()
            .filter(|r| r.outcome == huiliu::refresh::Outcome::NotModified)
            .count();
        println!(
            "measured pass: {not_modified} not modified, {} fetched",
            reports.len() - not_modified - failed
        );
        (wall, cpu, reports.len(), failed)
    })
}

/// The HTTP client huiliu uses (reqwest), alone: the same conditional GETs
/// with `concurrency` tasks, bodies read and dropped. What is left of the
/// pass once parsing, storing and scheduling are taken away.
fn run_client_only(addr: &str, n: usize, concurrency: usize) -> Duration {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().build().unwrap();
        let next = Arc::new(AtomicU64::new(0));
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (client, next, addr) = (client.clone(), next.clone(), addr.to_string());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= n {
                        break;
                    }
                    let tag = if i % 3 == 0 {
                        format!("\"c{i}-0\"")
                    } else {
                        format!("\"s{i}\"")
                    };
                    if let Ok(r) = client
                        .get(format!("http://{addr}/f/{i}"))
                        .header("If-None-Match", tag)
                        .send()
                        .await
                    {
                        let _ = r.bytes().await;
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        t.elapsed()
    })
}

const WRK_SCRIPT: &str = r#"
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
function init(args)
  n = tonumber(args[1])
  nthreads = tonumber(args[2])
  sent = 0
end
function request()
  local i = (id + sent * nthreads) % n
  sent = sent + 1
  local tag
  if i % 3 == 0 then tag = '"c' .. i .. '-0"' else tag = '"s' .. i .. '"' end
  return wrk.format("GET", "/f/" .. i, { ["If-None-Match"] = tag })
end
"#;

/// How many `/f/…` requests the server has answered.
fn served(addr: &str) -> u64 {
    use std::io::Read as _;
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.write_all(b"GET /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.rsplit("\r\n\r\n")
        .next()
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or(0)
}

/// `wrk` sending conditional GETs (the same mix) with `concurrency`
/// connections, stopped once the server has answered `n` of them: the wall
/// time of those `n` (or `None` without wrk).
fn run_wrk(addr: &str, n: usize, concurrency: usize) -> Option<Duration> {
    let threads = 2;
    let mut script = tempfile::NamedTempFile::new().unwrap();
    script.write_all(WRK_SCRIPT.as_bytes()).unwrap();
    let before = served(addr);
    let t = Instant::now();
    let mut child = Command::new("wrk")
        .args([
            "-t",
            &threads.to_string(),
            "-c",
            &concurrency.max(threads).to_string(),
            "-d",
            "120s",
            "-s",
        ])
        .arg(script.path())
        .arg(format!("http://{addr}/"))
        .args(["--", &n.to_string(), &threads.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let wall = loop {
        std::thread::sleep(Duration::from_millis(2));
        if served(addr) - before >= n as u64 {
            break t.elapsed();
        }
        if t.elapsed() > Duration::from_secs(120) {
            break t.elapsed();
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    Some(wall)
}

// ---- the server (child process) ----

fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        let counters = Arc::new(Counters::default());
        let app = axum::Router::new()
            .route("/f/{i}", axum::routing::get(feed))
            .route(
                "/count",
                axum::routing::get(|State(c): State<Arc<Counters>>| async move {
                    c.served.load(Ordering::Relaxed).to_string()
                }),
            )
            .with_state(counters);
        axum::serve(listener, app).await.unwrap();
    });
}

#[derive(Default)]
struct Counters {
    /// Bumped by every changed answer: a new entry and ETag each time.
    version: AtomicU64,
    /// Requests to `/f/…` answered.
    served: AtomicU64,
}

async fn feed(State(c): State<Arc<Counters>>, Path(i): Path<u64>, headers: HeaderMap) -> Response {
    c.served.fetch_add(1, Ordering::Relaxed);
    let inm = headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (etag, fresh) = if i % 3 == 0 {
        let k = c.version.fetch_add(1, Ordering::Relaxed) + 1;
        (format!("\"c{i}-{k}\""), Some(k))
    } else {
        (format!("\"s{i}\""), None)
    };
    if fresh.is_none() && inm == etag {
        return (StatusCode::NOT_MODIFIED, [("etag", etag)]).into_response();
    }
    let newest = fresh.unwrap_or(0);
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Source {i}</title><link>http://example.org/{i}/</link>
<item><guid>{i}-{newest}</guid><title>Entry {newest} of source {i}</title><link>http://example.org/{i}/{newest}</link><description>Something happened ({newest}).</description><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate></item>
<item><guid>{i}-b</guid><title>An older entry</title><link>http://example.org/{i}/b</link><description>Older.</description><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate></item>
<item><guid>{i}-a</guid><title>The oldest entry</title><link>http://example.org/{i}/a</link><description>Oldest.</description><pubDate>Sun, 22 Nov 2026 10:00:00 GMT</pubDate></item>
</channel></rss>"#
    );
    (
        StatusCode::OK,
        [
            ("etag", etag),
            ("content-type", "application/rss+xml".to_string()),
        ],
        body,
    )
        .into_response()
}
