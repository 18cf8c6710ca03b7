//! HTTP(S) fetching: conditional GET, bounded redirects followed by hand (so a
//! permanent move can be recorded), a cap on the decompressed body size.

use std::error::Error as _;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::{Body, FetchError, FetchErrorKind, Fetched, Validators};
use crate::config::FetchConfig;

#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_body_bytes: u64,
    max_redirects: usize,
}

impl HttpClient {
    pub fn new(cfg: &FetchConfig) -> Result<HttpClient, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .build()
            .map_err(|e| FetchError::new(FetchErrorKind::Other, format!("HTTP client: {e}")))?;
        Ok(HttpClient {
            client,
            max_body_bytes: cfg.max_body_bytes,
            max_redirects: cfg.max_redirects,
        })
    }

    pub async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        extra_headers: &[(String, String)],
    ) -> Result<Fetched, FetchError> {
        let mut current = url.clone();
        let mut moved_permanently = None;
        let mut visited = vec![current.clone()];
        for _hop in 0..=self.max_redirects {
            let response = self
                .request(&current, validators, extra_headers)
                .send()
                .await
                .map_err(|e| classify(&current, &e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = redirect_target(&current, response.headers())?;
                if visited.contains(&next) {
                    return Err(FetchError::new(
                        FetchErrorKind::TooManyRedirects,
                        format!("redirect loop: {current} → {next}"),
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
                return Ok(Fetched::NotModified(validators.clone()));
            }
            if !status.is_success() {
                let reason = status.canonical_reason().unwrap_or("");
                return Err(FetchError::new(
                    FetchErrorKind::Http(status.as_u16()),
                    format!("{current} answered {} {reason}", status.as_u16()),
                ));
            }
            let headers = response.headers().clone();
            let bytes = self.read_body(&current, response).await?;
            return Ok(Fetched::Body(Box::new(Body {
                bytes,
                content_type: header_str(&headers, header::CONTENT_TYPE),
                url: current,
                validators: Validators {
                    etag: header_str(&headers, header::ETAG),
                    last_modified: header_str(&headers, header::LAST_MODIFIED),
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
        if response
            .content_length()
            .is_some_and(|len| len > self.max_body_bytes)
        {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
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
                    if err.kind == FetchErrorKind::Other || err.kind == FetchErrorKind::Connect {
                        err.kind = FetchErrorKind::Body;
                    }
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

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = header_str(headers, header::LOCATION).ok_or_else(|| {
        FetchError::new(
            FetchErrorKind::Other,
            format!("{from}: redirect without a Location header"),
        )
    })?;
    from.join(&location).map_err(|e| {
        FetchError::new(
            FetchErrorKind::Other,
            format!("{from}: bad redirect Location `{location}`: {e}"),
        )
    })
}

/// Turns a reqwest error into a kind a sysadmin can act on.
fn classify(url: &Url, e: &reqwest::Error) -> FetchError {
    let chain = error_chain(e);
    let kind = if e.is_timeout() {
        FetchErrorKind::Timeout
    } else if chain.contains("dns error") || chain.contains("failed to lookup address") {
        FetchErrorKind::Dns
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
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
    parts.join(": ")
}
