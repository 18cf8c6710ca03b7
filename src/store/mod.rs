//! Store stage: the only place that persists anything. [`Store`] is the
//! interface; SQLite is the embedded default.

mod retention;
mod sqlite;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::config::StorageConfig;
use crate::model::{Entry, SourceState, StoredEntry};

pub use retention::PruneCandidate;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// What one poll changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollCounts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl PollCounts {
    pub fn changed(&self) -> bool {
        self.new + self.updated > 0
    }
}

/// Entry counts of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryStats {
    pub source_id: String,
    pub total: u64,
    pub recent: u64,
}

/// Which entries a published feed shows.
#[derive(Debug, Clone)]
pub struct EntryQuery {
    pub sources: Vec<String>,
    pub limit: usize,
    pub offset: usize,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// The stored state of a source (a fresh one if it was never polled).
    async fn state(&self, source_id: &str) -> Result<SourceState, StoreError>;

    async fn states(&self) -> Result<Vec<SourceState>, StoreError>;

    /// Writes one poll as one transaction: every entry (same source + key is
    /// the same entry: a changed body updates it) and the source's new state.
    async fn commit_poll(
        &self,
        state: &SourceState,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<PollCounts, StoreError>;

    /// Newest first (by published, else first-seen time), then by id.
    async fn entries(&self, query: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError>;

    /// Which of `keys` (entry identity keys) the source already has stored;
    /// scraping uses it to fetch article pages of new items only.
    async fn known_keys(
        &self,
        source_id: &str,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError>;

    async fn entry_count(&self, source_id: &str) -> Result<u64, StoreError>;

    /// The entries with these ids (any order; unknown ids are skipped).
    async fn entries_by_ids(&self, ids: &[String]) -> Result<Vec<StoredEntry>, StoreError>;

    async fn total_entries(&self) -> Result<u64, StoreError>;

    /// Entries first seen per UTC day since `since`: (source id, `YYYY-MM-DD`, count).
    async fn daily_counts(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, String, u64)>, StoreError>;
    /// Per source with entries: how many, and how many first seen at or
    /// after `since` (one query for every source: `huiliu sources`, `/status`).
    async fn entry_stats(&self, since: DateTime<Utc>) -> Result<Vec<EntryStats>, StoreError>;

    /// Checks the database answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- retention, backup and shutdown (`huiliu prune`, `export`, `import`) ----
    // Defaults let a store without them still compile (and say so at run time).

    /// The entries of a source outside a retention rule: beyond the newest
    /// `keep_newest` or sorted before `older_than` (either); with neither,
    /// every entry of the source. Newest first.
    async fn retention_candidates(
        &self,
        source_id: &str,
        keep_newest: Option<usize>,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<PruneCandidate>, StoreError> {
        let _ = (source_id, keep_newest, older_than);
        Err(unsupported("retention"))
    }

    /// Deletes these entries in one transaction and remembers their keys, so
    /// a feed still listing them does not bring them back. Returns how many
    /// were deleted.
    async fn prune_entries(
        &self,
        entries: &[PruneCandidate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let _ = (entries, now);
        Err(unsupported("pruning"))
    }

    /// After pruning: forgets pruned keys no feed listed since
    /// `forget_unseen_since`, and gives free pages back to the file system.
    async fn reclaim_space(&self, forget_unseen_since: DateTime<Utc>) -> Result<(), StoreError> {
        let _ = forget_unseen_since;
        Ok(())
    }

    /// Every stored entry in id order, `limit` at a time after `after_id`.
    async fn export_entries(
        &self,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let _ = (after_id, limit);
        Err(unsupported("export"))
    }

    /// Inserts entries that are not stored yet (same source and key: skipped),
    /// keeping their first-seen times. Returns how many were inserted.
    async fn import_entries(&self, entries: &[StoredEntry]) -> Result<usize, StoreError> {
        let _ = entries;
        Err(unsupported("import"))
    }

    /// Copies the whole database to `dest` while it is in use (SQLite backup).
    async fn backup_to(&self, dest: &std::path::Path) -> Result<(), StoreError> {
        let _ = dest;
        Err(unsupported("backup (use the database's own tools)"))
    }

    /// Flushes and closes cleanly at shutdown (SQLite: checkpoints the WAL).
    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

fn unsupported(what: &str) -> StoreError {
    StoreError(format!("{what} is not supported by this store"))
}

/// Opens the configured store, running migrations.
pub async fn open(cfg: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    match cfg {
        StorageConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        StorageConfig::Postgres(_) => Err(StoreError(
            "PostgreSQL storage is not available in this version; use storage.url = \"sqlite:PATH\"".into(),
        )),
    }
}
