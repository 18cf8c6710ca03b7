//! Retention, export and import for the PostgreSQL store, with the same
//! rules as SQLite's ([`super::retention`]): pruned entries leave a
//! tombstone (their source and key) so a feed still listing them does not
//! bring them back, forgotten once no poll has seen them for a while.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::postgres::{PgStore, params};
use super::rows::{self, ENTRY_COLUMNS};
use super::{Maintenance, PruneCandidate, StoreError};
use crate::model::StoredEntry;

fn dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

#[async_trait::async_trait]
impl Maintenance for PgStore {
    async fn retention_candidates(
        &self,
        source_id: &str,
        keep_newest: Option<usize>,
        older_than: Option<DateTime<Utc>>,
    ) -> Result<Vec<PruneCandidate>, StoreError> {
        let keep = keep_newest.map(|n| n.min(i64::MAX as usize) as i64);
        let before = older_than.map(|d| d.timestamp());
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT id, source_id, key, left(title, 100), sort_time FROM (
                    SELECT id, source_id, key, title, sort_time,
                           ROW_NUMBER() OVER (ORDER BY sort_time DESC, id DESC) AS n
                    FROM entry WHERE source_id = $1) t
                 WHERE ($2::BIGINT IS NULL AND $3::BIGINT IS NULL) OR n > $2 OR sort_time < $3
                 ORDER BY sort_time DESC, id DESC",
            )
            .await?;
        Ok(c.query(&stmt, &[&source_id, &keep, &before])
            .await?
            .iter()
            .map(|r| PruneCandidate {
                id: r.get(0),
                source_id: r.get(1),
                key: r.get(2),
                title: r.get(3),
                sort_time: dt(r.get(4)),
            })
            .collect())
    }

    async fn prune_entries(
        &self,
        entries: &[PruneCandidate],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let del = tx.prepare_cached("DELETE FROM entry WHERE id = $1").await?;
        let mark = tx
            .prepare_cached(
                "INSERT INTO pruned_entry (source_id, key, pruned_at, last_seen) VALUES ($1, $2, $3, $3)
                 ON CONFLICT (source_id, key) DO UPDATE SET pruned_at = $3, last_seen = $3",
            )
            .await?;
        let now = now.timestamp();
        let mut deleted = 0;
        for e in entries {
            deleted += tx.execute(&del, &[&e.id]).await? as usize;
            tx.execute(&mark, &[&e.source_id, &e.key, &now]).await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }

    async fn reclaim_space(&self, forget_unseen_since: DateTime<Utc>) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM pruned_entry WHERE last_seen < $1",
            &[&forget_unseen_since.timestamp()],
        )
        .await?;
        // Space is reused by PostgreSQL's own (auto)vacuum.
        Ok(())
    }

    async fn export_entries(
        &self,
        after_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEntry>, StoreError> {
        let after = after_id.unwrap_or("");
        let limit = limit.min(i64::MAX as usize) as i64;
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} FROM entry WHERE id > $1 ORDER BY id LIMIT $2"
            ))
            .await?;
        c.query(&stmt, &[&after, &limit])
            .await?
            .iter()
            .map(rows::entry_from_row)
            .collect()
    }

    async fn import_entries(&self, entries: &[StoredEntry]) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare_cached(&rows::POSTGRES.import_entry).await?;
        let mut inserted = 0;
        for s in entries {
            let values = rows::stored_values(s)?;
            inserted += tx.execute(&stmt, &params(&values)).await? as usize;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// A consistent copy without `pg_dump`: every entry as one JSON line
    /// (what `huiliu import` reads), from one snapshot of the database.
    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)
            .map_err(|e| {
                StoreError(format!(
                    "{}: {e} (a backup never overwrites)",
                    dest.display()
                ))
            })?;
        let mut out = std::io::BufWriter::new(file);
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let stmt = tx
            .prepare(&format!("SELECT {ENTRY_COLUMNS} FROM entry ORDER BY id"))
            .await?;
        let portal = tx.bind(&stmt, &[]).await?;
        let written = |e: std::io::Error| StoreError(format!("{}: {e}", dest.display()));
        loop {
            let batch = tx.query_portal(&portal, 1000).await?;
            if batch.is_empty() {
                break;
            }
            for r in &batch {
                let stored = rows::entry_from_row(r)?;
                let line = BackupLine {
                    source: BackupSource {
                        id: &stored.entry.source_id,
                    },
                    cluster: stored.cluster.as_deref(),
                    stored: &stored,
                };
                serde_json::to_writer(&mut out, &line).map_err(|e| written(e.into()))?;
                out.write_all(b"\n").map_err(written)?;
            }
        }
        tx.commit().await?;
        out.flush().map_err(written)?;
        out.get_ref().sync_all().map_err(written)
    }

    async fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A line of a PostgreSQL backup: the shape of `huiliu export`'s lines.
#[derive(serde::Serialize)]
struct BackupLine<'a> {
    source: BackupSource<'a>,
    cluster: Option<&'a str>,
    #[serde(flatten)]
    stored: &'a StoredEntry,
}

#[derive(serde::Serialize)]
struct BackupSource<'a> {
    id: &'a str,
}
