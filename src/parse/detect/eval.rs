//! `huiliu discover-eval DIR`: how well list detection does on saved list
//! pages with hand-checked answers. Each `DIR/*.json` case names a page
//! (`page`, relative to DIR, any charset), the URL it was served at, and the
//! items a reader sees on it (`url`, full `title`, `date` as YYYY-MM-DD in
//! the page's time zone). The page goes through the same detection as
//! `huiliu discover`, the proposed rules through the scraper; an item counts
//! as right when its URL (without a `#fragment`), title and date all match.

use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use crate::parse::decode::decode;
use crate::parse::scrape::parse_list;

#[derive(Deserialize)]
struct Case {
    url: String,
    page: String,
    /// "Now" for year-less and relative dates (default 2024-03-02, Shanghai).
    now: Option<String>,
    timezone: Option<String>,
    items: Vec<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    url: String,
    title: String,
    date: String,
}

/// One page's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub name: String,
    pub expected: usize,
    /// Items with the right URL, title and date.
    pub right: usize,
    /// Items the rules gave that are not on the page's list.
    pub extra: usize,
    /// The item selector proposed (empty: nothing detected).
    pub item: String,
    /// What went wrong, item by item (at most a few).
    pub misses: Vec<String>,
}

/// Runs every case of `dir`, in name order.
pub fn run(dir: &Path) -> Result<Vec<CaseResult>, String> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(format!(
            "{}: no *.json cases (each names a saved list page and its items)",
            dir.display()
        ));
    }
    names.iter().map(|p| run_case(dir, p)).collect()
}

fn run_case(dir: &Path, path: &Path) -> Result<CaseResult, String> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let case: Case = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let page_path = dir.join(&case.page);
    let bytes = std::fs::read(&page_path).map_err(|e| format!("{}: {e}", page_path.display()))?;
    let url = Url::parse(&case.url).map_err(|e| format!("{}: url: {e}", path.display()))?;
    let tz: Tz = case
        .timezone
        .as_deref()
        .unwrap_or("Asia/Shanghai")
        .parse()
        .map_err(|e| format!("{}: timezone: {e}", path.display()))?;
    let now: DateTime<Utc> =
        DateTime::parse_from_rfc3339(case.now.as_deref().unwrap_or("2024-03-02T00:00:00+08:00"))
            .map_err(|e| format!("{}: now: {e}", path.display()))?
            .with_timezone(&Utc);
    let (html, _, _) = decode(&bytes, Some("text/html"), None);
    let mut result = CaseResult {
        name,
        expected: case.items.len(),
        right: 0,
        extra: 0,
        item: String::new(),
        misses: Vec::new(),
    };
    let Some(detected) = super::detect_list(&html, &url) else {
        result.misses.push("no list detected".into());
        return Ok(result);
    };
    result.item = detected.item.clone();
    let Some(rules) = detected.rules() else {
        result
            .misses
            .push("proposed selectors do not compile".into());
        return Ok(result);
    };
    let page = match parse_list(&html, &url, &rules, tz, &[], now) {
        Ok(p) => p,
        Err(e) => {
            result.misses.push(e.to_string());
            return Ok(result);
        }
    };
    // A fragment names a place in the same article: the scraper drops it
    // (two links differing only there are one item), so it is not compared.
    let unfragmented = |u: &str| u.split('#').next().unwrap_or(u).to_string();
    for got in &page.items {
        let Some(want) = case
            .items
            .iter()
            .find(|w| unfragmented(&w.url) == unfragmented(got.link.as_str()))
        else {
            result.extra += 1;
            result.misses.push(format!("extra item {}", got.link));
            continue;
        };
        let date = got
            .date
            .map(|d| d.utc.with_timezone(&tz).format("%Y-%m-%d").to_string());
        let title_ok = got.title.as_deref() == Some(want.title.as_str());
        let date_ok = date.as_deref() == Some(want.date.as_str());
        if title_ok && date_ok {
            result.right += 1;
        } else {
            result.misses.push(format!(
                "{}: title {:?} date {:?} (want {:?}, {})",
                want.url, got.title, date, want.title, want.date
            ));
        }
    }
    result.misses.truncate(6);
    Ok(result)
}
