//! HTTP(S) fetching: conditional GET, bounded redirects followed by hand (so a
//! permanent move can be recorded), a cap on the decompressed body size,
//! per-host politeness for every hop, and an error kind for every failure.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::address::{AddressGuard, same_host};
use super::politeness::Politeness;
use super::{Body, FetchError, FetchErrorKind, Fetched, Validators};
use crate::config::{FetchConfig, SourceConfig};

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    politeness: Arc<Politeness>,
    guard: AddressGuard,
    max_body_bytes: u64,
    max_redirects: usize,
}

impl HttpClient {
    /// Proxies: `fetch.proxy` if set, else the environment (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, read by reqwest).
    pub fn new(
        cfg: &FetchConfig,
        politeness: Arc<Politeness>,
        guard: AddressGuard,
    ) -> Result<HttpClient, FetchError> {
        let mut builder = reqwest::Client::builder()
            .dns_resolver(guard.resolver.clone())
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            // Enough idle connections for the busiest host's limit.
            .pool_max_idle_per_host(
                cfg.hosts
                    .iter()
                    .filter_map(|h| h.max_concurrent)
                    .chain([cfg.host_concurrency, 2])
                    .max()
                    .unwrap_or(2),
            )
            .gzip(true)
            .brotli(true);
        if let Some(proxy) = &cfg.proxy {
            let p = reqwest::Proxy::all(proxy.as_str()).map_err(|e| {
                FetchError::new(FetchErrorKind::Other, format!("proxy {proxy}: {e}"))
            })?;
            builder = builder.proxy(p);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::new(FetchErrorKind::Other, format!("HTTP client: {e}")))?;
        Ok(HttpClient {
            client,
            politeness,
            guard,
            max_body_bytes: cfg.max_body_bytes,
            max_redirects: cfg.max_redirects,
        })
    }

    /// Whether `source` may request `url` (a target away from the source's
    /// own address class is refused unless allowed).
    pub async fn check_address(&self, source: &SourceConfig, url: &Url) -> Result<(), FetchError> {
        if source.allow_private {
            return Ok(());
        }
        self.guard
            .check(&source.url, url)
            .await
            .map_err(|r| refused(source, url, &r))
    }

    /// GETs `url` for `source`: every hop away from the source's own host
    /// passes the address guard, and the source's headers go to its own
    /// host only.
    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        source: &SourceConfig,
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut moved_permanently = None;
        let mut visited = vec![current.clone()];
        for _hop in 0..=self.max_redirects {
            if !source.allow_private {
                self.guard
                    .check(&source.url, &current)
                    .await
                    .map_err(|r| refused(source, &current, &r))?;
            }
            let own_host = same_host(&source.url, &current);
            let extra_headers: &[(String, String)] = if own_host { &source.headers } else { &[] };
            // Held until this hop's body is read: the host's slot is busy that long.
            let _permit = self.politeness.acquire(&current).await;
            let response = self
                .request(&current, validators, extra_headers)
                .send()
                .await
                .map_err(|e| classify(&current, &e))?;
            let status = response.status();
            let retry_after = matches!(status.as_u16(), 429 | 503)
                .then(|| header_str(response.headers(), header::RETRY_AFTER))
                .flatten()
                .and_then(|v| parse_retry_after(&v, SystemTime::now()));
            self.politeness
                .note_response(&current, status.as_u16(), retry_after);
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = redirect_target(&current, response.headers())?;
                if visited.contains(&next) {
                    return Err(FetchError::new(
                        FetchErrorKind::RedirectLoop,
                        format!(
                            "redirect loop: {} → {next}",
                            visited
                                .iter()
                                .map(Url::as_str)
                                .collect::<Vec<_>>()
                                .join(" → ")
                        ),
                    ));
                }
                // Only a chain of permanent redirects moves the source for good.
                let permanent = matches!(
                    status,
                    StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
                );
                if permanent && (moved_permanently.is_some() || visited.len() == 1) {
                    moved_permanently = Some(next.clone());
                } else {
                    moved_permanently = None;
                }
                visited.push(next.clone());
                current = next;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                let mut v = validators.clone();
                v.fresh_for = fresh_for(response.headers(), SystemTime::now());
                return Ok(Fetched::NotModified(v));
            }
            if !status.is_success() {
                let reason = status.canonical_reason().unwrap_or("");
                let mut message = format!("{current} answered {} {reason}", status.as_u16());
                if let Some(d) = retry_after {
                    message.push_str(&format!(" (Retry-After: {}s)", d.as_secs()));
                }
                let mut err = FetchError::new(FetchErrorKind::Http(status.as_u16()), message);
                err.retry_after = retry_after;
                return Err(err);
            }
            let headers = response.headers().clone();
            let content_type = header_str(&headers, header::CONTENT_TYPE);
            if let Some(ct) = content_type.as_deref().filter(|ct| not_a_document(ct)) {
                return Err(FetchError::new(
                    FetchErrorKind::ContentType,
                    format!("{current}: Content-Type `{ct}` is not a feed or a web page"),
                ));
            }
            let bytes = self.read_body(&current, response).await?;
            return Ok(Fetched::Body(Box::new(Body {
                bytes,
                content_type,
                url: current,
                validators: Validators {
                    etag: header_str(&headers, header::ETAG),
                    last_modified: header_str(&headers, header::LAST_MODIFIED),
                    fresh_for: fresh_for(&headers, SystemTime::now()),
                },
                moved_permanently,
            })));
        }
        Err(FetchError::new(
            FetchErrorKind::TooManyRedirects,
            format!(
                "more than {} redirects starting at {url}",
                self.max_redirects
            ),
        ))
    }

    fn request(
        &self,
        url: &Url,
        validators: &Validators,
        extra_headers: &[(String, String)],
    ) -> reqwest::RequestBuilder {
        let mut req = self.client.get(url.clone()).header(
            header::ACCEPT,
            "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.8, */*;q=0.5",
        );
        if let Some(etag) = &validators.etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            req = req.header(header::IF_MODIFIED_SINCE, lm);
        }
        for (name, value) in extra_headers {
            req = req.header(name.as_str(), value.as_str());
        }
        req
    }

    /// Reads the (decompressed) body, refusing more than the cap.
    async fn read_body(
        &self,
        url: &Url,
        mut response: reqwest::Response,
    ) -> Result<Bytes, FetchError> {
        let too_large = || {
            FetchError::new(
                FetchErrorKind::TooLarge,
                format!("{url}: body larger than {} bytes", self.max_body_bytes),
            )
        };
        let declared = response.content_length();
        if declared.is_some_and(|len| len > self.max_body_bytes) {
            return Err(too_large());
        }
        let mut buf = BytesMut::with_capacity(declared.unwrap_or(0).min(64 * 1024) as usize);
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > self.max_body_bytes {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf.freeze()),
                Err(e) => {
                    let mut err = classify(url, &e);
                    let chain = err.message.to_ascii_lowercase();
                    err.kind = if e.is_timeout() {
                        err.message = format!(
                            "{url}: the body was still arriving when the timeout ran out ({} bytes received)",
                            buf.len()
                        );
                        FetchErrorKind::SlowBody
                    } else if chain.contains("end of file before message length")
                        || chain.contains("incomplete")
                        || declared.is_some_and(|len| (buf.len() as u64) < len)
                    {
                        err.message = match declared {
                            Some(len) => format!(
                                "{url}: the connection closed after {} of {len} bytes",
                                buf.len()
                            ),
                            None => format!("{url}: the body ended early: {chain}"),
                        };
                        FetchErrorKind::Truncated
                    } else {
                        FetchErrorKind::Body
                    };
                    return Err(err);
                }
            }
        }
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Freshness lifetime: `Cache-Control: max-age` (unless `no-cache`/`no-store`),
/// else `Expires` minus `Date` (or now).
fn fresh_for(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(cc) = header_str(headers, header::CACHE_CONTROL) {
        let cc = cc.to_ascii_lowercase();
        let directives: Vec<&str> = cc.split(',').map(str::trim).collect();
        if directives
            .iter()
            .any(|d| *d == "no-cache" || *d == "no-store")
        {
            return None;
        }
        if let Some(secs) = directives
            .iter()
            .find_map(|d| d.strip_prefix("max-age="))
            .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
        {
            return Some(Duration::from_secs(secs));
        }
    }
    let expires = header_str(headers, header::EXPIRES)?;
    let expires = httpdate::parse_http_date(&expires).ok()?;
    let date = header_str(headers, header::DATE)
        .and_then(|d| httpdate::parse_http_date(&d).ok())
        .unwrap_or(now);
    expires.duration_since(date).ok()
}

/// Content types no feed or page comes as (octet-stream is let through: too
/// many servers send feeds that way).
fn not_a_document(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (top, sub) = mime.split_once('/').unwrap_or((mime.as_str(), ""));
    matches!(top, "image" | "audio" | "video" | "font" | "model")
        || matches!(
            sub,
            "pdf"
                | "zip"
                | "gzip"
                | "x-gzip"
                | "x-tar"
                | "x-7z-compressed"
                | "vnd.rar"
                | "msword"
                | "x-msdownload"
                | "wasm"
        )
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = header_str(headers, header::LOCATION).ok_or_else(|| {
        FetchError::new(
            FetchErrorKind::BadRedirect,
            format!("{from}: redirect without a Location header"),
        )
    })?;
    from.join(&location).map_err(|e| {
        FetchError::new(
            FetchErrorKind::BadRedirect,
            format!("{from}: bad redirect Location `{location}`: {e}"),
        )
    })
}

fn refused(source: &SourceConfig, url: &Url, r: &super::address::Refusal) -> FetchError {
    let origin = match r.origin {
        Some(c) => format!("on a {} address", c.as_str()),
        None => "on an address that did not resolve".to_string(),
    };
    FetchError::new(
        FetchErrorKind::PrivateAddress,
        format!(
            "refused {url}: it is at the {} address {}, and source `{}` is {origin}; set `allow_private = true` on the source, or on a `[[host]]` named \"{}\", to allow it",
            r.class.as_str(),
            r.address,
            source.id,
            url.host_str().unwrap_or(""),
        ),
    )
}

/// Turns a reqwest error into a kind a sysadmin can act on.
fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    let kind = if e.is_timeout() {
        FetchErrorKind::Timeout
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        FetchErrorKind::Dns
    } else if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("invalidcontenttype")
        || lower.contains("handshake")
    {
        FetchErrorKind::Tls
    } else if e.is_connect() {
        FetchErrorKind::Connect
    } else if e.is_body() || e.is_decode() {
        FetchErrorKind::Body
    } else {
        FetchErrorKind::Other
    };
    FetchError::new(kind, format!("{url}: {chain}"))
}

/// The error and its causes, without reqwest's wrappers that repeat the URL
/// ("error sending request for url (…)", "client error (Connect)").
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    let useful: Vec<&String> = parts
        .iter()
        .filter(|p| {
            !p.starts_with("error sending request for url")
                && !p.starts_with("client error (")
                && !p.starts_with("error decoding response body")
        })
        .collect();
    if useful.is_empty() {
        parts.join(": ")
    } else {
        useful
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(3600));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(3600))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(10));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn freshness_from_max_age_or_expires() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            "public, max-age=900".parse().unwrap(),
        );
        assert_eq!(fresh_for(&h, now), Some(Duration::from_secs(900)));
        h.insert(
            header::CACHE_CONTROL,
            "no-cache, max-age=900".parse().unwrap(),
        );
        assert_eq!(fresh_for(&h, now), None);
        let mut h = HeaderMap::new();
        let exp = httpdate::fmt_http_date(now + Duration::from_secs(7200));
        h.insert(header::EXPIRES, exp.parse().unwrap());
        assert_eq!(fresh_for(&h, now), Some(Duration::from_secs(7200)));
    }

    #[test]
    fn binary_content_types_are_refused() {
        assert!(not_a_document("image/png"));
        assert!(not_a_document("application/pdf; x=y"));
        assert!(!not_a_document("application/rss+xml; charset=utf-8"));
        assert!(!not_a_document("text/html"));
        assert!(!not_a_document("application/octet-stream"));
    }
}
