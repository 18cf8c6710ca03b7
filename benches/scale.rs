//! A year of data on a small machine: 10,000 sources and N stored entries
//! (default 100,000; the README's figures use 1,000,000 and 3,000,000),
//! put in with `huiliu import`, then `huiliu run` against a local server
//! for the 10,000 sources.
//!
//!     cargo bench --bench scale                         # 100,000 entries
//!     BENCH_ENTRIES=1000000 cargo bench --bench scale
//!
//! Entries: 100 a source at 1M, dates spread over the last year, 300–2,000
//! characters, 20% Chinese, 5% copies of another source's entry published
//! within a day (the dedup window holds a month of them). The feed server
//! runs in a child process (this binary with `serve`): a third of its feeds
//! change at every poll, the rest answer 304 once polled.
//!
//! Reported: import rate, bytes on disk per entry, start → `/healthz`,
//! start → first merged feed, RSS after start and after the restart's
//! pass over every source (the first pass: all 10,000 are due), p50/p99 of
//! the merged feed of all sources, of a 1,000-source output, of a deep page
//! (`?page=100`), `/status` and `/status.json`, during the pass and idle.

mod common;

use common::env_usize;

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use huiliu::model::{Author, Entry, StoredEntry};

const SOURCES: usize = 10_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        serve();
        return;
    }
    let n = env_usize("BENCH_ENTRIES", 100_000);
    // BENCH_DIR keeps the generated entries and the store for a look
    // afterwards (and reuses the entries of an earlier run of the same N).
    let temp = tempfile::tempdir().expect("temp dir");
    let kept = std::env::var_os("BENCH_DIR").map(std::path::PathBuf::from);
    let dir = kept.as_deref().unwrap_or(temp.path());
    std::fs::create_dir_all(dir).expect("BENCH_DIR");
    let mut server = Command::new(std::env::current_exe().expect("exe"))
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the feed server");
    let mut line = String::new();
    if let Some(out) = server.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let feeds = line.trim().to_string();
    let result = std::panic::catch_unwind(|| run(dir, &feeds, n));
    let _ = server.kill();
    let _ = server.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(dir: &std::path::Path, feeds: &str, n: usize) {
    let huiliu = env!("CARGO_BIN_EXE_huiliu");
    let port = free_port();
    let config = dir.join("huiliu.toml");
    std::fs::write(&config, config_text(feeds, port)).expect("config");
    let jsonl = dir.join(format!("entries-{n}.jsonl"));
    let _ = std::fs::remove_dir_all(dir.join("data"));
    let t = Instant::now();
    if !jsonl.exists() {
        write_entries(&jsonl, n);
    }
    println!(
        "generated {n} entries in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let status = Command::new(huiliu)
        .args(["import", "--config"])
        .arg(&config)
        .arg(&jsonl)
        .stderr(Stdio::null())
        .status()
        .expect("huiliu import");
    assert!(status.success(), "import failed");
    let import_s = t.elapsed().as_secs_f64();
    if std::env::var_os("BENCH_DIR").is_none() {
        // 3M entries are 11 GB of JSON: not kept next to the store.
        let _ = std::fs::remove_file(&jsonl);
    }
    let db_bytes: u64 = ["huiliu.db", "huiliu.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join("data").join(f)).ok())
        .map(|m| m.len())
        .sum();

    let started = Instant::now();
    let mut daemon = Command::new(huiliu)
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("huiliu run");
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt.block_on(measure(&base, &mut daemon, started));
    let _ = daemon.kill();
    let _ = daemon.wait();

    println!();
    println!("entries                      {n} ({SOURCES} sources)");
    println!(
        "import                       {:.1} s, {:.0} entries/s",
        import_s,
        n as f64 / import_s
    );
    println!(
        "disk                         {:.0} MiB, {:.0} bytes/entry",
        db_bytes as f64 / 1048576.0,
        db_bytes as f64 / n as f64
    );
    for (k, v) in report {
        println!("{k:<28} {v}");
    }
}

/// Drives the daemon and returns the figures in print order.
async fn measure(base: &str, daemon: &mut Child, started: Instant) -> Vec<(String, String)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let mut out = Vec::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let t = Instant::now();
            let r = client
                .get(&path)
                .header("Accept-Encoding", "gzip")
                .send()
                .await
                .ok()?;
            let status = r.status().as_u16();
            let len = r.bytes().await.ok()?.len();
            Some((status, len, t.elapsed()))
        }
    };
    // Start → /healthz, → first merged feed.
    loop {
        if let Ok(Some(code)) = daemon.try_wait() {
            panic!("huiliu run exited: {code}");
        }
        if let Some((200, _, _)) = get(format!("{base}/healthz")).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.push((
        "start → /healthz".into(),
        format!("{:.2} s", started.elapsed().as_secs_f64()),
    ));
    let rss_start = rss_kib(daemon.id());
    loop {
        if let Some((200, _, _)) = get(format!("{base}/feeds/all.json")).await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.push((
        "start → first feed".into(),
        format!("{:.2} s", started.elapsed().as_secs_f64()),
    ));
    out.push((
        "RSS after start".into(),
        format!("{} MiB", rss_start / 1024),
    ));

    let paths = [
        ("feed, all sources", "/feeds/all.json"),
        ("feed, 1,000 sources", "/feeds/k1000.json"),
        ("deep page ?page=100", "/feeds/all.json?page=100"),
        ("/status", "/status"),
        ("/status.json", "/status.json"),
    ];
    // During the pass: every source is due at start.
    for (label, path) in paths {
        let (p50, p99, len) = latencies(&get, &format!("{base}{path}"), 20).await;
        out.push((
            format!("{label} (pass)"),
            format!("p50 {p50:.1} ms, p99 {p99:.1} ms, {len} B"),
        ));
    }
    // Wait for the pass to end: no source left never polled.
    let pass_start = Instant::now();
    loop {
        let done = client
            .get(format!("{base}/status.json?status=never&limit=1"))
            .send()
            .await
            .ok();
        let body = match done {
            Some(r) => r.text().await.unwrap_or_default(),
            None => String::new(),
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        if v["totals"]["never"] == 0 {
            break;
        }
        if pass_start.elapsed() > Duration::from_secs(900) {
            out.push(("pass".into(), "did not end within 15 min".into()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    out.push((
        "start → pass done".into(),
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    ));
    out.push((
        "RSS after the pass".into(),
        format!("{} MiB", rss_kib(daemon.id()) / 1024),
    ));
    // The daemon settles clusters and trims the allocator every 30 s: what
    // it holds once the pass's garbage is given back.
    tokio::time::sleep(Duration::from_secs(35)).await;
    out.push((
        "RSS after a settle".into(),
        format!("{} MiB", rss_kib(daemon.id()) / 1024),
    ));
    for (label, path) in paths {
        let (p50, p99, len) = latencies(&get, &format!("{base}{path}"), 50).await;
        out.push((
            format!("{label} (idle)"),
            format!("p50 {p50:.1} ms, p99 {p99:.1} ms, {len} B"),
        ));
    }
    out.push((
        "peak RSS (VmHWM)".into(),
        format!("{} MiB", hwm_kib(daemon.id()) / 1024),
    ));
    out
}

async fn latencies<F, Fut>(get: &F, url: &str, n: usize) -> (f64, f64, usize)
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Option<(u16, usize, Duration)>>,
{
    let mut times = Vec::with_capacity(n);
    let mut len = 0;
    for _ in 0..n {
        if let Some((_, l, d)) = get(url.to_string()).await {
            times.push(d.as_secs_f64() * 1000.0);
            len = l;
        }
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times
            .get(((times.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (at(0.5), at(0.99), len)
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    proc_status(pid, "VmRSS:")
}

fn hwm_kib(pid: u32) -> u64 {
    proc_status(pid, "VmHWM:")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18080)
}

fn config_text(feeds: &str, port: u16) -> String {
    let mut s = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[storage]\nurl = \"sqlite:data/huiliu.db\"\n\
         [fetch]\nconcurrency = 64\nhost_concurrency = 64\nhost_delay = \"0s\"\n\
         [defaults]\ninterval = \"2m\"\nmin_interval = \"2m\"\n\n"
    );
    for i in 0..SOURCES {
        s.push_str(&format!(
            "[[source]]\nid = \"s{i}\"\nurl = \"http://{feeds}/f/{i}\"\n"
        ));
    }
    let all: Vec<String> = (0..SOURCES).map(|i| format!("\"s{i}\"")).collect();
    s.push_str(&format!(
        "[[feed]]\nid = \"all\"\nsources = [{}]\nlimit = 50\n",
        all.join(", ")
    ));
    s.push_str(&format!(
        "[[feed]]\nid = \"k1000\"\nsources = [{}]\nlimit = 50\n",
        all[..1000].join(", ")
    ));
    s
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const EN: &[&str] = &[
    "council",
    "approved",
    "budget",
    "river",
    "school",
    "district",
    "project",
    "million",
    "road",
    "bridge",
    "market",
    "factory",
    "winter",
    "plan",
    "report",
    "mayor",
    "residents",
    "meeting",
    "safety",
    "training",
    "park",
    "station",
    "library",
    "hospital",
    "water",
    "energy",
    "housing",
    "transport",
    "police",
    "festival",
    "museum",
    "farm",
    "harbour",
    "airport",
    "tax",
    "court",
];
const ZH: &[&str] = &[
    "湖塘镇",
    "高新区",
    "召开",
    "会议",
    "部署",
    "安全生产",
    "重点工作",
    "项目",
    "建设",
    "推进",
    "企业",
    "服务",
    "群众",
    "社区",
    "街道",
    "发展",
    "经济",
    "创新",
    "产业",
    "亿元",
    "工程",
    "环境",
    "治理",
    "培训",
    "党组织",
    "书记",
    "落实",
    "检查",
    "调研",
    "乡村",
    "振兴",
    "交通",
    "教育",
];

fn text(rng: &mut Rng, chinese: bool, chars: usize) -> String {
    let mut s = String::with_capacity(chars * 3);
    let mut n = 0;
    while n < chars {
        if chinese {
            let w = ZH[rng.below(ZH.len())];
            s.push_str(w);
            n += w.chars().count();
            if rng.below(8) == 0 {
                s.push('，');
                n += 1;
            }
            if rng.below(20) == 0 {
                s.push_str(&format!("{}个", rng.below(500)));
                s.push('。');
                n += 4;
            }
        } else {
            let w = EN[rng.below(EN.len())];
            s.push_str(w);
            s.push(' ');
            n += w.len() + 1;
            if rng.below(12) == 0 {
                s.push_str(&format!("{} ", rng.below(10_000)));
                n += 5;
            }
        }
    }
    s
}

/// Writes `n` entries as `huiliu export` JSON Lines.
fn write_entries(path: &std::path::Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("jsonl"));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let now = Utc::now().timestamp();
    let year = 365 * 86_400;
    let mut recent: Vec<(String, i64, bool)> = Vec::new();
    for i in 0..n {
        let source = format!("s{}", i % SOURCES);
        // Newest first as i grows older: spread evenly over the year.
        let published = now - (i as i64 * year) / n as i64 - rng.below(3600) as i64;
        let copy = i > 0 && rng.below(100) < 5 && !recent.is_empty();
        let (body, chinese) = if copy {
            let (orig, _, zh) = recent[rng.below(recent.len())].clone();
            (
                format!("{orig} {}", if zh { "（转载）" } else { "(reprint)" }),
                zh,
            )
        } else {
            let zh = rng.below(5) == 0;
            let len = 300 + rng.below(1700);
            (text(&mut rng, zh, len), zh)
        };
        if !copy {
            recent.push((body.clone(), published, chinese));
            if recent.len() > 64 {
                recent.remove(0);
            }
        }
        let key = format!("guid:https://site{}.example/{i}", i % SOURCES);
        let title: String = body.chars().take(30).collect();
        let entry = Entry {
            id: huiliu::normalize::stable_id(&source, &key),
            source_id: source.clone(),
            key,
            guid: Some(format!("https://site{}.example/{i}", i % SOURCES)),
            url: Some(format!("https://site{}.example/{i}", i % SOURCES)),
            title,
            authors: vec![Author::named("Desk")],
            summary: None,
            content: Some(format!("<p>{body}</p>")),
            text: body,
            published: chrono::DateTime::from_timestamp(published, 0),
            updated: None,
            language: Some(if chinese { "zh" } else { "en" }.into()),
            categories: vec![],
            enclosures: vec![],
            content_hash: format!("{i:016x}"),
            origin: None,
        };
        let first_seen = chrono::DateTime::from_timestamp(published + 60, 0).unwrap_or_default();
        let stored = StoredEntry {
            entry,
            first_seen,
            changed_at: first_seen,
            cluster: None,
        };
        let line = huiliu::service::backup::ExportLine {
            source: huiliu::service::backup::ExportSource {
                id: source,
                name: None,
                url: None,
                kind: None,
            },
            cluster: None,
            stored,
        };
        let _ = serde_json::to_writer(&mut f, &line);
        let _ = f.write_all(b"\n");
    }
    let _ = f.flush();
}

/// The feed server: `/f/{i}`; a third change at every poll.
fn serve() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let app = axum::Router::new().route("/f/{i}", axum::routing::get(feed));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        println!("{addr}");
        let _ = std::io::stdout().flush();
        let _ = axum::serve(listener, app).await;
    });
}

async fn feed(Path(i): Path<usize>, headers: HeaderMap) -> Response {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let changing = i % 3 == 0;
    let etag = if changing {
        format!(
            "\"{i}-{}\"",
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    } else {
        format!("\"{i}\"")
    };
    if headers
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>s{i}</title><link>https://site{i}.example/</link>\
         <item><guid>https://site{i}.example/live-{etag}</guid><title>Live {i}</title><link>https://site{i}.example/live</link>\
         <description>Update {etag} of source {i}: the council met about the river project.</description></item></channel></rss>"
    );
    (
        [
            ("content-type", "application/rss+xml".to_string()),
            ("etag", etag),
        ],
        body,
    )
        .into_response()
}
