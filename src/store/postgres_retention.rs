//! Retention, export and import for the PostgreSQL store, with the same
//! rules as SQLite's ([`super::retention`]): pruned entries leave a
//! tombstone (their source and key) so a feed still listing them does not
//! bring them back, forgotten once no poll has seen them for a while.

use chrono::{DateTime, Utc};

use super::postgres::{PgStore, params};
use super::rows::{self, ENTRY_COLUMNS};
use super::{PruneCandidate, StoreError};
use crate::model::StoredEntry;

fn dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

impl PgStore {
    pub(super) async fn pg_retention_candidates(
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

    pub(super) async fn pg_prune_entries(
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

    pub(super) async fn pg_reclaim_space(
        &self,
        forget_unseen_since: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let c = self.client().await?;
        c.execute(
            "DELETE FROM pruned_entry WHERE last_seen < $1",
            &[&forget_unseen_since.timestamp()],
        )
        .await?;
        // Space is reused by PostgreSQL's own (auto)vacuum.
        Ok(())
    }

    pub(super) async fn pg_export_entries(
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

    pub(super) async fn pg_import_entries(
        &self,
        entries: &[StoredEntry],
    ) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let stmt = tx.prepare_cached(&rows::POSTGRES.import_entry).await?;
        let mut inserted = 0;
        for s in entries {
            let values = rows::insert_values(
                &s.entry,
                s.first_seen.timestamp(),
                s.changed_at.timestamp(),
                s.cluster.as_deref(),
            )?;
            inserted += tx.execute(&stmt, &params(&values)).await? as usize;
        }
        tx.commit().await?;
        Ok(inserted)
    }
}
