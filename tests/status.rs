//! `/status` and `/status.json` at scale: failing sources first, filters,
//! paging, compression — without polling anything (states are written to
//! the store directly).

mod common;

use std::io::Read as _;

use huiliu::model::{PollStatus, SourceState};
use serde_json::Value;

const SOURCES: usize = 600;

async fn setup() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("[storage]\nurl = \"sqlite:s.db\"\n");
    for i in 0..SOURCES {
        text.push_str(&format!(
            "[[source]]\nid = \"s{i:03}\"\nname = \"Source {i}\"\nurl = \"https://example.org/f{i}\"\n"
        ));
    }
    let cfg = common::config_in(dir.path(), &text);
    let p = common::pipeline(&cfg).await;
    let now = chrono::Utc::now();
    for i in 0..SOURCES {
        let mut st = SourceState::new(&format!("s{i:03}"));
        st.last_attempt = Some(now);
        if i % 100 == 7 {
            st.last_status = Some(PollStatus::Error);
            st.error_kind = Some("http_500".into());
            st.last_error = Some("answered 500".into());
            st.consecutive_failures = 2;
        } else {
            st.last_status = Some(PollStatus::Ok);
        }
        p.store.commit_poll(&st, &[], now).await.unwrap();
    }
    (common::serve(&cfg, &p).await, dir)
}

async fn json(url: &str) -> Value {
    serde_json::from_str(&reqwest::get(url).await.unwrap().text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn status_json_filters_pages_and_counts() {
    let (base, _dir) = setup().await;
    let all = json(&format!("{base}/status.json")).await;
    assert_eq!(all["sources"].as_array().unwrap().len(), SOURCES);
    assert_eq!(all["totals"]["sources"], SOURCES);
    assert_eq!(all["totals"]["failing"], 6);
    assert_eq!(all["next_after"], Value::Null);

    let failing = json(&format!("{base}/status.json?status=failing")).await;
    let ids: Vec<&str> = failing["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s007", "s107", "s207", "s307", "s407", "s507"]);

    // Paging: 250 at a time, each page after the previous one's last id.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = json(&format!("{base}/status.json?limit=250&after={after}")).await;
        for s in page["sources"].as_array().unwrap() {
            seen.push(s["id"].as_str().unwrap().to_string());
        }
        match page["next_after"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), SOURCES);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in id order, each once");

    let found = json(&format!("{base}/status.json?q=S042")).await;
    let ids: Vec<&str> = found["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s042"]);
}

#[tokio::test]
async fn status_page_is_small_failing_first_and_compressed() {
    let (base, _dir) = setup().await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = client
        .get(format!("{base}/status"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let gz = r.bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut html)
        .unwrap();
    // A page of 100 rows, failing ones first, and a link to the next page.
    assert_eq!(html.matches("<tr><td>").count(), 100, "{html}");
    let first_ok = html.find("s000").unwrap();
    assert!(html.find("s507").unwrap() < first_ok, "failing first");
    assert!(html.contains("rel=\"next\""));
    assert!(html.contains("600 sources"));
    let json = client
        .get(format!("{base}/status.json"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(json.headers()["content-encoding"], "gzip");
}

/// A stale status is answered at once while a new one is gathered behind
/// it: no reader waits for a gathering once one exists.
#[tokio::test]
async fn a_stale_status_is_served_while_a_new_one_is_gathered() {
    let (base, _dir) = setup().await;
    let first = json(&format!("{base}/status.json?limit=1")).await["generated"].clone();
    assert!(first.is_string(), "{first}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let stale = json(&format!("{base}/status.json?limit=1")).await["generated"].clone();
    assert_eq!(stale, first, "the stale status, answered at once");
    let mut fresh = stale.clone();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        fresh = json(&format!("{base}/status.json?limit=1")).await["generated"].clone();
        if fresh != first {
            break;
        }
    }
    assert_ne!(fresh, first, "gathered anew in the background");
}
