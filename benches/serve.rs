//! Serving a merged feed vs nginx serving the same bytes as a static file.
//!
//!     cargo bench --bench serve            # needs wrk and nginx (Debian: wrk, nginx-light)
//!
//! A 200-entry merged feed (about 200 KB of RSS) is polled into a temporary
//! SQLite and served by huiliu on 127.0.0.1; nginx serves the identical
//! bytes (and a gzip_static copy). `wrk -t2 -c64 -d10s` measures both, plain,
//! with `Accept-Encoding: gzip`, and with a matching `If-None-Match`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const ENTRIES: usize = 200;

fn synthetic_feed() -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>bench</title><link>https://bench.example.org/</link><description>bench</description>\n",
    );
    for i in 0..ENTRIES {
        let body = format!(
            "<p>第{i}条：武进国家高新区南夏墅街道举行2024年新春重大项目集中开工活动。此次集中开工项目共8个，总投资约36亿元，涵盖新能源汽车零部件、高端装备制造、新一代信息技术等领域。</p><p>Entry {i} of the benchmark feed, with enough English text to look like a real news summary in a merged feed.</p><p>今年以来，南夏墅街道建立重点项目挂钩服务机制，实行“一个项目、一名领导、一支团队”全程跟踪服务，及时协调解决项目推进中的用地、用工、审批等问题。</p>"
        );
        out.push_str(&format!(
            "<item><title>第{i}条 Bench entry {i}</title><link>https://bench.example.org/{i}.html</link><guid>bench-{i}</guid><pubDate>Tue, 20 Feb 2024 {:02}:{:02}:00 +0800</pubDate><description><![CDATA[{body}]]></description></item>\n",
            i % 24,
            i % 60
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// CPU seconds of nginx: the master `pid` and its workers (from /proc).
fn nginx_cpu(pid: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid … utime stime.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let own = head.split_whitespace().next() == Some(&pid.to_string());
        if (own || f.get(1) == Some(&pid.to_string().as_str())) && f.len() > 12 {
            let t: f64 = f[11].parse().unwrap_or(0.0) + f[12].parse().unwrap_or(0.0);
            total += t / ticks;
        }
    }
    total
}

/// Requests per second and the server's CPU microseconds per request.
fn measure(url: &str, headers: &[&str], cpu: impl Fn() -> f64) -> (f64, f64) {
    let before = cpu();
    let rate = wrk(url, headers);
    let used = cpu() - before;
    (rate, used * 1e6 / (rate * 10.0).max(1.0))
}

fn wrk(url: &str, headers: &[&str]) -> f64 {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c64", "-d10s", "--latency"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = match cmd.arg(url).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cannot run wrk ({e}): apt-get install wrk");
            std::process::exit(2);
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let non_2xx = text.lines().find(|l| l.contains("Non-2xx"));
    if let Some(line) = non_2xx {
        if !headers.iter().any(|h| h.starts_with("If-None-Match")) {
            eprintln!("warning: {url}: {line}");
        }
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn etag(url: &str, gzip: bool) -> String {
    let mut cmd = Command::new("curl");
    cmd.args(["-sI", url]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    let out = cmd.output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("etag").then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

fn start_nginx(dir: &Path, port: u16) -> std::process::Child {
    let conf = format!(
        "worker_processes 2;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\nevents {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp; uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;\n  types {{ application/rss+xml rss; }}\n  server {{\n    listen 127.0.0.1:{port};\n    root {dir}/www;\n    gzip_static on;\n    etag on;\n  }}\n}}\n",
        dir = dir.display()
    );
    std::fs::create_dir_all(dir.join("tmp")).ok();
    std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("-v")
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .unwrap_or_else(|| {
            eprintln!("nginx not found: apt-get install nginx-light");
            std::process::exit(2);
        });
    Command::new(nginx)
        .args(["-c"])
        .arg(dir.join("nginx.conf"))
        .args(["-p"])
        .arg(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts")
}

fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bench.xml"), synthetic_feed()).expect("write feed");
    std::fs::write(
        dir.path().join("bench.toml"),
        format!(
            "[storage]\nurl = \"sqlite:bench.db\"\n[[source]]\nid = \"bench\"\nkind = \"file\"\nurl = \"bench.xml\"\n[[feed]]\nid = \"merged\"\nlimit = {ENTRIES}\n"
        ),
    )
    .expect("write config");
    let mut cfg = huiliu::config::load_file(&dir.path().join("bench.toml")).expect("config");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    cfg.server.base_url = url::Url::parse(&format!("http://{addr}")).expect("url");
    let cfg = Arc::new(cfg);
    let store = runtime
        .block_on(huiliu::store::open(&cfg.storage))
        .expect("store");
    let pipeline = huiliu::refresh::Pipeline::new(
        huiliu::fetch::Fetcher::new(&cfg.fetch).expect("fetcher"),
        store.clone(),
    );
    runtime.block_on(huiliu::schedule::poll_once(&pipeline, &cfg.sources, 1));
    let state = huiliu::serve::AppState::new(cfg.clone(), store, pipeline.changes.clone());
    runtime.spawn(huiliu::serve::serve(
        listener,
        state,
        std::future::pending(),
    ));
    std::thread::sleep(Duration::from_millis(200));

    let ours = format!("http://{addr}/feeds/merged.rss");
    let body = Command::new("curl")
        .args(["-s", &ours])
        .output()
        .expect("curl")
        .stdout;
    let www = dir.path().join("www");
    std::fs::create_dir_all(&www).expect("www");
    std::fs::write(www.join("merged.rss"), &body).expect("static copy");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&body).expect("gzip");
    std::fs::write(www.join("merged.rss.gz"), gz.finish().expect("gzip")).expect("gz copy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut nginx = start_nginx(dir.path(), port);
    std::thread::sleep(Duration::from_millis(500));
    let theirs = format!("http://127.0.0.1:{port}/merged.rss");
    println!("feed: {} entries, {} bytes", ENTRIES, body.len());

    let cases: [(&str, bool, bool); 3] = [
        ("plain", false, false),
        ("gzip", true, false),
        ("304", false, true),
    ];
    println!(
        "{:<8} {:>14} {:>14} {:>7}   server CPU µs/request: huiliu nginx",
        "case", "huiliu req/s", "nginx req/s", "ratio"
    );
    let nginx_pid = nginx.id();
    for (name, gzip, conditional) in cases {
        let mut rates = Vec::new();
        let mut cpus = Vec::new();
        for (url, is_nginx) in [(&ours, false), (&theirs, true)] {
            let mut headers: Vec<String> = Vec::new();
            if gzip {
                headers.push("Accept-Encoding: gzip".into());
            }
            if conditional {
                headers.push(format!("If-None-Match: {}", etag(url, false)));
            }
            let refs: Vec<&str> = headers.iter().map(String::as_str).collect();
            let (rate, cpu) = if is_nginx {
                measure(url, &refs, || nginx_cpu(nginx_pid))
            } else {
                measure(url, &refs, common::cpu_seconds)
            };
            rates.push(rate);
            cpus.push(cpu);
        }
        println!(
            "{name:<8} {:>14.0} {:>14.0} {:>7.2}   {:>6.1} {:>6.1}",
            rates[0],
            rates[1],
            rates[0] / rates[1].max(1.0),
            cpus[0],
            cpus[1]
        );
    }
    // SIGTERM lets the master stop its workers (SIGKILL would orphan them).
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(nginx_pid as libc::pid_t, libc::SIGTERM);
    }
    let _ = nginx.wait();
}
