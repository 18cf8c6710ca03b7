//! `huiliu export` / `huiliu import` (JSON Lines: one entry per line, with
//! its source) and `huiliu backup` (a consistent copy of the SQLite file).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::StoredEntry;
use crate::store::{Store, StoreError};

/// The source of an exported entry, as configured when it was exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSource {
    pub id: String,
    pub name: Option<String>,
    pub url: Option<String>,
    pub kind: Option<String>,
}

/// One line of `huiliu export --format jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ImportLine")]
pub struct ExportLine {
    pub source: ExportSource,
    /// The near-duplicate cluster of the entry; null when it has none.
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(flatten)]
    pub stored: StoredEntry,
}

/// [`ExportLine`] as read: the same fields without `flatten`, which would
/// copy every line into an intermediate map before reading it (a third of
/// an import's parsing).
#[derive(Deserialize)]
struct ImportLine {
    source: ExportSource,
    #[serde(default)]
    cluster: Option<String>,
    entry: crate::model::Entry,
    first_seen: chrono::DateTime<chrono::Utc>,
    changed_at: chrono::DateTime<chrono::Utc>,
}

impl From<ImportLine> for ExportLine {
    fn from(l: ImportLine) -> ExportLine {
        ExportLine {
            source: l.source,
            cluster: l.cluster,
            stored: StoredEntry {
                entry: l.entry,
                first_seen: l.first_seen,
                changed_at: l.changed_at,
                cluster: None,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
}

/// Writes every stored entry as JSON Lines, in id order. Returns the count.
pub async fn export_jsonl(
    store: &dyn Store,
    cfg: &Config,
    out: &mut dyn Write,
) -> Result<usize, BackupError> {
    let mut after: Option<String> = None;
    let mut n = 0;
    loop {
        let rows = store.export_entries(after.as_deref(), 500).await?;
        let Some(last) = rows.last() else { break };
        after = Some(last.entry.id.clone());
        for stored in rows {
            let id = stored.entry.source_id.clone();
            let source = match cfg.source(&id) {
                Some(s) => ExportSource {
                    id,
                    name: Some(s.name.clone()),
                    url: Some(crate::redact::url(&s.url)),
                    kind: Some(s.kind().as_str().to_string()),
                },
                None => ExportSource {
                    id,
                    name: None,
                    url: None,
                    kind: None,
                },
            };
            let line = ExportLine {
                source,
                // A cluster of one is no cluster.
                cluster: stored.cluster.clone(),
                stored,
            };
            serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::other)?;
            out.write_all(b"\n")?;
            n += 1;
        }
    }
    out.flush()?;
    Ok(n)
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub read: usize,
    pub inserted: usize,
}

/// Reads JSON Lines written by [`export_jsonl`] and stores the entries not
/// stored yet (importing twice adds nothing). Blank lines are skipped; a
/// malformed line stops the import with its line number (batches before it
/// are stored).
pub async fn import_jsonl(
    store: &dyn Store,
    input: &mut dyn BufRead,
) -> Result<ImportReport, BackupError> {
    // Into an empty store the indexes are built at the end, and larger
    // transactions write each touched page of the two unique indexes (ids
    // and keys arrive in random order) fewer times.
    let batch = if store.begin_bulk_load().await? {
        BULK_BATCH
    } else {
        IMPORT_BATCH
    };
    let started = std::time::Instant::now();
    let imported = import_lines(store, input, batch).await;
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "entries loaded; building the indexes"
    );
    let started = std::time::Instant::now();
    // The indexes are complete again whether or not every line was read.
    let rebuilt = store.end_bulk_load().await;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "indexes built");
    let report = imported?;
    rebuilt?;
    Ok(report)
}

async fn import_lines(
    store: &dyn Store,
    input: &mut dyn BufRead,
    batch_size: usize,
) -> Result<ImportReport, BackupError> {
    let mut report = ImportReport::default();
    let mut batch: Vec<StoredEntry> = Vec::with_capacity(batch_size);
    // The store writes one batch while the next is parsed.
    let mut writing: Option<Writing<'_>> = None;
    // One buffer for every line (a line is ~4 KB: an allocation each).
    let mut line = String::new();
    for i in 0.. {
        line.clear();
        let read = input.read_line(&mut line).map_err(|e| BackupError::Line {
            line: i + 1,
            message: e.to_string(),
        })?;
        if read == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = serde_json::from_str(&line).map_err(|e| BackupError::Line {
            line: i + 1,
            message: e.to_string(),
        })?;
        if parsed.stored.entry.source_id != parsed.source.id {
            return Err(BackupError::Line {
                line: i + 1,
                message: "entry.source_id differs from source.id".into(),
            });
        }
        report.read += 1;
        let mut stored = parsed.stored;
        stored.cluster = parsed.cluster;
        batch.push(stored);
        if batch.len() >= batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
            let mut w = Box::pin(async move { store.import_entries(&full).await });
            // Started now: the store encodes the rows on this thread and
            // hands them to its writer; only then is the previous batch
            // awaited, so the writer always has the next batch waiting
            // (parsing and encoding overlap the previous batch's SQL).
            let started =
                std::future::poll_fn(|cx| std::task::Poll::Ready(w.as_mut().poll(cx))).await;
            if let Some(previous) = writing.take() {
                report.inserted += previous.await?;
            }
            match started {
                std::task::Poll::Ready(r) => report.inserted += r?,
                std::task::Poll::Pending => writing = Some(w),
            }
        }
    }
    if let Some(w) = writing.take() {
        report.inserted += w.await?;
    }
    if !batch.is_empty() {
        report.inserted += store.import_entries(&batch).await?;
    }
    Ok(report)
}

/// A batch being written by the store.
type Writing<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<usize, StoreError>> + Send + 'a>>;

/// Entries per import transaction.
const IMPORT_BATCH: usize = 5000;
/// ... into an empty store (two batches of ~4 KB entries in memory: ~160 MB).
const BULK_BATCH: usize = 20_000;
