//! Batch evaluation over the labeled JSON Lines corpus format.

use super::engine::{DedupRecord, Engine};
use super::verify::DedupConfig;
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvalError {
    /// 1-based line number and what is wrong with it.
    Line(usize, String),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Line(n, m) => write!(f, "line {n}: {m}"),
        }
    }
}

impl std::error::Error for EvalError {}

/// Parses RFC 3339 (`2024-01-23T15:48:00+08:00`, `Z`, optional fraction)
/// into unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = std::str::from_utf8(b.get(r)?).ok()?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || !(1..=12).contains(&mo)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    let off = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() => {
            let v = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - off)
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v.get(k)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_string()
}

/// Parses JSON Lines (`id`, `source`, `url`, `title`, `published`, `content`).
pub fn parse_jsonl(input: &str) -> Result<Vec<DedupRecord>, EvalError> {
    let mut out = Vec::new();
    for (n, line) in input.lines().enumerate() {
        let n = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| EvalError::Line(n, e.to_string()))?;
        let id = v
            .get("id")
            .and_then(|x| x.as_str())
            .ok_or_else(|| EvalError::Line(n, "missing string field `id`".into()))?;
        let published = match v.get("published") {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => {
                let s = p
                    .as_str()
                    .ok_or_else(|| EvalError::Line(n, "`published` is not a string".into()))?;
                Some(
                    parse_rfc3339(s)
                        .ok_or_else(|| EvalError::Line(n, format!("bad RFC 3339 date {s:?}")))?,
                )
            }
        };
        out.push(DedupRecord {
            id: id.to_string(),
            source: field(&v, "source"),
            url: field(&v, "url"),
            title: field(&v, "title"),
            text: field(&v, "content"),
            published,
            priority: 0,
        });
    }
    Ok(out)
}

/// Clusters a labeled corpus: record id → cluster id.
pub fn eval_jsonl(input: &str, cfg: &DedupConfig) -> Result<BTreeMap<String, String>, EvalError> {
    let recs = parse_jsonl(input)?;
    let mut engine = Engine::with_capacity(cfg.clone(), recs.len());
    for r in recs {
        engine.insert(r);
    }
    let mut out = BTreeMap::new();
    for c in engine.clusters() {
        for m in c.members {
            out.insert(m, c.id.clone());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-01-23T15:48:00+08:00"),
            Some(1_705_996_080)
        );
        assert_eq!(parse_rfc3339("2024-01-23T07:48:00.5Z"), Some(1_705_996_080));
        assert_eq!(parse_rfc3339("2024-13-23T07:48:00Z"), None);
    }

    #[test]
    fn bad_line_is_named() {
        let err = eval_jsonl("{\"id\":\"a\"}\n{oops\n", &DedupConfig::default());
        assert!(matches!(err, Err(EvalError::Line(2, _))));
    }
}
