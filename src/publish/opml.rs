//! OPML 2.0 of the configured sources and of the merged outputs.

use chrono::{DateTime, Utc};

use super::escape as esc;
use crate::config::{Config, SourceKind};

/// The sources (feeds and scraped pages; local files are nobody's business)
/// and the outputs as subscribable feeds.
pub fn render(config: &Config, now: DateTime<Utc>) -> Vec<u8> {
    let base = config.server.base_url.as_str().trim_end_matches('/');
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n",
    );
    out.push_str(&format!(
        "  <title>huiliu sources</title>\n  <dateCreated>{}</dateCreated>\n  <docs>http://opml.org/spec2.opml</docs>\n</head>\n<body>\n",
        now.to_rfc2822()
    ));
    out.push_str("  <outline text=\"Sources\" title=\"Sources\">\n");
    for s in &config.sources {
        let name = esc(&s.name);
        let url = esc(&crate::redact::url(&s.url));
        let category = if s.tags.is_empty() {
            String::new()
        } else {
            format!(" category=\"{}\"", esc(&s.tags.join(",")))
        };
        match s.kind() {
            SourceKind::Feed => out.push_str(&format!(
                "    <outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{url}\"{category}/>\n"
            )),
            SourceKind::Html => out.push_str(&format!(
                "    <outline type=\"link\" text=\"{name}\" title=\"{name}\" url=\"{url}\" htmlUrl=\"{url}\"{category}/>\n"
            )),
            SourceKind::File => {}
        }
    }
    out.push_str("  </outline>\n  <outline text=\"Merged feeds\" title=\"Merged feeds\">\n");
    for f in &config.feeds {
        let title = esc(&f.title);
        let id = esc(&f.id);
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{base}/feeds/{id}.rss\" htmlUrl=\"{base}/feeds/{id}.html\"/>\n"
        ));
    }
    out.push_str("  </outline>\n</body>\n</opml>\n");
    out.into_bytes()
}
