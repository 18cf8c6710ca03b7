//! What one entry may hold. Every field is validated or clamped once, on the
//! way in, so that no stored entry can break an output format or make a
//! later stage do unbounded work. README "Hostile input" lists the caps.

use chrono::{DateTime, Datelike, Duration, Utc};

/// HTML of an entry's content read; the rest is cut before sanitizing
/// (real articles are under 100 KB; a 15 MB field cost 200 MiB to clean).
pub const MAX_CONTENT_BYTES: usize = 1 << 20;
/// HTML of a summary read.
pub const MAX_SUMMARY_BYTES: usize = 64 << 10;
/// A title as the source wrote it (HTML included), then as plain text.
pub const MAX_TITLE_BYTES: usize = 16 << 10;
pub const MAX_TITLE_CHARS: usize = 1000;
/// Authors, categories and enclosures kept per entry, and their sizes.
pub const MAX_AUTHORS: usize = 20;
pub const MAX_CATEGORIES: usize = 50;
pub const MAX_ENCLOSURES: usize = 20;
pub const MAX_NAME_CHARS: usize = 200;
/// URLs longer than this are dropped (browsers and servers stop near 8 KB).
pub const MAX_URL_BYTES: usize = 4096;
/// A longer guid is replaced by a hash of it (still unique, still stable).
pub const MAX_GUID_BYTES: usize = 1024;
/// A date further ahead than this is a source's mistake: the entry is
/// undated, so outputs show when huiliu first saw it.
pub const MAX_FUTURE: Duration = Duration::days(1);

/// Whether every output format can write `d` (RFC 822 and RFC 3339 need a
/// four-digit year).
pub fn writable(d: DateTime<Utc>) -> bool {
    (1..=9999).contains(&d.year())
}

/// A date as stored: writable and at most [`MAX_FUTURE`] ahead of `now`.
pub fn date(d: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let latest = now.checked_add_signed(MAX_FUTURE).unwrap_or(now);
    d.filter(|d| writable(*d) && *d <= latest)
}

/// The first `max` bytes of `s`, cut on a character boundary.
pub fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to `max` characters.
pub fn chars(mut s: String, max: usize) -> String {
    if let Some((at, _)) = s.char_indices().nth(max) {
        s.truncate(at);
    }
    s
}

/// A URL kept only if it is of a sane length.
pub fn url(u: Option<String>) -> Option<String> {
    u.filter(|u| u.len() <= MAX_URL_BYTES)
}

/// A guid of a sane length: longer ones become `sha256:<hex>` of themselves.
pub fn guid(g: String) -> String {
    if g.len() <= MAX_GUID_BYTES {
        return g;
    }
    use sha2::{Digest, Sha256};
    format!("sha256:{}", super::hex(&Sha256::digest(g.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_outside_what_outputs_write_or_far_ahead_are_dropped() {
        let now = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap();
        let far = DateTime::from_timestamp(3_093_527_980_800, 0); // year 99999
        assert!(far.is_some());
        assert_eq!(date(far, now), None);
        assert_eq!(date(Some(now + Duration::days(2)), now), None);
        let soon = Some(now + Duration::hours(23));
        assert_eq!(date(soon, now), soon);
        let old = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).single();
        assert_eq!(date(old, now), old);
        assert_eq!(
            date(DateTime::from_timestamp(-62_198_755_200, 0), now),
            None
        );
    }

    #[test]
    fn cuts_respect_characters() {
        assert_eq!(head("汇流abc", 4), "汇");
        assert_eq!(head("abc", 10), "abc");
        assert_eq!(chars("汇流abc".into(), 3), "汇流a");
        let long = "g".repeat(MAX_GUID_BYTES + 1);
        assert!(guid(long.clone()).starts_with("sha256:"));
        assert_eq!(guid(long.clone()), guid(long));
        assert_eq!(guid("x".into()), "x");
        assert_eq!(url(Some("h".repeat(MAX_URL_BYTES + 1))), None);
    }
}
