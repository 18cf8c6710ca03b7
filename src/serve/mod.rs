//! Serve stage: axum routes over the published feeds, with the serialized
//! bytes cached until the store changes, strong ETags, Last-Modified and 304s.

mod cache;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;

use crate::config::Config;
use crate::publish::{self, Format};
use crate::store::{EntryQuery, Store};

pub use cache::{FeedCache, Rendered};

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub changes: Arc<AtomicU64>,
    pub cache: Arc<FeedCache>,
}

impl AppState {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, changes: Arc<AtomicU64>) -> AppState {
        AppState {
            config,
            store,
            changes,
            cache: Arc::new(FeedCache::default()),
        }
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/feeds/{file}", get(feed))
        .route("/healthz", get(healthz))
        .route("/status.json", get(status_json))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn not_found(msg: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

async fn feed(
    State(app): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((id, ext)) = file.rsplit_once('.') else {
        return not_found(format!(
            "no such feed `{file}`: feeds end in .rss, .atom or .json (see /)\n"
        ));
    };
    let Some(format) = Format::from_extension(ext) else {
        return not_found(format!(
            "unknown format `.{ext}`: use .rss, .atom or .json\n"
        ));
    };
    let Some(feed_cfg) = app.config.feed(id) else {
        return not_found(format!(
            "no feed `{id}` is configured (see / for the list)\n"
        ));
    };
    let generation = app.changes.load(Ordering::Acquire);
    let rendered = match app.cache.get(id, format, generation) {
        Some(r) => r,
        None => {
            let query = EntryQuery {
                sources: feed_cfg.sources.clone(),
                limit: feed_cfg.limit,
                offset: 0,
            };
            let entries = match app.store.entries(&query).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(feed = id, error = %e, "cannot read entries");
                    return (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the database is not answering; try again later\n",
                    )
                        .into_response();
                }
            };
            let doc = publish::build(&app.config, feed_cfg, &entries);
            let bytes = publish::render(&doc, format);
            app.cache.put(
                id,
                format,
                generation,
                Rendered::new(bytes, format.content_type(), doc.updated),
            )
        }
    };
    rendered.respond(&headers)
}

async fn index(State(app): State<AppState>) -> Html<String> {
    let mut out = String::from(
        "<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\"><title>huiliu</title></head><body><h1>huiliu feeds</h1><ul>",
    );
    for f in &app.config.feeds {
        let id = html_escape(&f.id);
        out.push_str(&format!(
            "<li>{} — <a href=\"/feeds/{id}.rss\">RSS</a> · <a href=\"/feeds/{id}.atom\">Atom</a> · <a href=\"/feeds/{id}.json\">JSON Feed</a></li>",
            html_escape(&f.title)
        ));
    }
    out.push_str("</ul></body></html>\n");
    Html(out)
}

async fn healthz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

async fn status_json(State(app): State<AppState>) -> Response {
    let states = match app.store.states().await {
        Ok(s) => s,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    let sources: Vec<serde_json::Value> = app
        .config
        .sources
        .iter()
        .map(|s| {
            let st = states.iter().find(|st| st.source_id == s.id);
            serde_json::json!({
                "id": s.id,
                "name": s.name,
                "kind": s.kind.as_str(),
                "state": st,
            })
        })
        .collect();
    let body = serde_json::json!({ "generated": Utc::now().to_rfc3339(), "sources": sources });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
