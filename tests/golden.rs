//! Golden outputs: the demo's merged feed in every format, byte for byte,
//! so a refactor shows any byte it changes. The server's own address (an
//! ephemeral port) reads `http://huiliu.test` in the files.
//!
//! After a deliberate change of an output, rewrite the files and review the
//! diff: `HUILIU_BLESS=1 cargo test --test golden`.
//!
//! The one value that follows the clock, OPML's `dateCreated`, is blanked.

mod common;

use common::{demo, serve};

const OUTPUTS: &[&str] = &[
    "feeds/wujin.rss",
    "feeds/wujin.atom",
    "feeds/wujin.json",
    "feeds/wujin.html",
    "opml",
];

#[tokio::test]
async fn demo_outputs_match_the_golden_files() {
    let (_work, cfg, p) = demo().await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = serve(&cfg, &p).await;
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let bless = std::env::var_os("HUILIU_BLESS").is_some();
    let mut changed = Vec::new();
    for path in OUTPUTS {
        let body = client
            .get(format!("{base}/{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body = without_clock(&body.replace(&base, "http://huiliu.test"));
        let file = root
            .join("tests/fixtures/golden")
            .join(path.replace('/', "_"));
        if bless {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &body).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if want != body {
            // RSS and Atom are one line: show the first differing bytes.
            let at = want
                .char_indices()
                .zip(body.chars())
                .find(|((_, a), b)| a != b)
                .map_or(want.len().min(body.len()), |((i, _), _)| i);
            let around = |s: &str| -> String {
                s.char_indices()
                    .skip_while(|(i, _)| *i + 80 < at)
                    .take(160)
                    .map(|(_, c)| c)
                    .collect()
            };
            changed.push(format!(
                "{path} differs from {} at byte {at}:\n  want: …{}…\n  got:  …{}…",
                file.display(),
                around(&want),
                around(&body),
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "{}\n(a deliberate change? HUILIU_BLESS=1 cargo test --test golden, then review the diff)",
        changed.join("\n")
    );
}

/// OPML's creation time is the time of the request.
fn without_clock(body: &str) -> String {
    let (open, close) = ("<dateCreated>", "</dateCreated>");
    match (body.find(open), body.find(close)) {
        (Some(a), Some(b)) if a < b => format!("{}{open}…{}", &body[..a], &body[b..]),
        _ => body.to_string(),
    }
}
