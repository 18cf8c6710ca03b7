//! What hostile sources cost: peak memory and time of `huiliu poll` on each,
//! and how fast `/healthz` and a cached feed answer while `huiliu run` polls
//! all of them again and again.
//!
//!     cargo bench --bench hostile
//!
//! The sources are `file` sources written to a temporary folder (the same
//! decode → parse → normalize path as HTTP bodies): a 13 MB JSON Feed of
//! 1,000,000 items, a 15 MB content field, 100,000 nested `<div>`s in an
//! entry and in JSON Feed `content_html`, 20,000 nested tables, 50,000
//! nested media elements, a CPU trap (40,000 chrome `<span>`s 200 `<div>`s
//! deep in an entry, which cleaning compares pairwise: stopped by
//! `fetch.parse_budget`, 10s), and a good feed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_huiliu");

fn nested(open: &str, close: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), close.repeat(n))
}

fn rss_with(content: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://example.org/</link><description>d</description><item><guid>1</guid><title>t</title><link>http://example.org/1</link><description><![CDATA[{content}]]></description></item></channel></rss>"
    )
}

fn json_with(content_html: &str) -> String {
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1", "title": "j",
        "items": [{ "id": "1", "url": "http://example.org/1", "content_html": content_html }]
    })
    .to_string()
}

fn sources() -> Vec<(&'static str, String)> {
    let items: Vec<String> = (0..1_000_000)
        .map(|i| format!("{{\"id\":\"{i}\"}}"))
        .collect();
    vec![
        (
            "million",
            format!(
                "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"m\",\"items\":[{}]}}",
                items.join(",")
            ),
        ),
        (
            "field15mb",
            json_with(&format!("<p>{}</p>", "x".repeat(15 << 20))),
        ),
        (
            "divs",
            rss_with(&nested("<div>", "</div>", 100_000, "deep")),
        ),
        (
            "jsondivs",
            json_with(&nested("<div>", "</div>", 100_000, "deep")),
        ),
        (
            "tables",
            rss_with(&nested(
                "<table><tr><td>",
                "</td></tr></table>",
                20_000,
                "deep",
            )),
        ),
        (
            "media",
            rss_with(&nested("<video>", "</video>", 50_000, "deep")),
        ),
        (
            "chrome",
            rss_with(&nested(
                "<div>",
                "</div>",
                200,
                &"<span>打印本页</span>".repeat(40_000),
            )),
        ),
        ("good", rss_with("<p>good</p>")),
    ]
}

fn config(dir: &Path, interval: &str) -> String {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\nurl = \"sqlite:{}\"\n[fetch]\nmax_body_size = \"32MiB\"\n[defaults]\ninterval = \"{interval}\"\nmin_interval = \"{interval}\"\n",
        dir.join("h.db").display()
    );
    for (id, _) in sources() {
        text.push_str(&format!(
            "[[source]]\nid = \"{id}\"\nkind = \"file\"\nurl = \"{}\"\n",
            dir.join(format!("{id}.src")).display()
        ));
    }
    text.push_str("[[feed]]\nid = \"all\"\nsources = [\"good\", \"divs\"]\n");
    text
}

/// Runs `huiliu poll --source id`; its peak RSS (KiB) and wall time.
#[allow(clippy::zombie_processes)] // reaped by wait4, which also gives its rusage
fn poll_one(config: &Path, id: &str) -> (u64, Duration, String) {
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(["poll", "--config"])
        .arg(config)
        .args(["--source", id])
        .env("HUILIU_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start huiliu poll");
    let pid = child.id() as libc::pid_t;
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout {
        let _ = stdout.read_to_string(&mut out);
    }
    // SAFETY: wait4 fills the status and rusage we hand it, for our own child.
    let usage = unsafe {
        let mut status = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut usage);
        usage
    };
    (
        usage.ru_maxrss as u64,
        started.elapsed(),
        out.trim().to_string(),
    )
}

/// One `GET path` on a fresh connection; the time to the whole answer.
fn get(addr: &str, path: &str) -> Option<Duration> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    buf.starts_with(b"HTTP/1.1 200").then(|| started.elapsed())
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    for (id, body) in sources() {
        std::fs::write(dir.path().join(format!("{id}.src")), body).unwrap();
    }
    let config_path = dir.path().join("huiliu.toml");
    std::fs::write(&config_path, config(dir.path(), "1m")).unwrap();

    println!("huiliu poll --source <id>, one process each:");
    println!(
        "{:<10} {:>14} {:>8}  report",
        "source", "peak RSS MiB", "wall s"
    );
    for (id, body) in sources() {
        let (kib, wall, out) = poll_one(&config_path, id);
        let mb = body.len() as f64 / 1e6;
        println!(
            "{id:<10} {:>14.1} {:>8.2}  ({mb:.1} MB) {out}",
            kib as f64 / 1024.0,
            wall.as_secs_f64()
        );
    }

    // `huiliu run` from an empty store: every hostile source is polled in the
    // first seconds (8 at a time), while /healthz and a feed are probed.
    let run_dir = tempfile::tempdir().unwrap();
    for (id, body) in sources() {
        std::fs::write(run_dir.path().join(format!("{id}.src")), body).unwrap();
    }
    let run_config = run_dir.path().join("huiliu.toml");
    std::fs::write(&run_config, config(run_dir.path(), "1m")).unwrap();
    let mut child = Command::new(BIN)
        .args(["--log-format", "json", "run", "--config"])
        .arg(&run_config)
        .env("HUILIU_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start huiliu run");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("daemon started");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "huiliu is serving" {
            break v["address"].as_str().unwrap().to_string();
        }
    };
    let _ = get(&addr, "/feeds/all.rss");
    let (mut health, mut feed) = (Vec::new(), Vec::new());
    let mut failed = 0;
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        match (get(&addr, "/healthz"), get(&addr, "/feeds/all.rss")) {
            (Some(h), Some(f)) => {
                health.push(h);
                feed.push(f);
            }
            _ => failed += 1,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let polls = rx
        .try_iter()
        .filter(|l| l.contains("\"polled\"") || l.contains("poll failed"))
        .count();
    let peak = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    for (what, mut times) in [("/healthz", health), ("/feeds/all.rss (cached)", feed)] {
        times.sort();
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        println!(
            "huiliu run, {what}: {} answers, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    }
    println!(
        "huiliu run: {polls} polls in 30 s, {failed} failed probes, peak RSS {:.0} MiB",
        peak as f64 / 1024.0
    );
}
