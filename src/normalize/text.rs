//! Repairs of layout artifacts in plain text.

/// Sentence-ending punctuation after which a line break is a real paragraph break.
pub(crate) const SENTENCE_END: &[char] = &[
    '。', '！', '？', '…', '”', '」', '』', '）', ')', '.', '!', '?', '：', ':', '；', ';', '》',
    '】',
];

pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{20000}'..='\u{2a6df}'
        | '\u{f900}'..='\u{faff}' | '\u{3040}'..='\u{30ff}' | '\u{ac00}'..='\u{d7af}')
}

/// CJK punctuation that can continue a sentence (`，` `、` and friends).
fn is_cjk_continuation(c: char) -> bool {
    matches!(c, '，' | '、' | '“' | '《' | '（' | '「' | '『' | '—' | '·')
}

/// Joins lines where a paragraph was broken mid-sentence: the line ends with
/// a CJK character or continuing punctuation (not a sentence end) and the
/// next starts with CJK text. `…关爱服务体` + `系，绘就…` → one line.
pub fn join_broken_lines(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    for line in lines {
        if let Some(prev) = out.last_mut() {
            let end = prev.chars().last();
            let start = line.chars().next();
            let broken = match (end, start) {
                (Some(e), Some(s)) => {
                    !SENTENCE_END.contains(&e)
                        && (is_cjk(e) || is_cjk_continuation(e))
                        && (is_cjk(s) || is_cjk_continuation(s) || s.is_ascii_digit())
                        // A short line without a clause is a heading, not half a sentence.
                        && super::article::is_prose(prev)
                }
                _ => false,
            };
            if broken {
                prev.push_str(line);
                continue;
            }
        }
        out.push(line.clone());
    }
    out
}

/// A rough language guess: Chinese when CJK characters dominate the letters.
pub fn guess_language(text: &str) -> Option<&'static str> {
    let mut cjk = 0usize;
    let mut latin = 0usize;
    for c in text.chars().take(2000) {
        if is_cjk(c) {
            cjk += 1;
        } else if c.is_alphabetic() {
            latin += 1;
        }
    }
    if cjk == 0 && latin == 0 {
        None
    } else if cjk * 3 >= latin {
        Some("zh")
    } else if latin > 0 {
        Some("en")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn joins_mid_sentence_breaks_only() {
        let got = join_broken_lines(&lines(&[
            "全面落实城乡低保、特困人员保障标准提标政策，完善妇女、儿童、老年人、残疾人、退役军人关爱服务体",
            "系，绘就更有温度的民生画卷。",
            "全力优化公共服务。紧扣幼有优育、老有颐养、弱有所扶、住有所安、居有所美、民有所乐的目标。",
            "坚守安全发展底线。",
        ]));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].contains("关爱服务体系，绘就"));
    }

    #[test]
    fn headings_and_english_stay_apart() {
        let got = join_broken_lines(&lines(&[
            "“理论课堂”唱响主旋律",
            "1月15日，一堂冬训课",
            "An English line",
            "another",
        ]));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn languages() {
        assert_eq!(guess_language("湖塘镇 news"), Some("zh"));
        assert_eq!(guess_language("Plain English text"), Some("en"));
        assert_eq!(guess_language("123"), None);
    }
}
