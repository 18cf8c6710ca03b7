//! The PostgreSQL store: several huiliu nodes on one database.
//!
//! Same tables, ids and behaviour as the SQLite store (times are Unix
//! seconds in BIGINT columns, lists are JSON text, keys sort bytewise with
//! `COLLATE "C"`), plus what sharing needs:
//! - migrations run under `pg_advisory_xact_lock`, so nodes may start together;
//! - `source_lease`: which node polls which source until when (leases are
//!   taken with `FOR UPDATE SKIP LOCKED` and expire on the database clock);
//! - `change_counter` and `NOTIFY huiliu_changes`: a poll that changed entries
//!   bumps the counter in its transaction, and the node notifies (at most
//!   every 100 ms) after the commit, so every node drops its cached feed
//!   bytes; the counter is the fallback should a notification be missed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, watch};
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, NoTls};

use super::rows::{self, ENTRY_COLUMNS, STATE_COLUMNS, Value};
use super::{EntryHead, EntryQuery, EntryStats, Lease, LeaseSource, PollCounts, Store, StoreError};
use crate::dedup::Relabel;
use crate::model::{Entry, SourceState, StoredEntry};

/// The NOTIFY channel; the payload is the schema, so databases shared by
/// several installations (or tests) only wake their own nodes.
pub const CHANNEL: &str = "huiliu_changes";

/// Advisory lock keys ("huiliu" + 1, + 2).
const MIGRATION_LOCK: i64 = 0x6875_696c_6975_0001;
const LEASE_LOCK: i64 = 0x6875_696c_6975_0002;

/// How far ahead a host's turn may be booked: a lease starts at most this
/// long after it was taken (later turns wait for a later round).
const TURN_AHEAD_MS: i64 = 1000;

/// How often a node checks the change counter when no notification came.
pub const CHANGE_POLL: Duration = Duration::from_secs(5);

/// Each migration moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: what SQLite has after its migrations 1–3, leases and the change counter.
    r#"CREATE TABLE source_state (
        source_id TEXT COLLATE "C" PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        last_attempt BIGINT,
        last_success BIGINT,
        last_status TEXT,
        last_error TEXT,
        consecutive_failures BIGINT NOT NULL DEFAULT 0,
        next_due BIGINT,
        moved_to TEXT,
        scrape_health TEXT,
        error_kind TEXT,
        http_status BIGINT,
        disabled_url TEXT,
        interval_secs BIGINT,
        feed_hint_secs BIGINT,
        fingerprint TEXT,
        last_change BIGINT
    );
    CREATE TABLE entry (
        id TEXT COLLATE "C" PRIMARY KEY,
        source_id TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        guid TEXT,
        url TEXT,
        title TEXT NOT NULL,
        authors TEXT NOT NULL,
        summary TEXT,
        content TEXT,
        text TEXT NOT NULL,
        published BIGINT,
        updated BIGINT,
        language TEXT,
        categories TEXT NOT NULL,
        enclosures TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        changed_at BIGINT NOT NULL,
        sort_time BIGINT NOT NULL,
        UNIQUE (source_id, key)
    );
    CREATE INDEX entry_by_source_time ON entry (source_id, sort_time DESC, id DESC);
    CREATE INDEX entry_by_source_first_seen ON entry (source_id, first_seen);
    CREATE TABLE source_lease (
        source_id TEXT COLLATE "C" PRIMARY KEY,
        host TEXT NOT NULL DEFAULT '',
        host_limit BIGINT NOT NULL DEFAULT 1,
        host_delay_ms BIGINT NOT NULL DEFAULT 0,
        node TEXT,
        expires TIMESTAMPTZ
    );
    CREATE TABLE host_turn (host TEXT COLLATE "C" PRIMARY KEY, next_start TIMESTAMPTZ NOT NULL);
    CREATE INDEX source_lease_by_host ON source_lease (host) WHERE node IS NOT NULL;
    CREATE TABLE change_counter (id INT PRIMARY KEY, generation BIGINT NOT NULL);
    INSERT INTO change_counter SELECT g, 0 FROM generate_series(0, 63) AS g;"#,
    // 2 (stored clusters, as SQLite's 5).
    r#"ALTER TABLE entry ADD COLUMN cluster TEXT COLLATE "C";
    CREATE INDEX entry_by_cluster ON entry (cluster) WHERE cluster IS NOT NULL;
    CREATE INDEX entry_by_time ON entry (sort_time DESC, id DESC, source_id);
    CREATE INDEX entry_by_first_seen ON entry (first_seen DESC, id DESC);"#,
    // 3 (retention, as SQLite's 4): keys of pruned entries.
    r#"CREATE TABLE pruned_entry (
        source_id TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        pruned_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL,
        PRIMARY KEY (source_id, key)
    );"#,
    // 4 (normalization, as SQLite's 6): the organisation that first published a report.
    "ALTER TABLE entry ADD COLUMN origin TEXT;",
    // 5 (compact bodies, as SQLite's 8): summary, content and text as one
    // compressed value (see `store::body`); older rows keep their columns.
    "ALTER TABLE entry ADD COLUMN body BYTEA;",
    // 6 (status at scale, as SQLite's 9): entries per source, kept by a
    // trigger, so the status does not count a million rows at each gathering.
    r#"CREATE TABLE entry_count (
        source_id TEXT COLLATE "C" PRIMARY KEY,
        entries BIGINT NOT NULL
    );
    INSERT INTO entry_count (source_id, entries)
        SELECT source_id, COUNT(*) FROM entry GROUP BY source_id;
    CREATE FUNCTION huiliu_count_entry() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO entry_count (source_id, entries) VALUES (NEW.source_id, 1)
            ON CONFLICT (source_id) DO UPDATE SET entries = entry_count.entries + 1;
        ELSE
            UPDATE entry_count SET entries = entries - 1 WHERE source_id = OLD.source_id;
        END IF;
        RETURN NULL;
    END
    $$;
    CREATE TRIGGER entry_counted AFTER INSERT OR DELETE ON entry
        FOR EACH ROW EXECUTE FUNCTION huiliu_count_entry();
    DROP INDEX IF EXISTS entry_by_first_seen;
    CREATE INDEX entry_by_first_seen ON entry (first_seen DESC, id DESC) INCLUDE (source_id);"#,
];

fn pg_error(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => StoreError(format!("postgres: {}: {}", db.code().code(), db.message())),
        None => StoreError(format!("postgres: {e}")),
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        pg_error(e)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => pg_error(e),
            other => StoreError(format!("postgres pool: {other}")),
        }
    }
}

pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
    /// `current_schema()`: the NOTIFY payload of this installation.
    schema: String,
    /// Set after a commit that changed entries; the notifier task sends
    /// the NOTIFY.
    dirty: Arc<std::sync::atomic::AtomicBool>,
}

impl PgStore {
    /// Connects (a pool of up to `max(16, 2 × cores)` connections) and
    /// migrates, holding the migration lock so concurrent starts are safe.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError(format!("bad PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let size = std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(8)
            .max(16);
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError(format!("postgres pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| {
            StoreError(format!(
                "cannot connect to PostgreSQL: {}",
                StoreError::from(e).0
            ))
        })?;
        migrate(&mut client).await?;
        let schema: String = client
            .query_one("SELECT current_schema()::text", &[])
            .await?
            .get(0);
        drop(client);
        let dirty = Arc::new(std::sync::atomic::AtomicBool::new(false));
        spawn_notifier(pool.clone(), schema.clone(), dirty.clone());
        Ok(PgStore {
            pool,
            config,
            schema,
            dirty,
        })
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The schema version and the change generation (for tests and tools).
    pub async fn generation(&self) -> Result<i64, StoreError> {
        let c = self.client().await?;
        Ok(
            c.query_one("SELECT sum(generation)::bigint FROM change_counter", &[])
                .await?
                .get(0),
        )
    }

    /// Copies one source's state and entries as they are (times kept), for
    /// `huiliu migrate-store`: an upsert, so a rerun changes nothing.
    pub async fn import(
        &self,
        state: Option<&SourceState>,
        entries: &[StoredEntry],
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare_cached(&rows::POSTGRES.copy_entry).await?;
        for s in entries {
            let values = rows::stored_values(s)?;
            tx.execute(&stmt, &params(&values)).await?;
        }
        if let Some(state) = state {
            write_state(&tx, state).await?;
        }
        if let Some(first) = entries.first() {
            bump(&tx, &first.entry.source_id).await?;
        }
        tx.commit().await?;
        if !entries.is_empty() {
            self.dirty.store(true, Ordering::Release);
        }
        Ok(())
    }
}

async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS huiliu_schema (version BIGINT NOT NULL)")
        .await?;
    let version: i64 = match tx
        .query_opt("SELECT version FROM huiliu_schema", &[])
        .await?
    {
        Some(r) => r.get(0),
        None => {
            tx.execute("INSERT INTO huiliu_schema VALUES (0)", &[])
                .await?;
            0
        }
    };
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError(format!(
            "the database has schema version {version}, newer than this huiliu knows ({known}): upgrade huiliu"
        )));
    }
    for sql in MIGRATIONS.iter().skip(version as usize) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| StoreError(format!("migrating: {}", pg_error(e).0)))?;
    }
    tx.execute("UPDATE huiliu_schema SET version = $1", &[&known])
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The parameters of a statement, as tokio-postgres takes them.
pub(super) fn params<'a>(values: &'a [Value<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

async fn write_state(
    tx: &deadpool_postgres::Transaction<'_>,
    state: &SourceState,
) -> Result<(), StoreError> {
    let stmt = tx.prepare_cached(&rows::POSTGRES.upsert_state).await?;
    tx.execute(&stmt, &params(&rows::state_values(state)?))
        .await?;
    Ok(())
}

/// Rows of `change_counter`: polls of different sources bump different
/// rows, so they do not wait for each other's commits.
const COUNTER_SLOTS: u64 = 64;

/// Bumps the change counter (its sum changes when the transaction commits).
async fn bump(tx: &deadpool_postgres::Transaction<'_>, source_id: &str) -> Result<(), StoreError> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    source_id.hash(&mut h);
    let slot = (h.finish() % COUNTER_SLOTS) as i32;
    tx.execute(
        "UPDATE change_counter SET generation = generation + 1 WHERE id = $1",
        &[&slot],
    )
    .await?;
    Ok(())
}

/// After a commit that changed entries: NOTIFY, at most every
/// [`NOTIFY_EVERY`] for all of this node's commits (a NOTIFY inside each
/// poll's transaction would serialize the commits of all nodes). Should a
/// node die between a commit and its NOTIFY, the others see the counter
/// change within [`CHANGE_POLL`].
const NOTIFY_EVERY: Duration = Duration::from_millis(100);

fn spawn_notifier(pool: Pool, schema: String, dirty: Arc<std::sync::atomic::AtomicBool>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(NOTIFY_EVERY).await;
            // The store is gone: only this task holds the flag.
            if Arc::strong_count(&dirty) == 1 {
                return;
            }
            if !dirty.swap(false, Ordering::AcqRel) {
                continue;
            }
            let sent = async {
                let c = pool.get().await?;
                c.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &schema])
                    .await?;
                Ok::<(), StoreError>(())
            };
            if let Err(e) = sent.await {
                tracing::warn!(error = %e, "cannot NOTIFY the other nodes (they will see the change within 5s)");
            }
        }
    });
}

#[async_trait]
impl Store for PgStore {
    async fn state(&self, source_id: &str) -> Result<SourceState, StoreError> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {STATE_COLUMNS} FROM source_state WHERE source_id = $1"
            ))
            .await?;
        match c.query_opt(&stmt, &[&source_id]).await? {
            Some(r) => rows::state_from_row(&r),
            None => Ok(SourceState::new(source_id)),
        }
    }

    async fn states(&self) -> Result<Vec<SourceState>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!("SELECT {STATE_COLUMNS} FROM source_state ORDER BY source_id"),
                &[],
            )
            .await?;
        rows.iter().map(rows::state_from_row).collect()
    }

    async fn commit_poll(
        &self,
        state: &SourceState,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<PollCounts, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut counts = PollCounts::default();
        // What is stored already, locked for this transaction: one query.
        let mut stored: HashMap<(String, String), rows::StoredCopy> = HashMap::new();
        let mut pruned: HashSet<(String, String)> = HashSet::new();
        let now = now.timestamp();
        if !entries.is_empty() {
            let sources: Vec<&str> = entries.iter().map(|e| e.source_id.as_str()).collect();
            let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
            let stmt = tx
                .prepare_cached(
                    "SELECT e.source_id, e.key, e.content_hash, e.published, e.updated, e.first_seen
                     FROM entry e JOIN unnest($1::text[], $2::text[]) AS k(source_id, key)
                       ON e.source_id = k.source_id AND e.key = k.key
                     FOR UPDATE OF e",
                )
                .await?;
            for r in tx.query(&stmt, &[&sources, &keys]).await? {
                let copy = rows::StoredCopy {
                    hash: r.try_get(2)?,
                    published: r.try_get(3)?,
                    updated: r.try_get(4)?,
                    first_seen: r.try_get(5)?,
                };
                stored.insert((r.try_get(0)?, r.try_get(1)?), copy);
            }
            // Pruned entries a feed still lists stay pruned (their
            // tombstone is marked as still seen).
            let stmt = tx
                .prepare_cached(
                    "UPDATE pruned_entry p SET last_seen = $3
                     FROM unnest($1::text[], $2::text[]) AS k(source_id, key)
                     WHERE p.source_id = k.source_id AND p.key = k.key
                     RETURNING p.source_id, p.key",
                )
                .await?;
            for r in tx.query(&stmt, &[&sources, &keys, &now]).await? {
                pruned.insert((r.try_get(0)?, r.try_get(1)?));
            }
        }
        let insert = tx.prepare_cached(&rows::POSTGRES.insert_entry).await?;
        let update = tx.prepare_cached(&rows::POSTGRES.update_entry).await?;
        // Decide every entry first (an entry twice in one poll: the second
        // sees the first), then send all the statements at once:
        // tokio-postgres pipelines them on the connection.
        let mut writes = Vec::with_capacity(entries.len());
        for e in entries {
            let k = (e.source_id.clone(), e.key.clone());
            let before = stored.get(&k);
            let write = rows::decide(before, pruned.contains(&k), e, now);
            let values = match write {
                rows::Write::Insert => rows::insert_values(e, now, now, None)?,
                rows::Write::Update {
                    published,
                    updated,
                    sort,
                } => rows::update_values(e, published, updated, sort, now)?,
                rows::Write::Unchanged => {
                    counts.unchanged += 1;
                    continue;
                }
            };
            if let Some(after) = write.stored_after(before, e, now) {
                stored.insert(k, after);
            }
            writes.push((write, values));
        }
        let sent = writes.iter().map(|(w, values)| {
            let stmt = match w {
                rows::Write::Insert => &insert,
                _ => &update,
            };
            tx.execute_raw(stmt, params(values))
        });
        let done = futures_util::future::try_join_all(sent).await?;
        for ((w, _), n) in writes.iter().zip(done) {
            match w {
                rows::Write::Insert if n == 1 => counts.new += 1,
                // Written meanwhile by someone else (never by a leased poll).
                rows::Write::Insert | rows::Write::Unchanged => counts.unchanged += 1,
                rows::Write::Update { .. } => counts.updated += 1,
            }
        }
        write_state(&tx, state).await?;
        if counts.changed() {
            bump(&tx, &state.source_id).await?;
        }
        tx.commit().await?;
        if counts.changed() {
            self.dirty.store(true, Ordering::Release);
        }
        Ok(counts)
    }

    async fn entries(&self, query: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        self.output_rows(ENTRY_COLUMNS, query)
            .await?
            .iter()
            .map(rows::entry_from_row)
            .collect()
    }

    async fn entry_heads(&self, query: &EntryQuery) -> Result<Vec<EntryHead>, StoreError> {
        // Large columns live out of line (TOAST): the rows are cheap here.
        self.output_rows("id, cluster", query)
            .await?
            .iter()
            .map(|r| {
                Ok(EntryHead {
                    id: r.try_get(0)?,
                    cluster: r.try_get(1)?,
                })
            })
            .collect()
    }

    async fn entries_by_ids(&self, ids: &[String]) -> Result<Vec<StoredEntry>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entry WHERE id = ANY($1)"
            ))
            .await?;
        c.query(&stmt, &[&ids])
            .await?
            .iter()
            .map(rows::entry_from_row)
            .collect()
    }

    async fn set_clusters(&self, labels: &Relabel) -> Result<(), StoreError> {
        if labels.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let rename = tx
            .prepare_cached("UPDATE entry SET cluster = NULLIF($2, id) WHERE cluster = $1")
            .await?;
        for (old, new) in &labels.rename {
            tx.execute(&rename, &[old, new]).await?;
        }
        let assign = tx
            .prepare_cached("UPDATE entry SET cluster = NULLIF($2, id) WHERE id = $1")
            .await?;
        for (id, label) in &labels.assign {
            tx.execute(&assign, &[id, label]).await?;
        }
        tx.commit().await?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    async fn cluster_members(&self, labels: &[String]) -> Result<Vec<StoredEntry>, StoreError> {
        if labels.is_empty() {
            return Ok(Vec::new());
        }
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entry WHERE cluster = ANY($1)
                 UNION SELECT {ENTRY_COLUMNS} FROM entry WHERE id = ANY($1)"
            ))
            .await?;
        c.query(&stmt, &[&labels])
            .await?
            .iter()
            .map(rows::entry_from_row)
            .collect()
    }

    async fn entries_since(
        &self,
        since: DateTime<Utc>,
        by_arrival: bool,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let (t, id) = after.unwrap_or((i64::MAX, String::new()));
        let limit = limit.min(i64::MAX as usize) as i64;
        let c = self.client().await?;
        let sql = if by_arrival {
            format!(
                "SELECT {ENTRY_COLUMNS} FROM entry
                 WHERE first_seen >= $1 AND sort_time < $1 AND (first_seen, id) < ($2, $3)
                 ORDER BY first_seen DESC, id DESC LIMIT $4"
            )
        } else {
            format!(
                "SELECT {ENTRY_COLUMNS} FROM entry
                 WHERE sort_time >= $1 AND (sort_time, id) < ($2, $3)
                 ORDER BY sort_time DESC, id DESC LIMIT $4"
            )
        };
        let stmt = c.prepare_cached(&sql).await?;
        c.query(&stmt, &[&since.timestamp(), &t, &id, &limit])
            .await?
            .iter()
            .map(rows::entry_from_row)
            .collect()
    }

    async fn known_keys(
        &self,
        source_id: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT key FROM entry WHERE source_id = $1 AND key = ANY($2)",
                &[&source_id, &keys],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn entry_count(&self, source_id: &str) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM entry WHERE source_id = $1",
                &[&source_id],
            )
            .await?
            .get(0);
        Ok(n as u64)
    }

    async fn total_entries(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        // Kept by a trigger: a scrape of /metrics does not count the store.
        let n: i64 = c
            .query_one(
                "SELECT COALESCE(SUM(entries), 0)::BIGINT FROM entry_count",
                &[],
            )
            .await?
            .get(0);
        Ok(n as u64)
    }

    async fn daily_counts(&self, since: DateTime<Utc>) -> Result<Vec<(String, u64)>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT to_char(to_timestamp(first_seen) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, COUNT(*)
                 FROM entry WHERE first_seen >= $1 GROUP BY 1 ORDER BY 1",
                &[&since.timestamp()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    async fn entry_stats(&self, since: DateTime<Utc>) -> Result<Vec<EntryStats>, StoreError> {
        let c = self.client().await?;
        // Totals from the kept counts, recent ones from the time index.
        let rows = c
            .query(
                "SELECT n.source_id, n.entries, COALESCE(r.recent, 0)
                 FROM entry_count n LEFT JOIN (
                     SELECT source_id, COUNT(*) AS recent FROM entry
                     WHERE first_seen >= $1 GROUP BY source_id
                 ) r ON r.source_id = n.source_id
                 WHERE n.entries > 0 ORDER BY n.source_id",
                &[&since.timestamp()],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| EntryStats {
                source_id: r.get(0),
                total: r.get::<_, i64>(1) as u64,
                recent: r.get::<_, i64>(2) as u64,
            })
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.query_one("SELECT 1", &[]).await?;
        Ok(())
    }
}

// `Maintenance` (retention, export, import, backup, close) is in
// `postgres_retention.rs`.

#[async_trait]
impl super::Coordination for PgStore {
    fn shared(&self) -> bool {
        true
    }

    async fn register_sources(&self, sources: &[LeaseSource]) -> Result<(), StoreError> {
        let ids: Vec<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        let hosts: Vec<&str> = sources.iter().map(|s| s.host.as_str()).collect();
        let limits: Vec<i64> = sources
            .iter()
            .map(|s| s.host_limit.clamp(1, i64::MAX as usize) as i64)
            .collect();
        let delays: Vec<i64> = sources
            .iter()
            .map(|s| s.host_delay.as_millis().min(i64::MAX as u128) as i64)
            .collect();
        let c = self.client().await?;
        c.execute(
            "INSERT INTO source_lease (source_id, host, host_limit, host_delay_ms)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
             ON CONFLICT (source_id) DO UPDATE SET host = EXCLUDED.host,
               host_limit = EXCLUDED.host_limit, host_delay_ms = EXCLUDED.host_delay_ms
             WHERE (source_lease.host, source_lease.host_limit, source_lease.host_delay_ms)
               IS DISTINCT FROM (EXCLUDED.host, EXCLUDED.host_limit, EXCLUDED.host_delay_ms)",
            &[&ids, &hosts, &limits, &delays],
        )
        .await?;
        Ok(())
    }

    async fn lease_due(
        &self,
        node: &str,
        ids: &[String],
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, StoreError> {
        if ids.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One node leases at a time, so the per-host counts and turns below
        // hold across nodes; the lock is held for one short transaction.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LEASE_LOCK])
            .await?;
        let mut busy: HashMap<String, i64> = HashMap::new();
        // Hosts at their limit, or whose next turn is beyond the booking
        // horizon: none of their sources can be leased now.
        let mut blocked: Vec<String> = Vec::new();
        for r in tx
            .query(
                "SELECT host, COUNT(*), MAX(host_limit) FROM source_lease
                 WHERE node IS NOT NULL AND expires > now() GROUP BY host",
                &[],
            )
            .await?
        {
            let (host, n, max): (String, i64, i64) = (r.get(0), r.get(1), r.get(2));
            if n >= max {
                blocked.push(host.clone());
            }
            busy.insert(host, n);
        }
        for r in tx
            .query(
                "SELECT host FROM host_turn WHERE next_start > now() + make_interval(secs => $1)",
                &[&(TURN_AHEAD_MS as f64 / 1000.0)],
            )
            .await?
        {
            blocked.push(r.get(0));
        }
        // Candidates, read without locks (the lease lock serializes
        // leasing); only the chosen rows are locked below. The window is a
        // few times what is asked, since per-host limits may pass over some.
        let window = (limit as i64).saturating_mul(4).saturating_add(100);
        let rows = tx
            .query(
                "SELECT l.source_id, l.host, l.host_limit, l.host_delay_ms FROM source_lease l
                   LEFT JOIN source_state s ON s.source_id = l.source_id
                 WHERE l.source_id = ANY($1)
                   AND NOT (l.host = ANY($3))
                   AND (l.node IS NULL OR l.expires IS NULL OR l.expires <= now())
                   AND (s.next_due IS NULL OR s.next_due <= $2)
                 ORDER BY s.next_due ASC NULLS FIRST, l.source_id
                 LIMIT $4",
                &[&ids, &now.timestamp(), &blocked, &window],
            )
            .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        // Each host's next turn, in ms from now (database clock).
        let hosts: Vec<String> = rows
            .iter()
            .map(|r| r.get::<_, String>(1))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut turn: HashMap<String, i64> = tx
            .query(
                "SELECT host, GREATEST(0, EXTRACT(EPOCH FROM (next_start - now())) * 1000)::bigint
                 FROM host_turn WHERE host = ANY($1)",
                &[&hosts],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let mut leased: Vec<Lease> = Vec::new();
        let mut waits: Vec<i64> = Vec::new();
        let mut moved: HashSet<String> = HashSet::new();
        for r in &rows {
            if leased.len() >= limit {
                break;
            }
            let host: String = r.get(1);
            let max: i64 = r.get(2);
            let delay: i64 = r.get(3);
            let n = busy.entry(host.clone()).or_insert(0);
            let wait = turn.entry(host.clone()).or_insert(0);
            // A host whose turn is more than TURN_AHEAD away waits for a later round.
            if *n >= max || *wait > TURN_AHEAD_MS {
                continue;
            }
            *n += 1;
            leased.push(Lease {
                id: r.get(0),
                start_in: Duration::from_millis(*wait as u64),
            });
            waits.push(*wait);
            *wait += delay;
            moved.insert(host);
        }
        if !leased.is_empty() {
            // Lock the chosen rows, skipping any another transaction holds
            // (a node leasing without the lock, or an operator's UPDATE).
            let chosen: Vec<&str> = leased.iter().map(|l| l.id.as_str()).collect();
            let locked: HashSet<String> = tx
                .query(
                    "SELECT source_id FROM source_lease
                     WHERE source_id = ANY($1) AND (node IS NULL OR expires IS NULL OR expires <= now())
                     FOR UPDATE SKIP LOCKED",
                    &[&chosen],
                )
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut kept = Vec::with_capacity(leased.len());
            let mut kept_waits = Vec::with_capacity(leased.len());
            for (l, w) in leased.into_iter().zip(waits) {
                if locked.contains(&l.id) {
                    kept.push(l);
                    kept_waits.push(w);
                }
            }
            leased = kept;
            waits = kept_waits;
            let leased_ids: Vec<&str> = leased.iter().map(|l| l.id.as_str()).collect();
            tx.execute(
                "UPDATE source_lease l SET node = $1,
                   expires = now() + make_interval(secs => $2 + u.wait_ms / 1000.0::float8)
                 FROM unnest($3::text[], $4::bigint[]) AS u(id, wait_ms)
                 WHERE l.source_id = u.id",
                &[&node, &lease_for.as_secs_f64(), &leased_ids, &waits],
            )
            .await?;
            let (hosts, next): (Vec<&str>, Vec<i64>) = moved
                .iter()
                .map(|h| (h.as_str(), turn.get(h).copied().unwrap_or(0)))
                .unzip();
            tx.execute(
                "INSERT INTO host_turn (host, next_start)
                 SELECT h, now() + make_interval(secs => ms / 1000.0::float8)
                 FROM unnest($1::text[], $2::bigint[]) AS u(h, ms)
                 ON CONFLICT (host) DO UPDATE SET next_start = EXCLUDED.next_start",
                &[&hosts, &next],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(leased)
    }

    async fn renew(
        &self,
        node: &str,
        ids: &[String],
        lease_for: Duration,
    ) -> Result<usize, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE source_lease SET expires = now() + make_interval(secs => $3)
                 WHERE node = $1 AND source_id = ANY($2)",
                &[&node, &ids, &lease_for.as_secs_f64()],
            )
            .await?;
        Ok(n as usize)
    }

    async fn release(&self, node: &str, ids: &[String]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let c = self.client().await?;
        c.execute(
            "UPDATE source_lease SET node = NULL, expires = NULL WHERE node = $1 AND source_id = ANY($2)",
            &[&node, &ids],
        )
        .await?;
        Ok(())
    }

    async fn follow_changes(&self, changes: Arc<AtomicU64>, mut stop: watch::Receiver<bool>) {
        let mut listener: Option<Listener> = None;
        let mut last: Option<i64> = None;
        let mut tick = tokio::time::interval(CHANGE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                match self.listen().await {
                    Ok(l) => listener = Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN for changes; checking every {}s", CHANGE_POLL.as_secs())
                    }
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            enum Event {
                Notified(Option<String>),
                Tick,
                Stop,
            }
            let event = tokio::select! {
                n = notified => Event::Notified(n),
                _ = tick.tick() => Event::Tick,
                _ = stop.wait_for(|s| *s) => Event::Stop,
            };
            match event {
                Event::Stop => return,
                Event::Notified(Some(payload)) => {
                    if payload == self.schema {
                        changes.fetch_add(1, Ordering::Release);
                    }
                }
                Event::Notified(None) => {
                    tracing::warn!("the LISTEN connection closed; reconnecting");
                    listener = None;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Event::Tick => match self.generation().await {
                    Ok(g) => {
                        if last.is_some_and(|l| l != g) {
                            changes.fetch_add(1, Ordering::Release);
                        }
                        last = Some(g);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the change counter"),
                },
            }
        }
    }
}

/// A dedicated connection that LISTENs (pooled ones are shared).
struct Listener {
    _client: tokio_postgres::Client,
    rx: mpsc::UnboundedReceiver<String>,
}

impl PgStore {
    /// An output's entries (`columns` of them), newest first.
    async fn output_rows(
        &self,
        columns: &str,
        query: &EntryQuery,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        if query.sources.is_empty() {
            return Ok(Vec::new());
        }
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {columns} FROM entry WHERE source_id = ANY($1)
                 ORDER BY sort_time DESC, id DESC LIMIT $2 OFFSET $3"
            ))
            .await?;
        let limit = query.limit.min(i64::MAX as usize) as i64;
        let offset = query.offset.min(i64::MAX as usize) as i64;
        Ok(c.query(&stmt, &[&query.sources, &limit, &offset]).await?)
    }

    async fn listen(&self) -> Result<Listener, StoreError> {
        let (client, mut conn) = self.config.connect(NoTls).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(m) = messages.next().await {
                match m {
                    Ok(AsyncMessage::Notification(n)) => {
                        if tx.send(n.payload().to_string()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        Ok(Listener {
            _client: client,
            rx,
        })
    }
}
