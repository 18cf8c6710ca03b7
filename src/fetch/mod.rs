//! Fetch stage: source URL + stored validators → bytes (or "not modified").
//!
//! Bodies are always raw bytes: the charset is decided later by the parse
//! stage, never by the HTTP client.

pub mod address;
pub mod browser;
mod file;
mod http;
pub mod politeness;
pub mod robots;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use crate::config::{FetchConfig, SourceConfig, SourceKind};
use crate::model::SourceState;

pub use http::{HttpClient, parse_retry_after};
pub use politeness::Politeness;

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
    /// How long the answer said it stays fresh (`Cache-Control: max-age`,
    /// else `Expires`); a lower bound for the next poll. Never sent back.
    pub fresh_for: Option<Duration>,
}

impl Validators {
    pub fn of(state: &SourceState) -> Validators {
        Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
            fresh_for: None,
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
    /// `Retry-After` of a 429 or 503 answer.
    pub retry_after: Option<Duration>,
}

/// Each kind is a distinct, stable label (stored on the source, shown by
/// `huiliu sources`); see README, "Error kinds".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    /// No answer (status line and headers) within `fetch.timeout`.
    Timeout,
    /// Headers came, the body did not finish within `fetch.timeout` (a drip).
    SlowBody,
    /// Connection refused, reset or unreachable.
    Connect,
    Dns,
    Tls,
    /// Any non-success status (410 disables the source; 429/503 carry Retry-After).
    Http(u16),
    /// A redirect led back to a URL already visited.
    RedirectLoop,
    /// More than `fetch.max_redirects` redirects.
    TooManyRedirects,
    /// A redirect without a usable `Location`.
    BadRedirect,
    /// The (decompressed) body is over `fetch.max_body_size`.
    TooLarge,
    /// The connection closed before `Content-Length` bytes arrived.
    Truncated,
    /// The body could not be read or decompressed.
    Body,
    /// The `Content-Type` is no feed or page (an image, a PDF, an archive…).
    ContentType,
    /// A redirect or a link led to a private, loopback or link-local
    /// address the source may not reach (see [`address`]).
    PrivateAddress,
    File,
    Other,
}

impl FetchErrorKind {
    pub fn label(self) -> String {
        match self {
            FetchErrorKind::Timeout => "timeout".into(),
            FetchErrorKind::SlowBody => "slow_body".into(),
            FetchErrorKind::Connect => "connect".into(),
            FetchErrorKind::Dns => "dns".into(),
            FetchErrorKind::Tls => "tls".into(),
            FetchErrorKind::Http(code) => format!("http_{code}"),
            FetchErrorKind::RedirectLoop => "redirect_loop".into(),
            FetchErrorKind::TooManyRedirects => "too_many_redirects".into(),
            FetchErrorKind::BadRedirect => "bad_redirect".into(),
            FetchErrorKind::TooLarge => "too_large".into(),
            FetchErrorKind::Truncated => "truncated".into(),
            FetchErrorKind::Body => "body".into(),
            FetchErrorKind::ContentType => "content_type".into(),
            FetchErrorKind::PrivateAddress => "private_address".into(),
            FetchErrorKind::File => "file".into(),
            FetchErrorKind::Other => "other".into(),
        }
    }
}

impl FetchError {
    /// The message never shows a URL's secrets (see [`crate::redact`]).
    pub fn new(kind: FetchErrorKind, message: impl Into<String>) -> FetchError {
        let message: String = message.into();
        FetchError {
            kind,
            message: crate::redact::text(&message).into_owned(),
            retry_after: None,
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
    politeness: Arc<Politeness>,
    max_body_bytes: u64,
    max_backoff: Duration,
    render: browser::RenderOptions,
    max_entries: usize,
    budgets: crate::budget::Budgets,
}

impl Fetcher {
    pub fn new(cfg: &FetchConfig) -> Result<Fetcher, FetchError> {
        Fetcher::with_classifier(cfg, Arc::new(address::classify))
    }

    /// A fetcher that classifies addresses with `classify` (tests on
    /// 127.0.0.1 stand one loopback address for the public internet).
    pub fn with_classifier(
        cfg: &FetchConfig,
        classify: address::Classifier,
    ) -> Result<Fetcher, FetchError> {
        let politeness = Arc::new(Politeness::new(cfg));
        let allowed_hosts = cfg
            .hosts
            .iter()
            .filter(|h| h.allow_private)
            .map(|h| h.name.clone())
            .collect();
        let guard = address::AddressGuard::new(allowed_hosts, classify);
        Ok(Fetcher {
            http: HttpClient::new(cfg, politeness.clone(), guard)?,
            politeness,
            max_body_bytes: cfg.max_body_bytes,
            max_backoff: cfg.max_backoff,
            render: browser::RenderOptions {
                timeout: cfg.timeout,
                max_body_bytes: cfg.max_body_bytes,
                user_agent: cfg.user_agent.clone(),
            },
            max_entries: cfg.max_entries,
            budgets: crate::budget::Budgets::new(cfg.parse_budget),
        })
    }

    /// A page through headless Chromium (`render = "browser"`), under the
    /// host's politeness limits and the address guard like any request
    /// (Chromium's own redirects are its own: the page is checked first).
    pub async fn render(&self, source: &SourceConfig, url: &Url) -> Result<Body, FetchError> {
        self.http.check_address(source, url).await?;
        let _permit = self.politeness.acquire(url).await;
        browser::render(url, &self.render).await
    }

    /// `fetch.max_backoff`: the longest a failing source waits.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// `fetch.max_entries`: entries read from one feed document.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// `fetch.parse_budget`: the time budget of processing each page, and
    /// the steps still running past theirs.
    pub fn budgets(&self) -> &crate::budget::Budgets {
        &self.budgets
    }

    /// The per-host limits every request of this fetcher obeys.
    pub fn politeness(&self) -> &Arc<Politeness> {
        &self.politeness
    }

    /// Fetches `url` for `source` (the URL may differ after a permanent move).
    pub async fn fetch(
        &self,
        source: &SourceConfig,
        url: &Url,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        match source.kind() {
            SourceKind::File => file::fetch(url, validators, self.max_body_bytes).await,
            SourceKind::Feed | SourceKind::Html => self.http.get(url, validators, source).await,
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
