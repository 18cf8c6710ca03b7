//! Serialized pages kept until the store changes: a request for an unchanged
//! feed costs a map lookup, never a rebuild or a compression. Each rendering
//! holds its identity, gzip and brotli bytes, compressed once.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Bodies smaller than this are not worth compressing.
const MIN_COMPRESS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity = 0,
    Gzip = 1,
    Brotli = 2,
}

/// One serialized page with its validators and compressed forms.
#[derive(Debug)]
pub struct Rendered {
    pub body: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    pub content_type: &'static str,
    /// Strong ETag of the identity bytes; encoded forms append `-gzip`/`-br`.
    pub etag: String,
    /// The ETag header of each coding, built once (identity, gzip, brotli).
    etags: [HeaderValue; 3],
    pub last_modified: DateTime<Utc>,
    last_modified_header: HeaderValue,
    cache_control: HeaderValue,
    /// Extra headers (e.g. the Content-Security-Policy of HTML pages).
    extra: Vec<(header::HeaderName, HeaderValue)>,
}

impl Rendered {
    pub fn new(
        body: Vec<u8>,
        content_type: &'static str,
        last_modified: DateTime<Utc>,
        max_age: u64,
    ) -> Rendered {
        let digest = Sha256::digest(&body);
        let etag = crate::normalize::hex(&digest[..12]);
        let (gzip, brotli) = if body.len() >= MIN_COMPRESS {
            (compress_gzip(&body), compress_brotli(&body))
        } else {
            (None, None)
        };
        let header = |s: String| HeaderValue::from_str(&s).unwrap_or(HeaderValue::from_static(""));
        let etags = [
            header(format!("\"{etag}\"")),
            header(format!("\"{etag}-gzip\"")),
            header(format!("\"{etag}-br\"")),
        ];
        Rendered {
            body: Bytes::from(body),
            gzip,
            brotli,
            content_type,
            etag,
            etags,
            last_modified,
            last_modified_header: header(httpdate::fmt_http_date(last_modified.into())),
            cache_control: header(format!("public, max-age={max_age}")),
            extra: Vec::new(),
        }
    }

    /// Bytes held: the body and its compressed forms.
    pub fn bytes(&self) -> usize {
        self.body.len()
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + self.brotli.as_ref().map_or(0, Bytes::len)
    }

    pub fn with_header(mut self, name: header::HeaderName, value: &'static str) -> Rendered {
        self.extra.push((name, HeaderValue::from_static(value)));
        self
    }

    fn etag_for(&self, coding: Coding) -> &HeaderValue {
        &self.etags[coding as usize]
    }

    /// True when the request's validators show the client has these bytes
    /// (in any encoding). If-None-Match takes precedence over
    /// If-Modified-Since (RFC 9110 §13.2.2).
    pub fn not_modified(&self, headers: &HeaderMap) -> bool {
        if let Some(inm) = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        {
            return inm.split(',').any(|t| {
                let t = t.trim();
                t == "*" || {
                    let t = t.trim_start_matches("W/").as_bytes();
                    self.etags.iter().any(|e| e.as_bytes() == t)
                }
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

    fn negotiate(&self, request: &HeaderMap) -> (Coding, &Bytes) {
        let accept = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(b) = self.brotli.as_ref().filter(|_| accepts(accept, "br")) {
            return (Coding::Brotli, b);
        }
        if let Some(g) = self.gzip.as_ref().filter(|_| accepts(accept, "gzip")) {
            return (Coding::Gzip, g);
        }
        (Coding::Identity, &self.body)
    }

    pub fn respond(&self, request: &HeaderMap) -> Response {
        let (coding, body) = self.negotiate(request);
        let mut headers = HeaderMap::with_capacity(10);
        headers.insert(header::ETAG, self.etag_for(coding).clone());
        headers.insert(header::LAST_MODIFIED, self.last_modified_header.clone());
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        for (k, v) in &self.extra {
            headers.insert(k.clone(), v.clone());
        }
        if self.not_modified(request) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        match coding {
            Coding::Gzip => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            Coding::Brotli => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            }
            Coding::Identity => {}
        }
        (StatusCode::OK, headers, body.clone()).into_response()
    }
}

/// A private, uncached page (`/status`, `/status.json`): gzip when the
/// client takes it and the body is worth it, `Cache-Control: no-store`.
pub fn private_page(
    request: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
    extra: &[(header::HeaderName, &'static str)],
) -> Response {
    let accept = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    for (k, v) in extra {
        headers.insert(k.clone(), HeaderValue::from_static(v));
    }
    let gzipped = (body.len() >= MIN_COMPRESS && accepts(accept, "gzip"))
        .then(|| compress_gzip(&body))
        .flatten();
    match gzipped {
        Some(g) => {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (StatusCode::OK, headers, g).into_response()
        }
        None => (StatusCode::OK, headers, Bytes::from(body)).into_response(),
    }
}

/// Whether an Accept-Encoding value accepts `coding` (q > 0).
fn accepts(accept: &str, coding: &str) -> bool {
    accept.split(',').any(|part| {
        let mut it = part.split(';');
        let name = it.next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case(coding) {
            return false;
        }
        !it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        })
    })
}

fn compress_gzip(body: &[u8]) -> Option<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    enc.write_all(body).ok()?;
    enc.finish().ok().map(Bytes::from)
}

fn compress_brotli(body: &[u8]) -> Option<Bytes> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 6,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(Bytes::from(out))
}

/// A rendering and the store generation it was built from.
type Slot = (u64, Arc<Rendered>);
/// The renderings of one feed by (format or page kind, page number).
type Pages = HashMap<(&'static str, usize), Slot>;

/// Cached pages by feed id, then (format or page kind, page number), each
/// tagged with the store generation it was built from. Looked up by `&str`:
/// a hit allocates nothing. Readers load a snapshot without a lock (every
/// request of every serving thread reads it; a shared lock word would bounce
/// between cores); writers, once per built page, copy and swap the map.
#[derive(Default)]
pub struct FeedCache {
    entries: ArcSwap<HashMap<String, Pages>>,
    /// Serializes writers so no insert is lost between copy and swap.
    write: Mutex<()>,
}

impl FeedCache {
    pub fn get(
        &self,
        id: &str,
        kind: &'static str,
        page: usize,
        generation: u64,
    ) -> Option<Arc<Rendered>> {
        self.entries
            .load()
            .get(id)?
            .get(&(kind, page))
            .filter(|(g, _)| *g == generation)
            .map(|(_, r)| r.clone())
    }

    /// Keeps a rendering, within `limit` bytes in all (`[server]
    /// cache_size`): past it, pages of other feeds go first, the deepest
    /// pages first (the first pages are what readers poll).
    pub fn put(
        &self,
        id: &str,
        kind: &'static str,
        page: usize,
        generation: u64,
        rendered: Rendered,
        limit: u64,
    ) -> Arc<Rendered> {
        let rendered = Arc::new(rendered);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if rendered.bytes() > limit {
            return rendered;
        }
        let _writer = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut map = HashMap::clone(&self.entries.load());
        // Older generations are garbage now.
        for pages in map.values_mut() {
            pages.retain(|_, (g, _)| *g == generation);
        }
        let mut held: Vec<(usize, String, (&'static str, usize), usize)> = map
            .iter()
            .flat_map(|(feed, pages)| {
                pages
                    .iter()
                    .map(move |(k, (_, r))| (k.1, feed.clone(), *k, r.bytes()))
            })
            .collect();
        let mut total: usize = held.iter().map(|h| h.3).sum::<usize>() + rendered.bytes();
        if total > limit {
            // Deepest first; among equals, other feeds before this one.
            held.sort_by_key(|(p, feed, _, _)| (std::cmp::Reverse(*p), feed == id));
            for (_, feed, key, bytes) in held {
                if total <= limit {
                    break;
                }
                if let Some(pages) = map.get_mut(&feed) {
                    pages.remove(&key);
                }
                total -= bytes;
            }
            map.retain(|_, pages| !pages.is_empty());
        }
        map.entry(id.to_string())
            .or_default()
            .insert((kind, page), (generation, rendered.clone()));
        self.entries.store(Arc::new(map));
        rendered
    }

    pub fn clear(&self) {
        let _writer = self.write.lock().unwrap_or_else(|p| p.into_inner());
        self.entries.store(Arc::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn rendered() -> Rendered {
        let t = DateTime::parse_from_rfc3339("2024-02-20T08:45:00Z")
            .unwrap()
            .to_utc();
        Rendered::new(
            "<rss>湖塘</rss>".repeat(100).into_bytes(),
            "application/rss+xml",
            t,
            300,
        )
    }

    #[test]
    fn the_cache_stays_within_its_bytes_and_drops_deep_pages_first() {
        let cache = FeedCache::default();
        let one = rendered().bytes() as u64;
        let limit = one * 3;
        for page in 1..=3 {
            cache.put("a", "rss", page, 7, rendered(), limit);
        }
        cache.put("b", "rss", 1, 7, rendered(), limit);
        // Page 3 of "a" made room for "b"'s first page.
        assert!(cache.get("a", "rss", 3, 7).is_none());
        assert!(cache.get("a", "rss", 1, 7).is_some());
        assert!(cache.get("b", "rss", 1, 7).is_some());
        let held: usize = cache
            .entries
            .load()
            .values()
            .flat_map(|p| p.values())
            .map(|(_, r)| r.bytes())
            .sum();
        assert!(held as u64 <= limit, "{held} > {limit}");
        // A page larger than the whole cache is served, not kept.
        cache.put("c", "rss", 1, 7, rendered(), one - 1);
        assert!(cache.get("c", "rss", 1, 7).is_none());
    }

    #[test]
    fn validators() {
        let r = rendered();
        let mut h = HeaderMap::new();
        assert!(!r.not_modified(&h));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", \"{}-gzip\"", r.etag)).unwrap(),
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

    #[test]
    fn negotiates_and_decompresses_to_the_same_bytes() {
        let r = rendered();
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate"),
        );
        let (coding, body) = r.negotiate(&h);
        assert_eq!(coding, Coding::Gzip);
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, r.body);
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0.5, br"),
        );
        let (coding, body) = r.negotiate(&h);
        assert_eq!(coding, Coding::Brotli);
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap();
        assert_eq!(out, r.body);
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br;q=0, identity"),
        );
        assert_eq!(r.negotiate(&h).0, Coding::Identity);
    }
}
