//! A pass over many sources (default 10,000) by several `huiliu run` nodes
//! (default 3) on one PostgreSQL database, against one node on the same
//! database, with the sources served by an in-process HTTP server that
//! counts requests per source.
//!
//!     BENCH_POSTGRES=postgres://postgres@127.0.0.1:5432/test cargo bench --bench cluster
//!     BENCH_SOURCES=2000 BENCH_NODES=2 cargo bench --bench cluster
//!
//! Each node: 64 workers, `[[host]] 127.0.0.1` allowing 192 requests at once
//! with no delay (every source is on 127.0.0.1), interval 1h (each source is
//! due once in the run). Reported: wall time from starting the processes
//! to the last source's first request, and requests that repeated a source
//! (must be 0: no source is polled twice).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Seen = Arc<Mutex<HashMap<usize, usize>>>;

async fn feed(
    State(seen): State<Seen>,
    Path(file): Path<String>,
) -> ([(&'static str, &'static str); 1], String) {
    let n: usize = file.trim_end_matches(".xml").parse().unwrap_or(0);
    *seen.lock().unwrap().entry(n).or_insert(0) += 1;
    let mut body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>s{n}</title><link>http://example.org/s{n}/</link><description>d</description>"
    );
    for k in 0..3 {
        body.push_str(&format!(
            "<item><title>s{n} item {k}</title><link>http://example.org/s{n}/{k}</link><guid>s{n}-{k}</guid><pubDate>01 Jan 2025 0{k}:00:00 +0000</pubDate><description>body {n} {k}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    ([("content-type", "application/rss+xml")], body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn schema(base: &str, name: &str, create: bool) {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    let task = tokio::spawn(conn);
    let mut sql = format!("DROP SCHEMA IF EXISTS {name} CASCADE;");
    if create {
        sql.push_str(&format!("CREATE SCHEMA {name};"));
    }
    client.batch_execute(&sql).await.unwrap();
    drop(client);
    let _ = task.await;
}

/// One pass with `nodes` nodes: (wall time, repeated requests).
async fn pass(base: &str, feeds: &str, seen: &Seen, n: usize, nodes: usize) -> (Duration, usize) {
    seen.lock().unwrap().clear();
    let name = format!("bench_c{}_{nodes}", std::process::id());
    schema(base, &name, true).await;
    let sep = if base.contains('?') { '&' } else { '?' };
    let db = format!("{base}{sep}options=-c%20search_path%3D{name}");
    let dir = tempfile::tempdir().unwrap();
    let mut sources = String::new();
    for i in 0..n {
        sources.push_str(&format!(
            "\n[[source]]\nid = \"s{i}\"\nurl = \"{feeds}/f/{i}.xml\"\n"
        ));
    }
    let started = Instant::now();
    let mut children = Nodes(Vec::new());
    for k in 0..nodes {
        let cfg = format!(
            r#"
[server]
listen  = "127.0.0.1:{}"
node_id = "node-{k}"

[storage]
url = "{db}"

[fetch]
concurrency = 64

[[host]]
name = "127.0.0.1"
max_concurrent = 192
delay = "0s"

[defaults]
interval = "1h"
{sources}"#,
            free_port()
        );
        let path = dir.path().join(format!("node-{k}.toml"));
        std::fs::write(&path, cfg).unwrap();
        children.0.push(
            Command::new(env!("CARGO_BIN_EXE_huiliu"))
                .args(["run", "--config"])
                .arg(&path)
                .env("HUILIU_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pass did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    // Let in-flight polls finish, then count repeats.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let repeats = seen.lock().unwrap().values().map(|c| c - 1).sum();
    drop(children);
    schema(base, &name, false).await;
    (took, repeats)
}

fn main() {
    let n = env_usize("BENCH_SOURCES", 10_000);
    let nodes = env_usize("BENCH_NODES", 3).max(1);
    let Some(base) = std::env::var("BENCH_POSTGRES")
        .or_else(|_| std::env::var("HUILIU_TEST_POSTGRES"))
        .ok()
        .filter(|s| !s.is_empty())
    else {
        println!("cluster: skipped (set BENCH_POSTGRES or HUILIU_TEST_POSTGRES)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let seen: Seen = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let feeds = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/f/{file}", axum::routing::get(feed))
            .with_state(seen.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        println!("cluster: {n} sources on one PostgreSQL database");
        println!("| nodes | first pass (start to last source) | polls/s | repeated requests |");
        println!("| ---: | ---: | ---: | ---: |");
        let mut counts = vec![1];
        if nodes > 1 {
            counts.push(nodes);
        }
        for k in counts {
            let (took, repeats) = pass(&base, &feeds, &seen, n, k).await;
            println!(
                "| {k} | {:.1} s | {:.0} | {repeats} |",
                took.as_secs_f64(),
                n as f64 / took.as_secs_f64()
            );
        }
    });
}
