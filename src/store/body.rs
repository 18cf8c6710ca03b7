//! An entry's body (summary, content HTML, plain text) as one stored value:
//! the three texts framed and LZ4-compressed together. They are most of an
//! entry's bytes and mostly repeat each other (the plain text is the
//! content without its tags, a summary its opening), which one compressed
//! block stores once: on the scale bench an entry's row is a third of what
//! the three plain columns took, and an import writes a third of the bytes.
//!
//! Rows written before the `body` column keep their plain columns, and are
//! read as they are.

use super::StoreError;

/// The first byte of a stored body: the framing below, LZ4 block with its
/// decompressed size prepended (little-endian u32).
const FORMAT: u8 = 1;

/// The largest body a stored value may claim to hold: far above what a
/// poll accepts (`fetch.max_body_size`), so only a corrupt value meets it,
/// and is refused before its size is allocated.
const MAX_DECODED: usize = 256 << 20;

/// The texts of an entry's body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Body {
    pub summary: Option<String>,
    pub content: Option<String>,
    pub text: String,
}

/// Encodes the three texts as one stored value.
pub(super) fn encode(summary: Option<&str>, content: Option<&str>, text: &str) -> Vec<u8> {
    let len = 15 + summary.map_or(0, str::len) + content.map_or(0, str::len) + text.len();
    let mut framed = Vec::with_capacity(len);
    for part in [summary, content, Some(text)] {
        match part {
            // A length of u32::MAX marks "absent" (a text that long is
            // never stored: polls are bounded far below it).
            None => framed.extend_from_slice(&u32::MAX.to_le_bytes()),
            Some(s) => {
                let n = u32::try_from(s.len()).unwrap_or(u32::MAX - 1);
                framed.extend_from_slice(&n.to_le_bytes());
                framed.extend_from_slice(&s.as_bytes()[..n as usize]);
            }
        }
    }
    let mut out = Vec::with_capacity(1 + 4 + framed.len() / 2);
    out.push(FORMAT);
    out.extend_from_slice(&lz4_flex::block::compress_prepend_size(&framed));
    out
}

/// Decodes a stored value written by [`encode`].
pub(super) fn decode(stored: &[u8]) -> Result<Body, StoreError> {
    let bad = |why: &str| StoreError(format!("stored entry body unreadable: {why}"));
    let (&format, block) = stored.split_first().ok_or_else(|| bad("empty"))?;
    if format != FORMAT {
        return Err(bad(&format!(
            "format {format} is unknown (written by a newer huiliu?)"
        )));
    }
    let size = block
        .get(..4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
        .ok_or_else(|| bad("truncated"))?;
    if size > MAX_DECODED {
        return Err(bad("it claims an impossible size"));
    }
    let framed =
        lz4_flex::block::decompress_size_prepended(block).map_err(|e| bad(&e.to_string()))?;
    let mut rest = framed.as_slice();
    let mut part = || -> Result<Option<String>, StoreError> {
        let (head, tail) = rest.split_at_checked(4).ok_or_else(|| bad("truncated"))?;
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
        if n == u32::MAX {
            rest = tail;
            return Ok(None);
        }
        let (s, tail) = tail
            .split_at_checked(n as usize)
            .ok_or_else(|| bad("truncated"))?;
        rest = tail;
        String::from_utf8(s.to_vec())
            .map(Some)
            .map_err(|_| bad("not UTF-8"))
    };
    let summary = part()?;
    let content = part()?;
    let text = part()?.unwrap_or_default();
    Ok(Body {
        summary,
        content,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_texts_come_back_as_they_went_in() {
        for (summary, content, text) in [
            (None, None, ""),
            (Some(""), Some(""), ""),
            (
                Some("湖塘镇召开会议"),
                Some("<p>湖塘镇召开会议，部署冬训工作。</p>"),
                "湖塘镇召开会议，部署冬训工作。",
            ),
            (None, Some("<p>only content</p>"), "only content"),
        ] {
            let stored = encode(summary, content, text);
            let body = decode(&stored).expect("decodes");
            assert_eq!(body.summary.as_deref(), summary);
            assert_eq!(body.content.as_deref(), content);
            assert_eq!(body.text, text);
        }
    }

    #[test]
    fn a_body_repeated_as_content_and_text_is_stored_about_once() {
        let text: String = (0..200)
            .map(|i| format!("Sentence {i} of the council's report on the harbour. "))
            .collect();
        let content = format!("<p>{text}</p>");
        let stored = encode(Some(&text[..200]), Some(&content), &text);
        assert!(
            stored.len() < text.len() / 2,
            "{} bytes stored for a text of {}",
            stored.len(),
            text.len()
        );
    }

    #[test]
    fn a_damaged_value_is_an_error_not_a_panic_or_a_huge_allocation() {
        let good = encode(Some("s"), Some("<p>c</p>"), "c");
        assert!(decode(&[]).is_err());
        assert!(decode(&[9]).is_err(), "unknown format");
        assert!(decode(&good[..3]).is_err(), "truncated size");
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err(), "impossible size");
        for cut in 5..good.len() {
            assert!(decode(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        let _ = decode(&flipped); // any answer, as long as it returns
    }
}
