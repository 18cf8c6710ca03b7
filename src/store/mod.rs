//! Store stage: the only place that persists anything. [`Store`] is the
//! interface; SQLite is the embedded default.

mod body;
mod postgres;
mod postgres_retention;
mod retention;
mod rows;
mod sqlite;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::config::StorageConfig;
use crate::dedup::Relabel;
use crate::model::{Entry, SourceState, StoredEntry};

pub use postgres::PgStore;
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

/// An entry's place in an output: its id and cluster label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryHead {
    pub id: String,
    pub cluster: Option<String>,
}

impl EntryHead {
    /// Its cluster's label (its own id when it is a cluster of one).
    pub fn cluster_label(&self) -> &str {
        self.cluster.as_deref().unwrap_or(&self.id)
    }
}

/// Which entries a published feed shows.
#[derive(Debug, Clone)]
pub struct EntryQuery {
    pub sources: Vec<String>,
    pub limit: usize,
    pub offset: usize,
}

/// A source a node offers to lease: its id, its politeness key (host), how
/// many of that host's sources may be polled at once across all nodes, and
/// the least time between two requests to the host across all nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSource {
    pub id: String,
    pub host: String,
    pub host_limit: usize,
    pub host_delay: Duration,
}

/// A source leased to a node: poll it once `start_in` has passed (its
/// host's turn across all nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub start_in: Duration,
}

/// What every store does: source states, polls, entries, clusters.
/// Its parts are traits of their own, so a backend that lacks one does not
/// compile: [`Maintenance`] (a year of data) and [`Coordination`] (several
/// nodes).
#[async_trait]
pub trait Store: Maintenance + Coordination + Send + Sync {
    /// The stored state of a source (a fresh one if it was never polled).
    async fn state(&self, source_id: &str) -> Result<SourceState, StoreError>;

    async fn states(&self) -> Result<Vec<SourceState>, StoreError>;

    /// Writes one poll atomically (all of it or none): every entry (same
    /// source + key is the same entry: a changed body updates it) and the
    /// source's new state. Returns once it is committed.
    async fn commit_poll(
        &self,
        state: &SourceState,
        entries: &[Entry],
        now: DateTime<Utc>,
    ) -> Result<PollCounts, StoreError>;

    /// Newest first (by published, else first-seen time), then by id.
    async fn entries(&self, query: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError>;

    /// The same rows as [`Store::entries`], in the same order, as their id
    /// and cluster only: read from an index, without the bodies, so a deep
    /// page costs what the first does.
    async fn entry_heads(&self, query: &EntryQuery) -> Result<Vec<EntryHead>, StoreError>;

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

    /// Entries first seen per UTC day since `since`: (`YYYY-MM-DD`, count).
    async fn daily_counts(&self, since: DateTime<Utc>) -> Result<Vec<(String, u64)>, StoreError>;
    /// Per source with entries: how many, and how many first seen at or
    /// after `since` (one query for every source: `huiliu sources`, `/status`).
    async fn entry_stats(&self, since: DateTime<Utc>) -> Result<Vec<EntryStats>, StoreError>;

    /// Checks the database answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    // ---- near-duplicate clusters, stored with the entries ----

    /// Writes cluster labels (one transaction): `assign` by entry id
    /// (a label equal to the id is stored as none), `rename` every entry
    /// carrying an old label.
    async fn set_clusters(&self, labels: &Relabel) -> Result<(), StoreError>;

    /// Every entry of these clusters (by label), any order.
    async fn cluster_members(&self, labels: &[String]) -> Result<Vec<StoredEntry>, StoreError>;

    /// The dedup window, read at start: entries sorted (published, else
    /// first seen) at or after `since` — or, `by_arrival`, the others first
    /// seen at or after `since` — newest first, `limit` at a time after the
    /// `(time, id)` of the last one of the previous batch.
    async fn entries_since(
        &self,
        since: DateTime<Utc>,
        by_arrival: bool,
        after: Option<(i64, String)>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;
}

/// Keeping a year of data (`huiliu prune`, `export`, `import`, `backup`)
/// and shutting down cleanly: every backend implements all of it.
#[async_trait]
pub trait Maintenance: Send + Sync {
    /// The entries of a source outside a retention rule: beyond the newest
    /// `keep_newest` or sorted before `older_than` (either); with neither,
    /// every entry of the source. Newest first.
    async fn retention_candidates(
        &self,
        source_id: &str,
        keep_newest: Option<usize>,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<PruneCandidate>, StoreError>;

    /// Deletes these entries in one transaction and remembers their keys, so
    /// a feed still listing them does not bring them back. Returns how many
    /// were deleted.
    async fn prune_entries(
        &self,
        entries: &[PruneCandidate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// After pruning: forgets pruned keys no feed listed since
    /// `forget_unseen_since`, and gives free pages back to the file system.
    async fn reclaim_space(&self, forget_unseen_since: DateTime<Utc>) -> Result<(), StoreError>;

    /// Every stored entry in id order, `limit` at a time after `after_id`.
    async fn export_entries(
        &self,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError>;

    /// Inserts entries that are not stored yet (same source and key: skipped),
    /// keeping their first-seen times. Returns how many were inserted.
    async fn import_entries(&self, entries: &[StoredEntry]) -> Result<usize, StoreError>;

    /// A bulk import starts. A store may defer index upkeep until
    /// [`Maintenance::end_bulk_load`] (SQLite does when it holds no entry yet);
    /// true when it did.
    async fn begin_bulk_load(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// The bulk import ended (also after a failure): indexes are complete.
    async fn end_bulk_load(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Copies the whole database to `dest` while it is in use (SQLite backup).
    async fn backup_to(&self, dest: &std::path::Path) -> Result<(), StoreError>;

    /// Flushes and closes cleanly at shutdown (SQLite: checkpoints the WAL).
    async fn close(&self) -> Result<(), StoreError>;
}

/// Several nodes on one store (scale-out). The provided methods fit a store
/// only one process uses; [`lease_every_due`] is its `lease_due`.
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Whether several nodes may share this store: the scheduler then polls
    /// only the sources it leased ([`Coordination::lease_due`]).
    fn shared(&self) -> bool {
        false
    }

    /// Records the sources this node polls, with their hosts, for leasing.
    async fn register_sources(&self, _sources: &[LeaseSource]) -> Result<(), StoreError> {
        Ok(())
    }

    /// Leases to `node`, for `lease_for`, at most `limit` of `ids` that are
    /// due at `now` (never polled, or `next_due <= now`) and not leased by
    /// another node (or whose lease expired); per host no more than its
    /// `host_limit` leased at once, and their starts `host_delay` apart.
    async fn lease_due(
        &self,
        node: &str,
        ids: &[String],
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> Result<Vec<Lease>, StoreError>;

    /// Extends `node`'s leases of `ids`; returns how many it still held.
    async fn renew(
        &self,
        _node: &str,
        ids: &[String],
        _lease_for: Duration,
    ) -> Result<usize, StoreError> {
        Ok(ids.len())
    }

    /// Gives up `node`'s leases of `ids` (their polls are committed).
    async fn release(&self, _node: &str, _ids: &[String]) -> Result<(), StoreError> {
        Ok(())
    }

    /// Bumps `changes` whenever another node commits a change (so cached
    /// feed bytes are rebuilt), until `stop` turns true. A store only this
    /// process writes has nothing to follow.
    async fn follow_changes(
        &self,
        _changes: Arc<AtomicU64>,
        _stop: tokio::sync::watch::Receiver<bool>,
    ) {
    }
}

/// `lease_due` of a store only one process uses: every due source among
/// `ids` (never polled, or `next_due <= now`), at once.
pub fn lease_every_due(
    states: &[SourceState],
    ids: &[String],
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<Lease> {
    let due: std::collections::HashMap<&str, Option<DateTime<Utc>>> = states
        .iter()
        .map(|s| (s.source_id.as_str(), s.next_due))
        .collect();
    ids.iter()
        .filter(|id| {
            due.get(id.as_str())
                .copied()
                .flatten()
                .is_none_or(|d| d <= now)
        })
        .take(limit)
        .map(|id| Lease {
            id: id.clone(),
            start_in: Duration::ZERO,
        })
        .collect()
}

/// Opens the configured store, running migrations.
pub async fn open(cfg: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    match cfg {
        StorageConfig::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        StorageConfig::Postgres(url) => Ok(Arc::new(PgStore::open(url).await?)),
    }
}
