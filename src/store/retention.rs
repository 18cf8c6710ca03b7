//! Retention, backup and shutdown for the SQLite store: what keeps a
//! database that runs for a year from growing without bound. Which entries
//! go is decided by [`crate::service::prune`]; this file only deletes,
//! remembers what it deleted, and gives the space back.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

use super::rows::{self, ENTRY_COLUMNS};
use super::sqlite::entry_row;
use super::{Maintenance, SqliteStore, StoreError};
use crate::model::{Entry, StoredEntry};

/// An entry a retention rule would remove.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PruneCandidate {
    pub id: String,
    pub source_id: String,
    pub key: String,
    /// The first 100 characters of the title (for reports).
    pub title: String,
    /// Published, else first-seen time (what feeds sort by).
    pub sort_time: DateTime<Utc>,
}

/// Makes the database vacuum incrementally (`auto_vacuum = INCREMENTAL`).
/// A new file gets it before its first table; an existing one is rewritten
/// once with `VACUUM` (the mode cannot change otherwise).
pub(super) fn incremental_auto_vacuum(conn: &Connection) -> Result<(), StoreError> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == 2 {
        return Ok(());
    }
    let tables: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    if tables == 0 {
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    }
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    if tables > 0 {
        tracing::info!("switching the database to incremental vacuum (a one-time VACUUM)");
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// The page size of a new store. Rows carry a compressed body of a
/// kilobyte or two: 4 KiB pages held two of them, and every page costs
/// a cache lookup, a pointer-map entry and a write call.
const PAGE_SIZE: i64 = 16384;

/// Inside a poll's transaction: whether this entry was pruned (then the
/// poll leaves it out, and the pruned key is marked as still listed).
pub(super) fn was_pruned(
    tx: &Connection,
    e: &Entry,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached("UPDATE pruned_entry SET last_seen = ?3 WHERE source_id = ?1 AND key = ?2")?
        .execute(params![e.source_id, e.key, now.timestamp()])?;
    Ok(n > 0)
}

/// `PRAGMA cache_size` while importing (negative: KiB), 128 MiB: the two
/// unique indexes of a million entries stay in it.
const IMPORT_CACHE_KIB: i64 = -131_072;
/// The memory map of the index builds after a bulk load (address space,
/// not RAM: the pages are the file's, shared with the OS cache).
const BULK_MMAP_BYTES: i64 = 1 << 40;

/// A bulk load into an empty store leaves WAL mode for a rollback journal:
/// the table's new pages are written once, into the file, instead of into
/// the log and again at each checkpoint (new pages need no journal copy).
/// Only when no other connection has the store open (a running daemon
/// keeps it in WAL mode: then the load goes through the WAL as usual).
/// [`SqliteStore::end_bulk_load`] or the next open returns to WAL.
///
/// When nothing at all is stored yet (no entry, no source state), the load
/// does not wait for the disk at each commit either (`synchronous = OFF`):
/// a power cut during it can damage a file that held nothing, and the
/// import is run again; the index builds at the end commit with a sync,
/// which puts every page on disk before the import reports success.
fn leave_wal(c: &Connection) -> Result<(), StoreError> {
    c.busy_timeout(std::time::Duration::ZERO)?;
    let mode = c.query_row("PRAGMA journal_mode = TRUNCATE", [], |r| {
        r.get::<_, String>(0)
    });
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    match mode {
        Ok(mode) if mode.eq_ignore_ascii_case("truncate") => {
            let nothing_stored: bool = c.query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM source_state)
                    AND NOT EXISTS (SELECT 1 FROM pruned_entry)",
                [],
                |r| r.get(0),
            )?;
            if nothing_stored {
                c.pragma_update(None, "synchronous", "OFF")?;
            }
        }
        Ok(mode) => tracing::debug!(mode, "the import stays in this journal mode"),
        Err(e) => {
            tracing::debug!(error = %e, "another connection holds the store: importing through the WAL")
        }
    }
    Ok(())
}

/// The entry table's secondary indexes (migrations 1, 3, 5 and 7), by name and
/// definition. An import into an empty store drops them and builds each
/// once at the end — one sorted pass instead of a random insert per entry
/// and index; opening a store builds any that is missing (an import that
/// was killed half-way).
const ENTRY_INDEXES: &[(&str, &str)] = &[
    (
        "entry_by_source_time",
        "entry (source_id, sort_time DESC, id DESC, cluster)",
    ),
    (
        "entry_by_source_first_seen",
        "entry (source_id, first_seen)",
    ),
    (
        "entry_by_cluster",
        "entry (cluster) WHERE cluster IS NOT NULL",
    ),
    (
        "entry_by_time",
        "entry (sort_time DESC, id DESC, source_id, cluster)",
    ),
    (
        "entry_by_first_seen",
        "entry (first_seen DESC, id DESC, source_id)",
    ),
];

/// The triggers that keep `entry_count` (entries per source) as entries
/// come and go, whichever way (poll, import, copy, retention).
const COUNT_TRIGGERS: &str = "
    CREATE TRIGGER entry_counted AFTER INSERT ON entry BEGIN
        INSERT INTO entry_count (source_id, entries) VALUES (NEW.source_id, 1)
        ON CONFLICT (source_id) DO UPDATE SET entries = entries + 1;
    END;
    CREATE TRIGGER entry_uncounted AFTER DELETE ON entry BEGIN
        UPDATE entry_count SET entries = entries - 1 WHERE source_id = OLD.source_id;
    END;";

/// Counts the entries per source once and starts keeping the counts when
/// the triggers are missing: a store migrated to version 9, or after a
/// bulk load (which leaves them out, a trigger per row being a tenth of
/// an import).
pub(super) fn ensure_entry_counts(c: &mut Connection) -> Result<(), StoreError> {
    let triggers: i64 = c.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'
         AND name IN ('entry_counted', 'entry_uncounted')",
        [],
        |r| r.get(0),
    )?;
    if triggers == 2 {
        return Ok(());
    }
    let tx = c.transaction()?;
    tx.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS entry_counted;
         DROP TRIGGER IF EXISTS entry_uncounted;
         DELETE FROM entry_count;
         INSERT INTO entry_count (source_id, entries)
             SELECT source_id, COUNT(*) FROM entry GROUP BY source_id;
         {COUNT_TRIGGERS}"
    ))?;
    tx.commit()?;
    Ok(())
}

/// Builds the entry indexes that are missing (all exist but after a
/// killed bulk import: then this is the end of that import).
pub(super) fn ensure_entry_indexes(c: &Connection) -> Result<(), StoreError> {
    for (name, definition) in ENTRY_INDEXES {
        c.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS {name} ON {definition};"
        ))?;
    }
    Ok(())
}

fn dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

#[async_trait::async_trait]
impl Maintenance for SqliteStore {
    async fn retention_candidates(
        &self,
        source_id: &str,
        keep_newest: Option<usize>,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<PruneCandidate>, StoreError> {
        let id = source_id.to_string();
        let keep = keep_newest.map(|n| n.min(i64::MAX as usize) as i64);
        let before = older_than.map(|d| d.timestamp());
        self.with(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, source_id, key, substr(title, 1, 100), sort_time FROM (
                    SELECT id, source_id, key, title, sort_time,
                           ROW_NUMBER() OVER (ORDER BY sort_time DESC, id DESC) AS n
                    FROM entry WHERE source_id = ?1)
                 WHERE (?2 IS NULL AND ?3 IS NULL) OR n > ?2 OR sort_time < ?3
                 ORDER BY sort_time DESC, id DESC",
            )?;
            let rows = stmt.query_map(params![id, keep, before], |r| {
                Ok(PruneCandidate {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    key: r.get(2)?,
                    title: r.get(3)?,
                    sort_time: dt(r.get(4)?),
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn prune_entries(
        &self,
        entries: &[PruneCandidate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let entries = entries.to_vec();
        self.with(move |c| {
            let tx = c.transaction()?;
            let mut deleted = 0;
            {
                let mut del = tx.prepare_cached("DELETE FROM entry WHERE id = ?1")?;
                let mut mark = tx.prepare_cached(
                    "INSERT INTO pruned_entry (source_id, key, pruned_at, last_seen)
                     VALUES (?1, ?2, ?3, ?3)
                     ON CONFLICT (source_id, key) DO UPDATE SET pruned_at = ?3, last_seen = ?3",
                )?;
                for e in &entries {
                    deleted += del.execute([&e.id])?;
                    mark.execute(params![e.source_id, e.key, now.timestamp()])?;
                }
            }
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn reclaim_space(&self, forget_unseen_since: DateTime<Utc>) -> Result<(), StoreError> {
        let since = forget_unseen_since.timestamp();
        self.with(move |c| {
            c.execute("DELETE FROM pruned_entry WHERE last_seen < ?1", [since])?;
            c.execute_batch("PRAGMA incremental_vacuum;")?;
            Ok(())
        })
        .await
    }

    async fn export_entries(
        &self,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let after = after_id.unwrap_or("").to_string();
        let limit = limit.min(i64::MAX as usize) as i64;
        self.with(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entry WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit], entry_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn import_entries(&self, entries: &[StoredEntry]) -> Result<usize, StoreError> {
        // Rows are encoded (bodies compressed) here, on the importer's
        // thread, so the writer only runs SQL: the two work side by side.
        let rows = entries
            .iter()
            .map(|s| {
                Ok(rows::stored_values(s)?
                    .into_iter()
                    .map(rows::Value::into_owned)
                    .collect())
            })
            .collect::<Result<Vec<Vec<rows::Value<'static>>>, StoreError>>()?;
        self.with(move |c| {
            // A bulk load: a page cache that holds the indexes' hot pages
            // (inserts land all over the id and key trees).
            c.pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
            let tx = c.transaction()?;
            let mut inserted = 0;
            {
                let mut stmt = tx.prepare_cached(&rows::SQLITE.import_entry)?;
                for values in &rows {
                    inserted += stmt.execute(rusqlite::params_from_iter(values))?;
                }
            }
            tx.commit()?;
            // Freed by the caller, the importer's thread: the writer is
            // the busier of the two.
            Ok((inserted, rows))
        })
        .await
        .map(|(inserted, _rows)| inserted)
    }

    /// An import starts: into an empty store, the secondary indexes go
    /// until [`SqliteStore::sqlite_end_bulk_load`]. True when they did.
    async fn begin_bulk_load(&self) -> Result<bool, StoreError> {
        // This process's readers would keep the store in WAL mode.
        self.close_readers();
        self.with(|c| {
            let empty: bool =
                c.query_row("SELECT NOT EXISTS (SELECT 1 FROM entry)", [], |r| r.get(0))?;
            if empty {
                for (name, _) in ENTRY_INDEXES {
                    c.execute_batch(&format!("DROP INDEX IF EXISTS {name};"))?;
                }
                // Counted once at the end (`ensure_entry_counts`).
                c.execute_batch(
                    "DROP TRIGGER IF EXISTS entry_counted; DROP TRIGGER IF EXISTS entry_uncounted;",
                )?;
                leave_wal(c)?;
            }
            Ok(empty)
        })
        .await
    }

    async fn end_bulk_load(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.pragma_update(None, "cache_size", IMPORT_CACHE_KIB)?;
            // The index builds commit with a sync (rollback mode), which
            // puts the pages a load wrote without one on disk too.
            c.pragma_update(None, "synchronous", "NORMAL")?;
            // Each index build scans the whole table: through a memory map
            // the pages are read in place instead of copied in per read.
            c.pragma_update(None, "mmap_size", BULK_MMAP_BYTES)?;
            let built = ensure_entry_indexes(c).and_then(|()| ensure_entry_counts(c));
            c.pragma_update(None, "mmap_size", 0)?;
            built?;
            let mode: String = c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError(format!(
                    "the store stayed in journal mode {mode} after the import; \
                     opening it again (any huiliu command) puts it back in WAL mode"
                )));
            }
            Ok(())
        })
        .await
    }

    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let dest = dest.to_path_buf();
        if dest.exists() {
            return Err(StoreError(format!(
                "{} exists: the backup never overwrites a file",
                dest.display()
            )));
        }
        self.with(move |c| {
            let dest = dest
                .to_str()
                .ok_or_else(|| StoreError("the backup path is not UTF-8".into()))?;
            // A consistent, compacted copy, taken inside one read transaction.
            c.execute("VACUUM INTO ?1", [dest])?;
            Ok(())
        })
        .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute_batch("PRAGMA optimize;")?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceState;
    use crate::store::Store;
    use chrono::TimeZone;

    fn entry(key: &str, published: i64) -> Entry {
        Entry {
            id: crate::normalize::stable_id("s", key),
            source_id: "s".into(),
            key: key.into(),
            guid: None,
            url: None,
            title: format!("t {key}"),
            authors: vec![],
            summary: None,
            content: None,
            text: key.into(),
            published: Utc.timestamp_opt(published, 0).single(),
            updated: None,
            language: None,
            categories: vec![],
            enclosures: vec![],
            origin: None,
            content_hash: key.into(),
        }
    }

    fn index_names(path: &Path) -> Vec<String> {
        let c = Connection::open(path).unwrap();
        let mut stmt = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entry' AND sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[tokio::test]
    async fn a_bulk_load_defers_the_indexes_only_on_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let all = index_names(&path);
        assert_eq!(all.len(), ENTRY_INDEXES.len(), "{all:?}");
        assert!(store.begin_bulk_load().await.unwrap());
        assert!(index_names(&path).is_empty());
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        assert_eq!(store.import_entries(&fifty_rows()).await.unwrap(), 50);
        store.end_bulk_load().await.unwrap();
        assert_eq!(index_names(&path), all);
        // Counted once at the end, then kept by the triggers again.
        assert_eq!(totals(&store).await, vec![("s".to_string(), 50)]);
        store
            .commit_poll(
                &crate::model::SourceState::new("s"),
                &[entry("new", 1_600_000_100)],
                now,
            )
            .await
            .unwrap();
        assert_eq!(totals(&store).await, vec![("s".to_string(), 51)]);
        // Not empty any more: a second import keeps them.
        assert!(!store.begin_bulk_load().await.unwrap());
        assert_eq!(index_names(&path), all);
        store.end_bulk_load().await.unwrap();
        drop(store);

        // An import killed half-way: opening the store completes it.
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP INDEX entry_by_time; DROP INDEX entry_by_cluster;
             DROP TRIGGER entry_counted; UPDATE entry_count SET entries = 7;",
        )
        .unwrap();
        drop(c);
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(index_names(&path), all);
        assert_eq!(totals(&store).await, vec![("s".to_string(), 51)]);
        let page = store
            .entries_since(Utc.timestamp_opt(0, 0).unwrap(), false, None, 10)
            .await
            .unwrap();
        assert_eq!(page.len(), 10);
    }

    async fn totals(store: &SqliteStore) -> Vec<(String, u64)> {
        use crate::store::Store;
        let since = Utc.timestamp_opt(0, 0).unwrap();
        let stats = store.entry_stats(since).await.unwrap();
        stats.into_iter().map(|s| (s.source_id, s.total)).collect()
    }

    async fn journal_mode(store: &SqliteStore) -> String {
        store
            .with(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))?))
            .await
            .unwrap()
    }

    fn fifty_rows() -> Vec<StoredEntry> {
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        (0..50)
            .map(|i| StoredEntry {
                entry: entry(&format!("k{i}"), 1_600_000_000 + i),
                first_seen: now,
                changed_at: now,
                cluster: None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_bulk_load_leaves_the_wal_only_when_alone_and_returns_to_it() {
        let since = Utc.timestamp_opt(0, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(journal_mode(&store).await, "wal");
        // A reader this process opened before is closed for the load.
        assert!(
            store
                .entries_since(since, false, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.begin_bulk_load().await.unwrap());
        assert_eq!(journal_mode(&store).await, "truncate");
        assert_eq!(store.import_entries(&fifty_rows()).await.unwrap(), 50);
        store.end_bulk_load().await.unwrap();
        assert_eq!(journal_mode(&store).await, "wal");
        assert_eq!(
            store
                .entries_since(since, false, None, 100)
                .await
                .unwrap()
                .len(),
            50
        );
        drop(store);

        // Another process holds the store open: the load goes through the
        // WAL, without waiting for it.
        let path = dir.path().join("shared.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let other = Connection::open(&path).unwrap();
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM entry", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        let started = std::time::Instant::now();
        assert!(store.begin_bulk_load().await.unwrap());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert_eq!(journal_mode(&store).await, "wal");
        assert_eq!(store.import_entries(&fifty_rows()).await.unwrap(), 50);
        store.end_bulk_load().await.unwrap();
        let n: i64 = other
            .query_row("SELECT COUNT(*) FROM entry", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 50);
    }

    #[tokio::test]
    async fn a_new_store_has_large_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let c = Connection::open(&path).unwrap();
        let size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        assert_eq!(size, PAGE_SIZE);
    }

    #[tokio::test]
    async fn pruned_entries_stay_pruned_and_space_is_reclaimed() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let entries: Vec<Entry> = (0..10)
            .map(|i| entry(&format!("k{i}"), 1_600_000_000 + i * 86_400))
            .collect();
        let st = SourceState::new("s");
        store.commit_poll(&st, &entries, now).await.unwrap();

        let all = store.retention_candidates("s", None, None).await.unwrap();
        assert_eq!(all.len(), 10);
        let beyond = store
            .retention_candidates("s", Some(7), None)
            .await
            .unwrap();
        let keys: Vec<_> = beyond.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["k2", "k1", "k0"]);
        let old = store
            .retention_candidates(
                "s",
                None,
                Utc.timestamp_opt(1_600_000_000 + 86_400, 0).single(),
            )
            .await
            .unwrap();
        assert_eq!(old.len(), 1);
        let either = store
            .retention_candidates(
                "s",
                Some(9),
                Utc.timestamp_opt(1_600_000_000 + 3 * 86_400, 0).single(),
            )
            .await
            .unwrap();
        assert_eq!(either.len(), 3);

        assert_eq!(store.prune_entries(&beyond, now).await.unwrap(), 3);
        assert_eq!(store.entry_count("s").await.unwrap(), 7);
        assert_eq!(totals(&store).await, vec![("s".to_string(), 7)]);
        // The feed still lists them: they do not come back.
        let c = store.commit_poll(&st, &entries, now).await.unwrap();
        assert_eq!((c.new, c.unchanged), (0, 10));
        assert_eq!(store.entry_count("s").await.unwrap(), 7);
        store.reclaim_space(now).await.unwrap();
        let later = now + chrono::Duration::days(60);
        store.reclaim_space(later).await.unwrap();
        // Forgotten once unseen: a feed listing them again adds them again.
        let c = store.commit_poll(&st, &entries, later).await.unwrap();
        assert_eq!(c.new, 3);

        let mode: i64 = store
            .with(|c| Ok(c.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, 2, "auto_vacuum = INCREMENTAL");
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn export_import_round_trip_is_idempotent_and_backup_copies() {
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteStore::open(&dir.path().join("a.db")).await.unwrap();
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let entries: Vec<Entry> = (0..5)
            .map(|i| entry(&format!("k{i}"), 1_600_000_000 + i))
            .collect();
        a.commit_poll(&SourceState::new("s"), &entries, now)
            .await
            .unwrap();
        let first = a.export_entries(None, 3).await.unwrap();
        let rest = a
            .export_entries(Some(&first.last().unwrap().entry.id), 3)
            .await
            .unwrap();
        assert_eq!((first.len(), rest.len()), (3, 2));
        let all: Vec<StoredEntry> = first.into_iter().chain(rest).collect();

        let b = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
        assert_eq!(b.import_entries(&all).await.unwrap(), 5);
        assert_eq!(b.import_entries(&all).await.unwrap(), 0);
        let back = b.export_entries(None, 100).await.unwrap();
        assert_eq!(back, all);

        let copy = dir.path().join("copy.db");
        a.backup_to(&copy).await.unwrap();
        assert!(a.backup_to(&copy).await.is_err(), "never overwrites");
        let c = SqliteStore::open(&copy).await.unwrap();
        assert_eq!(c.total_entries().await.unwrap(), 5);
    }
}
