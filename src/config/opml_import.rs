//! `huiliu import-opml`: appends the feeds of an OPML file to the config as
//! `[[source]]` tables, keeping the file's comments and layout (toml_edit).

use std::collections::HashSet;
use std::path::Path;

use quick_xml::events::Event;
use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};

/// One `<outline xmlUrl=…>` of an OPML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpmlFeed {
    pub title: String,
    pub xml_url: String,
    /// Enclosing outline texts, used as tags.
    pub folders: Vec<String>,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    /// (id, url) of each source added.
    pub added: Vec<(String, String)>,
    /// (url, reason) of each feed left out.
    pub skipped: Vec<(String, String)>,
}

/// Reads the feed outlines of an OPML document.
pub fn parse_opml(text: &str) -> Result<Vec<OpmlFeed>, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut feeds = Vec::new();
    let mut folders: Vec<Option<String>> = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not valid OPML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if e.local_name().as_ref() == "outline" => {
                let mut title = None;
                let mut text_attr = None;
                let mut xml_url = None;
                for attr in e.attributes().flatten() {
                    let v = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    match attr.key.local_name().as_ref() {
                        "title" => title = Some(v),
                        "text" => text_attr = Some(v),
                        "xmlUrl" | "xmlurl" => xml_url = Some(v),
                        _ => {}
                    }
                }
                let name = title.or(text_attr).unwrap_or_default();
                if let Some(url) = xml_url.filter(|u| !u.trim().is_empty()) {
                    feeds.push(OpmlFeed {
                        title: name.clone(),
                        xml_url: url.trim().to_string(),
                        folders: folders.iter().flatten().cloned().collect(),
                    });
                }
                if matches!(event, Event::Start(_)) {
                    folders.push(Some(name).filter(|n| !n.is_empty()));
                }
            }
            Event::End(ref e) if e.local_name().as_ref() == "outline" => {
                folders.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(feeds)
}

/// A slug for a feed: from its title if ASCII enough, else from its host.
fn slug_for(feed: &OpmlFeed) -> String {
    let from = |s: &str| -> String {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        out.trim_matches('-').chars().take(40).collect()
    };
    let t = from(&feed.title);
    if t.len() >= 3 {
        return t;
    }
    let host = url::Url::parse(&feed.xml_url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_string())
        })
        .unwrap_or_default();
    let h = from(&host);
    if h.is_empty() { "feed".into() } else { h }
}

/// Appends the feeds of `opml` to the config at `config_path`.
pub fn import_opml(config_path: &Path, opml: &str) -> Result<ImportReport, String> {
    let feeds = parse_opml(opml)?;
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("{} is not valid TOML: {e}", config_path.display()))?;
    let mut report = ImportReport::default();
    let mut ids: HashSet<String> = HashSet::new();
    let mut urls: HashSet<String> = HashSet::new();
    if let Some(aot) = doc.get("source").and_then(Item::as_array_of_tables) {
        for t in aot.iter() {
            if let Some(id) = t.get("id").and_then(Item::as_str) {
                ids.insert(id.to_string());
            }
            if let Some(u) = t.get("url").and_then(Item::as_str) {
                urls.insert(u.to_string());
            }
        }
    }
    let mut new_tables = Vec::new();
    for feed in feeds {
        let url = match url::Url::parse(&feed.xml_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u.to_string(),
            _ => {
                report
                    .skipped
                    .push((feed.xml_url.clone(), "not an http(s) URL".into()));
                continue;
            }
        };
        if !urls.insert(url.clone()) {
            report.skipped.push((url, "already configured".into()));
            continue;
        }
        let base = slug_for(&feed);
        let mut id = base.clone();
        let mut n = 2;
        while ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        ids.insert(id.clone());
        let mut t = Table::new();
        t["id"] = value(id.clone());
        if !feed.title.is_empty() {
            t["name"] = value(feed.title.clone());
        }
        t["url"] = value(url.clone());
        if !feed.folders.is_empty() {
            let mut tags = Array::new();
            for f in &feed.folders {
                tags.push(f.as_str());
            }
            t["tags"] = value(tags);
        }
        new_tables.push(t);
        report.added.push((id, url));
    }
    if new_tables.is_empty() {
        return Ok(report);
    }
    match doc.get_mut("source") {
        Some(item) => match item.as_array_of_tables_mut() {
            Some(aot) => new_tables.into_iter().for_each(|t| aot.push(t)),
            None => return Err("`source` in the config is not an array of tables".into()),
        },
        None => {
            let mut aot = ArrayOfTables::new();
            new_tables.into_iter().for_each(|t| aot.push(t));
            doc["source"] = Item::ArrayOfTables(aot);
        }
    }
    // Validate before writing: never leave a config huiliu would refuse.
    let new_text = doc.to_string();
    if let Err(errors) = super::load_str(&new_text, config_path) {
        return Err(format!(
            "the imported config would be invalid, nothing written:\n{errors}"
        ));
    }
    let tmp = config_path.with_extension("toml.tmp");
    std::fs::write(&tmp, &new_text)
        .and_then(|_| std::fs::rename(&tmp, config_path))
        .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPML: &str = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
<outline text="Wujin">
  <outline type="rss" text="武进日报" xmlUrl="https://wjrb.example.org/atom.xml"/>
  <outline type="rss" text="High-tech Zone News" title="High-tech Zone News" xmlUrl="https://www.wjhtz.example.org/rss.xml"/>
</outline>
<outline type="rss" text="Dup" xmlUrl="https://example.org/feed"/>
<outline type="rss" text="Bad" xmlUrl="ftp://example.org/feed"/>
</body></opml>"#;

    #[test]
    fn parses_nested_outlines() {
        let feeds = parse_opml(OPML).unwrap();
        assert_eq!(feeds.len(), 4);
        assert_eq!(feeds[0].folders, vec!["Wujin".to_string()]);
        assert!(feeds[2].folders.is_empty());
        assert!(
            parse_opml("<opml><body><outline").is_err()
                || parse_opml("<opml><body><outline").unwrap().is_empty()
        );
    }

    #[test]
    fn appends_sources_keeping_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.toml");
        std::fs::write(
            &path,
            "# my precious comment\n[[source]]\nid = \"example\"  # inline comment\nurl = \"https://example.org/feed\"\n",
        )
        .unwrap();
        let report = import_opml(&path, OPML).unwrap();
        assert_eq!(report.added.len(), 2, "{report:?}");
        assert_eq!(report.skipped.len(), 2, "{report:?}");
        assert_eq!(report.added[1].0, "high-tech-zone-news");
        assert_eq!(report.added[0].0, "wjrb-example-org");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# my precious comment") && text.contains("# inline comment"));
        let cfg = crate::config::load_file(&path).unwrap();
        assert_eq!(cfg.sources.len(), 3);
        assert_eq!(cfg.sources[1].tags, vec!["Wujin".to_string()]);
        // Importing again adds nothing.
        let again = import_opml(&path, OPML).unwrap();
        assert!(again.added.is_empty());
    }
}
