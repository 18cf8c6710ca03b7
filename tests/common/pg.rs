//! PostgreSQL for tests: each call makes a fresh schema on the server named
//! by `HUILIU_TEST_POSTGRES`, so tests run in parallel without seeing each
//! other. `None` (the caller prints "SKIPPED …") when the variable is unset.

use rand::Rng;

/// A `postgres://` URL whose connections use a new, empty schema.
pub async fn fresh_schema_url() -> Option<String> {
    let base = std::env::var("HUILIU_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    // t_<unix seconds>_<random>: schemas of runs over an hour ago are dropped.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let schema = format!("t_{now}_{:016x}", rand::rng().random::<u64>());
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("HUILIU_TEST_POSTGRES={base}: cannot connect: {e}"));
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let old = client
        .query(
            "SELECT nspname::text FROM pg_namespace WHERE nspname ~ '^t_[0-9]+_[0-9a-f]+$'",
            &[],
        )
        .await
        .map(|rows| {
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for name in old {
        let created: u64 = name[2..]
            .split('_')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(now);
        if created + 3600 < now {
            // Another run may drop it at the same time: errors do not matter.
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
    }
    drop(client);
    let _ = task.await;
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))
}

/// Says so on the terminal: through `/dev/stderr` too, since the test
/// harness captures (and hides) what passing tests print with `eprintln!`.
pub fn skipped(test: &str) {
    use std::io::Write;
    let msg = format!(
        "SKIPPED {test}: set HUILIU_TEST_POSTGRES (e.g. postgres://postgres@127.0.0.1:5432/test) to run it against PostgreSQL"
    );
    eprintln!("{msg}");
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open("/dev/stderr") {
        let _ = writeln!(f, "{msg}");
    }
}
