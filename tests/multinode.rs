//! Three `huiliu run` processes on one PostgreSQL schema share 300 sources
//! served by an in-process server that records every request; one node is
//! killed with SIGKILL mid-pass. Every source must be polled, no source
//! requested by two nodes at once, and each surviving node must serve every
//! entry exactly once. After the kill some sources answer slower than a
//! lease lasts: their nodes must renew the leases rather than let another
//! node poll them too. Skipped (visibly) without `HUILIU_TEST_POSTGRES`.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;

const SOURCES: usize = 300;
/// Items per feed grow by one per request up to this many.
const MAX_ITEMS: usize = 4;

#[derive(Debug, Clone)]
struct Hit {
    source: usize,
    node: String,
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct Feeds {
    hits: Vec<Hit>,
    /// Items each source shows now (they only grow).
    items: HashMap<usize, usize>,
    frozen: bool,
    /// After the kill, every 50th source answers slower than a lease
    /// lasts: the survivors must renew, not let another node in.
    slow: bool,
}

type Shared = Arc<Mutex<Feeds>>;

async fn feed(
    State(st): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let start = Instant::now();
    let n: usize = file.trim_end_matches(".xml").parse().unwrap_or(0);
    let (items, slow) = {
        let mut f = st.lock().unwrap();
        let slow = f.slow && n % 50 == 7;
        let frozen = f.frozen;
        let c = f.items.entry(n).or_insert(0);
        if !frozen && *c < MAX_ITEMS {
            *c += 1;
        }
        (*c, slow)
    };
    // Long enough for overlapping requests to show.
    let ms = if slow { 4500 } else { 40 + (n % 5) as u64 * 20 };
    tokio::time::sleep(Duration::from_millis(ms)).await;
    let mut body = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>s{n}</title><link>http://example.org/s{n}/</link><description>d</description>"
    );
    for k in 0..items {
        let minute = (n * MAX_ITEMS + k) % 60;
        let hour = (n * MAX_ITEMS + k) / 60 % 24;
        let day = 1 + (n * MAX_ITEMS + k) / 1440;
        body.push_str(&format!(
            "<item><title>s{n} item {k}</title><link>http://example.org/s{n}/{k}</link><guid>s{n}-{k}</guid><pubDate>{day:02} Jan 2025 {hour:02}:{minute:02}:00 +0000</pubDate><description>body {n} {k}</description></item>"
        ));
    }
    body.push_str("</channel></rss>");
    let node = headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    st.lock().unwrap().hits.push(Hit {
        source: n,
        node,
        start,
        end: Instant::now(),
    });
    ([("content-type", "application/rss+xml")], body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Node {
    name: String,
    port: u16,
    child: Child,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(dir: &std::path::Path, name: &str, db: &str, feeds: &str) -> Node {
    let port = free_port();
    let mut cfg = format!(
        r#"
[server]
listen  = "127.0.0.1:{port}"
node_id = "{name}"
lease   = "3s"

[storage]
url = "{db}"

[fetch]
user_agent       = "{name}"
concurrency      = 16
host_concurrency = 64
host_delay       = "1ms"
timeout          = "10s"

[[host]]
name         = "127.0.0.1"
min_interval = "1s"

[defaults]
interval     = "2s"
min_interval = "1s"
max_interval = "3s"

[[feed]]
id    = "all"
title = "all"
limit = 10000
"#
    );
    for n in 0..SOURCES {
        cfg.push_str(&format!(
            "\n[[source]]\nid = \"s{n}\"\nurl = \"{feeds}/f/{n}.xml\"\n"
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, cfg).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_huiliu"))
        .args(["run", "--config"])
        .arg(&path)
        .env("HUILIU_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Node {
        name: name.into(),
        port,
        child,
    }
}

async fn feed_urls(port: u16) -> Option<Vec<String>> {
    let r = reqwest::get(format!("http://127.0.0.1:{port}/feeds/all.json"))
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&r.bytes().await.ok()?).ok()?;
    Some(
        v["items"]
            .as_array()?
            .iter()
            .filter_map(|i| i["url"].as_str().map(str::to_string))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_the_work_and_survive_a_kill() {
    let Some(db) = common::pg::fresh_schema_url().await else {
        return common::pg::skipped("three_nodes_share_the_work_and_survive_a_kill");
    };
    let state: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/f/{file}", axum::routing::get(feed))
        .with_state(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Node> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| start_node(dir.path(), n, &db, &base))
        .collect();
    let logs = |dir: &std::path::Path| {
        ["node-a", "node-b", "node-c"]
            .iter()
            .map(|n| {
                format!(
                    "--- {n}\n{}",
                    std::fs::read_to_string(dir.join(format!("{n}.log"))).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Mid-pass (a third of the sources requested, some by node-a), node-a dies.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (hits, by_a) = {
            let f = state.lock().unwrap();
            let by_a = f.hits.iter().filter(|h| h.node == "node-a").count();
            (f.hits.len(), by_a)
        };
        // node-a may start last (its migrations wait for the others').
        if hits >= SOURCES / 3 && by_a >= 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nodes did not poll:\n{}",
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = nodes.remove(0);
    let killed_name = killed.name.clone();
    drop(killed); // SIGKILL
    let killed_at = Instant::now();
    state.lock().unwrap().slow = true;
    let a_hits = state
        .lock()
        .unwrap()
        .hits
        .iter()
        .filter(|h| h.node == killed_name)
        .count();
    assert!(a_hits > 0, "node-a polled nothing before it died");

    // Its leases expire (3s); the survivors take over. Then the feeds stop
    // changing, and every source is polled once more by a survivor.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let frozen_at = {
        let mut f = state.lock().unwrap();
        f.frozen = true;
        Instant::now()
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let done: HashSet<usize> = state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|h| h.start > frozen_at + Duration::from_millis(50))
            .map(|h| h.source)
            .collect();
        if done.len() == SOURCES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} sources polled after the freeze:\n{}",
            done.len(),
            logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (hits, items) = {
        let f = state.lock().unwrap();
        (f.hits.clone(), f.items.clone())
    };
    // Every source polled; none by two requests at once (any nodes).
    let mut by_source: HashMap<usize, Vec<&Hit>> = HashMap::new();
    for h in &hits {
        by_source.entry(h.source).or_default().push(h);
    }
    assert_eq!(by_source.len(), SOURCES);
    for (n, hs) in by_source.iter_mut() {
        hs.sort_by_key(|h| h.start);
        for w in hs.windows(2) {
            assert!(
                w[1].start >= w[0].end,
                "source {n} requested concurrently by {} and {}",
                w[0].node,
                w[1].node
            );
        }
    }
    let survivors: HashSet<&str> = hits
        .iter()
        .filter(|h| h.start > killed_at)
        .map(|h| h.node.as_str())
        .collect();
    assert!(!survivors.contains(killed_name.as_str()));
    assert_eq!(survivors.len(), 2, "both survivors polled: {survivors:?}");
    let slow = hits
        .iter()
        .filter(|h| h.end.duration_since(h.start) > Duration::from_secs(4))
        .count();
    assert!(slow >= SOURCES / 50, "slow polls: {slow}");

    // Each survivor serves every entry ever published, exactly once.
    let expected: HashSet<String> = items
        .iter()
        .flat_map(|(n, c)| (0..*c).map(move |k| format!("http://example.org/s{n}/{k}")))
        .collect();
    for node in &nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = loop {
            let got = feed_urls(node.port).await.unwrap_or_default();
            let set: HashSet<String> = got.iter().cloned().collect();
            if set == expected || Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let set: HashSet<String> = got.iter().cloned().collect();
        assert_eq!(got.len(), set.len(), "{}: duplicated entries", node.name);
        let missing: Vec<_> = expected.difference(&set).take(5).collect();
        let extra: Vec<_> = set.difference(&expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{}: {} entries of {}; missing {missing:?}, extra {extra:?}",
            node.name,
            set.len(),
            expected.len()
        );
    }
    eprintln!(
        "multi-node: {} requests, {} by {killed_name} before SIGKILL, {} entries on each survivor",
        hits.len(),
        a_hits,
        expected.len()
    );
}
