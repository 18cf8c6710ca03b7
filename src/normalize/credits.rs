//! Who wrote a Chinese news report, from the ways papers credit their
//! reporters in the text itself: `新华社北京5月9日电（记者邹伟）`,
//! `本报讯（记者 岳品瑜 董晗萱）`, `本报记者 王乐文 方 敏`,
//! `某某日报·客户端记者 张三`, `文丨特约评论员 韩涵`, `（某某网编辑 孙七）` at
//! the end, `来源：赵六` at the end when 赵六 is a person. Pure functions.

use std::sync::OnceLock;

use regex::Regex;

use crate::model::Author;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("credits regex is valid"))
}

/// Last characters of organisations, never (or hardly ever) of a person's name.
const ORG_ENDINGS: &[char] = &[
    '镇', '乡', '村', '区', '县', '市', '省', '网', '报', '社', '台', '局', '部', '委', '会', '院',
    '厅', '办', '处', '所', '站', '府', '团', '司', '闻', '端', '号', '刊', '视', '馆', '校', '署',
    '街',
];

/// Whether `s` reads as a Chinese personal name (2–4 Han characters, or a
/// transliterated `·` name), not an organisation.
pub fn is_person_name(s: &str) -> bool {
    let n = s.chars().count();
    let han = s.chars().all(|c| super::text::is_cjk(c) || c == '·');
    let shaped = if s.contains('·') {
        (3..=12).contains(&n)
    } else {
        (2..=4).contains(&n)
    };
    han && shaped && !s.ends_with(ORG_ENDINGS)
}

/// Names in `value`: split on `、，, ` and spaces; a name written with a
/// space inside (`方 敏`) is joined again.
pub fn split_names(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value
        .split(|c: char| c.is_whitespace() || matches!(c, '、' | '，' | ',' | '；' | ';' | '/'))
        .filter(|p| !p.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let p = parts[i];
        // `方 敏`: two single characters are one name.
        if p.chars().count() == 1 && i + 1 < parts.len() && parts[i + 1].chars().count() == 1 {
            out.push(format!("{p}{}", parts[i + 1]));
            i += 2;
            continue;
        }
        out.push(p.to_string());
        i += 1;
    }
    out.retain(|n| is_person_name(n));
    out
}

fn authors(names: Vec<String>, role: Option<&str>) -> Vec<Author> {
    names
        .into_iter()
        .map(|name| Author {
            name,
            role: role.map(str::to_string),
            ..Author::default()
        })
        .collect()
}

/// Credits in the opening of a report (its first ~200 characters): the
/// dateline's `（记者邹伟）`, a `本报记者 张三 李四` line, `文丨… 韩涵`.
pub fn opening_credits(text: &str) -> Vec<Author> {
    static DATELINE: OnceLock<Regex> = OnceLock::new();
    static REPORTER: OnceLock<Regex> = OnceLock::new();
    static ESSAY: OnceLock<Regex> = OnceLock::new();
    let head: String = text.chars().take(200).collect();
    // `…电（记者邹伟）` `…讯（记者 岳品瑜 董晗萱）` `…电（刘艺、杨吉）`
    let dateline = re(
        &DATELINE,
        r"(?:电|讯|报道|消息)\s*[（(]\s*(?:\p{Han}{0,12}?(记者|通讯员))?\s*([\p{Han}·、，\s]{2,40}?)\s*[）)]",
    );
    if let Some(c) = dateline.captures(&head) {
        let role = c.get(1).map(|m| m.as_str());
        let names = split_names(&c[2]);
        if !names.is_empty() {
            return authors(names, role.or(Some("记者")));
        }
    }
    // A short first line `本报记者 王乐文 方 敏` / `新华社记者邹多为、唐诗凝、丁乐` /
    // `某某日报·客户端记者 张三` / `东方网记者曹磊5月13日报道`.
    let reporter = re(
        &REPORTER,
        r"^(?:[\p{Han}·]{0,16}?)(记者|通讯员)\s*((?:\p{Han}{2,4}|\p{Han}\s\p{Han})(?:\s*[、，\s]\s*(?:\p{Han}{2,4}|\p{Han}\s\p{Han}))*)\s*(?:$|\d{1,2}月\d{1,2}日)",
    );
    for line in head.lines().take(3) {
        let line = line.trim();
        if line.chars().count() > 60 {
            continue;
        }
        if let Some(c) = reporter.captures(line) {
            let names = split_names(&c[2]);
            if !names.is_empty() {
                return authors(names, Some(&c[1]));
            }
        }
    }
    // Inside the opening, after the dateline and a `题：…` line run into it:
    // `…巩固新华社记者邹多为、唐诗凝、丁乐9日，海关总署…`.
    static AGENCY: OnceLock<Regex> = OnceLock::new();
    let agency = re(
        &AGENCY,
        r"(?:社|报|台|网)(记者|通讯员)\s*(\p{Han}{2,4}(?:[、，]\p{Han}{2,4})*)\s*(?:\d{1,2}月)?\d{1,2}日",
    );
    if let Some(c) = agency.captures(&head) {
        let names = split_names(&c[2]);
        if !names.is_empty() {
            return authors(names, Some(&c[1]));
        }
    }
    // `文丨政能亮特约评论员 韩涵`, `文/张三`
    let essay = re(&ESSAY, r"^文\s*[丨|｜/:：]\s*(?:.*?\s)?([\p{Han}·]{2,6})$");
    for line in head.lines().take(3) {
        if let Some(c) = essay.captures(line.trim()) {
            if is_person_name(&c[1]) {
                return authors(vec![c[1].to_string()], None);
            }
        }
    }
    Vec::new()
}

/// Credits at the end of a report: `（某某网编辑 孙七）`, `（记者 张三）`,
/// `来源：赵六` / `作者：赵六` as the last line when it names a person.
pub fn closing_credits(text: &str) -> Vec<Author> {
    static PAREN: OnceLock<Regex> = OnceLock::new();
    static SOURCE: OnceLock<Regex> = OnceLock::new();
    // The desk editor's line (`【责任编辑：郭旭】`) closes the page, not the report.
    static EDITOR: OnceLock<Regex> = OnceLock::new();
    let editor = re(&EDITOR, r"^[【\[（(]?\s*(?:责任编辑|责编|编辑)\s*[：:]");
    let Some(last) = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !editor.is_match(l))
    else {
        return Vec::new();
    };
    // A bare `（郭旭）` closing the report.
    static BARE: OnceLock<Regex> = OnceLock::new();
    let bare = re(&BARE, r"[（(]([\p{Han}·]{2,4})[）)]$");
    if let Some(c) = bare.captures(last) {
        let name = &c[1];
        if is_person_name(name) && !matches!(name, "待续" | "未完" | "完结" | "续完" | "全文完")
        {
            return authors(vec![name.to_string()], None);
        }
    }
    if last.chars().count() > 40 {
        return Vec::new();
    }
    let paren = re(
        &PAREN,
        r"[（(]\s*[\p{Han}·]{0,12}?(记者|通讯员|编辑|作者|撰稿)\s*([：:]?)\s*([\p{Han}·、\s]{2,30}?)\s*[）)]$",
    );
    if let Some(c) = paren.captures(last) {
        // `（某某网编辑 孙七）` wrote it; `(编辑：文静)` is the desk editor.
        if &c[1] == "编辑" && !c[2].is_empty() {
            return Vec::new();
        }
        let names = split_names(&c[3]);
        if !names.is_empty() {
            let role = match &c[1] {
                "作者" | "撰稿" => None,
                r => Some(r),
            };
            return authors(names, role);
        }
    }
    let source = re(
        &SOURCE,
        r"^(?:来源|作者|文)\s*[：:丨|]\s*([\p{Han}·]{2,6})$",
    );
    if let Some(c) = source.captures(last) {
        if is_person_name(&c[1]) {
            return authors(vec![c[1].to_string()], None);
        }
    }
    Vec::new()
}

/// Credits printed just under the headline, outside the text that main-content
/// extraction keeps (`本报记者  王乐文  方  敏` between the headline and the
/// date): the lines that follow the headline, read as a report's opening.
pub fn credits_after_headline(lines_after: &[String]) -> Vec<Author> {
    for line in lines_after.iter().take(6) {
        let found = opening_credits(&super::html::collapse_whitespace(line));
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// An organisation named where a person is expected (`作者：新京报`).
pub fn is_organisation(name: &str) -> bool {
    name.chars().count() >= 3
        && name.chars().all(super::text::is_cjk)
        && name.ends_with(ORG_ENDINGS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_run_into_the_opening_and_under_the_headline() {
        let text = "新华社北京5月9日电 题：积极因素不断增多 动能增强——前4个月外贸向好态势进一步巩固新华社记者张小明、李四、王五9日，海关总署发布最新数据。";
        let names: Vec<String> = opening_credits(text).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["张小明", "李四", "王五"]);
        let lines: Vec<String> = [
            "副标题：在新时代争先出彩",
            "本报记者  赵大海  方  敏",
            "2024年05月10日06:58",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let names: Vec<String> = credits_after_headline(&lines)
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["赵大海", "方敏"]);
        assert!(credits_after_headline(&["来源：某某网".to_string()]).is_empty());
        assert!(is_organisation("新京报") && is_organisation("某某日报"));
        let closing: Vec<String> =
            closing_credits("正文最后一段。（郭小旭）\n【责任编辑：郭小旭】")
                .into_iter()
                .map(|a| a.name)
                .collect();
        assert_eq!(closing, ["郭小旭"]);
        assert!(!is_organisation("王乐文") && !is_organisation("李社"));
    }

    fn names(a: &[Author]) -> Vec<&str> {
        a.iter().map(|a| a.name.as_str()).collect()
    }

    #[test]
    fn datelines_and_reporter_lines() {
        let a = opening_credits("新华社乌鲁木齐5月9日电（记者邹伟）中共中央政治局常委……");
        assert_eq!(names(&a), ["邹伟"]);
        assert_eq!(a[0].role.as_deref(), Some("记者"));
        let a = opening_credits("北京商报讯（记者 岳品瑜 董晗萱）5月20日，中国人民银行……");
        assert_eq!(names(&a), ["岳品瑜", "董晗萱"]);
        let a = opening_credits("新华社北京5月19日电（刘艺、杨吉） 中国科学院专家19日……");
        assert_eq!(names(&a), ["刘艺", "杨吉"]);
        let a = opening_credits("本报记者 王乐文 方 敏\n5月9日，国务院新闻办举行……");
        assert_eq!(names(&a), ["王乐文", "方敏"]);
        let a = opening_credits("某某日报·客户端记者 张三\n正文第一段。");
        assert_eq!(names(&a), ["张三"]);
        let a = opening_credits("某某日报记者 李四 王五\n正文第一段。");
        assert_eq!(names(&a), ["李四", "王五"]);
        let a = opening_credits("东方网记者曹磊5月13日报道：2024年5月19日是……");
        assert_eq!(names(&a), ["曹磊"]);
        let a = opening_credits("文丨政能亮特约评论员 韩涵\n“事机一失应难再”");
        assert_eq!(names(&a), ["韩涵"]);
        assert!(opening_credits("据央视新闻消息，2024年5月16日，江苏省无锡市……").is_empty());
        assert!(opening_credits("中国网5月13日讯 据呼和浩特市人民政府网站消息").is_empty());
    }

    #[test]
    fn closing_lines() {
        assert_eq!(
            names(&closing_credits("正文。\n（某某网编辑 孙七）")),
            ["孙七"]
        );
        assert_eq!(names(&closing_credits("正文。\n来源: 赵六")), ["赵六"]);
        assert!(closing_credits("正文。\n来源：新华社").is_empty());
        assert!(closing_credits("正文。\n(编辑：文静)").is_empty());
        assert_eq!(
            names(&closing_credits("获得了观众的阵阵掌声肯定。（郭旭）")),
            ["郭旭"]
        );
        assert!(closing_credits("正文。（待续）").is_empty());
        assert!(closing_credits("正文。\n来源：湖塘镇").is_empty());
        assert!(
            closing_credits(
                "正文最后一句很长很长很长很长很长很长很长很长很长很长很长很长很长很长很长。"
            )
            .is_empty()
        );
    }

    #[test]
    fn person_names() {
        for n in ["张三", "欧阳修远", "方敏"] {
            assert!(is_person_name(n), "{n}");
        }
        for n in ["新华社", "人民网", "湖塘镇", "国家统计局", "a", "张"] {
            assert!(!is_person_name(n), "{n}");
        }
    }
}
