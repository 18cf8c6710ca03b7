//! The embedded SQLite store: one file, WAL, versioned migrations at start.
//! rusqlite is synchronous, so every call runs on the blocking pool.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::rows::{self, ENTRY_COLUMNS, STATE_COLUMNS};
use super::{EntryHead, EntryQuery, EntryStats, PollCounts, Store, StoreError};
use crate::dedup::Relabel;
use crate::model::{Entry, SourceState, StoredEntry};

/// Each migration moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: entries and per-source state.
    "CREATE TABLE source_state (
        source_id TEXT PRIMARY KEY,
        etag TEXT,
        last_modified TEXT,
        last_attempt INTEGER,
        last_success INTEGER,
        last_status TEXT,
        last_error TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_due INTEGER,
        moved_to TEXT
    );
    CREATE TABLE entry (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        guid TEXT,
        url TEXT,
        title TEXT NOT NULL,
        authors TEXT NOT NULL,
        summary TEXT,
        content TEXT,
        text TEXT NOT NULL,
        published INTEGER,
        updated INTEGER,
        language TEXT,
        categories TEXT NOT NULL,
        enclosures TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        changed_at INTEGER NOT NULL,
        sort_time INTEGER NOT NULL,
        UNIQUE (source_id, key)
    );
    CREATE INDEX entry_by_source_time ON entry (source_id, sort_time DESC, id DESC);",
    // 2: scrape health of html sources (JSON of `ScrapeHealth`).
    "ALTER TABLE source_state ADD COLUMN scrape_health TEXT;",
    // 3: source health and adaptive polling.
    "ALTER TABLE source_state ADD COLUMN error_kind TEXT;
    ALTER TABLE source_state ADD COLUMN http_status INTEGER;
    ALTER TABLE source_state ADD COLUMN disabled_url TEXT;
    ALTER TABLE source_state ADD COLUMN interval_secs INTEGER;
    ALTER TABLE source_state ADD COLUMN feed_hint_secs INTEGER;
    ALTER TABLE source_state ADD COLUMN fingerprint TEXT;
    ALTER TABLE source_state ADD COLUMN last_change INTEGER;
    CREATE INDEX entry_by_source_first_seen ON entry (source_id, first_seen);",
    // 4 (retention): keys of pruned entries, so feeds still listing them do
    // not bring them back; forgotten once no poll has seen them for a while.
    "CREATE TABLE pruned_entry (
        source_id TEXT NOT NULL,
        key TEXT NOT NULL,
        pruned_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (source_id, key)
    ) WITHOUT ROWID;",
    // 5 (stored clusters): each entry's near-duplicate cluster label (NULL:
    // its own id), decided when it is written; the time index serves
    // outputs over many sources and the dedup window's load.
    "ALTER TABLE entry ADD COLUMN cluster TEXT;
    CREATE INDEX entry_by_cluster ON entry (cluster) WHERE cluster IS NOT NULL;
    CREATE INDEX entry_by_time ON entry (sort_time DESC, id DESC, source_id);
    CREATE INDEX entry_by_first_seen ON entry (first_seen DESC, id DESC);",
    // 6 (normalization): the organisation that first published a report (`来源：`).
    "ALTER TABLE entry ADD COLUMN origin TEXT;",
    // 7 (paging without bodies): the time indexes carry the cluster label,
    // so a page is found from the index alone (see `Store::entry_heads`).
    "DROP INDEX IF EXISTS entry_by_time;
    CREATE INDEX entry_by_time ON entry (sort_time DESC, id DESC, source_id, cluster);
    DROP INDEX IF EXISTS entry_by_source_time;
    CREATE INDEX entry_by_source_time ON entry (source_id, sort_time DESC, id DESC, cluster);",
    // 8 (compact bodies): summary, content and text as one compressed value
    // (see `store::body`); older rows keep their plain columns.
    "ALTER TABLE entry ADD COLUMN body BLOB;",
    // 9 (status at scale): entries per source, kept by triggers (see
    // `retention::ensure_entry_counts`), so the status does not count a
    // million rows at each gathering.
    // The first-seen index carries the source, so the recent counts and
    // the entries per day read the index alone.
    "CREATE TABLE entry_count (
        source_id TEXT PRIMARY KEY,
        entries INTEGER NOT NULL
    ) WITHOUT ROWID;
    DROP INDEX IF EXISTS entry_by_first_seen;
    CREATE INDEX entry_by_first_seen ON entry (first_seen DESC, id DESC, source_id);",
];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Polls to commit, taken by the writer thread ([`write_polls`]).
    polls: std::sync::mpsc::Sender<PollJob>,
    /// Read-only connections for the per-poll state read: a primary-key
    /// lookup of a few microseconds, run in place (WAL: never waits for the
    /// writer) instead of a hand-off to the blocking pool.
    readers: Arc<Readers>,
    /// Joined on drop, so the database is closed when the store is.
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the channel ends the writer after its current group.
        let (closed, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.polls, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // Readers first: the last connection to close (the read-write one)
        // checkpoints and removes the WAL, which a read-only one cannot.
        self.readers.close_all();
    }
}

/// The read-only connections, each opened at its first use: a command that
/// only writes (an import) opens none, so it may leave WAL mode for a bulk
/// load (see [`SqliteStore::begin_bulk_load`]).
struct Readers {
    path: std::path::PathBuf,
    slots: Vec<Mutex<Option<Connection>>>,
}

impl Readers {
    fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            slots: (0..READERS).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Runs `f` with the slot's connection, opening it if needed.
    fn run<T>(
        &self,
        slot: &mut Option<Connection>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let c = match slot {
            Some(c) => c,
            None => slot.insert(self.open()?),
        };
        f(c)
    }

    fn open(&self) -> Result<Connection, StoreError> {
        let r = Connection::open_with_flags(
            &self.path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| {
            StoreError(format!(
                "cannot open the database {}: {e}",
                self.path.display()
            ))
        })?;
        r.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(r)
    }

    /// Closes every open reader (each reopens at its next use).
    fn close_all(&self) {
        for slot in &self.slots {
            if let Ok(mut c) = slot.lock() {
                c.take();
            }
        }
    }
}

/// One poll for the writer thread, and where its result goes.
struct PollJob {
    state: SourceState,
    entries: Vec<Entry>,
    now: DateTime<Utc>,
    done: tokio::sync::oneshot::Sender<Result<PollCounts, StoreError>>,
}

/// The most polls committed in one transaction.
const MAX_GROUP: usize = 256;

/// How long the writer waits for more polls after the first of a group.
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(1);

/// How many read connections serve state reads.
const READERS: usize = 4;

impl SqliteStore {
    /// Opens (creating if needed) the database file and migrates it.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        let readers = Readers::new(&path);
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection, StoreError> {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError(format!("cannot create the folder {}: {e}", dir.display()))
                })?;
            }
            let mut conn = Connection::open(&path).map_err(|e| {
                StoreError(format!("cannot open the database {}: {e}", path.display()))
            })?;
            conn.busy_timeout(std::time::Duration::from_secs(10))?;
            super::retention::incremental_auto_vacuum(&conn)?;
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            migrate(&mut conn)
                .map_err(|e| StoreError(format!("migrating {}: {}", path.display(), e.0)))?;
            super::retention::ensure_entry_indexes(&conn)?;
            super::retention::ensure_entry_counts(&mut conn)?;
            Ok(conn)
        })
        .await
        .map_err(|e| StoreError(format!("database task failed: {e}")))??;
        let conn = Arc::new(Mutex::new(conn));
        let (polls, jobs) = std::sync::mpsc::channel();
        let writer = conn.clone();
        let writer = std::thread::Builder::new()
            .name("huiliu-sqlite-writer".into())
            .spawn(move || write_polls(&writer, &jobs))
            .map_err(|e| StoreError(format!("cannot start the database writer: {e}")))?;
        Ok(SqliteStore {
            conn,
            polls,
            readers: Arc::new(readers),
            writer: Some(writer),
        })
    }

    /// Closes the read-only connections (they reopen at their next use).
    pub(super) fn close_readers(&self) {
        self.readers.close_all();
    }

    /// Runs `f` with a read-only connection, in place when one is free (a
    /// primary-key lookup of microseconds); when all are busy (scans of
    /// feed pages or the status), on the blocking pool: an async worker
    /// never waits for a connection.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        for slot in &self.readers.slots {
            if let Ok(mut c) = slot.try_lock() {
                return self.readers.run(&mut c, f);
            }
        }
        self.read_off(f).await
    }

    /// Runs `f` with a read-only connection on the blocking pool: reads
    /// that scan (feed pages, the dedup window, counts) never wait for the
    /// writer's connection (WAL: readers see the last commit).
    async fn read_off<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            for slot in &readers.slots {
                if let Ok(mut c) = slot.try_lock() {
                    return readers.run(&mut c, f);
                }
            }
            let mut c = readers
                .slots
                .first()
                .ok_or_else(|| StoreError("the database is closed".into()))?
                .lock()
                .map_err(|_| StoreError("database lock poisoned by an earlier panic".into()))?;
            readers.run(&mut c, f)
        })
        .await
        .map_err(|e| StoreError(format!("database task failed: {e}")))?
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(super) async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError("database lock poisoned by an earlier panic".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError(format!("database task failed: {e}")))?
    }
}

/// The writer thread: commits polls in groups, one transaction per group
/// and a savepoint per poll, so a failing poll rolls back alone and a crash
/// loses whole polls only (never half of one). Each caller hears back only
/// after the group's COMMIT. Polls that queued while the previous group
/// committed form the next group: no waiting to fill one.
fn write_polls(conn: &Mutex<Connection>, jobs: &std::sync::mpsc::Receiver<PollJob>) {
    // Ends when the store (the only sender) is dropped.
    while let Ok(first) = jobs.recv() {
        // Let the polls finishing meanwhile join this group: one COMMIT
        // (and WAL write) for all of them, at the cost of a millisecond.
        std::thread::sleep(GROUP_WAIT);
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let results = match conn.lock() {
            Ok(mut c) => commit_group(&mut c, &group),
            Err(_) => Err(StoreError(
                "database lock poisoned by an earlier panic".into(),
            )),
        };
        match results {
            Ok(results) => {
                for (job, r) in group.into_iter().zip(results) {
                    let _ = job.done.send(r);
                }
            }
            Err(e) => {
                for job in group {
                    let _ = job.done.send(Err(StoreError(e.0.clone())));
                }
            }
        }
    }
}

/// One transaction for `group`; the outer error means nothing was stored.
fn commit_group(
    c: &mut Connection,
    group: &[PollJob],
) -> Result<Vec<Result<PollCounts, StoreError>>, StoreError> {
    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(group.len());
    // Cached statements rather than `Savepoint` (which parses its SQL each time).
    let step = |sql: &str| -> Result<(), StoreError> {
        tx.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    for job in group {
        step("SAVEPOINT poll")?;
        match write_poll(&tx, &job.state, &job.entries, job.now) {
            Ok(counts) => {
                step("RELEASE poll")?;
                results.push(Ok(counts));
            }
            Err(e) => {
                step("ROLLBACK TO poll")?;
                step("RELEASE poll")?;
                results.push(Err(e));
            }
        }
    }
    tx.commit()?;
    if std::env::var_os("HUILIU_GROUPS").is_some() {
        eprintln!("group {}", group.len());
    }
    Ok(results)
}

/// Every entry of one poll and the source's new state.
fn write_poll(
    c: &Connection,
    state: &SourceState,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Result<PollCounts, StoreError> {
    let mut counts = PollCounts::default();
    for e in entries {
        let pruned = super::retention::was_pruned(c, e, now)?;
        upsert(c, e, pruned, now.timestamp(), &mut counts)?;
    }
    c.prepare_cached(&rows::SQLITE.upsert_state)?
        .execute(rusqlite::params_from_iter(rows::state_values(state)?))?;
    Ok(counts)
}

pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError(format!(
            "the database has schema version {version}, newer than this huiliu knows ({known}): upgrade huiliu"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Outputs over more sources than this read the time index, not each
/// source's own.
const MANY_SOURCES: usize = 32;

/// An output's entries, `columns` of them (`source` is the position of
/// `source_id` among them), newest first, each read by `row`.
///
/// Few sources: SQLite merges their own indexes (`IN ()` matches nothing).
/// Many: the time index is walked newest first and other sources' rows are
/// skipped here, by a set lookup — binding thousands of ids as parameters
/// would prepare a statement and build SQLite's IN table at every read (the
/// most of a page build over 10,000 sources). The cost follows the page.
fn read_output<T>(
    c: &Connection,
    columns: &str,
    source: usize,
    query: &EntryQuery,
    mut row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::with_capacity(query.limit.min(10_000));
    if query.sources.len() <= MANY_SOURCES {
        let marks = vec!["?"; query.sources.len()].join(", ");
        let mut stmt = c.prepare_cached(&format!(
            "SELECT {columns} FROM entry WHERE source_id IN ({marks})
             ORDER BY sort_time DESC, id DESC LIMIT ? OFFSET ?"
        ))?;
        let limit = query.limit.min(i64::MAX as usize) as i64;
        let offset = query.offset.min(i64::MAX as usize) as i64;
        let mut params: Vec<&dyn rusqlite::ToSql> = query
            .sources
            .iter()
            .map(|s| s as &dyn rusqlite::ToSql)
            .collect();
        params.extend([&limit as &dyn rusqlite::ToSql, &offset]);
        let mut rows = stmt.query(params.as_slice())?;
        while let Some(r) = rows.next()? {
            out.push(row(r)?);
        }
        return Ok(out);
    }
    let wanted: HashSet<&str> = query.sources.iter().map(String::as_str).collect();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {columns} FROM entry INDEXED BY entry_by_time ORDER BY sort_time DESC, id DESC"
    ))?;
    let mut rows = stmt.query([])?;
    let mut skip = query.offset;
    while out.len() < query.limit {
        let Some(r) = rows.next()? else { break };
        // Read from the index: a skipped row's body is never read.
        let from = r.get_ref(source)?.as_str().map_err(rusqlite::Error::from)?;
        if !wanted.contains(from) {
            continue;
        }
        if skip > 0 {
            skip -= 1;
            continue;
        }
        out.push(row(r)?);
    }
    Ok(out)
}

/// [`rows::state_from_row`] where rusqlite wants its own error.
fn state_row(r: &Row<'_>) -> rusqlite::Result<SourceState> {
    rows::state_from_row(r).map_err(row_error)
}

/// [`rows::entry_from_row`] where rusqlite wants its own error.
pub(super) fn entry_row(r: &Row<'_>) -> rusqlite::Result<StoredEntry> {
    rows::entry_from_row(r).map_err(row_error)
}

fn row_error(e: StoreError) -> rusqlite::Error {
    // Displayed as the message alone.
    rusqlite::Error::ToSqlConversionFailure(e.0.into())
}

/// Inserts or updates one entry inside the poll's transaction.
fn upsert(
    tx: &Connection,
    e: &Entry,
    pruned: bool,
    now: i64,
    counts: &mut PollCounts,
) -> Result<(), StoreError> {
    // Cached statements: a poll runs these for every entry.
    let stored = tx
        .prepare_cached(
            "SELECT content_hash, published, updated, first_seen FROM entry WHERE source_id = ?1 AND key = ?2",
        )?
        .query_row(params![e.source_id, e.key], |r| {
            Ok(rows::StoredCopy {
                hash: r.get(0)?,
                published: r.get(1)?,
                updated: r.get(2)?,
                first_seen: r.get(3)?,
            })
        })
        .optional()?;
    match rows::decide(stored.as_ref(), pruned, e, now) {
        rows::Write::Insert => {
            let values = rows::insert_values(e, now, now, None)?;
            let n = tx
                .prepare_cached(&rows::SQLITE.insert_entry)?
                .execute(rusqlite::params_from_iter(values))?;
            counts.new += n;
            counts.unchanged += 1 - n.min(1);
        }
        rows::Write::Update {
            published,
            updated,
            sort,
        } => {
            let values = rows::update_values(e, published, updated, sort, now)?;
            tx.prepare_cached(&rows::SQLITE.update_entry)?
                .execute(rusqlite::params_from_iter(values))?;
            counts.updated += 1;
        }
        rows::Write::Unchanged => counts.unchanged += 1,
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn state(&self, source_id: &str) -> Result<SourceState, StoreError> {
        let id = source_id.to_string();
        self.read(move |c| {
            let found = c
                .prepare_cached(&format!(
                    "SELECT {STATE_COLUMNS} FROM source_state WHERE source_id = ?1"
                ))?
                .query_row([&id], state_row)
                .optional()?;
            Ok(found.unwrap_or_else(|| SourceState::new(&id)))
        })
        .await
    }

    async fn states(&self) -> Result<Vec<SourceState>, StoreError> {
        self.read_off(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {STATE_COLUMNS} FROM source_state ORDER BY source_id"
            ))?;
            let rows = stmt.query_map([], state_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn commit_poll(
        &self,
        state: &SourceState,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<PollCounts, StoreError> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job = PollJob {
            state: state.clone(),
            entries: entries.to_vec(),
            now,
            done,
        };
        let stopped = || StoreError("the database writer stopped".into());
        self.polls.send(job).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    async fn entries(&self, query: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        let query = query.clone();
        // `source_id` is the second of ENTRY_COLUMNS.
        self.read_off(move |c| read_output(c, ENTRY_COLUMNS, 1, &query, entry_row))
            .await
    }

    async fn entry_heads(&self, query: &EntryQuery) -> Result<Vec<EntryHead>, StoreError> {
        let query = query.clone();
        self.read_off(move |c| {
            read_output(c, "id, cluster, source_id", 2, &query, |r| {
                Ok(EntryHead {
                    id: r.get(0)?,
                    cluster: r.get(1)?,
                })
            })
        })
        .await
    }

    async fn known_keys(
        &self,
        source_id: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let id = source_id.to_string();
        let keys = keys.to_vec();
        self.read_off(move |c| {
            let mut stmt = c.prepare("SELECT 1 FROM entry WHERE source_id = ?1 AND key = ?2")?;
            let mut known = HashSet::new();
            for k in keys {
                if stmt.exists(params![id, k])? {
                    known.insert(k);
                }
            }
            Ok(known)
        })
        .await
    }

    async fn entries_by_ids(&self, ids: &[String]) -> Result<Vec<StoredEntry>, StoreError> {
        let ids = ids.to_vec();
        self.read_off(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            // Bounded batches: SQLite limits the number of parameters.
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!("SELECT {ENTRY_COLUMNS} FROM entry WHERE id IN ({marks})");
                let mut stmt = c.prepare(&sql)?;
                let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter()), entry_row)?;
                for r in rows {
                    out.push(r?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn set_clusters(&self, labels: &Relabel) -> Result<(), StoreError> {
        if labels.is_empty() {
            return Ok(());
        }
        let labels = labels.clone();
        self.with(move |c| {
            let tx = c.transaction()?;
            {
                let mut rename = tx.prepare_cached(
                    "UPDATE entry SET cluster = NULLIF(?2, id) WHERE cluster = ?1",
                )?;
                for (old, new) in &labels.rename {
                    rename.execute(params![old, new])?;
                }
                let mut assign =
                    tx.prepare_cached("UPDATE entry SET cluster = NULLIF(?2, id) WHERE id = ?1")?;
                for (id, label) in &labels.assign {
                    assign.execute(params![id, label])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn cluster_members(&self, labels: &[String]) -> Result<Vec<StoredEntry>, StoreError> {
        let labels = labels.to_vec();
        self.read_off(move |c| {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            for chunk in labels.chunks(400) {
                let marks = vec!["?"; chunk.len()].join(", ");
                // A label is its first member's id (stored as no cluster).
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM entry WHERE cluster IN ({marks})
                     UNION ALL SELECT {ENTRY_COLUMNS} FROM entry WHERE id IN ({marks})"
                );
                let mut stmt = c.prepare(&sql)?;
                let params = chunk.iter().chain(chunk.iter());
                for r in stmt.query_map(rusqlite::params_from_iter(params), entry_row)? {
                    let r = r?;
                    if seen.insert(r.entry.id.clone()) {
                        out.push(r);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn entries_since(
        &self,
        since: DateTime<Utc>,
        by_arrival: bool,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let (t, id) = after.unwrap_or((i64::MAX, String::new()));
        let since = since.timestamp();
        let limit = limit.min(i64::MAX as usize) as i64;
        self.read_off(move |c| {
            let sql = if by_arrival {
                format!(
                    "SELECT {ENTRY_COLUMNS} FROM entry INDEXED BY entry_by_first_seen
                     WHERE first_seen >= ?1 AND sort_time < ?1
                       AND (first_seen < ?2 OR (first_seen = ?2 AND id < ?3))
                     ORDER BY first_seen DESC, id DESC LIMIT ?4"
                )
            } else {
                format!(
                    "SELECT {ENTRY_COLUMNS} FROM entry INDEXED BY entry_by_time
                     WHERE sort_time >= ?1 AND (sort_time < ?2 OR (sort_time = ?2 AND id < ?3))
                     ORDER BY sort_time DESC, id DESC LIMIT ?4"
                )
            };
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![since, t, id, limit], entry_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn entry_count(&self, source_id: &str) -> Result<u64, StoreError> {
        let id = source_id.to_string();
        self.read_off(move |c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM entry WHERE source_id = ?1",
                [&id],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }

    async fn total_entries(&self) -> Result<u64, StoreError> {
        self.read_off(|c| {
            // Kept by triggers: a scrape of /metrics does not count the store.
            Ok(c.query_row(
                "SELECT COALESCE(SUM(entries), 0) FROM entry_count",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
        .await
    }

    async fn daily_counts(&self, since: DateTime<Utc>) -> Result<Vec<(String, u64)>, StoreError> {
        let since = since.timestamp();
        self.read_off(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT date(first_seen, 'unixepoch'), COUNT(*) FROM entry INDEXED BY entry_by_first_seen
                 WHERE first_seen >= ?1 GROUP BY 1 ORDER BY 1",
            )?;
            let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn entry_stats(&self, since: DateTime<Utc>) -> Result<Vec<EntryStats>, StoreError> {
        let since = since.timestamp();
        self.read_off(move |c| {
            // Totals from the kept counts, recent ones from the time index:
            // both grow with the sources and the recent entries, not the store.
            let mut recent: std::collections::HashMap<String, u64> = c
                .prepare_cached(
                    "SELECT source_id, COUNT(*) FROM entry INDEXED BY entry_by_first_seen
                     WHERE first_seen >= ?1 GROUP BY source_id",
                )?
                .query_map([since], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<_, _>>()?;
            let mut stmt = c.prepare_cached(
                "SELECT source_id, entries FROM entry_count WHERE entries > 0 ORDER BY source_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (source_id, total) = row?;
                let recent = recent.remove(&source_id).unwrap_or(0);
                out.push(EntryStats {
                    source_id,
                    total,
                    recent,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|c| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }
}

// `Maintenance` (retention, export, import, backup, close) is in `retention.rs`.

#[async_trait]
impl super::Coordination for SqliteStore {
    async fn lease_due(
        &self,
        _node: &str,
        ids: &[String],
        now: DateTime<Utc>,
        limit: usize,
        _lease_for: std::time::Duration,
    ) -> Result<Vec<super::Lease>, StoreError> {
        Ok(super::lease_every_due(
            &self.states().await?,
            ids,
            now,
            limit,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn entry(key: &str, body: &str) -> Entry {
        Entry {
            id: crate::normalize::stable_id("s", key),
            source_id: "s".into(),
            key: key.into(),
            guid: None,
            url: None,
            title: "t".into(),
            authors: vec![],
            summary: None,
            content: Some(body.into()),
            text: body.into(),
            published: None,
            updated: None,
            language: None,
            categories: vec![],
            enclosures: vec![],
            origin: None,
            content_hash: body.into(),
        }
    }

    #[tokio::test]
    async fn same_key_updates_and_keeps_first_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("x/h.db")).await.unwrap();
        let state = SourceState::new("s");
        let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let t1 = Utc.timestamp_opt(1_700_000_600, 0).unwrap();
        let c = store
            .commit_poll(&state, &[entry("a", "one")], t0)
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
            .commit_poll(&state, &[entry("a", "one")], t1)
            .await
            .unwrap();
        assert_eq!(c.unchanged, 1);
        let c = store
            .commit_poll(&state, &[entry("a", "two")], t1)
            .await
            .unwrap();
        assert_eq!(c.updated, 1);
        let q = EntryQuery {
            sources: vec!["s".into()],
            limit: 10,
            offset: 0,
        };
        let got = store.entries(&q).await.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].first_seen, t0);
        assert_eq!(got[0].published(), t0);
        assert_eq!(got[0].entry.updated, Some(t1));
        assert_eq!(got[0].entry.text, "two");
    }

    /// Polls committed together: a failing one stores nothing (neither its
    /// entries nor its state) and the others are all stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_poll_in_a_group_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("h.db")).await.unwrap());
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let mut seed = entry("a", "x");
        seed.source_id = "seed".into();
        seed.id = crate::normalize::stable_id("seed", "a");
        let taken = seed.id.clone();
        store
            .commit_poll(&SourceState::new("seed"), &[seed], now)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let taken = taken.clone();
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let id = format!("s{i}");
                let mut st = SourceState::new(&id);
                st.etag = Some(format!("\"{i}\""));
                let mut ok = entry("a", "x");
                ok.source_id = id.clone();
                ok.id = crate::normalize::stable_id(&id, "a");
                let mut entries = vec![ok];
                if i % 10 == 3 {
                    // Another entry's id: the primary key refuses it.
                    let mut bad = entry("b", "y");
                    bad.source_id = id.clone();
                    bad.id = taken;
                    entries.push(bad);
                }
                store.commit_poll(&st, &entries, now).await
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            let r = t.await.unwrap();
            let id = format!("s{i}");
            let state = store.state(&id).await.unwrap();
            if i % 10 == 3 {
                assert!(r.is_err(), "{i}");
                assert_eq!(state.etag, None, "{i}");
                assert_eq!(store.entry_count(&id).await.unwrap(), 0, "{i}");
            } else {
                assert_eq!(r.unwrap().new, 1, "{i}");
                assert_eq!(state.etag, Some(format!("\"{i}\"")), "{i}");
                assert_eq!(store.entry_count(&id).await.unwrap(), 1, "{i}");
            }
        }
    }

    #[tokio::test]
    async fn reopening_keeps_data_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            let mut st = SourceState::new("s");
            st.etag = Some("\"e\"".into());
            store
                .commit_poll(&st, &[entry("a", "x")], Utc::now())
                .await
                .unwrap();
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(
            store.state("s").await.unwrap().etag.as_deref(),
            Some("\"e\"")
        );
        assert_eq!(store.entry_count("s").await.unwrap(), 1);
        drop(store);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = SqliteStore::open(&path).await.err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[tokio::test]
    async fn dropping_the_store_closes_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .commit_poll(&SourceState::new("s"), &[entry("a", "x")], Utc::now())
            .await
            .unwrap();
        assert_eq!(store.state("s").await.unwrap().source_id, "s");
        drop(store);
        // The last connection closed: its WAL was checkpointed and removed.
        assert!(!dir.path().join("h.db-wal").exists());
    }

    #[tokio::test]
    async fn known_keys_and_scrape_health_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let mut st = SourceState::new("s");
        let mut health = crate::model::ScrapeHealth {
            pages: 2,
            items: 4,
            ..Default::default()
        };
        health.filled.insert("title".into(), 4);
        st.scrape = Some(health.clone());
        store
            .commit_poll(&st, &[entry("a", "x")], Utc::now())
            .await
            .unwrap();
        let known = store
            .known_keys("s", &["a".to_string(), "b".to_string()])
            .await
            .unwrap();
        assert_eq!(known.into_iter().collect::<Vec<_>>(), vec!["a".to_string()]);
        assert!(
            store
                .known_keys("other", &["a".to_string()])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.state("s").await.unwrap().scrape, Some(health));
    }

    #[tokio::test]
    async fn rows_written_before_compact_bodies_are_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let new = entry("new", "<p>compressed</p>");
        store
            .commit_poll(
                &SourceState::new("s"),
                std::slice::from_ref(&new),
                Utc::now(),
            )
            .await
            .unwrap();
        // A row as version 7 wrote it: plain columns, no `body`.
        let raw = Connection::open(&path).unwrap();
        raw.execute(
            "INSERT INTO entry (id, source_id, key, title, authors, summary, content, text,
               categories, enclosures, content_hash, first_seen, changed_at, sort_time)
             VALUES ('old1', 's', 'old', 't', '[]', 'sum', '<p>plain</p>', 'plain', '[]', '[]',
               'h', 1, 1, 1)",
            [],
        )
        .unwrap();
        let (stored_text, body): (String, Option<Vec<u8>>) = raw
            .query_row(
                "SELECT text, body FROM entry WHERE id = ?1",
                [&new.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(stored_text, "", "the text is kept in `body` only");
        assert!(body.is_some());
        let got = store
            .entries_by_ids(&["old1".to_string(), new.id.clone()])
            .await
            .unwrap();
        let old = got.iter().find(|e| e.entry.id == "old1").unwrap();
        assert_eq!(old.entry.summary.as_deref(), Some("sum"));
        assert_eq!(old.entry.content.as_deref(), Some("<p>plain</p>"));
        assert_eq!(old.entry.text, "plain");
        let back = got.iter().find(|e| e.entry.id == new.id).unwrap();
        assert_eq!(back.entry.content, new.content);
        assert_eq!(back.entry.text, new.text);
    }

    #[tokio::test]
    async fn an_output_over_many_sources_skips_the_others_and_pages_by_offset() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        // 80 sources, one entry each, newest last; the output takes the even ones.
        for i in 0..80 {
            let mut e = entry(&format!("k{i}"), "x");
            e.source_id = format!("s{i}");
            e.id = crate::normalize::stable_id(&e.source_id, &e.key);
            e.published = Some(t0 + chrono::Duration::seconds(i));
            store
                .commit_poll(&SourceState::new(&e.source_id), &[e], t0)
                .await
                .unwrap();
        }
        let sources: Vec<String> = (0..80).step_by(2).map(|i| format!("s{i}")).collect();
        assert!(sources.len() > MANY_SOURCES);
        let query = |offset| EntryQuery {
            sources: sources.clone(),
            limit: 4,
            offset,
        };
        let heads = |q: EntryQuery| {
            let store = &store;
            async move {
                let got = store.entries(&q).await.unwrap();
                got.into_iter()
                    .map(|e| e.entry.source_id)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(heads(query(0)).await, ["s78", "s76", "s74", "s72"]);
        assert_eq!(heads(query(4)).await, ["s70", "s68", "s66", "s64"]);
        assert_eq!(heads(query(38)).await, ["s2", "s0"]);
        let ids = store.entry_heads(&query(2)).await.unwrap();
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0].id, crate::normalize::stable_id("s74", "k74"));
    }
}
