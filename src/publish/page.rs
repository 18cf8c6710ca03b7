//! The pages of an output, assembled in one place for serving, WebSub and
//! pruning: the output's entries newest first after its filter, one item
//! per stored near-duplicate cluster (unless the output turns clustering
//! off), `limit` items a page. Nothing is re-clustered here: each entry
//! carries its cluster's label from the store.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::Utc;

use super::{MergedItem, select};
use crate::config::{Config, FeedConfig};
use crate::model::StoredEntry;
use crate::store::{EntryHead, EntryQuery, Store, StoreError};

/// One page of an output.
#[derive(Debug, Clone)]
pub struct Page {
    pub reports: Vec<MergedItem>,
    /// An older page exists.
    pub has_next: bool,
}

/// Page `page` (from 1) of `feed`.
pub async fn page(
    store: &dyn Store,
    config: &Config,
    feed: &FeedConfig,
    page: usize,
) -> Result<Page, StoreError> {
    let skip = page.saturating_sub(1).saturating_mul(feed.limit);
    let want = skip.saturating_add(feed.limit).saturating_add(1);
    let batch = want.saturating_mul(2).clamp(100, 2000);
    // Cluster labels in the order the newest copy of each report appears.
    let mut order: Vec<String> = Vec::with_capacity(want.min(10_000));
    let mut known: HashMap<String, StoredEntry> = HashMap::new();
    let mut seen_labels: std::collections::HashSet<String> = Default::default();
    let mut next = |id: &str, cluster: &str| {
        let label = if feed.dedup { cluster } else { id };
        if seen_labels.insert(label.to_string()) {
            order.push(label.to_string());
        }
        if order.len() >= want {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    if feed.filter.keeps_all() {
        // The order alone decides the page: read from the index, the bodies
        // of the page's items only (a deep page costs what the first does).
        // Heads are small: one read usually covers the page (a re-read
        // walks the index from the top again).
        let heads_batch = want.saturating_add(want / 4).clamp(100, 100_000);
        scan_heads(store, feed, heads_batch, |h| next(&h.id, h.cluster_label())).await?;
    } else {
        scan_output(store, feed, batch, |e| {
            let step = next(&e.entry.id, e.cluster_label());
            known.insert(e.entry.id.clone(), e);
            step
        })
        .await?;
    }
    let has_next = order.len() > skip + feed.limit;
    let labels: Vec<String> = order.into_iter().skip(skip).take(feed.limit).collect();
    let mut members: HashMap<String, Vec<StoredEntry>> = HashMap::new();
    if feed.dedup {
        // Every copy of the page's reports, wherever it was published.
        for e in store.cluster_members(&labels).await? {
            members
                .entry(e.cluster_label().to_string())
                .or_default()
                .push(e);
        }
    } else {
        let unread: Vec<String> = labels
            .iter()
            .filter(|l| !known.contains_key(*l))
            .cloned()
            .collect();
        for e in store.entries_by_ids(&unread).await? {
            known.insert(e.entry.id.clone(), e);
        }
        for l in &labels {
            if let Some(e) = known.remove(l) {
                members.insert(l.clone(), vec![e]);
            }
        }
    }
    // A set, not the list: an output may name 10,000 sources.
    let in_output: std::collections::HashSet<&str> =
        feed.sources.iter().map(String::as_str).collect();
    let reports = labels
        .iter()
        .filter_map(|l| report(config, &in_output, members.get(l)?))
        .collect();
    Ok(Page { reports, has_next })
}

/// Calls `f` with an output's entries that pass its filter, newest first,
/// reading the store `batch` at a time, until `f` breaks or none are left.
pub async fn scan_output(
    store: &dyn Store,
    feed: &FeedConfig,
    batch: usize,
    mut f: impl FnMut(StoredEntry) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let mut offset = 0;
    loop {
        let rows = store
            .entries(&EntryQuery {
                sources: feed.sources.clone(),
                limit: batch,
                offset,
            })
            .await?;
        let exhausted = rows.len() < batch;
        offset += rows.len();
        for e in rows {
            if select::keep(&feed.filter, &e, now) && f(e).is_break() {
                return Ok(());
            }
        }
        if exhausted {
            return Ok(());
        }
    }
}

/// Calls `f` with the heads of an output's entries, newest first, reading
/// the store `batch` at a time, until `f` breaks or none are left.
async fn scan_heads(
    store: &dyn Store,
    feed: &FeedConfig,
    batch: usize,
    mut f: impl FnMut(&EntryHead) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let mut offset = 0;
    loop {
        let heads = store
            .entry_heads(&EntryQuery {
                sources: feed.sources.clone(),
                limit: batch,
                offset,
            })
            .await?;
        offset += heads.len();
        if heads.iter().any(|h| f(h).is_break()) || heads.len() < batch {
            return Ok(());
        }
    }
}

/// The copy a report shows: earliest published (else first seen), then the
/// higher source priority, then the smaller id. The one rule, for every
/// output and page.
pub fn representative<'a>(
    config: &Config,
    copies: impl IntoIterator<Item = &'a StoredEntry>,
) -> Option<&'a StoredEntry> {
    let priority = |e: &StoredEntry| config.source(&e.entry.source_id).map_or(0, |s| s.priority);
    copies.into_iter().min_by(|a, b| {
        a.published()
            .cmp(&b.published())
            .then(priority(b).cmp(&priority(a)))
            .then(a.entry.id.cmp(&b.entry.id))
    })
}

/// One item of a merged feed from the stored copies of a report.
fn report(
    config: &Config,
    in_output: &std::collections::HashSet<&str>,
    members: &[StoredEntry],
) -> Option<MergedItem> {
    let in_feed: Vec<&StoredEntry> = members
        .iter()
        .filter(|m| in_output.contains(m.entry.source_id.as_str()))
        .collect();
    let pool: Vec<&StoredEntry> = if in_feed.is_empty() {
        members.iter().collect()
    } else {
        in_feed
    };
    let shown = representative(config, pool.iter().copied())?;
    // The item's id: the copy huiliu saw first, so a copy arriving later
    // never changes it and the item never reappears as new.
    let anchor = pool.iter().copied().min_by(|a, b| {
        a.first_seen
            .cmp(&b.first_seen)
            .then(a.entry.id.cmp(&b.entry.id))
    })?;
    let mut copies: Vec<StoredEntry> = members
        .iter()
        .filter(|m| m.entry.id != shown.entry.id && m.entry.url.is_some())
        .cloned()
        .collect();
    copies.sort_by(|a, b| {
        a.published()
            .cmp(&b.published())
            .then(a.entry.id.cmp(&b.entry.id))
    });
    Some(MergedItem {
        shown: shown.clone(),
        id: anchor.entry.id.clone(),
        copies,
    })
}
