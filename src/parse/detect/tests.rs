use super::*;

fn detect(html: &str, url: &str) -> DetectedList {
    detect_list(html, &Url::parse(url).unwrap()).expect("a list is detected")
}

#[test]
fn trs_table_rows_with_header_and_spacers() {
    let d = detect(
        include_str!("../../../tests/fixtures/lists/trs/index.html"),
        "http://gov.example/zwdt/index.html",
    );
    assert_eq!(d.item, "table.list_table tr");
    assert_eq!(d.link, "a");
    assert_eq!(d.items, 4);
    let date = d.date.clone().unwrap();
    assert_eq!(date.selector, "td.list_date");
    assert_eq!(date.format.as_deref(), Some("%Y-%m-%d"));
    assert_eq!(d.next_page, Some(NextPage::Script));
    let toml = d.toml();
    assert!(toml.contains("item  = \"table.list_table tr\""), "{toml}");
}

#[test]
fn flat_definition_list_with_the_date_in_the_next_sibling() {
    let d = detect(
        include_str!("../../../tests/fixtures/lists/govdl.html"),
        "https://www.county.example.gov.cn/col/col1229/index.html",
    );
    assert_eq!(d.item, "dl.notice-list > dt");
    assert_eq!(d.date.unwrap().selector, "dd");
    assert_eq!(d.items, 6);
}

#[test]
fn forum_rows_pick_the_thread_link_and_the_post_date() {
    let d = detect(
        include_str!("../../../tests/fixtures/lists/forum.html"),
        "https://bbs.city.example/forum-12-1.html",
    );
    assert_eq!(d.item, "table#threadlisttableid > tbody");
    assert_ne!(d.link, "a", "the first link is the folder icon");
    assert!(d.date.is_some());
    assert_eq!(
        d.next_page,
        Some(NextPage::Link {
            selector: "a".into(),
            text: "下一页".into()
        })
    );
}

#[test]
fn navigation_alone_is_no_list() {
    let html = r#"<html><body><ul class="nav"><li><a href="/">首页</a></li>
        <li><a href="/a/">新闻</a></li><li><a href="/b/">公开</a></li></ul>
        <p>正文没有列表。</p></body></html>"#;
    assert_eq!(
        detect_list(html, &Url::parse("http://x.example/").unwrap()),
        None
    );
}

#[test]
fn advertised_feeds_are_found() {
    let html = r#"<html><head><link rel="alternate" type="application/rss+xml" href="rss.xml">
        <link rel="stylesheet" href="a.css"></head><body></body></html>"#;
    let feeds = feed_links(html, &Url::parse("http://x.example/news/").unwrap());
    assert_eq!(
        feeds,
        vec![Url::parse("http://x.example/news/rss.xml").unwrap()]
    );
}

#[test]
fn toml_strings_are_escaped() {
    assert_eq!(quote(r#"a[title="x"]"#), r#""a[title=\"x\"]""#);
}

#[test]
fn a_deeply_nested_page_is_bounded_before_detection() {
    let mut html = String::from("<html><body>");
    html.push_str(&"<div>".repeat(100_000));
    for i in 0..5 {
        html.push_str(&format!(
            "<li><a href=\"/news/{i}.html\">Town council meeting number {i}</a> 2024-03-0{}</li>",
            i + 1
        ));
    }
    html.push_str(&"</div>".repeat(100_000));
    // No stack overflow, and whatever is found links the items.
    if let Some(d) = detect_list(&html, &Url::parse("http://x.example/").unwrap()) {
        assert!(!d.item.is_empty());
    }
}

/// `huiliu discover-eval` on the mock sites and on the real pages of
/// `tests/fixtures/lists-real` (see its SOURCES.md): every mock item right,
/// and at least 95% of the real pages' items right with nothing extra.
#[test]
fn discover_eval_on_mock_and_real_list_pages() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (dir, min) in [("lists", 1.0), ("lists-real", 0.95)] {
        let results = eval::run(&root.join(dir)).expect("the cases load");
        let expected: usize = results.iter().map(|r| r.expected).sum();
        let right: usize = results.iter().map(|r| r.right).sum();
        let extra: usize = results.iter().map(|r| r.extra).sum();
        let report: Vec<String> = results
            .iter()
            .map(|r| format!("{} {}/{} {:?}", r.name, r.right, r.expected, r.misses))
            .collect();
        assert!(
            right as f64 >= min * expected as f64 && extra == 0,
            "{dir}: {right}/{expected} right, {extra} extra\n{}",
            report.join("\n")
        );
    }
}

#[test]
fn a_link_wrapping_a_card_gets_its_own_title_selector() {
    let card = |n: u32| {
        format!(
            r#"<a href="news/{n}" class="card"><div class="date">115.03.1{n}</div>
            <div class="title">臺海周邊海空域動態第{n}報</div><div class="views">點閱次數：9{n} 次</div></a>"#
        )
    };
    let html = format!(
        r#"<html><body><div class="cards">{}{}{}</div></body></html>"#,
        card(1),
        card(2),
        card(3)
    );
    let d = detect(&html, "https://mnd.example/news/list");
    assert_eq!(d.item, "div.cards > a");
    assert_eq!(d.title.as_deref(), Some("div.title"));
    // The first `div` of the card is its date: either selector gives it.
    let date = d.date.as_ref().map(|d| d.selector.as_str());
    assert!(matches!(date, Some("div" | "div.date")), "{date:?}");
    assert_eq!(
        d.date.clone().and_then(|d| d.format),
        None,
        "no %Y for a Minguo year"
    );
    assert!(d.toml().contains("title = \"div.title\""));
}

#[test]
fn the_date_selector_gives_the_date_element_not_the_whole_item() {
    // `div` would select the item itself, whose text holds the date but
    // also a user name with four digits (read as a year).
    let row = |n: u32, user: &str| {
        format!(
            r#"<div class="r-ent"><div class="title"><a href="/bbs/M.{n}.html">[正妹] 第{n}篇文章</a></div>
            <div class="meta"><div class="date"> 7/12</div><div class="author">{user}</div></div></div>"#
        )
    };
    let html = format!(
        r#"<html><body><div class="r-list">{}{}{}</div></body></html>"#,
        row(1, "Kyle5566"),
        row(2, "maroonfire"),
        row(3, "atp3306")
    );
    let d = detect(&html, "https://bbs.example/bbs/Beauty/index.html");
    assert_eq!(d.date.map(|d| d.selector), Some("div.date".to_string()));
}
