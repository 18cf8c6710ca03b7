//! `[[feed]]` tables: the published outputs and their filters.

use super::*;

pub(crate) const FEED_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "sources",
    "tags",
    "limit",
    "include",
    "exclude",
    "match",
    "language",
    "max_age",
    "timezone",
    "dedup",
    "retention_days",
    "retention_count",
];

impl Loader<'_> {
    pub(super) fn feed(
        &mut self,
        sect: Section<'_>,
        sources: &[Arc<SourceConfig>],
    ) -> Option<FeedConfig> {
        self.unknown_keys(sect, FEED_KEYS);
        let path = sect.path;
        let id = self.id(sect)?;
        let title = self
            .string(sect, "title")
            .map(|(s, _)| s)
            .unwrap_or_else(|| id.clone());
        let description = self
            .string(sect, "description")
            .map(|(s, _)| s)
            .unwrap_or_default();
        let limit = self.int(sect, "limit", 1, 10_000).unwrap_or(50) as usize;

        // Sets, not list scans: an output may name 10,000 sources.
        let known: HashSet<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        let mut seen: HashSet<String> = HashSet::new();
        let mut selected: Vec<String> = Vec::new();
        let named = self.strings(sect, "sources");
        let tags = self.strings(sect, "tags");
        for name in named.iter().flatten() {
            if known.contains(name.as_str()) {
                if seen.insert(name.clone()) {
                    selected.push(name.clone());
                }
            } else {
                let span = self.value_span(sect, "sources");
                self.error(
                    span,
                    &format!("{path}.sources"),
                    format!("unknown source `{name}`: no [[source]] has this id"),
                );
            }
        }
        for tag in tags.iter().flatten() {
            let matching: Vec<&Arc<SourceConfig>> =
                sources.iter().filter(|s| s.tags.contains(tag)).collect();
            if matching.is_empty() {
                let span = self.value_span(sect, "tags");
                self.error(
                    span,
                    &format!("{path}.tags"),
                    format!("no source has the tag `{tag}`"),
                );
            }
            for s in matching {
                if seen.insert(s.id.clone()) {
                    selected.push(s.id.clone());
                }
            }
        }
        if named.is_none() && tags.is_none() {
            // An output that names nothing publishes every source.
            selected = sources.iter().map(|s| s.id.clone()).collect();
        }
        let filter = self.entry_filter(sect);
        let timezone = match self.string(sect, "timezone") {
            Some((text, span)) => text.parse::<Tz>().unwrap_or_else(|_| {
                self.error(
                    span,
                    &format!("{path}.timezone"),
                    format!("unknown time zone `{text}`"),
                );
                Tz::UTC
            }),
            // The page shows times where the first source is.
            None => selected
                .first()
                .and_then(|id| sources.iter().find(|s| &s.id == id))
                .map_or(Tz::UTC, |s| s.timezone),
        };
        let dedup = match self.lookup(sect, "dedup") {
            None => true,
            Some((item, span)) => item.as_bool().unwrap_or_else(|| {
                self.error(span, &format!("{path}.dedup"), "must be true or false");
                true
            }),
        };
        let retention = self.retention(sect);
        Some(FeedConfig {
            id,
            title,
            description,
            sources: selected,
            limit,
            filter,
            timezone,
            dedup,
            retention,
        })
    }

    pub(super) fn entry_filter(&mut self, sect: Section<'_>) -> EntryFilter {
        let path = sect.path;
        let matchers = |loader: &mut Self, key: &str| -> Vec<Matcher> {
            let list = loader.strings(sect, key).unwrap_or_default();
            let span = loader.value_span(sect, key);
            list.iter()
                .filter_map(|t| match Matcher::parse(t) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        loader.error(span.clone(), &format!("{path}.{key}"), e);
                        None
                    }
                })
                .collect()
        };
        let include = matchers(self, "include");
        let exclude = matchers(self, "exclude");
        let fields = match self.strings(sect, "match") {
            None => vec![
                MatchField::Title,
                MatchField::Content,
                MatchField::Author,
                MatchField::Category,
            ],
            Some(names) => {
                let span = self.value_span(sect, "match");
                names
                    .iter()
                    .filter_map(|n| match n.as_str() {
                        "title" => Some(MatchField::Title),
                        "content" => Some(MatchField::Content),
                        "author" => Some(MatchField::Author),
                        "category" => Some(MatchField::Category),
                        other => {
                            self.error(
                                span.clone(),
                                &format!("{path}.match"),
                                format!("unknown field `{other}`: use title, content, author or category"),
                            );
                            None
                        }
                    })
                    .collect()
            }
        };
        let languages = self
            .strings(sect, "language")
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.to_ascii_lowercase())
            .collect();
        let max_age = self.duration(sect, "max_age");
        EntryFilter {
            include,
            exclude,
            fields,
            languages,
            max_age,
        }
    }

    // ---- typed getters ----
}
