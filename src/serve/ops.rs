//! Pages for the sysadmin and other sites: `/`, `/opml`, `/healthz`,
//! `/metrics`, `/status`, `/status.json`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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

pub async fn healthz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
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
        crate::metrics::get().render(stored),
    )
        .into_response()
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub generated: DateTime<Utc>,
    pub sources: Vec<SourceHealth>,
    /// Entries first seen per day, oldest first (30 days, today last).
    pub per_day: Vec<(String, u64)>,
}

async fn gather(app: &AppState) -> Result<Status, crate::store::StoreError> {
    let config = app.config();
    let now = Utc::now();
    let mut sources = crate::health::source_health(app.store.as_ref(), &config).await?;
    for (h, s) in sources.iter_mut().zip(&config.sources) {
        // Local paths are nobody else's business.
        if s.kind == crate::config::SourceKind::File {
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
    for (_, day, n) in app.store.daily_counts(since).await? {
        *per_day.entry(day).or_default() += n;
    }
    Ok(Status {
        generated: now,
        sources,
        per_day: per_day.into_iter().collect(),
    })
}

pub async fn status_json(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = authorized(&app.config(), &headers) {
        return *r;
    }
    match gather(&app).await {
        Ok(status) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            serde_json::to_string_pretty(&status).unwrap_or_default(),
        )
            .into_response(),
        Err(e) => unavailable("cannot read source states", e),
    }
}

pub async fn status_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let config = app.config();
    if let Err(r) = authorized(&config, &headers) {
        return *r;
    }
    let status = match gather(&app).await {
        Ok(s) => s,
        Err(e) => return unavailable("cannot read source states", e),
    };
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
    let failing = status.sources.iter().filter(|s| s.failing()).count();
    let rows: Vec<minijinja::Value> = status
        .sources
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
    let totals = context! {
        sources => status.sources.len(),
        failing,
        ok => status.sources.iter().filter(|s| matches!(s.status, "ok" | "not_modified")).count(),
        entries => status.sources.iter().map(|s| s.entries).sum::<u64>(),
        last_30_days => status.per_day.iter().map(|(_, n)| n).sum::<u64>(),
    };
    let body = publish::html::page(
        "status.html",
        context! {
            lang => "en", version => env!("CARGO_PKG_VERSION"),
            generated => fmt(Some(status.generated)), totals, chart, sources => rows,
        },
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, super::feeds_csp()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(body),
    )
        .into_response()
}
