//! The `Store` contract, run against both backends from the same code: a
//! temporary SQLite file, and a fresh schema on the PostgreSQL server named
//! by `HUILIU_TEST_POSTGRES` (skipped, visibly, without it).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use huiliu::model::{Author, Entry, PollStatus, ScrapeHealth, SourceState};
use huiliu::store::{
    Coordination, EntryQuery, LeaseSource, Maintenance, PgStore, PollCounts, SqliteStore, Store,
};

/// Each store test runs twice: `<name>::sqlite` and `<name>::postgres`.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let store = huiliu::store::SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
                super::$name(std::sync::Arc::new(store)).await;
            }

            #[tokio::test]
            async fn postgres() {
                match super::common::pg::fresh_schema_url().await {
                    Some(url) => {
                        let store = huiliu::store::PgStore::open(&url).await.unwrap();
                        super::$name(std::sync::Arc::new(store)).await;
                    }
                    None => super::common::pg::skipped(concat!(stringify!($name), "::postgres")),
                }
            }
        }
    )*};
}

both!(
    same_key_updates_and_keeps_first_seen,
    dates_once_known_are_kept,
    state_round_trips_every_field,
    entries_are_newest_first_and_page,
    counts_stats_and_known_keys,
    due_sources_are_leased,
    heads_follow_the_entries_order,
);

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn entry(source: &str, key: &str, body: &str) -> Entry {
    Entry {
        id: huiliu::normalize::stable_id(source, key),
        source_id: source.into(),
        key: key.into(),
        guid: Some(format!("g-{key}")),
        url: Some(format!("https://example.org/{source}/{key}")),
        title: format!("title {key}"),
        authors: vec![Author::named("记者 王")],
        summary: Some("<p>s</p>".into()),
        content: Some(format!("<p>{body}</p>")),
        text: body.into(),
        published: None,
        updated: None,
        language: Some("zh".into()),
        categories: vec!["要闻".into()],
        enclosures: vec![],
        origin: None,
        content_hash: body.into(),
    }
}

fn query(sources: &[&str], limit: usize, offset: usize) -> EntryQuery {
    EntryQuery {
        sources: sources.iter().map(|s| s.to_string()).collect(),
        limit,
        offset,
    }
}

async fn same_key_updates_and_keeps_first_seen(store: Arc<dyn Store>) {
    let state = SourceState::new("s");
    let c = store
        .commit_poll(&state, &[entry("s", "a", "one")], t(0))
        .await
        .unwrap();
    assert_eq!(
        c,
        PollCounts {
            new: 1,
            updated: 0,
            unchanged: 0
        }
    );
    let c = store
        .commit_poll(&state, &[entry("s", "a", "one")], t(600))
        .await
        .unwrap();
    assert_eq!(c.unchanged, 1);
    assert!(!c.changed());
    let c = store
        .commit_poll(&state, &[entry("s", "a", "two")], t(600))
        .await
        .unwrap();
    assert_eq!(c.updated, 1);
    let got = store.entries(&query(&["s"], 10, 0)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].first_seen, t(0));
    assert_eq!(got[0].changed_at, t(600));
    assert_eq!(got[0].published(), t(0));
    assert_eq!(got[0].entry.updated, Some(t(600)));
    assert_eq!(got[0].entry.text, "two");
    assert_eq!(got[0].entry.authors, vec![Author::named("记者 王")]);
    assert_eq!(got[0].entry.categories, vec!["要闻".to_string()]);
    // The same key twice in one poll: one entry.
    let c = store
        .commit_poll(
            &state,
            &[entry("s", "b", "x"), entry("s", "b", "y")],
            t(700),
        )
        .await
        .unwrap();
    assert_eq!((c.new, c.updated), (1, 1));
    assert_eq!(store.entry_count("s").await.unwrap(), 2);
}

async fn dates_once_known_are_kept(store: Arc<dyn Store>) {
    let state = SourceState::new("s");
    let mut e = entry("s", "a", "one");
    e.published = Some(t(-3600));
    e.updated = Some(t(-1800));
    store.commit_poll(&state, &[e.clone()], t(0)).await.unwrap();
    // The feed drops its dates and changes the body: the known date stays.
    let mut e2 = entry("s", "a", "two");
    e2.published = None;
    e2.updated = None;
    store.commit_poll(&state, &[e2], t(60)).await.unwrap();
    let got = store.entries(&query(&["s"], 10, 0)).await.unwrap();
    assert_eq!(got[0].entry.published, Some(t(-3600)));
    assert_eq!(got[0].entry.updated, Some(t(60)));
    assert_eq!(got[0].first_seen, t(0));
}

async fn state_round_trips_every_field(store: Arc<dyn Store>) {
    assert_eq!(store.state("none").await.unwrap(), SourceState::new("none"));
    let mut health = ScrapeHealth {
        pages: 2,
        items: 4,
        problems: vec!["article 3: timeout".into()],
        ..Default::default()
    };
    health.filled.insert("title".into(), 4);
    let st = SourceState {
        source_id: "s".into(),
        etag: Some("\"e\"".into()),
        last_modified: Some("Tue, 14 Nov 2023 22:13:20 GMT".into()),
        last_attempt: Some(t(1)),
        last_success: Some(t(2)),
        last_status: Some(PollStatus::NotModified),
        last_error: Some("timeout: slow".into()),
        consecutive_failures: 3,
        next_due: Some(t(900)),
        moved_to: Some("http://a/ http://b/".into()),
        error_kind: Some("timeout".into()),
        http_status: Some(304),
        disabled_url: Some("http://gone/".into()),
        interval_secs: Some(1800),
        feed_hint_secs: Some(3600),
        fingerprint: Some("abc".into()),
        last_change: Some(t(-5)),
        scrape: Some(health),
    };
    store.commit_poll(&st, &[], t(0)).await.unwrap();
    assert_eq!(store.state("s").await.unwrap(), st);
    let mut st2 = SourceState::new("s");
    st2.last_status = Some(PollStatus::Ok);
    store.commit_poll(&st2, &[], t(1)).await.unwrap();
    store
        .commit_poll(&SourceState::new("a"), &[], t(1))
        .await
        .unwrap();
    let all = store.states().await.unwrap();
    assert_eq!(all, vec![SourceState::new("a"), st2]);
}

async fn entries_are_newest_first_and_page(store: Arc<dyn Store>) {
    let mut es = Vec::new();
    for (i, key) in ["k1", "k2", "k3", "k4", "K5", "k_6"].iter().enumerate() {
        let mut e = entry("s", key, key);
        // Two pairs share a published time: then by id, descending.
        e.published = Some(t(100 * (i as i64 / 2)));
        es.push(e);
    }
    store
        .commit_poll(&SourceState::new("s"), &es, t(1000))
        .await
        .unwrap();
    let mut undated = entry("u", "x", "x");
    undated.published = None;
    store
        .commit_poll(&SourceState::new("u"), &[undated], t(150))
        .await
        .unwrap();
    let all = store.entries(&query(&["s", "u"], 100, 0)).await.unwrap();
    let mut expected: Vec<(i64, String)> = es
        .iter()
        .map(|e| (e.published.unwrap().timestamp(), e.id.clone()))
        .chain([(t(150).timestamp(), huiliu::normalize::stable_id("u", "x"))])
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    let got: Vec<(i64, String)> = all
        .iter()
        .map(|s| (s.published().timestamp(), s.entry.id.clone()))
        .collect();
    assert_eq!(got, expected);
    let page = store.entries(&query(&["s", "u"], 3, 2)).await.unwrap();
    let ids: Vec<&str> = page.iter().map(|s| s.entry.id.as_str()).collect();
    let want: Vec<&str> = expected[2..5].iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(ids, want);
    assert!(store.entries(&query(&[], 10, 0)).await.unwrap().is_empty());
    assert_eq!(store.entries(&query(&["u"], 10, 0)).await.unwrap().len(), 1);
}

async fn counts_stats_and_known_keys(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert_eq!(store.total_entries().await.unwrap(), 0);
    store
        .commit_poll(
            &SourceState::new("a"),
            &[entry("a", "1", "x"), entry("a", "2", "y")],
            t(0),
        )
        .await
        .unwrap();
    store
        .commit_poll(&SourceState::new("b"), &[entry("b", "1", "x")], t(86_400))
        .await
        .unwrap();
    assert_eq!(store.entry_count("a").await.unwrap(), 2);
    assert_eq!(store.entry_count("zzz").await.unwrap(), 0);
    assert_eq!(store.total_entries().await.unwrap(), 3);
    let known = store
        .known_keys("a", &["1".into(), "3".into(), "2".into()])
        .await
        .unwrap();
    assert_eq!(
        known,
        ["1".to_string(), "2".to_string()].into_iter().collect()
    );
    assert!(store.known_keys("a", &[]).await.unwrap().is_empty());
    // Entries by id (the merged feed fetches a report's other copies).
    let id = entry("b", "1", "x").id;
    let mut by_id = store
        .entries_by_ids(&[id.clone(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id.remove(0).entry.id, id);
    assert!(store.entries_by_ids(&[]).await.unwrap().is_empty());
    let days = store.daily_counts(t(-10)).await.unwrap();
    assert_eq!(
        days,
        vec![("2023-11-14".to_string(), 2), ("2023-11-15".to_string(), 1),]
    );
    assert_eq!(store.daily_counts(t(10)).await.unwrap().len(), 1);
    let stats = store.entry_stats(t(10)).await.unwrap();
    let got: Vec<(String, u64, u64)> = stats
        .into_iter()
        .map(|s| (s.source_id, s.total, s.recent))
        .collect();
    assert_eq!(got, vec![("a".into(), 2, 0), ("b".into(), 1, 1)]);
}

async fn due_sources_are_leased(store: Arc<dyn Store>) {
    let offers: Vec<LeaseSource> = ["a", "b", "c"]
        .iter()
        .map(|id| LeaseSource {
            id: id.to_string(),
            host: "example.org".into(),
            host_limit: 10,
            host_delay: Duration::ZERO,
        })
        .collect();
    store.register_sources(&offers).await.unwrap();
    let mut st = SourceState::new("a");
    st.next_due = Some(Utc::now() + chrono::Duration::hours(1));
    store.commit_poll(&st, &[], Utc::now()).await.unwrap();
    let mut st = SourceState::new("b");
    st.next_due = Some(Utc::now() - chrono::Duration::seconds(5));
    store.commit_poll(&st, &[], Utc::now()).await.unwrap();
    let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let got: HashSet<String> = store
        .lease_due("n1", &ids, Utc::now(), 10, Duration::from_secs(30))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(got, ["b".to_string(), "c".to_string()].into());
    let one = store
        .lease_due("n1", &ids[1..], Utc::now(), 1, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(one.len() <= 1);
    store.release("n1", &ids).await.unwrap();
}

// --- PostgreSQL only: what sharing one database between nodes needs.

async fn pg() -> Option<(String, PgStore)> {
    let url = common::pg::fresh_schema_url().await?;
    let store = PgStore::open(&url).await.unwrap();
    Some((url, store))
}

async fn lease_ids(store: &PgStore, node: &str, ids: &[String], lease: Duration) -> Vec<String> {
    store
        .lease_due(node, ids, Utc::now(), 10, lease)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect()
}

#[tokio::test]
async fn postgres_host_turns_hold_across_nodes() {
    let Some((_, store)) = pg().await else {
        return common::pg::skipped("postgres_host_turns_hold_across_nodes");
    };
    let offers: Vec<LeaseSource> = (0..5)
        .map(|i| LeaseSource {
            id: format!("s{i}"),
            host: "slow.example".into(),
            host_limit: 10,
            host_delay: Duration::from_millis(600),
        })
        .collect();
    store.register_sources(&offers).await.unwrap();
    let ids: Vec<String> = offers.iter().map(|o| o.id.clone()).collect();
    let lease = Duration::from_secs(30);
    // Turns at 0, 600 ms and (within the 1 s booking horizon) no further.
    let before_a = std::time::Instant::now();
    let a = store
        .lease_due("A", &ids, Utc::now(), 10, lease)
        .await
        .unwrap();
    let after_a = std::time::Instant::now();
    let starts: Vec<u128> = a.iter().map(|l| l.start_in.as_millis()).collect();
    assert_eq!(starts, vec![0, 600], "{a:?}");
    // Another node: the host's next turn is 1.2 s after A's lease, less
    // the time since (timing-tolerant: the machine may be busy).
    let lease_b = |pause: u64| {
        let store = &store;
        let ids = &ids;
        async move {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let since_a = after_a.elapsed().as_millis() as i64;
            let b = store
                .lease_due("B", ids, Utc::now(), 10, lease)
                .await
                .unwrap();
            let until = before_a.elapsed().as_millis() as i64;
            (b, since_a, until)
        }
    };
    let (b, _, until) = lease_b(0).await;
    if until < 150 {
        assert!(b.is_empty(), "the turn is over 1 s away: {b:?}");
    } else if !b.is_empty() {
        return; // Too slow a machine to check the rest.
    }
    let (b, since_a, until) = lease_b(400).await;
    assert!(!b.is_empty(), "{b:?}");
    let got = b[0].start_in.as_millis() as i64;
    let (lo, hi) = ((1200 - until).max(0) - 5, (1200 - since_a).max(0) + 5);
    assert!(
        (lo..=hi).contains(&got),
        "B starts after A's two turns: {got} ms, expected {lo}..={hi}"
    );
}

#[tokio::test]
async fn postgres_leases_are_exclusive_expire_and_renew() {
    let Some((_, store)) = pg().await else {
        return common::pg::skipped("postgres_leases_are_exclusive_expire_and_renew");
    };
    assert!(store.shared());
    let mut offers: Vec<LeaseSource> = (0..6)
        .map(|i| LeaseSource {
            id: format!("s{i}"),
            host: "a.example".into(),
            host_limit: 2,
            host_delay: Duration::ZERO,
        })
        .collect();
    offers.push(LeaseSource {
        id: "other".into(),
        host: "b.example".into(),
        host_limit: 2,
        host_delay: Duration::ZERO,
    });
    store.register_sources(&offers).await.unwrap();
    let ids: Vec<String> = offers.iter().map(|o| o.id.clone()).collect();
    let lease = Duration::from_secs(2);
    let a = lease_ids(&store, "A", &ids, lease).await;
    // At most two of host a.example at once, across nodes.
    assert_eq!(a.len(), 3, "{a:?}");
    assert!(a.contains(&"other".to_string()));
    let b = lease_ids(&store, "B", &ids, lease).await;
    assert!(
        b.is_empty(),
        "host a.example is busy and other is leased: {b:?}"
    );
    // A releases one: B may take one source of a.example (never A's others).
    let first = a.iter().find(|id| id.starts_with('s')).unwrap().clone();
    store
        .release("A", std::slice::from_ref(&first))
        .await
        .unwrap();
    let b = lease_ids(&store, "B", &ids, lease).await;
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(!a[1..].contains(&b[0]) || b[0] == first);
    // A renews its leases; B's lapses. After the expiry B's source is free.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held: Vec<String> = a.iter().filter(|id| **id != first).cloned().collect();
    assert_eq!(
        store
            .renew("A", &held, Duration::from_secs(10))
            .await
            .unwrap(),
        held.len()
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let c = lease_ids(&store, "C", &ids, lease).await;
    assert_eq!(c.len(), 1, "only B's expired lease is free: {c:?}");
    assert!(!held.contains(&c[0]));
    // Renewing a lease one no longer holds says so.
    assert_eq!(store.renew("B", &b, lease).await.unwrap(), 0);
}

#[tokio::test]
async fn postgres_nodes_starting_together_migrate_once() {
    let Some(url) = common::pg::fresh_schema_url().await else {
        return common::pg::skipped("postgres_nodes_starting_together_migrate_once");
    };
    let opens = (0..5).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { PgStore::open(&url).await.map(|_| ()) })
    });
    for o in opens {
        o.await.unwrap().unwrap();
    }
    let store = PgStore::open(&url).await.unwrap();
    store
        .commit_poll(&SourceState::new("s"), &[entry("s", "a", "x")], t(0))
        .await
        .unwrap();
    assert_eq!(store.total_entries().await.unwrap(), 1);
}

#[tokio::test]
async fn postgres_changes_reach_other_nodes() {
    let Some((url, writer)) = pg().await else {
        return common::pg::skipped("postgres_changes_reach_other_nodes");
    };
    let reader = Arc::new(PgStore::open(&url).await.unwrap());
    let changes = Arc::new(AtomicU64::new(1));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let follow = tokio::spawn({
        let (reader, changes) = (reader.clone(), changes.clone());
        async move { reader.follow_changes(changes, stop).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = changes.load(Ordering::Acquire);
    writer
        .commit_poll(&SourceState::new("s"), &[entry("s", "a", "x")], t(0))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while changes.load(Ordering::Acquire) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no notification within 2s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    follow.await.unwrap();
}

#[tokio::test]
async fn sqlite_store_migrates_to_postgres_and_reruns() {
    let Some((_, target)) = pg().await else {
        return common::pg::skipped("sqlite_store_migrates_to_postgres_and_reruns");
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
    let mut st = SourceState::new("a");
    st.etag = Some("\"x\"".into());
    st.next_due = Some(t(60));
    let es: Vec<Entry> = (0..2500)
        .map(|i| entry("a", &format!("k{i}"), &format!("b{i}")))
        .collect();
    sqlite.commit_poll(&st, &es, t(0)).await.unwrap();
    sqlite
        .commit_poll(&SourceState::new("b"), &[entry("b", "1", "x")], t(5))
        .await
        .unwrap();
    for run in 0..2 {
        let r = huiliu::store_copy::copy_store(&sqlite, &target)
            .await
            .unwrap();
        assert_eq!((r.sources, r.states, r.entries), (2, 2, 2501), "run {run}");
        assert!(r.mismatches.is_empty(), "{:?}", r.mismatches);
    }
    assert_eq!(target.total_entries().await.unwrap(), 2501);
    assert_eq!(target.state("a").await.unwrap(), st);
    let q = query(&["a", "b"], 5000, 0);
    assert_eq!(
        sqlite.entries(&q).await.unwrap(),
        target.entries(&q).await.unwrap()
    );
}

/// PostgreSQL's backup (no `pg_dump`): one snapshot as `huiliu import`
/// lines; restored into a fresh SQLite store it holds the same entries and
/// clusters, and it never overwrites a file.
#[tokio::test]
async fn postgres_backup_restores_into_a_fresh_store() {
    let Some((_, store)) = pg().await else {
        return common::pg::skipped("postgres_backup_restores_into_a_fresh_store");
    };
    let entries: Vec<Entry> = (0..1500)
        .map(|i| entry(if i % 2 == 0 { "a" } else { "b" }, &format!("k{i}"), "正文"))
        .collect();
    store
        .commit_poll(&SourceState::new("a"), &entries, t(0))
        .await
        .unwrap();
    let mut labels = huiliu::dedup::Relabel::default();
    labels
        .assign
        .push((entries[1].id.clone(), entries[0].id.clone()));
    store.set_clusters(&labels).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pg.jsonl");
    store.backup_to(&file).await.unwrap();
    assert!(store.backup_to(&file).await.is_err(), "never overwrites");

    let copy = SqliteStore::open(&dir.path().join("copy.db"))
        .await
        .unwrap();
    let mut input = std::io::BufReader::new(std::fs::File::open(&file).unwrap());
    let report = huiliu::service::backup::import_jsonl(&copy, &mut input)
        .await
        .unwrap();
    assert_eq!((report.read, report.inserted), (1500, 1500));
    let all = |s: &'static str| query(&[s], 2000, 0);
    for source in ["a", "b"] {
        let want = store.entries(&all(source)).await.unwrap();
        let got = copy.entries(&all(source)).await.unwrap();
        assert_eq!(got, want, "source {source}");
    }
    let member = copy
        .entries_by_ids(std::slice::from_ref(&entries[1].id))
        .await
        .unwrap();
    assert_eq!(member[0].cluster.as_deref(), Some(entries[0].id.as_str()));
}

/// `entry_heads` is `entries` without the bodies: the same rows, in the
/// same order, with their cluster labels, page by page.
async fn heads_follow_the_entries_order(store: Arc<dyn Store>) {
    let mut entries: Vec<Entry> = (0..40)
        .map(|i| {
            let mut e = entry(if i % 3 == 0 { "a" } else { "b" }, &format!("k{i}"), "x");
            // Ties on the date: the order falls back to the id.
            e.published = Some(t(i64::from(i / 2) * 60));
            e
        })
        .collect();
    entries.push(entry("c", "other", "x"));
    store
        .commit_poll(&SourceState::new("a"), &entries, t(0))
        .await
        .unwrap();
    let mut labels = huiliu::dedup::Relabel::default();
    labels
        .assign
        .push((entries[5].id.clone(), entries[4].id.clone()));
    store.set_clusters(&labels).await.unwrap();
    for (limit, offset) in [(100, 0), (7, 0), (7, 14), (7, 35)] {
        let q = query(&["a", "b"], limit, offset);
        let full: Vec<(String, Option<String>)> = store
            .entries(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.entry.id, e.cluster))
            .collect();
        let heads: Vec<(String, Option<String>)> = store
            .entry_heads(&q)
            .await
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.cluster))
            .collect();
        assert_eq!(heads, full, "limit {limit} offset {offset}");
    }
    let all = store
        .entry_heads(&query(&["a", "b"], 100, 0))
        .await
        .unwrap();
    assert_eq!(all.len(), 40, "source c left out");
    let joined = all.iter().find(|h| h.id == entries[5].id).unwrap();
    assert_eq!(joined.cluster_label(), entries[4].id);
}
