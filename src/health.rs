//! Source health: what `huiliu sources` prints and what a status page shows.
//! One call, one row per configured source, from the stored state and one
//! query for the entry counts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::model::{PollStatus, SourceState};
use crate::redact;
use crate::store::{Store, StoreError};

/// "Entries added recently" counts entries first seen in this many days.
pub const RECENT_DAYS: i64 = 7;

/// The health of one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceHealth {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// The configured URL.
    pub url: String,
    /// Where it is actually polled (differs after a permanent redirect).
    pub polling_url: String,
    /// `never`, `ok`, `not_modified`, `error` or `gone` (disabled).
    pub status: &'static str,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Stable label of the last error (`timeout`, `http_429`, `parse`…).
    pub error_kind: Option<String>,
    pub error: Option<String>,
    pub consecutive_failures: u32,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// When the source last published something new or changed.
    pub last_change: Option<DateTime<Utc>>,
    /// `None`: not scheduled (never polled yet, or disabled).
    pub next_due: Option<DateTime<Utc>>,
    /// The current adaptive interval and its bounds, in seconds.
    pub interval_secs: u64,
    pub min_interval_secs: u64,
    pub max_interval_secs: u64,
    pub entries: u64,
    /// Entries first seen in the last [`RECENT_DAYS`] days.
    pub entries_recent: u64,
    pub disabled: bool,
    /// `html` sources: how the selectors fared at the last scrape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrape: Option<crate::model::ScrapeHealth>,
}

impl SourceHealth {
    /// Whether something needs a look (an error, or disabled).
    pub fn failing(&self) -> bool {
        matches!(self.status, "error" | "gone")
    }
}

/// The health of every configured source, in config order.
pub async fn source_health(
    store: &dyn Store,
    config: &Config,
) -> Result<Vec<SourceHealth>, StoreError> {
    let now = Utc::now();
    let states: std::collections::HashMap<String, SourceState> = store
        .states()
        .await?
        .into_iter()
        .map(|s| (s.source_id.clone(), s))
        .collect();
    let counts: std::collections::HashMap<String, (u64, u64)> = store
        .entry_stats(now - chrono::Duration::days(RECENT_DAYS))
        .await?
        .into_iter()
        .map(|e| (e.source_id, (e.total, e.recent)))
        .collect();
    Ok(config
        .sources
        .iter()
        .map(|s| {
            let st = states
                .get(&s.id)
                .cloned()
                .unwrap_or_else(|| SourceState::new(&s.id));
            let disabled = st.is_gone(&s.url);
            let (entries, entries_recent) = counts.get(&s.id).copied().unwrap_or((0, 0));
            let status = match st.last_status {
                None => "never",
                // A 410 for a URL no longer configured does not count.
                Some(PollStatus::Gone) if !disabled => "error",
                Some(x) => x.as_str(),
            };
            SourceHealth {
                id: s.id.clone(),
                name: s.name.clone(),
                kind: s.kind().as_str(),
                // Shown on pages and in logs: never with their secrets.
                url: redact::url(&s.url),
                polling_url: redact::url(&st.current_url(&s.url)),
                status,
                http_status: st.http_status,
                error_kind: st.error_kind.clone(),
                error: st
                    .last_error
                    .as_deref()
                    .map(|e| redact::text(e).into_owned()),
                consecutive_failures: st.consecutive_failures,
                last_attempt: st.last_attempt,
                last_success: st.last_success,
                last_change: st.last_change,
                next_due: if disabled { None } else { st.next_due },
                interval_secs: st.interval_secs.unwrap_or(s.interval.as_secs()).clamp(
                    s.min_interval.as_secs(),
                    s.max_interval.as_secs().max(s.min_interval.as_secs()),
                ),
                min_interval_secs: s.min_interval.as_secs(),
                max_interval_secs: s.max_interval.as_secs(),
                entries,
                entries_recent,
                disabled,
                scrape: st.scrape.clone().map(|mut h| {
                    for p in &mut h.problems {
                        *p = redact::text(p).into_owned();
                    }
                    h
                }),
            }
        })
        .collect())
}
