//! `/feeds/{id}.{rss,atom,json,html}` (and `/feeds/{id}`), with `?page=N`.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;

use super::{AppState, Rendered, not_found, unavailable};
use crate::config::{Config, FeedConfig};
use crate::publish::{self, Format};

/// How deep paging may go (pages of `limit` entries).
const MAX_PAGE: usize = 1000;

/// The CSP of HTML pages: no script at all, styles inline only.
pub const CSP: &str = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The feed route of the router: takes the whole request, so the path, query
/// and headers are read in place (extractors would copy the header map).
pub async fn feed_route(State(app): State<AppState>, request: Request) -> Response {
    feed(&app, request.uri(), request.headers()).await
}

/// Answers `/feeds/{file}` without waiting when it can: from the cache, or
/// with the error for a malformed request. `None`: the page must be built
/// ([`feed`]).
pub fn from_cache(app: &AppState, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let response = match what(uri) {
        Err(why) => not_found(why),
        Ok(want) => {
            // A cached page exists only for a configured feed (a reload
            // clears the cache), so a hit needs no look at the config.
            let generation = app.changes.load(Ordering::Acquire);
            app.cache
                .get(&want.id, want.kind, want.page, generation)?
                .respond(headers)
        }
    };
    crate::metrics::get().feed_request(response.status().as_u16());
    Some(response)
}

/// Answers `/feeds/{file}`, building and caching the page on a miss.
pub async fn feed(app: &AppState, uri: &Uri, headers: &HeaderMap) -> Response {
    let response = match what(uri) {
        Err(why) => not_found(why),
        Ok(want) => answer(app, &want, headers).await,
    };
    crate::metrics::get().feed_request(response.status().as_u16());
    response
}

/// What a feed request asks for.
struct Wanted<'a> {
    id: std::borrow::Cow<'a, str>,
    kind: &'static str,
    page: usize,
}

/// What a feed request asks for, or why it is a 404.
fn what(uri: &Uri) -> Result<Wanted<'_>, String> {
    let path = uri.path();
    let file = path.strip_prefix("/feeds/").unwrap_or(path);
    let (id, ext) = file.rsplit_once('.').unwrap_or((file, "html"));
    let kind: &'static str = match ext {
        "html" => "html",
        other => match Format::from_extension(other) {
            Some(f) => f.extension(),
            None => {
                return Err(format!(
                    "unknown format `.{}`: use .rss, .atom, .json or .html\n",
                    percent_decode(other)
                ));
            }
        },
    };
    let page_param = uri
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("page=")));
    let page = match page_param.map(|p| p.parse::<usize>()) {
        None => 1,
        Some(Ok(p)) if (1..=MAX_PAGE).contains(&p) => p,
        Some(_) => {
            return Err(format!("no such page: pages run from 1 to {MAX_PAGE}\n"));
        }
    };
    Ok(Wanted {
        id: percent_decode(id),
        kind,
        page,
    })
}

async fn answer(app: &AppState, want: &Wanted<'_>, headers: &HeaderMap) -> Response {
    let (id, kind, page) = (&*want.id, want.kind, want.page);
    let generation = app.changes.load(Ordering::Acquire);
    if let Some(r) = app.cache.get(id, kind, page, generation) {
        return r.respond(headers);
    }
    let config = app.config();
    let Some(feed_cfg) = config.feed(id) else {
        return not_found(format!(
            "no feed `{id}` is configured (see / for the list)\n"
        ));
    };
    let (entries, has_next) =
        match publish::page::page(app.store.as_ref(), &config, feed_cfg, page).await {
            Ok(p) => (p.reports, p.has_next),
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
    app.cache
        .put(
            id,
            kind,
            page,
            generation,
            rendered,
            config.server.cache_bytes,
        )
        .respond(headers)
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

/// `%E6%AD%A6` → `武`; ids are slugs, so this only matters for odd requests.
fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}
