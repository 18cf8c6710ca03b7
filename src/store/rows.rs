//! The store core, written once for both backends: how a source's state
//! and an entry become rows and rows become them again, the statements
//! that write them, and how a polled entry meets its stored copy. The
//! backends differ only in their transactions and in SQL that has no
//! common dialect (statements here use `$n`; SQLite's go through
//! [`sqlite_dialect`]).
//!
//! Times are Unix seconds (`BIGINT`/`INTEGER`), lists are JSON text.

use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, TimeZone, Utc};

use super::{StoreError, body};
use crate::model::{Entry, PollStatus, SourceState, StoredEntry};

/// The columns of `source_state`, in [`state_values`] order.
pub(super) const STATE_COLUMNS: &str = "source_id, etag, last_modified, last_attempt, last_success, last_status, last_error, consecutive_failures, next_due, moved_to, error_kind, http_status, disabled_url, interval_secs, feed_hint_secs, fingerprint, last_change, scrape_health";
/// The columns an insert writes, in [`insert_values`] order.
const WRITE_COLUMNS: &str = "id, source_id, key, guid, url, title, authors, summary, content, text, published, updated, language, categories, enclosures, content_hash, first_seen, changed_at, origin, sort_time, cluster, body";
/// The columns [`entry_from_row`] reads.
pub(super) const ENTRY_COLUMNS: &str = "id, source_id, key, guid, url, title, authors, summary, content, text, published, updated, language, categories, enclosures, content_hash, first_seen, changed_at, origin, cluster, body";

/// The statements both backends run, in one dialect.
pub(super) struct Statements {
    /// Writes a source's state: [`state_values`].
    pub upsert_state: String,
    /// Inserts an entry unless its source already has its key: [`insert_values`].
    pub insert_entry: String,
    /// Replaces a stored entry's content: [`update_values`].
    pub update_entry: String,
    /// Inserts an entry unless its id or its source and key are stored
    /// (imports): [`insert_values`].
    pub import_entry: String,
    /// Copies an entry as it is, times and cluster kept, over an earlier
    /// copy (`huiliu migrate-store`): [`insert_values`].
    pub copy_entry: String,
}

impl Statements {
    fn new(dialect: fn(&str) -> String) -> Statements {
        let marks = |n: usize| {
            (1..=n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let insert = format!("INSERT INTO entry ({WRITE_COLUMNS}) VALUES ({})", marks(22));
        Statements {
            upsert_state: dialect(&format!(
                "INSERT INTO source_state ({STATE_COLUMNS}) VALUES ({})
                 ON CONFLICT (source_id) DO UPDATE SET etag = $2, last_modified = $3, last_attempt = $4,
                   last_success = $5, last_status = $6, last_error = $7, consecutive_failures = $8,
                   next_due = $9, moved_to = $10, error_kind = $11, http_status = $12,
                   disabled_url = $13, interval_secs = $14, feed_hint_secs = $15,
                   fingerprint = $16, last_change = $17, scrape_health = $18",
                marks(18)
            )),
            insert_entry: dialect(&format!("{insert} ON CONFLICT (source_id, key) DO NOTHING")),
            update_entry: dialect(
                "UPDATE entry SET guid = $3, url = $4, title = $5, authors = $6, summary = $7,
                    content = $8, text = $9, published = $10, updated = $11, language = $12,
                    categories = $13, enclosures = $14, content_hash = $15, changed_at = $16,
                    sort_time = $17, origin = $18, body = $19
                 WHERE source_id = $1 AND key = $2",
            ),
            import_entry: dialect(&format!("{insert} ON CONFLICT DO NOTHING")),
            copy_entry: dialect(&format!(
                "{insert} ON CONFLICT (source_id, key) DO UPDATE SET guid = EXCLUDED.guid,
                   url = EXCLUDED.url, title = EXCLUDED.title, authors = EXCLUDED.authors,
                   summary = EXCLUDED.summary, content = EXCLUDED.content, text = EXCLUDED.text,
                   published = EXCLUDED.published, updated = EXCLUDED.updated,
                   language = EXCLUDED.language, categories = EXCLUDED.categories,
                   enclosures = EXCLUDED.enclosures, content_hash = EXCLUDED.content_hash,
                   first_seen = EXCLUDED.first_seen, changed_at = EXCLUDED.changed_at,
                   sort_time = EXCLUDED.sort_time, origin = EXCLUDED.origin,
                   cluster = EXCLUDED.cluster, body = EXCLUDED.body"
            )),
        }
    }
}

/// PostgreSQL's statements.
pub(super) static POSTGRES: LazyLock<Statements> =
    LazyLock::new(|| Statements::new(str::to_string));
/// SQLite's statements.
pub(super) static SQLITE: LazyLock<Statements> = LazyLock::new(|| Statements::new(sqlite_dialect));

/// `$n` → `?n`: SQLite numbers `$name` parameters by first appearance, not
/// by the digits, so `$n` would bind the wrong values.
pub(super) fn sqlite_dialect(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// One column value: text, a 64-bit integer or bytes, each possibly NULL.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bytes(Option<Vec<u8>>),
}

impl<'a> Value<'a> {
    fn text(s: &'a str) -> Value<'a> {
        Value::Text(Some(Cow::Borrowed(s)))
    }

    fn opt_text(s: Option<&'a str>) -> Value<'a> {
        Value::Text(s.map(Cow::Borrowed))
    }

    /// The same value, borrowing nothing (to send it to another thread).
    pub(super) fn into_owned(self) -> Value<'static> {
        match self {
            Value::Text(t) => Value::Text(t.map(|t| Cow::Owned(t.into_owned()))),
            Value::Int(i) => Value::Int(i),
            Value::Bytes(b) => Value::Bytes(b),
        }
    }

    fn owned(s: String) -> Value<'a> {
        Value::Text(Some(Cow::Owned(s)))
    }

    fn time(t: Option<DateTime<Utc>>) -> Value<'a> {
        Value::Int(ts(t))
    }

    fn secs(v: Option<u64>) -> Value<'a> {
        Value::Int(v.map(|v| v.min(i64::MAX as u64) as i64))
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Owned, ValueRef};
        Ok(match self {
            Value::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Int(Some(i)) => ToSqlOutput::Owned(Owned::Integer(*i)),
            Value::Bytes(Some(b)) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Text(None) | Value::Int(None) | Value::Bytes(None) => {
                ToSqlOutput::Owned(Owned::Null)
            }
        })
    }
}

impl tokio_postgres::types::ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // `accepts` answers for both variants: check the one at hand.
        match self {
            Value::Text(t) if <&str as tokio_postgres::types::ToSql>::accepts(ty) => {
                t.as_deref().to_sql(ty, out)
            }
            Value::Int(i) if <i64 as tokio_postgres::types::ToSql>::accepts(ty) => {
                i.to_sql(ty, out)
            }
            Value::Bytes(b) if <&[u8] as tokio_postgres::types::ToSql>::accepts(ty) => {
                b.as_deref().to_sql(ty, out)
            }
            other => Err(format!("{other:?} does not fit a column of type {ty}").into()),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::ToSql>::accepts(ty)
            || <i64 as tokio_postgres::types::ToSql>::accepts(ty)
            || <&[u8] as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

pub(super) fn ts(d: Option<DateTime<Utc>>) -> Option<i64> {
    d.map(|d| d.timestamp())
}

fn from_ts(t: Option<i64>) -> Option<DateTime<Utc>> {
    t.and_then(|t| Utc.timestamp_opt(t, 0).single())
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError(format!("encoding JSON: {e}")))
}

fn unjson<T: serde::de::DeserializeOwned>(s: Option<String>, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError(format!("decoding {what} (JSON): {e}")))
}

/// The values of [`STATE_COLUMNS`].
pub(super) fn state_values(s: &SourceState) -> Result<Vec<Value<'_>>, StoreError> {
    Ok(vec![
        Value::text(&s.source_id),
        Value::opt_text(s.etag.as_deref()),
        Value::opt_text(s.last_modified.as_deref()),
        Value::time(s.last_attempt),
        Value::time(s.last_success),
        Value::opt_text(s.last_status.map(|s| s.as_str())),
        Value::opt_text(s.last_error.as_deref()),
        Value::Int(Some(i64::from(s.consecutive_failures))),
        Value::time(s.next_due),
        Value::opt_text(s.moved_to.as_deref()),
        Value::opt_text(s.error_kind.as_deref()),
        Value::Int(s.http_status.map(i64::from)),
        Value::opt_text(s.disabled_url.as_deref()),
        Value::secs(s.interval_secs),
        Value::secs(s.feed_hint_secs),
        Value::opt_text(s.fingerprint.as_deref()),
        Value::time(s.last_change),
        Value::Text(s.scrape.as_ref().map(json).transpose()?.map(Cow::Owned)),
    ])
}

/// The values of an inserted entry (`insert_entry`, `import_entry`): its
/// times as given, sorted by its published time, else `first_seen`.
pub(super) fn insert_values<'a>(
    e: &'a Entry,
    first_seen: i64,
    changed_at: i64,
    cluster: Option<&'a str>,
) -> Result<Vec<Value<'a>>, StoreError> {
    let published = ts(e.published);
    let mut v = vec![
        Value::text(&e.id),
        Value::text(&e.source_id),
        Value::text(&e.key),
    ];
    content_values(&mut v, e, published, ts(e.updated))?;
    v.extend([
        Value::Int(Some(first_seen)),
        Value::Int(Some(changed_at)),
        Value::opt_text(e.origin.as_deref()),
        Value::Int(Some(published.unwrap_or(first_seen))),
        Value::opt_text(cluster),
        body_value(e),
    ]);
    Ok(v)
}

/// A stored entry as it is (imports, copies between stores).
pub(super) fn stored_values(s: &StoredEntry) -> Result<Vec<Value<'_>>, StoreError> {
    insert_values(
        &s.entry,
        s.first_seen.timestamp(),
        s.changed_at.timestamp(),
        s.cluster.as_deref(),
    )
}

/// The values of `update_entry` for a [`Write::Update`].
pub(super) fn update_values<'a>(
    e: &'a Entry,
    published: Option<i64>,
    updated: i64,
    sort: i64,
    now: i64,
) -> Result<Vec<Value<'a>>, StoreError> {
    let mut v = vec![Value::text(&e.source_id), Value::text(&e.key)];
    content_values(&mut v, e, published, Some(updated))?;
    v.extend([
        Value::Int(Some(now)),
        Value::Int(Some(sort)),
        Value::opt_text(e.origin.as_deref()),
        body_value(e),
    ]);
    Ok(v)
}

/// `body`: summary, content and text compressed as one value.
fn body_value<'a>(e: &Entry) -> Value<'a> {
    Value::Bytes(Some(body::encode(
        e.summary.as_deref(),
        e.content.as_deref(),
        &e.text,
    )))
}

/// `guid` … `content_hash`: what both writes of an entry store alike.
fn content_values<'a>(
    v: &mut Vec<Value<'a>>,
    e: &'a Entry,
    published: Option<i64>,
    updated: Option<i64>,
) -> Result<(), StoreError> {
    v.extend([
        Value::opt_text(e.guid.as_deref()),
        Value::opt_text(e.url.as_deref()),
        Value::text(&e.title),
        Value::owned(json(&e.authors)?),
        // Summary, content and text are stored in `body` (see `body_value`).
        Value::Text(None),
        Value::Text(None),
        Value::text(""),
        Value::Int(published),
        Value::Int(updated),
        Value::opt_text(e.language.as_deref()),
        Value::owned(json(&e.categories)?),
        Value::owned(json(&e.enclosures)?),
        Value::text(&e.content_hash),
    ]);
    Ok(())
}

/// Reading a row's columns by position, whatever the driver.
pub(super) trait Columns {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError>;
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError>;
}

impl Columns for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(i)?)
    }
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(i)?)
    }
}

impl Columns for tokio_postgres::Row {
    fn text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.try_get(i).map_err(|e| StoreError(e.to_string()))
    }
    fn int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.try_get(i).map_err(|e| StoreError(e.to_string()))
    }
    fn bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(i).map_err(|e| StoreError(e.to_string()))
    }
}

fn required(r: &impl Columns, i: usize, what: &str) -> Result<String, StoreError> {
    r.text(i)?
        .ok_or_else(|| StoreError(format!("stored {what} is NULL")))
}

/// A row of [`STATE_COLUMNS`].
pub(super) fn state_from_row(r: &impl Columns) -> Result<SourceState, StoreError> {
    let secs =
        |i: usize| -> Result<Option<u64>, StoreError> { Ok(r.int(i)?.map(|v| v.max(0) as u64)) };
    Ok(SourceState {
        source_id: required(r, 0, "source id")?,
        etag: r.text(1)?,
        last_modified: r.text(2)?,
        last_attempt: from_ts(r.int(3)?),
        last_success: from_ts(r.int(4)?),
        last_status: r.text(5)?.as_deref().and_then(PollStatus::parse),
        last_error: r.text(6)?,
        consecutive_failures: r.int(7)?.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        next_due: from_ts(r.int(8)?),
        moved_to: r.text(9)?,
        error_kind: r.text(10)?,
        http_status: r.int(11)?.and_then(|v| u16::try_from(v).ok()),
        disabled_url: r.text(12)?,
        interval_secs: secs(13)?,
        feed_hint_secs: secs(14)?,
        fingerprint: r.text(15)?,
        last_change: from_ts(r.int(16)?),
        // Health counters only: unreadable ones start over.
        scrape: r.text(17)?.and_then(|j| serde_json::from_str(&j).ok()),
    })
}

/// A row of [`ENTRY_COLUMNS`].
pub(super) fn entry_from_row(r: &impl Columns) -> Result<StoredEntry, StoreError> {
    // Rows written before the `body` column keep the plain columns.
    let body = match r.bytes(20)? {
        Some(stored) => body::decode(&stored)?,
        None => body::Body {
            summary: r.text(7)?,
            content: r.text(8)?,
            text: r.text(9)?.unwrap_or_default(),
        },
    };
    let entry = Entry {
        id: required(r, 0, "entry id")?,
        source_id: required(r, 1, "source id")?,
        key: required(r, 2, "entry key")?,
        guid: r.text(3)?,
        url: r.text(4)?,
        title: r.text(5)?.unwrap_or_default(),
        authors: unjson(r.text(6)?, "authors")?,
        summary: body.summary,
        content: body.content,
        text: body.text,
        published: from_ts(r.int(10)?),
        updated: from_ts(r.int(11)?),
        language: r.text(12)?,
        categories: unjson(r.text(13)?, "categories")?,
        enclosures: unjson(r.text(14)?, "enclosures")?,
        origin: r.text(18)?,
        content_hash: r.text(15)?.unwrap_or_default(),
    };
    Ok(StoredEntry {
        entry,
        first_seen: from_ts(r.int(16)?).unwrap_or_else(Utc::now),
        changed_at: from_ts(r.int(17)?).unwrap_or_else(Utc::now),
        cluster: r.text(19)?,
    })
}

/// What decides how a polled entry is written: its stored copy's hash,
/// dates and first-seen time (read with `SELECT_STORED`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredCopy {
    pub hash: String,
    pub published: Option<i64>,
    pub updated: Option<i64>,
    pub first_seen: i64,
}

/// How one polled entry is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Write {
    /// New: `insert_entry` with [`insert_values`] (first seen now).
    Insert,
    /// Changed: `update_entry` with [`update_values`].
    Update {
        published: Option<i64>,
        updated: i64,
        sort: i64,
    },
    /// The same content, or a pruned entry a feed still lists.
    Unchanged,
}

/// The upsert rule. A pruned entry (a tombstone of its key, no stored
/// copy) stays pruned; the same content changes nothing; a changed one
/// keeps every date it once had (and its first-seen time) rather than
/// taking "now", and counts as updated now unless the feed gives a new
/// `updated`.
pub(super) fn decide(stored: Option<&StoredCopy>, pruned: bool, e: &Entry, now: i64) -> Write {
    match stored {
        None if pruned => Write::Unchanged,
        None => Write::Insert,
        Some(s) if s.hash == e.content_hash => Write::Unchanged,
        Some(s) => {
            let published = ts(e.published).or(s.published);
            let updated = match ts(e.updated) {
                Some(u) if Some(u) != s.updated => u,
                _ => now,
            };
            Write::Update {
                published,
                updated,
                sort: published.unwrap_or(s.first_seen),
            }
        }
    }
}

impl Write {
    /// The stored copy after this write (for a later copy of the same
    /// entry in one poll).
    pub(super) fn stored_after(
        &self,
        before: Option<&StoredCopy>,
        e: &Entry,
        now: i64,
    ) -> Option<StoredCopy> {
        match self {
            Write::Insert => Some(StoredCopy {
                hash: e.content_hash.clone(),
                published: ts(e.published),
                updated: ts(e.updated),
                first_seen: now,
            }),
            Write::Update {
                published, updated, ..
            } => Some(StoredCopy {
                hash: e.content_hash.clone(),
                published: *published,
                updated: Some(*updated),
                first_seen: before.map_or(now, |b| b.first_seen),
            }),
            Write::Unchanged => before.cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: &str, published: Option<i64>, updated: Option<i64>) -> Entry {
        Entry {
            id: "e".into(),
            source_id: "s".into(),
            key: "guid:1".into(),
            guid: None,
            url: None,
            title: "t".into(),
            authors: vec![],
            summary: None,
            content: None,
            text: String::new(),
            published: from_ts(published),
            updated: from_ts(updated),
            language: None,
            categories: vec![],
            enclosures: vec![],
            origin: None,
            content_hash: hash.into(),
        }
    }

    fn stored(hash: &str, published: Option<i64>, updated: Option<i64>) -> StoredCopy {
        StoredCopy {
            hash: hash.into(),
            published,
            updated,
            first_seen: 100,
        }
    }

    #[test]
    fn the_upsert_rule() {
        let now = 1_000;
        let e = entry("h2", None, None);
        assert_eq!(decide(None, false, &e, now), Write::Insert);
        assert_eq!(decide(None, true, &e, now), Write::Unchanged, "pruned");
        let same = stored("h2", Some(50), None);
        assert_eq!(decide(Some(&same), false, &e, now), Write::Unchanged);
        // A changed body keeps the stored date, is updated "now", sorts by
        // the stored date.
        let old = stored("h1", Some(50), Some(60));
        assert_eq!(
            decide(Some(&old), false, &e, now),
            Write::Update {
                published: Some(50),
                updated: now,
                sort: 50
            }
        );
        // Without any date it sorts by its first-seen time, never by now.
        let undated = stored("h1", None, None);
        assert_eq!(
            decide(Some(&undated), false, &e, now),
            Write::Update {
                published: None,
                updated: now,
                sort: 100
            }
        );
        // A new `updated` from the feed is kept; the same one means "now".
        let e = entry("h2", Some(70), Some(80));
        assert_eq!(
            decide(Some(&old), false, &e, now),
            Write::Update {
                published: Some(70),
                updated: 80,
                sort: 70
            }
        );
        let e = entry("h2", None, Some(60));
        assert!(matches!(
            decide(Some(&old), false, &e, now),
            Write::Update { updated: 1_000, .. }
        ));
    }

    #[test]
    fn a_second_copy_in_one_poll_sees_the_first() {
        let now = 1_000;
        let first = entry("h1", None, None);
        let w = decide(None, false, &first, now);
        let after = w.stored_after(None, &first, now);
        assert_eq!(decide(after.as_ref(), false, &first, now), Write::Unchanged);
        let second = entry("h2", None, None);
        assert!(matches!(
            decide(after.as_ref(), false, &second, now),
            Write::Update { sort: 1_000, .. }
        ));
    }

    #[test]
    fn sqlite_numbers_parameters_by_their_digits() {
        assert_eq!(
            sqlite_dialect("UPDATE t SET a = $3 WHERE b = $1 AND c = '$x'"),
            "UPDATE t SET a = ?3 WHERE b = ?1 AND c = '$x'"
        );
        // Every statement's values match its parameters.
        let e = entry("h", Some(1), None);
        let count = |sql: &str| sql.matches('?').count();
        assert_eq!(count(&SQLITE.insert_entry), 22);
        assert_eq!(
            insert_values(&e, 1, 1, None).map(|v| v.len()).ok(),
            Some(22)
        );
        assert_eq!(
            update_values(&e, None, 1, 1, 1).map(|v| v.len()).ok(),
            Some(19)
        );
        let s = SourceState::new("s");
        assert_eq!(state_values(&s).map(|v| v.len()).ok(), Some(18));
    }
}
