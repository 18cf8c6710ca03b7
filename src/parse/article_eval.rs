//! `huiliu bench articles DIR`: the selector-free extraction measured on a
//! folder of real pages (`truth.jsonl` + `<id>.html`, the layout of
//! `articles-zh/`). Every page goes the way an `html` source's article page
//! goes — decode, [`parse_article`] without rules, normalize — and the
//! predictions are written for the folder's own scorer; dates and authors
//! are checked against a small label file of our own (page ids only).

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use super::RawEntry;
use super::decode::decode;
use super::scrape::parse_article;
use crate::config::{SourceConfig, SourceKind};

/// One page of the truth file (only what the evaluation needs).
#[derive(Debug, Deserialize)]
struct Truth {
    id: String,
    url: String,
}

/// Our own labels for a page: its publication time (local, `YYYY-MM-DD` or
/// `YYYY-MM-DD HH:MM`) and its authors (empty: the page names none).
#[derive(Debug, Deserialize)]
pub struct Label {
    pub id: String,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub authors: Option<Vec<String>>,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// What huiliu read from one page.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub id: String,
    pub title: String,
    pub body: String,
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub origin: Option<String>,
    pub seconds: f64,
}

/// Date and author accuracy over the labelled pages.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LabelScore {
    pub dates: usize,
    pub dates_right: usize,
    pub authors: usize,
    pub authors_right: usize,
    /// `id: expected / got` of the misses, for reading.
    pub misses: Vec<String>,
}

/// Reads one page as an `html` source without `[source.article]` would.
pub fn extract_page(id: &str, bytes: &[u8], url: &Url, tz: Tz) -> Prediction {
    let started = Instant::now();
    let (text, _, _) = decode(bytes, None, None);
    let page = parse_article(&text, url, None, tz, &[], Utc::now());
    let raw = RawEntry {
        link: Some(url.to_string()),
        base: page.base.clone(),
        title: page.title.clone(),
        content_html: page.content_html.clone(),
        authors: page.authors.clone(),
        published: page.date.map(|d| d.utc),
        origin: page.origin.clone(),
        ..RawEntry::default()
    };
    let mut source = SourceConfig::new("bench", SourceKind::Html, url.clone());
    source.timezone = tz;
    let e = crate::normalize::normalize_entry(&raw, &source, url, None);
    Prediction {
        id: id.to_string(),
        title: e.title,
        body: e.text,
        published: e.published,
        authors: e.authors.into_iter().map(|a| a.name).collect(),
        origin: e.origin,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Extracts every page of `dir` listed in its `truth.jsonl`.
pub fn run(dir: &Path, tz: Tz) -> Result<Vec<Prediction>, String> {
    let truth_path = dir.join("truth.jsonl");
    let text = std::fs::read_to_string(&truth_path)
        .map_err(|e| format!("cannot read {}: {e}", truth_path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let t: Truth = serde_json::from_str(line)
            .map_err(|e| format!("{}:{}: {e}", truth_path.display(), n + 1))?;
        let page = dir.join(format!("{}.html", t.id));
        let bytes =
            std::fs::read(&page).map_err(|e| format!("cannot read {}: {e}", page.display()))?;
        let url = Url::parse(&t.url)
            .or_else(|_| Url::parse(&format!("http://bench.invalid/{}", t.id)))
            .map_err(|e| format!("{}:{}: url: {e}", truth_path.display(), n + 1))?;
        out.push(extract_page(&t.id, &bytes, &url, tz));
    }
    Ok(out)
}

/// CPU time this thread has used so far (`CLOCK_THREAD_CPUTIME_ID`), for
/// a pages/s figure that a loaded machine does not distort.
pub fn thread_cpu_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

/// The predictions as the scorer reads them: `{"id","title","body","seconds"}` a line.
pub fn predictions_jsonl(preds: &[Prediction]) -> String {
    let mut out = String::new();
    for p in preds {
        let line = serde_json::json!({
            "id": p.id, "title": p.title, "body": p.body, "seconds": p.seconds,
            "published": p.published.map(|d| d.to_rfc3339()),
            "authors": p.authors, "origin": p.origin,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// Reads a label file (JSON Lines).
pub fn read_labels(text: &str) -> Result<Vec<Label>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
        .collect()
}

/// A date is right when its local day (and minute, when the label has one)
/// is the label's; authors are right when the names are the label's, in any order.
pub fn score_labels(preds: &[Prediction], labels: &[Label], default_tz: Tz) -> LabelScore {
    let by_id: HashMap<&str, &Prediction> = preds.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut s = LabelScore::default();
    for l in labels {
        let Some(p) = by_id.get(l.id.as_str()) else {
            continue;
        };
        let tz: Tz = l
            .timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(default_tz);
        if let Some(want) = &l.date {
            s.dates += 1;
            let fmt = if want.len() > 10 {
                "%Y-%m-%d %H:%M"
            } else {
                "%Y-%m-%d"
            };
            let got = p
                .published
                .map(|d| d.with_timezone(&tz).format(fmt).to_string());
            if got.as_deref() == Some(want.as_str()) {
                s.dates_right += 1;
            } else {
                s.misses.push(format!(
                    "{} date: {want} / {}",
                    l.id,
                    got.unwrap_or("-".into())
                ));
            }
        }
        if let Some(want) = &l.authors {
            if want.is_empty() && p.authors.is_empty() {
                continue; // nothing to find, nothing found: not counted
            }
            s.authors += 1;
            let mut a = want.clone();
            let mut b = p.authors.clone();
            a.sort();
            b.sort();
            if a == b {
                s.authors_right += 1;
            } else {
                s.misses
                    .push(format!("{} authors: {want:?} / {:?}", l.id, p.authors));
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_score_dates_by_local_day_and_authors_as_sets() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let preds = vec![
            Prediction {
                id: "a".into(),
                title: String::new(),
                body: String::new(),
                published: Some(at("2024-05-15T00:30:00+08:00")),
                authors: vec!["李四".into(), "张三".into()],
                origin: None,
                seconds: 0.0,
            },
            Prediction {
                id: "b".into(),
                title: String::new(),
                body: String::new(),
                published: Some(at("2024-05-15T10:21:00+08:00")),
                authors: vec![],
                origin: None,
                seconds: 0.0,
            },
        ];
        let labels = read_labels(
            "{\"id\":\"a\",\"date\":\"2024-05-15\",\"authors\":[\"张三\",\"李四\"]}\n\
             {\"id\":\"b\",\"date\":\"2024-05-15 10:22\",\"authors\":[\"王五\"]}\n\
             {\"id\":\"missing\",\"date\":\"2024-01-01\"}\n",
        )
        .unwrap();
        let s = score_labels(&preds, &labels, Tz::Asia__Shanghai);
        assert_eq!((s.dates, s.dates_right), (2, 1));
        assert_eq!((s.authors, s.authors_right), (2, 1));
        assert_eq!(s.misses.len(), 2, "{:?}", s.misses);
    }

    #[test]
    fn thread_cpu_time_moves_forward_with_work() {
        let before = thread_cpu_seconds().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let after = thread_cpu_seconds().unwrap();
        assert!(after > before, "{before} -> {after}");
    }
}
