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

/// The items a detection gives when its rules scrape the same page:
/// (URL, title, date as YYYY-MM-DD in Shanghai time).
fn scraped(html: &str, url: &str, now: &str) -> Vec<(String, String, String)> {
    let url = Url::parse(url).unwrap();
    let rules = detect_list(html, &url).unwrap().rules().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(now)
        .unwrap()
        .with_timezone(&chrono::Utc);
    let tz = chrono_tz::Asia::Shanghai;
    let page = crate::parse::scrape::parse_list(html, &url, &rules, tz, &[], now).unwrap();
    page.items
        .iter()
        .map(|i| {
            (
                i.link.to_string(),
                i.title.clone().unwrap_or_default(),
                i.date
                    .map(|d| d.utc.with_timezone(&tz).format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn two_digit_years_year_first_english_dates_and_ages_are_dates() {
    let date = |t: &str| {
        DATE.captures(t)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
    };
    assert_eq!(date("20-09-22").as_deref(), Some("20-09-22"));
    assert_eq!(date("2021 Sep 03 –").as_deref(), Some("2021 Sep 03"));
    assert_eq!(
        date("153 points 3 hours ago | hide").as_deref(),
        Some("3 hours ago")
    );
    assert_eq!(date("2\u{a0}小时前").as_deref(), Some("2\u{a0}小时前"));
    // A year range in a title, and words a title may hold, are no dates.
    assert_eq!(date("2014-2015年度观测季节对外开放"), None);
    assert_eq!(date("Re: [神人] 前天中華職棒全壘打大賽"), None);
    assert_eq!(
        date_format(&["20-09-22", "19-04-25"]).as_deref(),
        Some("%y-%m-%d")
    );
    assert_eq!(date_format(&["2021 Sep 03"]).as_deref(), Some("%Y %b %d"));
    assert_eq!(date_format(&["2020-09-22"]).as_deref(), Some("%Y-%m-%d"));
    // A CAS station's notice table: `20-09-22` is 22 September 2020.
    let row = |n: u32, d: &str| {
        format!(
            r#"<tr><td><a href="202009/t{n}.html">青海观测站第{n}期招聘启事</a></td><td class="hui">{d}<br></td></tr>
            <tr><td height="1" colspan="2"></td></tr>"#
        )
    };
    let html = format!(
        r#"<html><body><table class="list"><tbody>{}{}{}</tbody></table></body></html>"#,
        row(1, "20-09-22"),
        row(2, "20-06-23"),
        row(3, "19-04-25")
    );
    let got = scraped(
        &html,
        "http://obs.example/tzgg/",
        "2020-10-01T00:00:00+08:00",
    );
    let dates: Vec<&str> = got.iter().map(|i| i.2.as_str()).collect();
    assert_eq!(dates, ["2020-09-22", "2020-06-23", "2019-04-25"]);
}

#[test]
fn rows_told_apart_by_their_class_from_the_meta_row_after_each() {
    // Hacker News: a story row, then a row of points, age and comment links.
    let story = |n: u32, age: &str| {
        format!(
            r#"<tr class="athing" id="{n}"><td class="title"><a href="https://site{n}.example/post" class="storylink">A story worth reading number {n}</a></td></tr>
            <tr><td class="subtext"><span class="score">1{n} points</span> by <a href="user?id=u{n}" class="hnuser">u{n}</a>
            <span class="age"><a href="item?id={n}">{age}</a></span> | <a href="hide?id={n}">hide</a> | <a href="item?id={n}">4{n}&nbsp;comments</a></td></tr>
            <tr class="spacer" style="height:5px"></tr>"#
        )
    };
    let html = format!(
        r#"<html><body><table class="itemlist"><tbody>{}{}{}{}</tbody></table></body></html>"#,
        story(1, "2 hours ago"),
        story(2, "5 hours ago"),
        story(3, "1 day ago"),
        story(4, "20 minutes ago")
    );
    let d = detect(&html, "https://news.example/");
    assert_eq!(d.item, "table.itemlist tr.athing");
    let got = scraped(&html, "https://news.example/", "2019-09-02T18:00:00+08:00");
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].0, "https://site1.example/post");
    assert_eq!(got[0].1, "A story worth reading number 1");
    let dates: Vec<&str> = got.iter().map(|i| i.2.as_str()).collect();
    assert_eq!(
        dates,
        ["2019-09-02", "2019-09-02", "2019-09-01", "2019-09-02"]
    );
}

#[test]
fn a_plain_list_beside_a_tag_cloud_with_an_id_is_told_apart() {
    let tags: String = ["Crypto", "Economics", "Language", "Linux", "Politics"]
        .iter()
        .map(|t| format!(r#"<li><a href="/tags/{t}">{t}</a></li>"#))
        .collect();
    // More dated articles than tags: in a mostly dated list the undated
    // tags count against it.
    let posts: String = (1..=6)
        .map(|n| {
            format!(
                r#"<li><time datetime="2021-0{n}-03T00:00:00Z">2021 Mar 0{n}</time> &ndash;
                <a href="/articles/post-{n}/">Some thoughts on writing, part {n}</a></li>"#
            )
        })
        .collect();
    let html = format!(
        r#"<html><body><article><h2>Topics</h2><ul id="tagcloud">{tags}</ul>
        <h2>Articles</h2><ul>{posts}</ul></article></body></html>"#
    );
    let d = detect(&html, "https://blog.example/articles/");
    assert_eq!(d.item, "ul:not(#tagcloud) > li");
    assert_eq!(d.items, 6);
    let got = scraped(
        &html,
        "https://blog.example/articles/",
        "2021-07-01T00:00:00Z",
    );
    assert_eq!(got.len(), 6);
    assert!(
        got.iter().all(|i| i.0.contains("/articles/post-")),
        "{got:?}"
    );
}

#[test]
fn an_empty_link_before_the_title_link_gives_no_title() {
    // `<a href=x><a href=x>title</a>`: the parser closes the first link
    // empty before the second.
    let li = |n: u32| {
        format!(
            r#"<li><span> 2021-05-1{n} </span><a href="lyxx/t{n}.html"><a href="lyxx/t{n}.html">省林业和草原局第{n}次检查工作</a></li>"#
        )
    };
    let html = format!(
        r#"<html><body><div class="list"><ul>{}{}{}</ul></div></body></html>"#,
        li(1),
        li(2),
        li(3)
    );
    let d = detect(&html, "https://forest.example/xwdt/index.html");
    assert_eq!(d.link, "a:last-of-type");
    let got = scraped(
        &html,
        "https://forest.example/xwdt/index.html",
        "2021-06-01T00:00:00+08:00",
    );
    assert_eq!(got[0].1, "省林业和草原局第1次检查工作");
    assert_eq!(got[2].2, "2021-05-13");
}

#[test]
fn the_title_of_a_card_is_its_heading_not_its_longest_text() {
    // A short title beside a longer "3 minute read 587" in the same link.
    let card = |slug: &str, title: &str, date: &str| {
        format!(
            r#"<li><a class="post-preview" href="/blog/{slug}"><span itemprop="headline">{title}</span>
            <div class="details"><span style="display:none" itemprop="author">Brandon Smith</span>
            <time datetime="{date}">{date}</time><div class="read-length">3 minute read <span>587</span></div></div></a></li>"#
        )
    };
    let html = format!(
        r#"<html><body><ul class="post-list">{}{}{}</ul></body></html>"#,
        card("a", "New Website", "October 1, 2019"),
        card("b", "CSS is Awesome", "July 3, 2017"),
        card("c", "Write Libraries, Not Frameworks", "May 8, 2020")
    );
    let d = detect(&html, "https://www.example.ninja/blog");
    assert_eq!(d.title.as_deref(), Some("span"));
    let got = scraped(
        &html,
        "https://www.example.ninja/blog",
        "2021-01-01T00:00:00Z",
    );
    let titles: Vec<&str> = got.iter().map(|i| i.1.as_str()).collect();
    assert_eq!(
        titles,
        [
            "New Website",
            "CSS is Awesome",
            "Write Libraries, Not Frameworks"
        ]
    );
}

#[test]
fn a_card_linking_its_heading_and_apart_its_dated_summary_is_titled_by_the_heading() {
    let card = |slug: &str, title: &str, date: &str| {
        format!(
            r#"<div class="col item"><article><a class="related" href="/news/{slug}"><div class="image"></div>
            <div class="item__title">{title}</div></a>
            <div class="categories"><a href="javascript:void(0)" class="a-category"><p>News</p></a></div>
            <a class="related" href="/news/{slug}"><div class="item__text"><strong>{date}</strong> | A longer summary of what happened here, cut after a few lines of text</div>
            <div class="item__link">Continue reading &gt;</div></a></article></div>"#
        )
    };
    let html = format!(
        r#"<html><body><div class="row">{}{}{}</div></body></html>"#,
        card("a", "State visit at SPH", "May 20, 2022"),
        card("b", "SPH REPORT 2021", "May 17, 2022"),
        card("c", "Student Project House opens", "Oct 26, 2021")
    );
    let got = scraped(
        &html,
        "https://sph.example/news",
        "2022-06-25T00:00:00+02:00",
    );
    let titles: Vec<&str> = got.iter().map(|i| i.1.as_str()).collect();
    assert_eq!(
        titles,
        [
            "State visit at SPH",
            "SPH REPORT 2021",
            "Student Project House opens"
        ]
    );
}

#[test]
fn older_posts_and_read_more_are_navigation() {
    use crate::parse::scrape::is_nav_text;
    assert!(is_nav_text("Older posts →"));
    assert!(is_nav_text("Newer posts"));
    assert!(is_nav_text("Continue reading >"));
    assert!(is_nav_text("Read more"));
    assert!(!is_nav_text("Older people and the internet"));
}

#[test]
fn discover_eval_compares_urls_without_their_fragment() {
    let dir = std::env::temp_dir().join(format!("huiliu-eval-frag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rows: String = (1..=3)
        .map(|n| {
            format!(r#"<li><a href="https://news.example/story-{n}#comments">A story worth reading number {n}</a> <span>2024-02-0{n}</span></li>"#)
        })
        .collect();
    std::fs::write(
        dir.join("p.html"),
        format!("<html><body><ul class=\"list\">{rows}</ul></body></html>"),
    )
    .unwrap();
    let items: Vec<String> = (1..=3)
        .map(|n| {
            format!(r##"{{"url": "https://news.example/story-{n}#comments", "title": "A story worth reading number {n}", "date": "2024-02-0{n}"}}"##)
        })
        .collect();
    std::fs::write(
        dir.join("p.json"),
        format!(
            r#"{{"url": "https://news.example/", "page": "p.html", "items": [{}]}}"#,
            items.join(",")
        ),
    )
    .unwrap();
    let results = eval::run(&dir).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(
        (results[0].right, results[0].extra),
        (3, 0),
        "{:?}",
        results[0].misses
    );
}

#[test]
fn a_date_glued_to_the_next_elements_digits_is_found_in_its_own_element() {
    // Minified: the item's text reads `…27 January 20213783 words…`.
    let part = |n: u32, day: u32| {
        format!(
            r#"<section class=page><p class=title><a href=https://blog.example/lang/{n}/>Part {n}: Something</a></p><section class=page-info><ul><li>{day} January 2021</li><li>37{n} words</li><li>19 minute read</li></ul></section></section>"#
        )
    };
    let html = format!(
        "<html><body><section class=pages>{}{}{}</section></body></html>",
        part(1, 27),
        part(2, 24),
        part(3, 21)
    );
    let got = scraped(&html, "https://blog.example/lang/", "2021-02-01T00:00:00Z");
    let dates: Vec<&str> = got.iter().map(|i| i.2.as_str()).collect();
    assert_eq!(dates, ["2021-01-27", "2021-01-24", "2021-01-21"]);
}
