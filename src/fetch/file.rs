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
    // Messages name the file, not the folders it is in: a status page shows them.
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let io_err = |e: std::io::Error| {
        FetchError::new(
            FetchErrorKind::File,
            format!("cannot read the file {name:?}: {}", io_reason(&e)),
        )
    };
    let meta = tokio::fs::metadata(&path).await.map_err(io_err)?;
    if meta.len() > max_bytes {
        return Err(FetchError::new(
            FetchErrorKind::TooLarge,
            format!(
                "the file {name:?}: {} bytes, more than the {max_bytes} allowed",
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

/// The OS error without anything it may quote of the path.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a folder".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_name_the_file_not_its_folders() {
        let url = Url::from_file_path("/srv/private/feeds/missing.xml").unwrap();
        let e = fetch(&url, &Validators::default(), 1000).await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::File);
        assert!(e.message.contains("\"missing.xml\""), "{}", e.message);
        assert!(!e.message.contains("/srv/private"), "{}", e.message);
    }
}
