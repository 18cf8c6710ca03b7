//! `docs/config.md` must cover every key the loader accepts.

use super::load::*;

const DOC: &str = include_str!("../../docs/config.md");

/// The text of the section whose heading contains `heading`, up to the next heading.
fn section(heading: &str) -> &'static str {
    let start = DOC
        .lines()
        .position(|l| l.starts_with('#') && l.contains(heading))
        .unwrap_or_else(|| panic!("docs/config.md has no section for {heading}"));
    let lines: Vec<&str> = DOC.lines().collect();
    let offset: usize = lines[..=start].iter().map(|l| l.len() + 1).sum();
    let rest = &DOC[offset..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn every_config_key_is_documented() {
    let sections: &[(&str, &[&str])] = &[
        ("Configuration reference", TOP_KEYS),
        ("`[server]`", SERVER_KEYS),
        ("`[storage]`", STORAGE_KEYS),
        ("`[fetch]`", FETCH_KEYS),
        ("`[[host]]`", HOST_KEYS),
        ("`[[source]]`", SOURCE_KEYS),
        ("`[source.list]`", LIST_KEYS),
        ("`[source.clean]`", crate::config::CleanSteps::KEYS),
        ("`[source.article]`", ARTICLE_KEYS),
        ("Field tables", FIELD_KEYS),
        ("`[[feed]]`", FEED_KEYS),
        ("`[retention]`", RETENTION_KEYS),
        ("`[dedup]`", DEDUP_KEYS),
    ];
    let mut missing = Vec::new();
    for (heading, keys) in sections {
        let text = section(heading);
        for key in *keys {
            if !text.contains(&format!("`{key}`")) {
                missing.push(format!("{heading}: `{key}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/config.md does not document: {}",
        missing.join(", ")
    );
}

#[test]
fn documented_keys_are_real() {
    // Every key in a table row's first column is accepted somewhere.
    let all: Vec<&str> = [
        TOP_KEYS,
        SERVER_KEYS,
        STORAGE_KEYS,
        FETCH_KEYS,
        HOST_KEYS,
        SOURCE_KEYS,
        LIST_KEYS,
        ARTICLE_KEYS,
        FIELD_KEYS,
        FEED_KEYS,
        RETENTION_KEYS,
        DEDUP_KEYS,
        crate::config::CleanSteps::KEYS,
    ]
    .concat();
    for line in DOC.lines().filter(|l| l.starts_with("| `")) {
        let key = line[3..].split('`').next().unwrap();
        assert!(
            all.contains(&key),
            "docs/config.md documents unknown key `{key}`"
        );
    }
}

#[test]
fn service_keys_load_with_defaults() {
    use std::time::Duration;
    let path = std::path::Path::new("/etc/huiliu/h.toml");
    let cfg = super::load_str("", path).unwrap();
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(10));
    assert_eq!(cfg.retention.prune_interval, Duration::from_secs(3600));
    assert_eq!(cfg.retention.batch_size, 500);
    assert!(!cfg.retention.defaults.is_set());
    let cfg = super::load_str(
        "[server]\nshutdown_grace = \"30s\"\n[retention]\nprune_interval = \"0s\"\nbatch_size = 50\n[[source]]\nid = \"a\"\nurl = \"https://example.org/f\"\nretention_count = 10\n[[feed]]\nid = \"f\"\nretention_days = 7\n",
        path,
    )
    .unwrap();
    assert_eq!(cfg.server.shutdown_grace, Duration::from_secs(30));
    assert!(cfg.retention.prune_interval.is_zero());
    assert_eq!(cfg.retention.batch_size, 50);
    assert_eq!(cfg.sources[0].retention.count, Some(10));
    assert_eq!(cfg.feeds[0].retention.days, Some(7));
    let err = super::load_str("[retention]\nprune_intervall = \"1h\"\n", path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `prune_interval`"), "{err}");
}
