//! Serve stage: connections on serving threads ([`listen`]) and axum routes
//! over the published feeds and pages. Feed bytes are cached until the store
//! changes (see [`cache`]); every feed response
//! carries a strong ETag, Last-Modified, Cache-Control, Vary and CORS.

mod cache;
mod feeds;
mod listen;
mod ops;
pub use ops::warm_status;
pub mod websub;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;
use crate::store::Store;

pub use cache::{FeedCache, Rendered};
pub use listen::serve;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Swapped whole on reload; handlers take a snapshot per request.
    config: Arc<RwLock<Arc<Config>>>,
    pub store: Arc<dyn Store>,
    /// The store generation: bumped by every poll that changed entries.
    pub changes: Arc<AtomicU64>,
    pub cache: Arc<FeedCache>,
    /// The scheduler's polls (a daemon that polls nothing is not healthy).
    pub liveness: Arc<crate::liveness::Liveness>,
    /// The last gathered `/status`, reused briefly.
    pub status: Arc<ops::StatusCache>,
}

impl AppState {
    pub fn new(config: Arc<Config>, store: Arc<dyn Store>, changes: Arc<AtomicU64>) -> AppState {
        AppState {
            config: Arc::new(RwLock::new(config)),
            store,
            changes,
            cache: Arc::new(FeedCache::default()),
            liveness: Arc::default(),
            status: Arc::default(),
        }
    }

    /// Reports the pipeline's scheduler in `/healthz` and `/metrics`.
    pub fn with_liveness(mut self, liveness: Arc<crate::liveness::Liveness>) -> AppState {
        self.liveness = liveness;
        self
    }

    pub fn config(&self) -> Arc<Config> {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Serves `config` from now on (outputs change at once).
    pub fn replace_config(&self, config: Arc<Config>) {
        match self.config.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
        self.cache.clear();
    }
}

/// Every route; [`serve`] answers cached feed pages before it.
pub fn router(state: AppState) -> Router {
    // The feed route counts its own requests: a middleware layer costs a
    // boxed future per request on the hottest path.
    // `serve` answers GET and HEAD of feeds before the router; the route
    // remains for the other methods (405) and for the router on its own.
    let feeds = Router::new().route("/feeds/{file}", get(feeds::feed_route));
    let others = Router::new()
        .route("/", get(ops::index))
        .route("/opml", get(ops::opml))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/status", get(ops::status_page))
        .route("/status.json", get(ops::status_json))
        .fallback(not_found_route)
        .layer(middleware::from_fn(count_requests));
    feeds.merge(others).with_state(state)
}

async fn count_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("other", |p| p.as_str());
    crate::metrics::get().http(route, response.status().as_u16());
    response
}

async fn not_found_route(State(_): State<AppState>) -> Response {
    not_found("nothing here: see / for the feeds, /status for the sources\n".into())
}

/// The Content-Security-Policy of every HTML page.
fn feeds_csp() -> &'static str {
    feeds::CSP
}

fn not_found(msg: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "the database is not answering; try again later\n",
    )
        .into_response()
}
