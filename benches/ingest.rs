//! Ingest of normalized entries into each store through `Store::commit_poll`
//! (polls of BENCH_BATCH new entries, BENCH_WRITERS polls at a time), against
//! a bulk load of the same rows in the same run: `sqlite3 .import` of a CSV
//! into the same schema, and `COPY` (psql `\copy`) into PostgreSQL.
//!
//!     cargo bench --bench ingest              # 1,000,000 entries
//!     BENCH_ENTRIES=100000 BENCH_WRITERS=8 cargo bench --bench ingest
//!
//! PostgreSQL: BENCH_POSTGRES (else HUILIU_TEST_POSTGRES), e.g.
//! postgres://postgres@127.0.0.1:5432/test; each run uses fresh schemas and
//! drops them. Without it, or without `sqlite3` / `psql`, those rows are
//! skipped.

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use huiliu::model::{Author, Entry, SourceState, StoredEntry};
use huiliu::store::{PgStore, SqliteStore, Store};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const SOURCES: usize = 1000;

/// Entry `i`: a realistic size (title, ~600 bytes of HTML, ~300 chars of text).
fn entry(i: usize, batch: usize) -> Entry {
    let source = format!("s{}", (i / batch) % SOURCES);
    let key = format!("guid:https://www.example.gov.cn/news/{i}.html");
    let body = format!(
        "湖塘镇召开第{i}次安全生产工作会议，部署近期重点工作。The town held its safety meeting number {i}; \
         officials reviewed inspections, fire drills and the winter plan for factories and markets. "
    )
    .repeat(2);
    Entry {
        id: huiliu::normalize::stable_id(&source, &key),
        source_id: source,
        key,
        guid: Some(format!("https://www.example.gov.cn/news/{i}.html")),
        url: Some(format!("https://www.example.gov.cn/news/{i}.html")),
        title: format!("湖塘镇召开安全生产工作会议（{i}）"),
        authors: vec![Author::named("湖塘镇人民政府")],
        summary: Some(format!("<p>{}</p>", safe_prefix(&body, 120))),
        content: Some(format!(
            "<p>{body}</p><p><a href=\"https://www.example.gov.cn/\">来源</a></p>"
        )),
        text: body,
        published: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).single(),
        updated: Utc.timestamp_opt(1_700_000_000 + i as i64, 0).single(),
        language: Some("zh".into()),
        categories: vec!["要闻".into()],
        enclosures: vec![],
        origin: None,
        content_hash: format!("{i:016x}"),
    }
}

fn safe_prefix(s: &str, n: usize) -> &str {
    let mut end = n.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

async fn ingest(store: Arc<dyn Store>, n: usize, batch: usize, writers: usize) -> Duration {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                let first = b * batch;
                if first >= n {
                    break;
                }
                let entries: Vec<Entry> = (first..(first + batch).min(n))
                    .map(|i| entry(i, batch))
                    .collect();
                let mut state = SourceState::new(&entries[0].source_id);
                state.last_success = Some(Utc::now());
                store
                    .commit_poll(&state, &entries, Utc::now())
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

fn csv_field(out: &mut Vec<u8>, v: &str) {
    out.push(b'"');
    for b in v.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The same rows as `ingest` stores, in the entry table's column order.
fn write_csv(path: &std::path::Path, n: usize, batch: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let now = Utc::now();
    let mut line = Vec::with_capacity(4096);
    for i in 0..n {
        let e = entry(i, batch);
        let s = StoredEntry {
            first_seen: now,
            changed_at: now,
            cluster: None,
            entry: e,
        };
        let e = &s.entry;
        let t = |d: Option<chrono::DateTime<Utc>>| {
            d.map(|d| d.timestamp().to_string()).unwrap_or_default()
        };
        let cols: Vec<String> = vec![
            e.id.clone(),
            e.source_id.clone(),
            e.key.clone(),
            e.guid.clone().unwrap_or_default(),
            e.url.clone().unwrap_or_default(),
            e.title.clone(),
            serde_json::to_string(&e.authors).unwrap(),
            e.summary.clone().unwrap_or_default(),
            e.content.clone().unwrap_or_default(),
            e.text.clone(),
            t(e.published),
            t(e.updated),
            e.language.clone().unwrap_or_default(),
            serde_json::to_string(&e.categories).unwrap(),
            serde_json::to_string(&e.enclosures).unwrap(),
            e.content_hash.clone(),
            s.first_seen.timestamp().to_string(),
            s.changed_at.timestamp().to_string(),
            e.published.unwrap_or(s.first_seen).timestamp().to_string(),
        ];
        line.clear();
        for (k, c) in cols.iter().enumerate() {
            if k > 0 {
                line.push(b',');
            }
            csv_field(&mut line, c);
        }
        line.push(b'\n');
        f.write_all(&line).unwrap();
    }
    f.flush().unwrap();
}

fn timed(cmd: &mut Command) -> Option<Duration> {
    let started = Instant::now();
    match cmd.output() {
        Ok(o) if o.status.success() => Some(started.elapsed()),
        Ok(o) => {
            eprintln!(
                "{:?} failed: {}",
                cmd,
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            eprintln!("{:?}: {e}", cmd.get_program());
            None
        }
    }
}

async fn pg_schema(base: &str, name: &str, create: bool) {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    let task = tokio::spawn(conn);
    let sql = if create {
        format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
    } else {
        format!("DROP SCHEMA IF EXISTS {name} CASCADE")
    };
    client.batch_execute(&sql).await.unwrap();
    drop(client);
    let _ = task.await;
}

fn with_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let n = env_usize("BENCH_ENTRIES", 1_000_000);
    let batch = env_usize("BENCH_BATCH", 100).max(1);
    let writers = env_usize("BENCH_WRITERS", 4).max(1);
    let pg = std::env::var("BENCH_POSTGRES")
        .or_else(|_| std::env::var("HUILIU_TEST_POSTGRES"))
        .ok()
        .filter(|s| !s.is_empty());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "ingest: {n} entries, polls of {batch} new entries over {SOURCES} sources, {writers} polls at a time"
    );
    let csv = dir.path().join("entries.csv");
    let started = Instant::now();
    write_csv(&csv, n, batch);
    let size = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);
    println!(
        "CSV of the same rows: {:.0} MB in {:.1} s (not counted)",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let mut rows: Vec<(String, Duration, Option<Duration>)> = Vec::new();

    rt.block_on(async {
        // SQLite.
        let db = dir.path().join("ingest.db");
        let store = Arc::new(SqliteStore::open(&db).await.unwrap());
        let d = ingest(store.clone(), n, batch, writers).await;
        assert_eq!(store.total_entries().await.unwrap(), n as u64);
        drop(store);
        let bulk_db = dir.path().join("bulk.db");
        drop(SqliteStore::open(&bulk_db).await.unwrap());
        let bulk = timed(
            Command::new("sqlite3")
                .arg(&bulk_db)
                .arg(".mode csv")
                .arg(format!(".import {} entry", csv.display())),
        );
        rows.push(("SQLite".into(), d, bulk));

        // PostgreSQL.
        let Some(base) = pg.clone() else {
            println!("PostgreSQL: skipped (set BENCH_POSTGRES or HUILIU_TEST_POSTGRES)");
            return;
        };
        let tag = std::process::id();
        let (ingest_schema, bulk_schema) = (format!("bench_i{tag}"), format!("bench_b{tag}"));
        pg_schema(&base, &ingest_schema, true).await;
        pg_schema(&base, &bulk_schema, true).await;
        let store = Arc::new(
            PgStore::open(&with_schema(&base, &ingest_schema))
                .await
                .unwrap(),
        );
        let d = ingest(store.clone(), n, batch, writers).await;
        assert_eq!(store.total_entries().await.unwrap(), n as u64);
        drop(store);
        drop(
            PgStore::open(&with_schema(&base, &bulk_schema))
                .await
                .unwrap(),
        );
        let bulk = timed(
            Command::new("psql")
                .arg(&base)
                .env("PGOPTIONS", format!("-c search_path={bulk_schema}"))
                .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
                .arg(format!(
                    "\\copy entry FROM '{}' WITH (FORMAT csv)",
                    csv.display()
                )),
        );
        rows.push(("PostgreSQL".into(), d, bulk));
        pg_schema(&base, &ingest_schema, false).await;
        pg_schema(&base, &bulk_schema, false).await;
    });

    println!();
    println!("| store | commit_poll | entries/s | bulk load | entries/s | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, d, bulk) in rows {
        let (b, br, ratio) = match bulk {
            Some(b) => (
                format!("{:.1} s", b.as_secs_f64()),
                format!("{:.0}", rate(n, b)),
                format!("{:.2}", rate(n, d) / rate(n, b)),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {name} | {:.1} s | {:.0} | {b} | {br} | {ratio} |",
            d.as_secs_f64(),
            rate(n, d)
        );
    }
}
