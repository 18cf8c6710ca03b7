//! Generated hostile inputs, fixed seeds and counts (so a run takes a few
//! seconds and a failure replays): decoding, feed parsing, dates, scraping
//! and sanitizing must never panic, and what they return stays bounded.
//! Set `HUILIU_FUZZ_CASES` for a longer run.

use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use huiliu::config::{FieldRule, ListRules, SourceConfig, SourceKind};
use huiliu::normalize::{html, nesting, normalize_feed};
use huiliu::parse::{cut, decode, parse_feed, scrape};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use url::Url;

fn cases() -> usize {
    std::env::var("HUILIU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// Runs `check` on `cases()` inputs from `generate`; every panic is counted
/// and the first inputs that panicked are shown.
fn fuzz(seed: u64, generate: impl Fn(&mut StdRng) -> String, check: impl Fn(&str)) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut failures = Vec::new();
    for _ in 0..cases() {
        let input = generate(&mut rng);
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            failures.push(input);
        }
    }
    if let (Some(first), Ok(path)) = (failures.first(), std::env::var("HUILIU_FUZZ_DUMP")) {
        let _ = std::fs::write(path, first);
    }
    let shown: Vec<String> = failures
        .iter()
        .take(3)
        .map(|f| f.chars().take(300).collect())
        .collect();
    assert!(
        failures.is_empty(),
        "{} panics, e.g. {shown:#?}",
        failures.len()
    );
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

const TAGS: &[&str] = &[
    "div", "p", "span", "b", "i", "a", "table", "tr", "td", "th", "tbody", "ul", "ol", "li", "img",
    "br", "video", "audio", "source", "script", "style", "svg", "math", "font", "font", "select",
    "option", "template", "textarea", "title", "iframe", "noscript", "h1", "pre", "form", "button",
    "x-y", "html", "body", "head", "dl", "dt", "dd", "object", "marquee", "caption", "nobr",
];

/// Markup soup: random start/end tags, attributes with quotes and `>`,
/// comments, entities, CJK text, stray `<`, some runs nested very deep.
fn soup(rng: &mut StdRng) -> String {
    let mut out = String::new();
    for _ in 0..rng.random_range(1..120) {
        let tag = pick(rng, TAGS);
        match rng.random_range(0..12) {
            0..=3 => {
                let attr = pick(
                    rng,
                    &[
                        "",
                        " class=\"a>b\"",
                        " href='javascript:x'",
                        " id=x/",
                        " src=\"/i.png\"",
                        " x=\"unterminated",
                        " style=\"a:b\"",
                    ],
                );
                out.push_str(&format!("<{tag}{attr}>"));
            }
            4..=5 => out.push_str(&format!("</{tag}>")),
            6 => out.push_str(&format!("<{tag}/>")),
            7 => out.push_str(pick(
                rng,
                &[
                    "<!-- c -->",
                    "<!--",
                    "<!doctype html>",
                    "<?x?>",
                    "<![CDATA[x]]>",
                    "</>",
                    "< a",
                    "<3",
                    "&amp;&#0;&#xFFFFFF;&nbsp;",
                ],
            )),
            8 => {
                let n = rng.random_range(100..1500);
                out.push_str(&format!("<{tag}>").repeat(n));
            }
            _ => out.push_str(pick(
                rng,
                &[
                    "文本",
                    "text ",
                    "\u{0}\u{1}\u{feff}",
                    "　　全角",
                    "\n",
                    "发布时间：2024-01-02",
                ],
            )),
        }
    }
    out
}

#[test]
fn sanitizing_and_text_never_panic_and_depth_stays_bounded() {
    let base = Url::parse("http://example.org/a/").unwrap();
    fuzz(1, soup, |input| {
        let clean = html::sanitize(input, Some(&base));
        // (As text, `javascript:` is harmless: an escaped tag in a <textarea>.)
        assert!(!clean.contains("=\"javascript:"), "{clean}");
        html::to_text(input);
        html::inline_text(input);
    });
}

/// The parsed depth of a soup once bounded stays within a small multiple
/// of the lexical bound, parsed as a fragment (entry content) and as a
/// document (pages) — also for soups that mix `<template>`, `<svg>`/`<math>`
/// and misnested tables.
#[test]
fn bounded_soups_parse_within_a_small_multiple_of_the_bound() {
    const BOUND: usize = 32;
    const FACTOR: usize = 3;
    let depth = |html: &str| {
        let fragment = nesting::tree_depth(scraper::Html::parse_fragment(html).tree.root());
        let document = nesting::tree_depth(scraper::Html::parse_document(html).tree.root());
        fragment.max(document)
    };
    fuzz(6, soup, |input| {
        let out = nesting::bound_depth_to(input, BOUND);
        let d = depth(&out);
        assert!(
            d <= BOUND * FACTOR,
            "depth {d} after bounding to {BOUND} (before: {})",
            depth(input)
        );
    });
}

#[test]
fn dates_never_panic_and_are_writable() {
    let now = Utc.with_ymd_and_hms(2024, 3, 1, 4, 0, 0).unwrap();
    let tz = chrono_tz::Asia::Shanghai;
    let parts = [
        "小时前",
        "天前",
        "分钟前",
        "周前",
        " hours ago",
        " weeks ago",
        "年",
        "月",
        "日",
        "-",
        "/",
        ":",
        "T",
        "Z",
        "+08:00",
        " CST",
        "昨天 ",
        "前天",
        "Mon, ",
        " Jan ",
        "GMT+8",
        ".",
        " ",
        "99999",
        "9223372036854775807",
        "0000",
        "2024",
        "13",
        "32",
        "25",
        "61",
        "-0",
        "+99",
    ];
    fuzz(
        2,
        |rng| {
            let mut s = String::new();
            for _ in 0..rng.random_range(1..8) {
                if rng.random_bool(0.5) {
                    let digits = rng.random_range(1..22);
                    s.extend((0..digits).map(|_| char::from(b'0' + rng.random_range(0..10))));
                } else {
                    s.push_str(pick(rng, &parts));
                }
            }
            s
        },
        |s| {
            let formats = ["%Y-%m-%d %H:%M".to_string(), "%s".to_string()];
            if let Some(d) = huiliu::normalize::dates::parse_date(s, tz, &formats, now) {
                assert!((1..=9999).contains(&d.utc.year()), "{s} → {}", d.utc);
            }
        },
    );
}

#[test]
fn decoding_never_panics() {
    let labels = [
        "utf-8",
        "gbk",
        "gb18030",
        "big5",
        "x-junk",
        "utf-16le",
        "",
        "\u{0}",
        "ISO-8859-1",
    ];
    fuzz(
        3,
        |rng| {
            // Bytes as Latin-1 chars so the case replays as a string.
            let mut bytes: Vec<u8> = Vec::new();
            if rng.random_bool(0.3) {
                bytes.extend_from_slice(
                    pick(
                        rng,
                        &[
                            "\u{feff}",
                            "<?xml version=\"1.0\" encoding=\"gbk\"?>",
                            "<meta charset=\"x\">",
                        ],
                    )
                    .as_bytes(),
                );
            }
            bytes.extend((0..rng.random_range(0..400)).map(|_| rng.random::<u8>()));
            let label = pick(rng, &labels);
            format!(
                "{label}\u{0}{}",
                bytes.iter().map(|&b| char::from(b)).collect::<String>()
            )
        },
        |input| {
            let (label, body) = input.split_once('\u{0}').unwrap_or(("", input));
            let bytes: Vec<u8> = body.chars().map(|c| c as u32 as u8).collect();
            let ct = format!("text/html; charset={label}");
            decode::decode(&bytes, Some(&ct), None);
            decode::decode(&bytes, None, None);
        },
    );
}

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title><link>http://example.org/</link><ttl>60</ttl><item><guid>1</guid><title>a &amp; b</title><link>/a</link><pubDate>Mon, 01 Jan 2024 08:00:00 +0800</pubDate><description><![CDATA[<p>x<div>y</div></p>]]></description><enclosure url="http://example.org/a.mp3" length="1" type="audio/mpeg"/><category>c</category></item><item><title>b</title><pubDate>3小时前</pubDate><content:encoded>&lt;b&gt;z&lt;/b&gt;</content:encoded></item></channel></rss>"#;
const ATOM: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://example.org/"><title>a</title><id>urn:a</id><updated>2024-01-01T00:00:00Z</updated><author><name>n</name><uri>javascript:x</uri></author><entry><id>urn:1</id><title type="html">&lt;b&gt;t&lt;/b&gt;</title><updated>2024-01-01T00:00:00Z</updated><link href="e1"/><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content></entry></feed>"#;
const JSON: &str = r#"{"version":"https://jsonfeed.org/version/1.1","title":"j","home_page_url":"http://example.org/","items":[{"id":"1","url":"http://example.org/1","title":"t","content_html":"<p>x</p>","date_published":"2024-01-01T00:00:00Z","authors":[{"name":"n","url":"javascript:x"}],"tags":["a"],"attachments":[{"url":"http://example.org/a.mp3","mime_type":"audio/mpeg"}]},{"id":"2","content_text":"y"}]}"#;

/// A valid feed with random edits: bytes replaced, spans cut or doubled,
/// hostile fragments inserted.
fn mutated_feed(rng: &mut StdRng) -> String {
    let mut s = pick(rng, &[RSS, ATOM, JSON]).to_string();
    for _ in 0..rng.random_range(1..6) {
        let at = rng.random_range(0..=s.len());
        let at = (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0);
        match rng.random_range(0..5) {
            0 => s.truncate(at),
            1 => {
                let piece: String = s[at..].chars().take(rng.random_range(1..80)).collect();
                s.insert_str(at, &piece);
            }
            2 => {
                let end = (at + rng.random_range(1..40)).min(s.len());
                let end = (end..=s.len())
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(s.len());
                s.replace_range(at..end, "");
            }
            3 => s.insert_str(
                at,
                pick(
                    rng,
                    &[
                        "<",
                        "]]>",
                        "\"",
                        "{",
                        "[[[[",
                        "&#0;",
                        "<item>",
                        "<entry>",
                        ",{}",
                        "\\u0000",
                        "99999-01-01T00:00:00Z",
                    ],
                ),
            ),
            _ => s.insert_str(at, &soup(rng)),
        }
    }
    s
}

#[test]
fn feed_parsing_and_cutting_never_panic() {
    let url = Url::parse("http://example.org/feed").unwrap();
    let source = SourceConfig::new("f", SourceKind::Feed, url.clone());
    fuzz(4, mutated_feed, |text| {
        let cut = cut::first_entries(text, 1);
        if let Ok(parsed) = parse_feed(&cut.text, &url, chrono_tz::UTC, &[]) {
            let entries = normalize_feed(&parsed, &source, &url);
            assert!(entries.len() <= 1 || cut.dropped == 0);
            for e in entries {
                assert!(e.published.is_none_or(|d| (1..=9999).contains(&d.year())));
            }
        }
        let _ = parse_feed(text, &url, chrono_tz::Asia::Shanghai, &[]);
    });
}

fn rule(css: &str) -> FieldRule {
    FieldRule {
        selector_text: css.into(),
        selector: scraper::Selector::parse(css).unwrap(),
        attr: None,
        regex: None,
        format: None,
        text: None,
    }
}

#[test]
fn scraping_never_panics() {
    let url = Url::parse("http://example.org/list/").unwrap();
    let now: DateTime<Utc> = Utc.with_ymd_and_hms(2024, 3, 1, 4, 0, 0).unwrap();
    let rules = ListRules {
        item: rule("li"),
        link: FieldRule {
            attr: Some("href".into()),
            ..rule("a")
        },
        title: Some(rule("a")),
        date: Some(rule("span")),
        date_format: None,
        summary: Some(rule("p")),
        image: Some(FieldRule {
            attr: Some("src".into()),
            ..rule("img")
        }),
        next_page: Some(FieldRule {
            attr: Some("href".into()),
            text: Some("下一页".into()),
            ..rule("a")
        }),
        page_pattern: None,
    };
    fuzz(
        5,
        |rng| {
            let items: String = (0..rng.random_range(0..20))
                .map(|i| {
                    format!(
                        "<li><a href=\"{i}.html\">t{i}</a><span>{}</span>{}</li>",
                        pick(
                            rng,
                            &["2024-01-02", "3000000000小时前", "99999年1月1日", ""]
                        ),
                        soup(rng)
                    )
                })
                .collect();
            format!("<html><body><ul>{items}</ul>{}</body></html>", soup(rng))
        },
        |page| {
            let _ = scrape::parse_list(page, &url, &rules, chrono_tz::Asia::Shanghai, &[], now);
            let article =
                scrape::parse_article(page, &url, None, chrono_tz::Asia::Shanghai, &[], now);
            if let Some(content) = article.content_html {
                html::sanitize(&content, Some(&url));
            }
        },
    );
}
