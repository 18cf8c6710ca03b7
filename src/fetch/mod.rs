//! Fetch stage: source URL + stored validators → bytes (or "not modified").
//!
//! Bodies are always raw bytes: the charset is decided later by the parse
//! stage, never by the HTTP client.

mod file;
mod http;
pub mod polite;
pub mod robots;

use std::fmt;

use bytes::Bytes;
use url::Url;

use crate::config::{FetchConfig, SourceConfig, SourceKind};
use crate::model::SourceState;

pub use http::HttpClient;

/// What a source answered.
#[derive(Debug)]
pub enum Fetched {
    /// The stored validators still match: nothing to parse.
    NotModified(Validators),
    Body(Box<Body>),
}

/// Conditional-request validators kept between polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn of(state: &SourceState) -> Validators {
        Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        }
    }
}

#[derive(Debug)]
pub struct Body {
    pub bytes: Bytes,
    /// The `Content-Type` header, if any (its charset wins over the document's).
    pub content_type: Option<String>,
    /// The URL the body came from (after redirects); the base for relative links.
    pub url: Url,
    pub validators: Validators,
    /// Set when a 301/308 moved the source for good.
    pub moved_permanently: Option<Url>,
}

/// Why a fetch failed; the kind is what a sysadmin filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub kind: FetchErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    Timeout,
    Connect,
    Dns,
    Tls,
    Http(u16),
    TooManyRedirects,
    TooLarge,
    Body,
    File,
    Other,
}

impl FetchErrorKind {
    pub fn label(self) -> String {
        match self {
            FetchErrorKind::Timeout => "timeout".into(),
            FetchErrorKind::Connect => "connect".into(),
            FetchErrorKind::Dns => "dns".into(),
            FetchErrorKind::Tls => "tls".into(),
            FetchErrorKind::Http(code) => format!("http_{code}"),
            FetchErrorKind::TooManyRedirects => "redirects".into(),
            FetchErrorKind::TooLarge => "too_large".into(),
            FetchErrorKind::Body => "body".into(),
            FetchErrorKind::File => "file".into(),
            FetchErrorKind::Other => "other".into(),
        }
    }
}

impl FetchError {
    pub fn new(kind: FetchErrorKind, message: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

impl std::error::Error for FetchError {}

/// Fetches any kind of source through one interface.
#[derive(Clone)]
pub struct Fetcher {
    http: HttpClient,
    max_body_bytes: u64,
    /// Per-host turns for scraped pages.
    pub hosts: polite::HostGate,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher, FetchError> {
        Ok(Fetcher {
            http: HttpClient::new(cfg)?,
            max_body_bytes: cfg.max_body_bytes,
            hosts: polite::HostGate::default(),
        })
    }

    /// Fetches `url` for `source` (the URL may differ after a permanent move).
    pub async fn fetch(
        &self,
        source: &SourceConfig,
        url: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        match source.kind {
            SourceKind::File => file::fetch(url, validators, self.max_body_bytes).await,
            SourceKind::Feed | SourceKind::Html => {
                self.http.get(url, validators, &source.headers).await
            }
        }
    }

    /// A plain GET with no validators (article pages, robots.txt).
    pub async fn get(&self, source: &SourceConfig, url: &Url) -> Result<Body, FetchError> {
        match self.fetch(source, url, &Validators::default()).await? {
            Fetched::Body(b) => Ok(*b),
            Fetched::NotModified(_) => Err(FetchError::new(
                FetchErrorKind::Other,
                format!("{url}: unexpected 304 to an unconditional request"),
            )),
        }
    }
}
