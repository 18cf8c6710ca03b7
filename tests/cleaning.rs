//! One cleaning for every entry: the README's demo (feed entries, not
//! scraped pages) comes out with the mayor's byline as author + role and no
//! paragraph broken mid-sentence; `origin` (来源) goes to every output and
//! the export; `full_text` feeds take their bodies from the article pages.

mod common;

use common::{MockServer, config_in, fixture_copy, pipeline, serve};
use huiliu::refresh::{Outcome, refresh_source};
use serde_json::Value;

async fn get_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn get_json(url: &str) -> Value {
    serde_json::from_str(&get_text(url).await).unwrap()
}

/// Paragraph pairs of `html` where the first stops mid-sentence (a CJK
/// character, `、` or `，` before `</p>`) and the next goes on.
fn broken_paragraphs(html: &str) -> Vec<String> {
    let paragraphs: Vec<String> = html
        .split("</p>")
        .map(|p| {
            let text = p.rsplit('>').next().unwrap_or("");
            text.trim().to_string()
        })
        .collect();
    let mut broken = Vec::new();
    for pair in paragraphs.windows(2) {
        let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
        if let Some(e) = pair[0].chars().last() {
            if (is_cjk(e) || matches!(e, '、' | '，')) && pair[0].chars().count() > 30 {
                broken.push(pair[0].chars().rev().take(12).collect::<String>());
            }
        }
    }
    broken
}

/// The README's first command, polled once: the demo's seed reports.
#[tokio::test]
async fn demo_articles_are_clean_dated_and_attributed() {
    let (_work, cfg, p) = common::demo().await;
    let base = serve(&cfg, &p).await;

    let feed = get_json(&format!("{base}/feeds/wujin.json")).await;
    let items = feed["items"].as_array().unwrap();
    let by_title = |needle: &str| {
        items
            .iter()
            .find(|i| i["title"].as_str().unwrap_or("").contains(needle))
            .unwrap_or_else(|| panic!("no item titled …{needle}…"))
            .clone()
    };
    let mayor = by_title("凝心聚力推动高质量发展");
    assert_eq!(mayor["authors"].as_array().unwrap().len(), 1, "{mayor}");
    assert_eq!(mayor["authors"][0]["name"], "丁涛");
    assert_eq!(
        mayor["authors"][0]["_huiliu"]["role"],
        "湖塘镇党委副书记、镇长"
    );
    let winter = by_title("党员冬训");
    for (name, item) in [("mayor", &mayor), ("winter training", &winter)] {
        let html = item["content_html"].as_str().unwrap();
        assert!(
            !html.contains('□'),
            "{name}: the byline is still in the body"
        );
        let broken = broken_paragraphs(html);
        assert!(broken.is_empty(), "{name}: broken after {broken:?}");
    }
    let mayor_html = mayor["content_html"].as_str().unwrap();
    for joined in [
        "关爱服务体系，",
        "新兴产业培育壮大、现代服务业提质增效",
        "落实积极就业",
    ] {
        assert!(mayor_html.contains(joined), "{joined} not joined");
    }
    assert!(
        winter["content_html"]
            .as_str()
            .unwrap()
            .contains("各党组织书记要带头")
    );

    let page = get_text(&format!("{base}/feeds/wujin.html")).await;
    assert!(page.contains("丁涛 (湖塘镇党委副书记、镇长)"), "{page}");
    let atom = get_text(&format!("{base}/feeds/wujin.atom")).await;
    assert!(atom.contains("丁涛 (湖塘镇党委副书记、镇长)"));
    assert!(!atom.contains("□ 湖塘镇"));
}

const ORIGIN_FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>http://example.org/</link><description>d</description>
<item><title>新华社报道一则</title><link>http://example.org/a.html</link>
<description>&lt;p&gt;发布时间：2024-05-02 08:30　来源：新华社　作者：王五&lt;/p&gt;&lt;p&gt;　　正文第一段，讲述了一件事情的经过，内容充实，字数足够长，不会被当成标题。&lt;/p&gt;&lt;p&gt;【字体：大 中 小】 打印本页&lt;/p&gt;</description>
</item></channel></rss>"#;

#[tokio::test]
async fn origin_is_stored_published_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.xml"), ORIGIN_FEED).unwrap();
    let cfg = config_in(
        dir.path(),
        "[storage]\nurl = \"sqlite:h.db\"\n[[source]]\nid = \"xh\"\nkind = \"file\"\nurl = \"f.xml\"\ntimezone = \"Asia/Shanghai\"\n[[feed]]\nid = \"all\"\n",
    );
    let p = pipeline(&cfg).await;
    let r = refresh_source(&p, cfg.source("xh").unwrap()).await;
    assert!(
        matches!(r.outcome, Outcome::Fetched(c) if c.new == 1),
        "{r:?}"
    );
    let base = serve(&cfg, &p).await;

    let json = get_json(&format!("{base}/feeds/all.json")).await;
    let item = &json["items"][0];
    assert_eq!(item["_huiliu"]["origin"], "新华社");
    assert_eq!(item["authors"][0]["name"], "王五");
    // The meta line dated the undated item (08:30 in Shanghai).
    assert_eq!(item["date_published"], "2024-05-02T00:30:00+00:00");
    let html = item["content_html"].as_str().unwrap();
    assert!(!html.contains("来源") && !html.contains("字体") && !html.contains('\u{3000}'));

    let rss = get_text(&format!("{base}/feeds/all.rss")).await;
    assert!(
        rss.contains("xmlns:huiliu=\"https://huiliu.dev/ns/1.0\""),
        "{rss}"
    );
    assert!(
        rss.contains("<huiliu:origin>新华社</huiliu:origin>"),
        "{rss}"
    );
    let atom = get_text(&format!("{base}/feeds/all.atom")).await;
    assert!(
        atom.contains("xmlns:huiliu=\"https://huiliu.dev/ns/1.0\""),
        "{atom}"
    );
    assert!(
        atom.contains("<huiliu:origin>新华社</huiliu:origin>"),
        "{atom}"
    );
    let page = get_text(&format!("{base}/feeds/all.html")).await;
    assert!(page.contains("来源：新华社"), "{page}");
    // Every format still parses.
    feed_rs::parser::parse(rss.as_bytes()).unwrap();
    feed_rs::parser::parse(atom.as_bytes()).unwrap();

    let mut out = Vec::new();
    huiliu::service::backup::export_jsonl(p.store.as_ref(), &cfg, &mut out)
        .await
        .unwrap();
    let line: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["entry"]["origin"], "新华社", "{line}");
}

#[tokio::test]
async fn full_text_feeds_read_each_new_article_page_once() {
    let site = fixture_copy("fulltext");
    let server = MockServer::start(site.path()).await;
    let work = tempfile::tempdir().unwrap();
    let cfg = config_in(
        work.path(),
        &format!(
            "[storage]\nurl = \"sqlite:h.db\"\n\
             [[source]]\nid = \"news\"\nurl = \"{base}/news/feed.xml\"\ntimezone = \"Asia/Shanghai\"\n\
             full_text = true\narticle_delay = \"10ms\"\n\
             [[source]]\nid = \"news-sel\"\nurl = \"{base}/news/feed.xml\"\ntimezone = \"Asia/Shanghai\"\n\
             full_text = true\narticle_delay = \"10ms\"\n\
               [source.article]\n  content = \"div.body\"\n  title = \"h1\"\n\
             [[feed]]\nid = \"all\"\nsources = [\"news\"]\n",
            base = server.base()
        ),
    );
    let p = pipeline(&cfg).await;
    let source = cfg.source("news").unwrap();
    let r = refresh_source(&p, source).await;
    assert!(
        matches!(r.outcome, Outcome::Fetched(c) if c.new == 4),
        "{r:?} {:?}",
        server.requests()
    );
    assert!(
        server.requests_to("/private/p.html").is_empty(),
        "robots.txt ignored"
    );

    let base = serve(&cfg, &p).await;
    let json = get_json(&format!("{base}/feeds/all.json")).await;
    let items = json["items"].as_array().unwrap();
    let by_url = |tail: &str| {
        items
            .iter()
            .find(|i| i["url"].as_str().unwrap_or("").ends_with(tail))
            .unwrap_or_else(|| panic!("no item {tail}"))
            .clone()
    };
    // The feed's title and date win; the page gives body, author and origin.
    let a1 = by_url("/news/a1.html");
    assert_eq!(a1["title"], "武进区召开春季安全生产工作会议");
    assert_eq!(a1["date_published"], "2024-05-01T02:00:00+00:00");
    assert_eq!(a1["authors"][0]["name"], "张三");
    assert_eq!(a1["_huiliu"]["origin"], "武进日报");
    let body = a1["content_html"].as_str().unwrap();
    assert!(
        body.contains("切实增强责任感和紧迫感，坚决守牢安全底线"),
        "{body}"
    );
    assert!(!body.contains("分享到") && !body.contains("ICP"), "{body}");
    assert_eq!(
        a1["summary"],
        "武进区召开春季安全生产工作会议，部署当前重点工作。"
    );
    // Empty in the feed: title and date from the page; the byline's role.
    let a2 = by_url("/news/a2.html");
    assert_eq!(a2["title"], "湖塘镇开展节前消防安全检查");
    assert_eq!(a2["date_published"], "2024-04-28T07:30:00+00:00");
    assert_eq!(a2["authors"][0]["name"], "李四");
    assert_eq!(
        a2["authors"][0]["_huiliu"]["role"],
        "湖塘镇应急管理办公室主任"
    );
    // A page that failed, and one robots.txt denies: the feed's summary.
    assert_eq!(
        by_url("/news/gone.html")["content_html"],
        "页面不在了，摘要留下。"
    );
    assert_eq!(
        by_url("/private/p.html")["content_html"],
        "不许抓取的页面，只有摘要。"
    );
    let state = p.store.state("news").await.unwrap();
    let health = state.scrape.expect("full_text health recorded");
    assert_eq!(
        (
            health.articles_fetched,
            health.articles_failed,
            health.robots_denied
        ),
        (2, 1, 1),
        "{health:?}"
    );
    assert!(health.problems[0].contains("gone.html"), "{health:?}");

    // Stored items are never fetched again, not even the failed one (the
    // feed itself changed, so it is read again).
    let feed_path = site.path().join("news/feed.xml");
    let feed = std::fs::read_to_string(&feed_path).unwrap();
    std::fs::write(
        &feed_path,
        feed.replace("A feed with summaries only", "changed"),
    )
    .unwrap();
    server.clear_log();
    let r = refresh_source(&p, source).await;
    assert!(
        matches!(r.outcome, Outcome::Fetched(c) if c.new == 0),
        "{r:?}"
    );
    let pages: Vec<String> = server
        .requests()
        .into_iter()
        .map(|s| s.path)
        .filter(|p| p.ends_with(".html"))
        .collect();
    assert!(pages.is_empty(), "fetched again: {pages:?}");
    let health = p.store.state("news").await.unwrap().scrape.unwrap();
    assert_eq!(health.articles_known, 4, "{health:?}");

    // With [source.article] selectors the body is the selected element.
    let r = refresh_source(&p, cfg.source("news-sel").unwrap()).await;
    assert!(
        matches!(r.outcome, Outcome::Fetched(c) if c.new == 4),
        "{r:?}"
    );
    let stored = p
        .store
        .entries(&huiliu::store::EntryQuery {
            sources: vec!["news-sel".into()],
            limit: 10,
            offset: 0,
        })
        .await
        .unwrap();
    let a1 = stored
        .iter()
        .find(|s| {
            s.entry
                .url
                .as_deref()
                .is_some_and(|u| u.ends_with("a1.html"))
        })
        .unwrap();
    let content = a1.entry.content.as_deref().unwrap();
    assert!(content.starts_with("<p>4月30日"), "{content}");
    assert!(!content.contains("发布时间"), "{content}");
}
