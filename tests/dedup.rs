//! One report, one item: the mock town site (scraped), the high-tech zone's
//! RSS and the district paper's Atom republish four stories between them;
//! the merged feed shows each once, with its copies listed, in any order of
//! arrival, and an item's id never changes when a copy arrives later.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use common::{MockServer, config_in, fixture_copy, pipeline, serve};
use huiliu::schedule::poll_once;
use serde_json::Value;

fn config_text(site: &Path, base: &str, db: &str) -> String {
    let sources = std::fs::read_to_string(site.join("sources.toml"))
        .unwrap()
        .replace("{base}", base)
        .replace("[defaults]\n", "[defaults]\narticle_delay = \"10ms\"\n");
    format!(
        "[storage]\nurl = \"sqlite:{db}\"\n[fetch]\nhost_delay = \"10ms\"\n\n{sources}\n[[feed]]\nid = \"all\"\nlimit = 100\n\n[[feed]]\nid = \"copies\"\nlimit = 100\ndedup = false\n"
    )
}

/// The stories of `near_duplicates.json`: sets of urls that are one report.
fn stories(site: &Path, base: &str) -> Vec<BTreeSet<String>> {
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(site.join("near_duplicates.json")).unwrap())
            .unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["urls"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u.as_str().unwrap().replace("{base}", base))
                .collect()
        })
        .collect()
}

async fn json(url: &str) -> Value {
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// url set of each item (its own url and its copies') → item.
fn items(feed: &Value) -> Vec<(BTreeSet<String>, Value)> {
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut urls: BTreeSet<String> = BTreeSet::new();
            urls.insert(i["url"].as_str().unwrap().to_string());
            for c in i["_huiliu"]["also_at"].as_array().into_iter().flatten() {
                urls.insert(c["url"].as_str().unwrap().to_string());
            }
            (urls, i.clone())
        })
        .collect()
}

/// Polls the sources one at a time in `order`, returns the merged JSON Feed.
async fn merged(order: &[&str]) -> (Vec<(BTreeSet<String>, Value)>, Vec<BTreeSet<String>>, Value) {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(
        work.path(),
        &config_text(site.path(), &server.base(), "h.db"),
    );
    let p = pipeline(&cfg).await;
    for id in order {
        let reports = poll_once(&p, &[cfg.source(id).unwrap().clone()], 1).await;
        assert!(!reports[0].failed(), "{reports:?}");
    }
    let ours = serve(&cfg, &p).await;
    let feed = json(&format!("{ours}/feeds/all.json")).await;
    let copies = json(&format!("{ours}/feeds/copies.json")).await;
    let rss = reqwest::get(format!("{ours}/feeds/all.rss"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let atom = reqwest::get(format!("{ours}/feeds/all.atom"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        rss.contains("<huiliu:also_at source=") && rss.contains("xmlns:huiliu="),
        "RSS lists copies"
    );
    assert!(rss.contains("Also at: <a href="));
    assert!(atom.contains("rel=\"related\""), "Atom lists copies");
    rss::Channel::read_from(rss.as_bytes()).unwrap();
    atom_syndication::Feed::read_from(atom.as_bytes()).unwrap();
    let stories = stories(site.path(), &server.base());
    // Normalize the port away so runs on different servers compare.
    let strip = |s: &BTreeSet<String>| -> BTreeSet<String> {
        s.iter()
            .map(|u| u.replace(&server.base(), "{base}"))
            .collect()
    };
    let items: Vec<(BTreeSet<String>, Value)> = items(&feed)
        .into_iter()
        .map(|(u, i)| (strip(&u), i))
        .collect();
    let stories = stories.iter().map(strip).collect();
    (items, stories, copies)
}

#[tokio::test]
async fn each_report_is_one_item_with_its_copies() {
    let (items, stories, copies) = merged(&["hutang", "wjhtz", "wjrb"]).await;
    assert_eq!(
        copies["items"].as_array().unwrap().len(),
        11,
        "4 + 4 + 3 entries stored"
    );
    assert_eq!(
        items.len(),
        7,
        "11 entries, 4 stories told twice: {:?}",
        items.iter().map(|(u, _)| u).collect::<Vec<_>>()
    );
    for story in &stories {
        let found: Vec<_> = items.iter().filter(|(urls, _)| urls == story).collect();
        assert_eq!(found.len(), 1, "story {story:?} should be exactly one item");
    }
    // The mayor's article: the town's own copy (published first) is shown.
    let mayor = items
        .iter()
        .find(|(urls, _)| urls.iter().any(|u| u.ends_with("t20240120_4803318.html")))
        .unwrap();
    assert!(
        mayor.1["url"]
            .as_str()
            .unwrap()
            .ends_with("t20240120_4803318.html")
    );
    assert_eq!(
        mayor.1["_huiliu"]["also_at"][0]["source"],
        "武进日报 · 镇区新闻"
    );
}

#[tokio::test]
async fn clusters_and_representatives_do_not_depend_on_arrival_order() {
    let orders: [[&str; 3]; 3] = [
        ["hutang", "wjhtz", "wjrb"],
        ["wjrb", "wjhtz", "hutang"],
        ["wjhtz", "wjrb", "hutang"],
    ];
    let mut seen: Option<HashMap<BTreeSet<String>, String>> = None;
    for order in orders {
        let (items, _, _) = merged(&order).await;
        let shown: HashMap<BTreeSet<String>, String> = items
            .into_iter()
            .map(|(urls, item)| {
                let url = item["url"].as_str().unwrap().to_string();
                (urls, url.rsplit('/').next().unwrap().to_string())
            })
            .collect();
        if let Some(first) = &seen {
            assert_eq!(&shown, first, "order {order:?}");
        }
        seen = Some(shown);
    }
}

#[tokio::test]
async fn a_later_copy_never_changes_the_item_id() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(
        work.path(),
        &config_text(site.path(), &server.base(), "h.db"),
    );
    let p = pipeline(&cfg).await;
    poll_once(&p, &[cfg.source("wjrb").unwrap().clone()], 1).await;
    let ours = serve(&cfg, &p).await;
    let before = json(&format!("{ours}/feeds/all.json")).await;
    let mayor_id = |feed: &Value| -> String {
        feed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| {
                i["title"]
                    .as_str()
                    .unwrap()
                    .contains("凝心聚力推动高质量发展")
            })
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let id = mayor_id(&before);
    // The town's own copy arrives later, published two days earlier: it is
    // shown from now on, under the id readers already have. (First-seen
    // times are stored in seconds: "later" must be another second.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    poll_once(&p, &[cfg.source("hutang").unwrap().clone()], 1).await;
    let after = json(&format!("{ours}/feeds/all.json")).await;
    assert_eq!(mayor_id(&after), id);
    let item = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap();
    assert!(
        item["url"]
            .as_str()
            .unwrap()
            .ends_with("t20240120_4803318.html"),
        "{item}"
    );
    let ids: Vec<&str> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
}

/// Polls each source in `order` with a new process's pipeline (the store
/// reopened, the dedup window reloaded from it) between polls; returns the
/// merged feed's stories and the shown copy of each, as a fresh pipeline
/// serves them without polling anything.
async fn merged_with_restarts(order: &[&str]) -> HashMap<BTreeSet<String>, String> {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(
        work.path(),
        &config_text(site.path(), &server.base(), "h.db"),
    );
    for id in order {
        let p = pipeline(&cfg).await;
        let reports = poll_once(&p, &[cfg.source(id).unwrap().clone()], 1).await;
        assert!(!reports[0].failed(), "{reports:?}");
        huiliu::refresh::settle_clusters(&p).await.unwrap();
        p.store.close().await.unwrap();
    }
    // A restart serves the stored clusters: nothing is re-clustered.
    let p = pipeline(&cfg).await;
    let ours = serve(&cfg, &p).await;
    let feed = json(&format!("{ours}/feeds/all.json")).await;
    items(&feed)
        .into_iter()
        .map(|(urls, item)| {
            let strip = |u: &str| u.replace(&server.base(), "{base}");
            (
                urls.iter().map(|u| strip(u)).collect(),
                strip(item["url"].as_str().unwrap()),
            )
        })
        .collect()
}

#[tokio::test]
async fn stored_clusters_do_not_depend_on_arrival_order_or_restarts() {
    let mut seen: Option<HashMap<BTreeSet<String>, String>> = None;
    for order in [
        ["hutang", "wjhtz", "wjrb"],
        ["wjrb", "hutang", "wjhtz"],
        ["wjhtz", "wjrb", "hutang"],
    ] {
        let shown = merged_with_restarts(&order).await;
        assert_eq!(shown.len(), 7, "11 entries, 7 stories: {shown:?}");
        if let Some(first) = &seen {
            assert_eq!(&shown, first, "order {order:?}");
        }
        seen = Some(shown);
    }
}

/// Retention keeps every copy of every item on an output's first page, as
/// the page is served (clustered): the copy shown, the one whose id the
/// item carries, and the others. (Pruning used to protect the newest
/// entries of the unclustered output, so a clustered first page reaching
/// further back lost copies, and items their ids.)
#[tokio::test]
async fn pruning_keeps_every_copy_of_the_first_page() {
    let site = fixture_copy("mockweb");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let text = config_text(site.path(), &server.base(), "h.db")
        .replace(
            "limit = 100\n\n[[feed]]\nid = \"copies\"",
            "limit = 4\n\n[[feed]]\nid = \"copies\"",
        )
        .replace("limit = 100\ndedup = false", "limit = 1\ndedup = false");
    let text = text.replacen("[defaults]\n", "[defaults]\nretention_count = 1\n", 1);
    let cfg = config_in(work.path(), &text);
    let p = pipeline(&cfg).await;
    for id in ["wjrb", "hutang", "wjhtz"] {
        poll_once(&p, &[cfg.source(id).unwrap().clone()], 1).await;
    }
    huiliu::refresh::settle_clusters(&p).await.unwrap();
    let feed = cfg.feed("all").unwrap();
    let before = huiliu::publish::page::page(p.store.as_ref(), &cfg, feed, 1)
        .await
        .unwrap();
    assert!(
        before.reports.iter().any(|r| !r.copies.is_empty()),
        "the first page shows a report with copies"
    );
    let plan = huiliu::service::prune::plan(p.store.as_ref(), &cfg, chrono::Utc::now())
        .await
        .unwrap();
    assert!(plan.total() > 0, "retention_count = 1 prunes something");
    let removed: BTreeSet<String> = plan
        .sources
        .iter()
        .flat_map(|s| s.remove.iter().map(|c| c.id.clone()))
        .collect();
    for r in &before.reports {
        assert!(!removed.contains(&r.id), "item id {} pruned", r.id);
        assert!(!removed.contains(&r.shown.entry.id));
        for c in &r.copies {
            assert!(!removed.contains(&c.entry.id), "copy {} pruned", c.entry.id);
        }
    }
    huiliu::service::prune::execute(
        p.store.as_ref(),
        &plan,
        100,
        std::time::Duration::ZERO,
        None,
    )
    .await
    .unwrap();
    let after = huiliu::publish::page::page(p.store.as_ref(), &cfg, feed, 1)
        .await
        .unwrap();
    let ids = |pg: &huiliu::publish::page::Page| -> Vec<(String, String, usize)> {
        pg.reports
            .iter()
            .map(|r| (r.id.clone(), r.shown.entry.id.clone(), r.copies.len()))
            .collect()
    };
    assert_eq!(ids(&after), ids(&before));
}
