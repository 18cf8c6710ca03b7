//! Which stored entries an output shows: its `include`/`exclude` keywords or
//! regexes, languages and maximum age.

use chrono::{DateTime, Utc};

use crate::config::{EntryFilter, MatchField};
use crate::model::StoredEntry;

/// True when `filter` keeps the entry.
pub fn keep(filter: &EntryFilter, stored: &StoredEntry, now: DateTime<Utc>) -> bool {
    let e = &stored.entry;
    if let Some(max_age) = filter.max_age {
        let age = now - stored.published();
        if age.to_std().is_ok_and(|a| a > max_age) {
            return false;
        }
    }
    if !filter.languages.is_empty() {
        let lang = e.language.as_deref().unwrap_or("").to_ascii_lowercase();
        if !filter
            .languages
            .iter()
            .any(|l| lang == *l || lang.starts_with(&format!("{l}-")))
        {
            return false;
        }
    }
    if filter.include.is_empty() && filter.exclude.is_empty() {
        return true;
    }
    let mut haystacks: Vec<String> = Vec::new();
    for field in &filter.fields {
        match field {
            MatchField::Title => haystacks.push(e.title.clone()),
            MatchField::Content => haystacks.push(e.text.clone()),
            MatchField::Author => haystacks.extend(e.authors.iter().map(|a| a.name.clone())),
            MatchField::Category => haystacks.extend(e.categories.iter().cloned()),
        }
    }
    let matches = |m: &crate::config::Matcher| haystacks.iter().any(|h| m.is_match(h));
    if filter.exclude.iter().any(matches) {
        return false;
    }
    filter.include.is_empty() || filter.include.iter().any(matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Matcher;
    use crate::model::{Author, Entry};

    fn stored(title: &str, text: &str, lang: &str, days_old: i64) -> StoredEntry {
        let now = Utc::now();
        StoredEntry {
            entry: Entry {
                id: "x".into(),
                source_id: "s".into(),
                key: "k".into(),
                guid: None,
                url: None,
                title: title.into(),
                authors: vec![Author::named("丁涛")],
                summary: None,
                content: None,
                text: text.into(),
                published: Some(now - chrono::Duration::days(days_old)),
                updated: None,
                language: Some(lang.into()),
                categories: vec!["园区动态".into()],
                enclosures: vec![],
                origin: None,
                content_hash: String::new(),
            },
            first_seen: now,
            changed_at: now,
            cluster: None,
        }
    }

    fn filter() -> EntryFilter {
        EntryFilter {
            fields: vec![
                MatchField::Title,
                MatchField::Content,
                MatchField::Author,
                MatchField::Category,
            ],
            ..EntryFilter::default()
        }
    }

    #[test]
    fn include_exclude_regex_language_age() {
        let now = Utc::now();
        let e = stored("春风行动招聘会", "岗位5000余个", "zh-cn", 1);
        assert!(keep(&filter(), &e, now));
        let mut f = filter();
        f.include = vec![Matcher::parse("招聘").unwrap()];
        assert!(keep(&f, &e, now));
        f.exclude = vec![Matcher::parse("/岗位\\d+/").unwrap()];
        assert!(!keep(&f, &e, now));
        let mut f = filter();
        f.include = vec![Matcher::parse("丁涛").unwrap()];
        assert!(keep(&f, &e, now));
        f.fields = vec![MatchField::Title];
        assert!(!keep(&f, &e, now));
        let mut f = filter();
        f.languages = vec!["zh".into()];
        assert!(keep(&f, &e, now));
        f.languages = vec!["en".into()];
        assert!(!keep(&f, &e, now));
        let mut f = filter();
        f.max_age = Some(std::time::Duration::from_secs(3600));
        assert!(!keep(&f, &e, now));
        let mut f = filter();
        f.include = vec![Matcher::parse("SPRING").unwrap()];
        assert!(keep(&f, &stored("Spring job fair", "", "en", 0), now));
    }
}
