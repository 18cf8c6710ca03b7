//! Text normalization and shingling: the comparable form of an entry.

use super::sketch::{mix64, str_hash};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// What the matcher keeps of one entry's text.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// Sorted, deduplicated 32-bit shingle hashes.
    pub shingles: Vec<u32>,
    /// Sorted hashes of numbers and (Latin) proper names: facts that differ
    /// between template reports even when their wording agrees.
    pub anchors: Vec<u64>,
    /// Anchors plus sentence-initial capitalised words: where another text's
    /// anchors are looked up, so "Mayor X" matches at any position.
    pub known: Vec<u64>,
}

/// Lines that are credits or navigation, not content (checked after folding).
const DROP_PREFIXES: &[&str] = &[
    "来源:",
    "来源 :",
    "责任编辑",
    "编辑:",
    "审核:",
    "校对:",
    "作者:",
    "记者:",
    "通讯员:",
    "□",
    "source:",
    "editor:",
    "edited by",
    "reporting by",
    "writing by",
    "photo:",
    "related:",
    "read more",
    "share this",
];

/// Fold one char: full-width ASCII and ideographic space to ASCII.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// NFKC + width folding + traditional→simplified. Skips the costly steps
/// when the text is already stable (the common case for feeds).
pub fn fold(s: &str) -> String {
    let wide = |c: char| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}');
    let w: String = if s.chars().any(wide) {
        s.chars().map(fold_width).collect()
    } else {
        s.to_string()
    };
    let w = if is_nfkc_quick(w.chars()) == IsNormalized::Yes {
        w
    } else {
        w.nfkc().collect()
    };
    if w.is_ascii() { w } else { fast2s::convert(&w) }
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2FFFF}')
}

/// Removes inline credits: `本报讯（记者 …）`, a trailing `（张三）` byline,
/// `（全文见…）`. Works on folded text, where brackets are ASCII.
fn strip_inline(line: &str) -> std::borrow::Cow<'_, str> {
    let t = line.trim();
    if !t.starts_with("本报讯") && !t.ends_with(')') && !t.contains("(全文见") {
        return std::borrow::Cow::Borrowed(t);
    }
    let mut s = t.to_string();
    if let Some(rest) = s.strip_prefix("本报讯") {
        let rest = rest.trim_start();
        s = match rest.strip_prefix('(') {
            Some(r) => r.split_once(')').map(|x| x.1).unwrap_or(r).to_string(),
            None => rest.to_string(),
        };
    }
    while let Some(start) = s.find("(全文见") {
        let end = s[start..]
            .find(')')
            .map(|e| start + e + 1)
            .unwrap_or(s.len());
        s.replace_range(start..end, "");
    }
    // A short parenthesised tail is a reporter credit, e.g. `（高新宣）`.
    if s.ends_with(')')
        && let Some(open) = s.rfind('(')
        && s[open..].chars().count() <= 14
    {
        s.truncate(open);
    }
    std::borrow::Cow::Owned(s)
}

fn is_boilerplate(line: &str) -> bool {
    let t = line.trim_start();
    // Only the head decides; lowercasing whole lines cost an allocation each.
    let head: String = t.chars().take(16).flat_map(char::to_lowercase).collect();
    let l = head.as_str();
    // "By Jane Smith, Staff Writer": a short line opening with "by".
    let byline = l.starts_with("by ") && t.split_whitespace().count() <= 7;
    byline
        || DROP_PREFIXES.iter().any(|p| l.starts_with(p))
        || (l.starts_with('(') && t.contains("全文见"))
}

/// Token kinds: CJK chars are single tokens; Latin letters and digits form runs.
#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Sep,
    Cjk,
    Alpha,
    Digit,
}

fn kind(c: char) -> Kind {
    if is_cjk(c) {
        Kind::Cjk
    } else if c.is_ascii_digit() {
        Kind::Digit
    } else if c.is_alphanumeric() {
        Kind::Alpha
    } else {
        Kind::Sep
    }
}

/// Normalizes title + body into shingles and anchors.
/// `cjk_n` / `word_n` are the shingle lengths for CJK-dominant and other text.
pub fn prepare(title: &str, body: &str, cjk_n: usize, word_n: usize) -> Prepared {
    let mut kept = String::with_capacity(title.len() + body.len() + 1);
    kept.push_str(&strip_inline(&fold(title)));
    for line in fold(body).lines() {
        if line.trim().is_empty() || is_boilerplate(line) {
            continue;
        }
        // Every line boundary is a token boundary; paragraphs broken inside a
        // CJK sentence rejoin for free because separators carry no tokens.
        kept.push('\n');
        kept.push_str(&strip_inline(line));
    }
    tokenize(&kept, cjk_n, word_n)
}

fn tokenize(s: &str, cjk_n: usize, word_n: usize) -> Prepared {
    let mut tokens: Vec<u64> = Vec::with_capacity(s.len() / 2);
    let mut anchors = Vec::new();
    let mut known = Vec::new();
    let mut cjk = 0usize;
    let mut word = String::new();
    let mut word_kind = Kind::Sep;
    let mut word_cap = false;
    // A capitalised word at a sentence start is not evidence of a name.
    let mut at_start = true;
    let mut word_at_start = false;
    // Headlines are Title Case: their capitals say nothing about names.
    let mut in_title = true;
    let mut flush = |word: &mut String, k: Kind, cap: bool, start: bool, toks: &mut Vec<u64>| {
        if word.is_empty() {
            return;
        }
        let h = str_hash(word);
        toks.push(h);
        let a = mix64(h ^ 0xA5);
        if k == Kind::Digit || (k == Kind::Alpha && cap && word.chars().count() > 1) {
            known.push(a);
            if k == Kind::Digit || !start {
                anchors.push(a);
            }
        }
        word.clear();
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let k = kind(c);
        // A decimal point inside a number stays part of it.
        if c == '.' && word_kind == Kind::Digit && chars.peek().is_some_and(|n| n.is_ascii_digit())
        {
            word.push('.');
            continue;
        }
        if k != word_kind || k == Kind::Cjk || k == Kind::Sep {
            flush(&mut word, word_kind, word_cap, word_at_start, &mut tokens);
        }
        match k {
            Kind::Cjk => {
                tokens.push(c as u64);
                cjk += 1;
                at_start = false;
            }
            Kind::Alpha | Kind::Digit => {
                if word.is_empty() {
                    word_cap = c.is_uppercase();
                    word_at_start = at_start || in_title;
                    at_start = false;
                }
                if c.is_ascii() {
                    word.push(c.to_ascii_lowercase());
                } else {
                    word.extend(c.to_lowercase());
                }
            }
            Kind::Sep => {
                if matches!(c, '.' | '!' | '?' | '\n' | '。' | ':' | '"' | '“') {
                    at_start = true;
                }
                in_title &= c != '\n';
            }
        }
        word_kind = k;
    }
    flush(&mut word, word_kind, word_cap, word_at_start, &mut tokens);
    let n = if cjk * 2 >= tokens.len() {
        cjk_n
    } else {
        word_n
    }
    .max(1);
    let mut shingles: Vec<u32> = if tokens.len() <= n {
        if tokens.is_empty() {
            Vec::new()
        } else {
            vec![gram(&tokens)]
        }
    } else {
        tokens.windows(n).map(gram).collect()
    };
    shingles.sort_unstable();
    shingles.dedup();
    anchors.sort_unstable();
    anchors.dedup();
    known.sort_unstable();
    known.dedup();
    Prepared {
        shingles,
        anchors,
        known,
    }
}

fn gram(w: &[u64]) -> u32 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64;
    for &t in w {
        h = mix64(h ^ t);
    }
    (h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_traditional_and_breaks() {
        let a = prepare(
            "湖塘鎮：開展活動",
            "２０２４年，ＡＢＣ公司\n\n來源：武進日報",
            3,
            3,
        );
        let b = prepare("湖塘镇:开展活动", "2024年,ABC\n公司", 3, 3);
        assert_eq!(a.shingles, b.shingles);
        assert_eq!(a.anchors, b.anchors);
    }

    #[test]
    fn strips_credits() {
        let a = prepare(
            "标题",
            "本报讯（记者 陈静 通讯员 牛宣）2月21日，牛塘镇举办招聘会。（顾晓峰）",
            3,
            3,
        );
        let b = prepare("标题", "2月21日，牛塘镇举办招聘会。", 3, 3);
        assert_eq!(a.shingles, b.shingles);
    }

    #[test]
    fn english_names_and_numbers_are_anchors() {
        let p = prepare(
            "Fire in town",
            "On Monday the mayor of Springfield said 3.5 tons.",
            3,
            3,
        );
        // Monday, Springfield, 3.5 (the sentence-initial "On" is not a name).
        assert_eq!(p.anchors.len(), 3);
    }
}
