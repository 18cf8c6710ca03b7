//! `/feeds/{id}.{rss,atom,json,html}` (and `/feeds/{id}`), with `?page=N`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::Utc;

use super::{AppState, Rendered, not_found, unavailable};
use crate::config::{Config, FeedConfig};
use crate::model::StoredEntry;
use crate::publish::{self, Format, select};
use crate::store::{EntryQuery, Store, StoreError};

/// How deep paging may go (pages of `limit` entries).
const MAX_PAGE: usize = 1000;

/// The CSP of HTML pages: no script at all, styles inline only.
pub const CSP: &str = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

pub async fn feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (id, ext) = file.rsplit_once('.').unwrap_or((file.as_str(), "html"));
    let kind: &'static str = match ext {
        "html" => "html",
        other => match Format::from_extension(other) {
            Some(f) => f.extension(),
            None => {
                return not_found(format!(
                    "unknown format `.{other}`: use .rss, .atom, .json or .html\n"
                ));
            }
        },
    };
    let config = app.config();
    let Some(feed_cfg) = config.feed(id) else {
        return not_found(format!(
            "no feed `{id}` is configured (see / for the list)\n"
        ));
    };
    let page = match query.get("page").map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if (1..=MAX_PAGE).contains(&p) => p,
        Some(_) => return not_found(format!("no such page: pages run from 1 to {MAX_PAGE}\n")),
    };
    let generation = app.changes.load(Ordering::Acquire);
    let key = (id.to_string(), kind, page);
    if let Some(r) = app.cache.get(&key, generation) {
        return r.respond(&headers);
    }
    let (entries, has_next) = match page_entries(app.store.as_ref(), feed_cfg, page).await {
        Ok(x) => x,
        Err(e) => return unavailable("cannot read entries", e),
    };
    if page > 1 && entries.is_empty() {
        return not_found(format!("feed `{id}` has no page {page}\n"));
    }
    let doc = publish::build(&config, feed_cfg, &entries, page, has_next);
    let max_age = max_age(&config, feed_cfg);
    let rendered = match Format::from_extension(kind) {
        Some(format) => Rendered::new(
            publish::render(&doc, format),
            format.content_type(),
            doc.updated,
            max_age,
        ),
        None => Rendered::new(
            publish::html::river(&doc),
            "text/html; charset=utf-8",
            doc.updated,
            max_age,
        )
        .with_header(header::CONTENT_SECURITY_POLICY, CSP),
    };
    app.cache.put(key, generation, rendered).respond(&headers)
}

/// Readers need not come back sooner than the fastest source is polled
/// (half of it, between a minute and an hour).
fn max_age(config: &Config, feed: &FeedConfig) -> u64 {
    feed.sources
        .iter()
        .filter_map(|id| config.source(id))
        .map(|s| s.interval.as_secs() / 2)
        .min()
        .unwrap_or(300)
        .clamp(60, 3600)
}

/// The entries of one page after the output's filter, and whether an older page exists.
pub async fn page_entries(
    store: &dyn Store,
    feed: &FeedConfig,
    page: usize,
) -> Result<(Vec<StoredEntry>, bool), StoreError> {
    let skip = (page - 1) * feed.limit;
    let want = skip + feed.limit + 1;
    let now = Utc::now();
    let batch = (want * 2).clamp(100, 2000);
    let mut kept: Vec<StoredEntry> = Vec::with_capacity(want);
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
        kept.extend(
            rows.into_iter()
                .filter(|e| select::keep(&feed.filter, e, now)),
        );
        if kept.len() >= want || exhausted {
            break;
        }
    }
    let has_next = kept.len() > skip + feed.limit;
    let page_entries: Vec<StoredEntry> = kept.into_iter().skip(skip).take(feed.limit).collect();
    Ok((page_entries, has_next))
}
