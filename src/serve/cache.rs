//! Serialized feed bytes kept until the store changes: a request for an
//! unchanged feed costs a hash-map lookup, never a rebuild.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::publish::Format;

/// One serialized feed with its validators.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    pub content_type: &'static str,
    /// Strong ETag: a hash of the bytes.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    last_modified_header: String,
}

impl Rendered {
    pub fn new(
        body: Vec<u8>,
        content_type: &'static str,
        last_modified: DateTime<Utc>,
    ) -> Rendered {
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", crate::normalize::hex(&digest[..12]));
        Rendered {
            body: Bytes::from(body),
            content_type,
            etag,
            last_modified,
            last_modified_header: httpdate::fmt_http_date(last_modified.into()),
        }
    }

    /// True when the request's validators show the client has these bytes.
    /// If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(inm) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            return inm.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t.trim_start_matches("W/") == self.etag
            });
        }
        if let Some(ims) = headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
        {
            let ims: DateTime<Utc> = ims.into();
            return self.last_modified.timestamp() <= ims.timestamp();
        }
        false
    }

    pub fn respond(&self, request: &HeaderMap) -> Response {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&self.etag) {
            headers.insert(header::ETAG, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.last_modified_header) {
            headers.insert(header::LAST_MODIFIED, v);
        }
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        if self.not_modified(request) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        (StatusCode::OK, headers, self.body.clone()).into_response()
    }
}

/// Cached feeds by (feed id, format), each tagged with the store generation it was built from.
/// A rendering and the store generation it was built from.
type Slot = (u64, Arc<Rendered>);

#[derive(Default)]
pub struct FeedCache {
    entries: Mutex<HashMap<(String, Format), Slot>>,
}

impl FeedCache {
    pub fn get(&self, id: &str, format: Format, generation: u64) -> Option<Arc<Rendered>> {
        let map = self.entries.lock().ok()?;
        map.get(&(id.to_string(), format))
            .filter(|(g, _)| *g == generation)
            .map(|(_, r)| r.clone())
    }

    pub fn put(
        &self,
        id: &str,
        format: Format,
        generation: u64,
        rendered: Rendered,
    ) -> Arc<Rendered> {
        let rendered = Arc::new(rendered);
        if let Ok(mut map) = self.entries.lock() {
            map.insert((id.to_string(), format), (generation, rendered.clone()));
        }
        rendered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        let t = DateTime::parse_from_rfc3339("2024-02-20T08:45:00Z")
            .unwrap()
            .to_utc();
        let r = Rendered::new(b"<rss/>".to_vec(), "application/rss+xml", t);
        let mut h = HeaderMap::new();
        assert!(!r.not_modified(&h));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {}", r.etag)).unwrap(),
        );
        assert!(r.not_modified(&h));
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Tue, 20 Feb 2024 08:45:00 GMT"),
        );
        assert!(r.not_modified(&h));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Tue, 20 Feb 2024 08:44:59 GMT"),
        );
        assert!(!r.not_modified(&h));
        // A non-matching ETag wins over a matching date.
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Tue, 20 Feb 2024 08:45:00 GMT"),
        );
        assert!(!r.not_modified(&h));
    }
}
