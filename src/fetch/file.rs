//! `file` sources: a local path read through the same pipeline as HTTP.
//! The file's size and modification time stand in for an ETag, so an
//! unchanged file is "not modified" exactly like a 304.

use std::time::UNIX_EPOCH;

use bytes::Bytes;
use url::Url;

use super::{Body, FetchError, FetchErrorKind, Fetched, Validators};

pub async fn fetch(
    url: &Url,
    validators: &Validators,
    max_bytes: u64,
) -> Result<Fetched, FetchError> {
    let path = url
        .to_file_path()
        .map_err(|_| FetchError::new(FetchErrorKind::File, format!("{url} is not a local path")))?;
    let io_err = |e: std::io::Error| {
        FetchError::new(
            FetchErrorKind::File,
            format!("cannot read {}: {e}", path.display()),
        )
    };
    let meta = tokio::fs::metadata(&path).await.map_err(io_err)?;
    if meta.len() > max_bytes {
        return Err(FetchError::new(
            FetchErrorKind::TooLarge,
            format!(
                "{}: {} bytes, more than the {max_bytes} allowed",
                path.display(),
                meta.len()
            ),
        ));
    }
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let etag = format!("\"file-{}-{mtime}\"", meta.len());
    if validators.etag.as_deref() == Some(etag.as_str()) {
        return Ok(Fetched::NotModified(validators.clone()));
    }
    let bytes = tokio::fs::read(&path).await.map_err(io_err)?;
    Ok(Fetched::Body(Box::new(Body {
        bytes: Bytes::from(bytes),
        content_type: None,
        url: url.clone(),
        validators: Validators {
            etag: Some(etag),
            last_modified: None,
            fresh_for: None,
        },
        moved_permanently: None,
    })))
}
