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
