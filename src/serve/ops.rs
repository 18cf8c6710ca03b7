//! Pages for the sysadmin and other sites: `/`, `/opml`, `/healthz`,
//! `/metrics`, `/status`, `/status.json`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use minijinja::context;
use serde::Serialize;

use super::{AppState, unavailable};
use crate::config::Config;
use crate::health::SourceHealth;
use crate::publish;

pub async fn index(State(app): State<AppState>) -> Response {
    let body = publish::html::index(&app.config());
    (
        [(header::CONTENT_SECURITY_POLICY, super::feeds_csp())],
        Html(body),
    )
        .into_response()
}

pub async fn opml(State(app): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/x-opml; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        publish::opml::render(&app.config(), Utc::now()),
    )
        .into_response()
}

/// 200 while the database answers and the scheduler polls; 503 with the
/// reason otherwise (a stalled scheduler must not pass for a healthy one).
pub async fn healthz(State(app): State<AppState>) -> Response {
    if let Err(e) = app.store.ping().await {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response();
    }
    let stall_after = app.config().server.stall_after;
    match app.liveness.report().stalled(Utc::now(), stall_after) {
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
        None => (StatusCode::OK, "ok\n").into_response(),
    }
}

/// With `server.admin_token` set, `/status*` and `/metrics` want
/// `Authorization: Bearer <token>`.
fn authorized(config: &Config, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(token) = &config.server.admin_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
        return Ok(());
    }
    Err(Box::new(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"huiliu\"")],
            "this page needs `Authorization: Bearer <server.admin_token>`\n",
        )
            .into_response(),
    ))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app.config(), &headers) {
        return *r;
    }
    let stored = app.store.total_entries().await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::get().render(stored, &app.liveness.report()),
    )
        .into_response()
}

/// Every source's health and the entries per day, as gathered at
/// `generated` (kept for [`STATUS_FRESH`]: a monitor polling `/status.json`
/// at 10,000 sources does not rescan the store per request).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generated: DateTime<Utc>,
    pub sources: Vec<SourceHealth>,
    /// Entries first seen per day, oldest first (30 days, today last).
    pub per_day: Vec<(String, u64)>,
}

/// How long a gathered status is reused.
const STATUS_FRESH: std::time::Duration = std::time::Duration::from_secs(2);
/// Rows of `/status` per page unless `?limit=` says otherwise.
const STATUS_PAGE: usize = 100;

/// The cached status (one gathering at a time).
#[derive(Default)]
pub struct StatusCache {
    last: tokio::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<Status>)>>,
    /// A gathering runs in the background for the readers of a stale one.
    refreshing: std::sync::atomic::AtomicBool,
}

/// A stale status is answered at once (and gathered anew behind it) up to
/// this age; older, the request waits for the new one.
const STATUS_STALE_MAX: std::time::Duration = std::time::Duration::from_secs(60);

async fn gather_cached(app: &AppState) -> Result<std::sync::Arc<Status>, crate::store::StoreError> {
    use std::sync::atomic::Ordering;
    let mut last = app.status.last.lock().await;
    if let Some((at, status)) = last.as_ref() {
        if at.elapsed() < STATUS_FRESH {
            return Ok(status.clone());
        }
        // During a pass a gathering takes a second: readers get the last
        // one (seconds old, and saying when it was gathered) meanwhile.
        if at.elapsed() < STATUS_STALE_MAX {
            if !app.status.refreshing.swap(true, Ordering::AcqRel) {
                let app = app.clone();
                tokio::spawn(async move {
                    match gather(&app).await {
                        Ok(fresh) => {
                            *app.status.last.lock().await =
                                Some((std::time::Instant::now(), std::sync::Arc::new(fresh)));
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot gather the status"),
                    }
                    app.status.refreshing.store(false, Ordering::Release);
                });
            }
            return Ok(status.clone());
        }
    }
    let status = std::sync::Arc::new(gather(app).await?);
    *last = Some((std::time::Instant::now(), status.clone()));
    Ok(status)
}

/// Gathers the status once in the background at start: the first reader
/// of `/status` (during the first pass, when the store is busiest) is
/// served from it instead of waiting for a gathering.
pub async fn warm_status(app: AppState) {
    if let Err(e) = gather_cached(&app).await {
        tracing::warn!(error = %e, "cannot gather the status");
    }
}

async fn gather(app: &AppState) -> Result<Status, crate::store::StoreError> {
    let config = app.config();
    let now = Utc::now();
    let mut sources = crate::health::source_health(app.store.as_ref(), &config).await?;
    for (h, s) in sources.iter_mut().zip(&config.sources) {
        // Local paths are nobody else's business.
        if s.kind() == crate::config::SourceKind::File {
            h.url = "(local file)".into();
            h.polling_url = h.url.clone();
        }
    }
    let since = (now - Duration::days(29))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now);
    let mut per_day: BTreeMap<String, u64> = (0..30)
        .map(|i| {
            (
                (since + Duration::days(i)).format("%Y-%m-%d").to_string(),
                0,
            )
        })
        .collect();
    for (day, n) in app.store.daily_counts(since).await? {
        *per_day.entry(day).or_default() += n;
    }
    Ok(Status {
        generated: now,
        sources,
        per_day: per_day.into_iter().collect(),
    })
}

/// `?status=` (`failing`, or a status such as `ok`, `error`, `never`),
/// `?q=` (in the id or name), `?limit=`, `?after=` (the last id of the
/// previous page).
#[derive(Debug, Default)]
struct StatusQuery {
    status: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

impl StatusQuery {
    fn parse(uri: &axum::http::Uri) -> StatusQuery {
        let mut out = StatusQuery::default();
        for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            let v = v.trim().to_string();
            if v.is_empty() {
                continue;
            }
            match &*k {
                "status" => out.status = Some(v.to_ascii_lowercase()),
                "q" => out.q = Some(v.to_lowercase()),
                "limit" => out.limit = v.parse().ok(),
                "after" => out.after = Some(v),
                _ => {}
            }
        }
        out
    }

    fn keeps(&self, s: &SourceHealth) -> bool {
        let status_ok = match self.status.as_deref() {
            None | Some("all") => true,
            Some("failing") => s.failing(),
            Some(other) => s.status == other,
        };
        let q_ok = self
            .q
            .as_deref()
            .is_none_or(|q| s.id.to_lowercase().contains(q) || s.name.to_lowercase().contains(q));
        status_ok && q_ok
    }
}

/// The rows a query selects, in `order`, after its cursor, at most `limit`
/// (plus whether more follow).
fn select_rows<'a>(
    sources: &'a [SourceHealth],
    query: &StatusQuery,
    failing_first: bool,
    default_limit: usize,
) -> (Vec<&'a SourceHealth>, bool) {
    let mut rows: Vec<&SourceHealth> = sources.iter().filter(|s| query.keeps(s)).collect();
    let key = |s: &SourceHealth| (failing_first && !s.failing(), s.id.clone());
    rows.sort_by_key(|s| key(s));
    if let Some(after) = query.after.as_deref()
        && let Some(pos) = rows.iter().position(|s| s.id == after)
    {
        rows.drain(..=pos);
    }
    let limit = query.limit.unwrap_or(default_limit).max(1);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

#[derive(Serialize)]
struct StatusTotals {
    sources: usize,
    ok: usize,
    failing: usize,
    never: usize,
    entries: u64,
}

fn totals(status: &Status) -> StatusTotals {
    let s = &status.sources;
    StatusTotals {
        sources: s.len(),
        ok: s
            .iter()
            .filter(|s| matches!(s.status, "ok" | "not_modified"))
            .count(),
        failing: s.iter().filter(|s| s.failing()).count(),
        never: s.iter().filter(|s| s.status == "never").count(),
        entries: s.iter().map(|s| s.entries).sum(),
    }
}

/// `/status.json`: every source (or those `?status=`/`?q=` select) in id
/// order, `?limit=` at a time after `?after=`; `next_after` names the
/// cursor of the next page when there is one.
pub async fn status_json(
    State(app): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorized(&app.config(), &headers) {
        return *r;
    }
    let status = match gather_cached(&app).await {
        Ok(s) => s,
        Err(e) => return unavailable("cannot read source states", e),
    };
    let query = StatusQuery::parse(&uri);
    let (rows, more) = select_rows(&status.sources, &query, false, usize::MAX);
    let body = serde_json::json!({
        "generated": status.generated,
        "totals": totals(&status),
        "per_day": status.per_day,
        "next_after": if more { rows.last().map(|s| s.id.clone()) } else { None },
        "sources": rows,
    });
    super::cache::private_page(
        &headers,
        "application/json",
        serde_json::to_vec(&body).unwrap_or_default(),
        &[],
    )
}

/// `/status`: totals, the chart, then failing sources first, a page at a
/// time, with a filter form.
pub async fn status_page(
    State(app): State<AppState>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let config = app.config();
    if let Err(r) = authorized(&config, &headers) {
        return *r;
    }
    let status = match gather_cached(&app).await {
        Ok(s) => s,
        Err(e) => return unavailable("cannot read source states", e),
    };
    let query = StatusQuery::parse(&uri);
    let fmt = |d: Option<DateTime<Utc>>| {
        d.map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "—".into())
    };
    let peak = status
        .per_day
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    let chart: Vec<minijinja::Value> = status
        .per_day
        .iter()
        .enumerate()
        .map(|(i, (day, n))| {
            let h = (*n as f64 / peak as f64 * 56.0).round() as u64;
            context! { x => i * 10, y => 60 - h, h, day, n }
        })
        .collect();
    let (selected, more) = select_rows(&status.sources, &query, true, STATUS_PAGE);
    let rows: Vec<minijinja::Value> = selected
        .iter()
        .map(|s| {
            let (label, class) = match s.status {
                "ok" => ("ok", "ok"),
                "not_modified" => ("not modified", "ok"),
                "gone" => ("gone (disabled)", "err"),
                "error" => ("error", "err"),
                _ => ("never polled", ""),
            };
            let status = if s.consecutive_failures > 1 {
                format!("{label} ×{}", s.consecutive_failures)
            } else {
                label.to_string()
            };
            let error = match (&s.error_kind, &s.error) {
                (Some(k), Some(e)) => Some(format!("[{k}] {e}")),
                (None, Some(e)) => Some(e.clone()),
                _ => s.scrape.as_ref().map(|h| h.summary()),
            };
            context! {
                id => s.id.clone(), name => s.name.clone(), kind => s.kind, entries => s.entries,
                last_attempt => fmt(s.last_attempt), next_due => fmt(s.next_due),
                status, class, error,
            }
        })
        .collect();
    let t = totals(&status);
    let totals = context! {
        sources => t.sources,
        failing => t.failing,
        ok => t.ok,
        entries => t.entries,
        last_30_days => status.per_day.iter().map(|(_, n)| n).sum::<u64>(),
    };
    // The next page keeps the filter.
    let next = more.then(|| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = &query.status {
            q.append_pair("status", s);
        }
        if let Some(s) = &query.q {
            q.append_pair("q", s);
        }
        if let Some(l) = query.limit {
            q.append_pair("limit", &l.to_string());
        }
        if let Some(last) = selected.last() {
            q.append_pair("after", &last.id);
        }
        format!("?{}", q.finish())
    });
    let body = publish::html::page(
        "status.html",
        context! {
            lang => "en", version => env!("CARGO_PKG_VERSION"),
            generated => fmt(Some(status.generated)), totals, chart, sources => rows,
            shown => selected.len(), filter_status => query.status.clone().unwrap_or_default(),
            filter_q => query.q.clone().unwrap_or_default(), next,
        },
    );
    super::cache::private_page(
        &headers,
        "text/html; charset=utf-8",
        body,
        &[(header::CONTENT_SECURITY_POLICY, STATUS_CSP)],
    )
}

/// The feeds' CSP, with the status page's filter form allowed to submit
/// to itself.
const STATUS_CSP: &str = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'";
