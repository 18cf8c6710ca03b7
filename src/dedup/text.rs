//! Text normalization and shingling: the comparable form of an entry.

use super::sketch::mix64;
use std::borrow::Cow;
use std::sync::OnceLock;
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
    /// Headline grams, numbers with units, named places (for digests, see
    /// [`super::digest`]).
    pub facts: Vec<u32>,
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
/// when the text is already stable (the common case for feeds): ASCII is
/// returned as is, without a copy.
pub fn fold(s: &str) -> Cow<'_, str> {
    let mut buf = FoldBufs::default();
    match fold_with(s, &mut buf) {
        Folded::Same => Cow::Borrowed(s),
        Folded::Changed => Cow::Owned(buf.out),
    }
}

/// [`fold_with`]'s buffers, kept between calls (no allocation per text).
#[derive(Debug, Default)]
struct FoldBufs {
    /// The folded text, when it differs.
    out: String,
    tmp: String,
}

/// What [`fold_with`] did: the text was already folded, or the folded text
/// is in `out`.
#[derive(PartialEq)]
enum Folded {
    Same,
    Changed,
}

/// [`fold`] into reused buffers. Width folding, the NFKC check and the
/// traditional-char check share one pass over the chars (they were three).
fn fold_with(s: &str, b: &mut FoldBufs) -> Folded {
    if s.is_ascii() {
        return Folded::Same;
    }
    let wide = |c: char| matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}');
    let (mut any_wide, mut active) = (false, false);
    // `is_nfkc_quick` of the width-folded chars, common ideographs as `a`:
    // the crate's ASCII path instead of a table search each (same answer,
    // both are stable starters). It answers Yes only after reading every
    // char, so then
    // `any_wide` and `active` cover the whole text; otherwise they are
    // recomputed below.
    let stable = is_nfkc_quick(s.chars().map(|c| {
        any_wide |= wide(c);
        let f = fold_width(c);
        active |= t2s_active(f);
        if is_ideograph(f) { 'a' } else { f }
    })) == IsNormalized::Yes;
    if stable && !any_wide && !active {
        return Folded::Same;
    }
    b.out.clear();
    b.out.extend(s.chars().map(fold_width));
    if !stable {
        b.tmp.clear();
        b.tmp.extend(b.out.nfkc());
        std::mem::swap(&mut b.out, &mut b.tmp);
        active = b.out.chars().any(t2s_active);
    }
    if active {
        t2s(&b.out, &mut b.tmp);
        std::mem::swap(&mut b.out, &mut b.tmp);
    }
    Folded::Changed
}

/// `s` folded: itself or `fb.out`.
fn folded<'a>(s: &'a str, fb: &'a mut FoldBufs) -> &'a str {
    match fold_with(s, fb) {
        Folded::Same => s,
        Folded::Changed => fb.out.as_str(),
    }
}

/// `fast2s::convert` into `out`: most chars map alone (a table lookup); the
/// few whose rules look one char either side are converted with their
/// neighbours.
fn t2s(s: &str, out: &mut String) {
    out.clear();
    let mut win = String::new();
    let mut prev = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match t2s_entry(c) {
            T2S_SAME => out.push(c),
            T2S_CONTEXT => {
                win.clear();
                win.extend(prev);
                win.push(c);
                win.extend(chars.peek().copied());
                // One char out per char in: ours is after `prev`, if any.
                let done = fast2s::convert(&win);
                out.push(done.chars().nth(prev.is_some() as usize).unwrap_or(c));
            }
            to => out.push(char::from_u32(to as u32).unwrap_or(c)),
        }
        prev = Some(c);
    }
}

/// Common CJK ideographs: no decomposition, combining class 0 (tested).
fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}')
}

/// Keys of fast2s's context rules (0.3.1: its exclusion and special-case
/// tables): their conversion depends on the neighbouring chars.
const T2S_CONTEXT_KEYS: &[char] = &[
    '兒', '覆', '夥', '藉', '瞭', '麽', '幺', '於', '乾', '著', '苧', '闔', '鍾', '讎', '畫',
];

const T2S_SAME: u16 = 0;
const T2S_CONTEXT: u16 = 1;

/// What fast2s does to `c`: `T2S_SAME`, `T2S_CONTEXT` (depends on the
/// neighbours), or the code point it becomes. A table over the BMP (fast2s
/// only converts 3-byte chars), built once from fast2s itself.
fn t2s_entry(c: char) -> u16 {
    static TABLE: OnceLock<Vec<u16>> = OnceLock::new();
    let cp = c as usize;
    if !(0x800..0x10000).contains(&cp) {
        return T2S_SAME;
    }
    let table = TABLE.get_or_init(|| {
        let mut t = vec![T2S_SAME; 0x10000];
        let mut buf = [0u8; 4];
        for x in (0x800u32..0x10000).filter_map(char::from_u32) {
            let one = x.encode_utf8(&mut buf);
            let done = fast2s::convert(one);
            let mut it = done.chars();
            t[x as usize] = match (it.next(), it.next()) {
                _ if T2S_CONTEXT_KEYS.contains(&x) => T2S_CONTEXT,
                (Some(y), None) if y == x => T2S_SAME,
                (Some(y), None) if (2..0x10000).contains(&(y as u32)) => y as u16,
                _ => T2S_CONTEXT,
            };
        }
        t
    });
    table[cp]
}

fn t2s_active(c: char) -> bool {
    t2s_entry(c) != T2S_SAME
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2FFFF}')
}

/// Removes inline credits: `本报讯（记者 …）`, a trailing `（张三）` byline,
/// `（全文见…）`. Works on folded text, where brackets are ASCII.
fn strip_inline(line: &str) -> Cow<'_, str> {
    let t = line.trim();
    if !t.starts_with("本报讯") && !t.ends_with(')') && !t.contains("(全文见") {
        return Cow::Borrowed(t);
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
    Cow::Owned(s)
}

fn is_boilerplate(line: &str) -> bool {
    let t = line.trim_start();
    // Only the head decides, lowercased lazily: no allocation per line.
    let head = || t.chars().take(16).flat_map(char::to_lowercase);
    let starts = |p: &str| {
        let mut h = head();
        p.chars().all(|c| h.next() == Some(c))
    };
    let Some(first) = head().next() else {
        return false;
    };
    // "By Jane Smith, Staff Writer": a short line opening with "by".
    let byline = first == 'b' && starts("by ") && t.split_whitespace().count() <= 7;
    byline
        || DROP_PREFIXES
            .iter()
            // Not `starts_with(first)`: that compares through a memcmp call.
            .any(|p| p.chars().next().is_some_and(|c| c == first) && starts(p))
        || (first == '(' && t.contains("全文见"))
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
    if c.is_ascii() {
        if c.is_ascii_digit() {
            Kind::Digit
        } else if c.is_ascii_alphabetic() {
            Kind::Alpha
        } else {
            Kind::Sep
        }
    } else if is_cjk(c) {
        Kind::Cjk
    } else if c.is_alphanumeric() {
        Kind::Alpha
    } else {
        Kind::Sep
    }
}

/// The word being read, hashed as it grows (the FNV-1a of `str_hash` over
/// its lowercased UTF-8) rather than kept as a String.
struct Word {
    fnv: u64,
    chars: usize,
}

impl Word {
    const EMPTY: Word = Word {
        fnv: 0xCBF2_9CE4_8422_2325,
        chars: 0,
    };

    fn push(&mut self, c: char) {
        self.chars += 1;
        if c.is_ascii() {
            self.fnv = (self.fnv ^ c as u64).wrapping_mul(0x0100_0000_01B3);
            return;
        }
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            self.fnv = (self.fnv ^ b as u64).wrapping_mul(0x0100_0000_01B3);
        }
    }
}

/// Buffers reused from one [`prepare_with`] to the next: an engine that
/// prepares many entries allocates only what it keeps, each vector at its
/// exact size.
#[derive(Debug, Default)]
pub struct Scratch {
    kept: String,
    /// Length of the headline at the start of `kept`.
    title_len: usize,
    fold: FoldBufs,
    tok: Tokens,
    facts: super::digest::FactScratch,
}

/// The tokenizer's working vectors.
#[derive(Debug, Default)]
struct Tokens {
    tokens: Vec<u64>,
    shingles: Vec<u32>,
    anchors: Vec<u64>,
    known: Vec<u64>,
    /// [`sort_u32`]'s scratch.
    radix: Vec<u32>,
}

/// Sorts `v` ascending, as `sort_unstable` does. Shingle hashes are
/// uniform, so one counting pass on their top bits, with about as many
/// buckets as values, leaves buckets of zero to two values, each then put
/// in order alone (a skewed input falls back to `sort_unstable` per bucket):
/// a few steps per value, where the previous four 8-bit radix passes (or a
/// comparison sort below 96 values) took several times more. `tmp` is
/// scratch.
fn sort_u32(v: &mut Vec<u32>, tmp: &mut Vec<u32>) {
    let n = v.len();
    if n < 32 {
        v.sort_unstable();
        return;
    }
    // 2^bits buckets, the least power of two ≥ n (at most 2^16).
    let bits = (usize::BITS - (n - 1).leading_zeros()).min(16);
    let shift = 32 - bits;
    // Bucket starts, then (after the scatter) bucket ends, stored after the
    // values in `tmp` to need no second scratch vector.
    tmp.clear();
    tmp.resize(n + (1 << bits), 0);
    let (out, ends) = tmp.split_at_mut(n);
    for &x in v.iter() {
        ends[(x >> shift) as usize] += 1;
    }
    let mut sum = 0;
    for e in ends.iter_mut() {
        (*e, sum) = (sum, sum + *e);
    }
    for &x in v.iter() {
        let b = (x >> shift) as usize;
        out[ends[b] as usize] = x;
        ends[b] += 1;
    }
    let mut lo = 0;
    for &hi in ends.iter() {
        let hi = hi as usize;
        match hi - lo {
            0 | 1 => {}
            2 => {
                if out[lo] > out[lo + 1] {
                    out.swap(lo, lo + 1);
                }
            }
            _ => out[lo..hi].sort_unstable(),
        }
        lo = hi;
    }
    tmp.truncate(n);
    std::mem::swap(v, tmp);
}

/// Normalizes title + body into shingles and anchors.
/// `cjk_n` / `word_n` are the shingle lengths for CJK-dominant and other text.
pub fn prepare(title: &str, body: &str, cjk_n: usize, word_n: usize) -> Prepared {
    prepare_with(&mut Scratch::default(), title, body, cjk_n, word_n)
}

/// [`prepare`] with buffers kept between calls.
pub fn prepare_with(
    sc: &mut Scratch,
    title: &str,
    body: &str,
    cjk_n: usize,
    word_n: usize,
) -> Prepared {
    let mut p = prepare_text(sc, title, body, cjk_n, word_n);
    p.facts = super::digest::facts_with(&mut sc.facts, &sc.kept[..sc.title_len], &sc.kept);
    p
}

/// [`prepare_with`] without the digest facts (`facts` left empty): most
/// entries are never scored as a digest, so an engine computes them with
/// [`facts`] when a pair first needs them. [`number_facts`] then gives the
/// part of them that index keys come from.
pub fn prepare_text(
    sc: &mut Scratch,
    title: &str,
    body: &str,
    cjk_n: usize,
    word_n: usize,
) -> Prepared {
    sc.title_len = keep(&mut sc.kept, &mut sc.fold, title, body);
    tokenize(&sc.kept, cjk_n, word_n, &mut sc.tok)
}

/// The facts of kinds numbers and dates of the text last prepared with
/// `sc` (sorted, deduplicated): exactly those of [`prepare_with`]'s facts.
pub fn number_facts(sc: &mut Scratch) -> &[u32] {
    super::digest::number_facts_with(&mut sc.facts, &sc.kept)
}

/// The digest facts of a title and body, as [`prepare_with`] computes them.
pub fn facts(title: &str, body: &str) -> Vec<u32> {
    let mut sc = Scratch::default();
    let title_len = keep(&mut sc.kept, &mut sc.fold, title, body);
    super::digest::facts_with(&mut sc.facts, &sc.kept[..title_len], &sc.kept)
}

/// The text compared, into `kept`: the folded headline, then the body's
/// lines that are not credits or navigation. Returns the headline's length.
fn keep(kept: &mut String, fb: &mut FoldBufs, title: &str, body: &str) -> usize {
    kept.clear();
    kept.reserve(title.len() + body.len() + 1);
    kept.push_str(&strip_inline(folded(title, fb)));
    let title_len = kept.len();
    for line in folded(body, fb).lines() {
        if line.trim().is_empty() || is_boilerplate(line) {
            continue;
        }
        // Every line boundary is a token boundary; paragraphs broken inside a
        // CJK sentence rejoin for free because separators carry no tokens.
        kept.push('\n');
        kept.push_str(&strip_inline(line));
    }
    title_len
}

fn tokenize(s: &str, cjk_n: usize, word_n: usize, t: &mut Tokens) -> Prepared {
    let mut tokens = std::mem::take(&mut t.tokens);
    tokens.clear();
    tokens.reserve(s.len() / 2);
    let (anchors, known) = (&mut t.anchors, &mut t.known);
    anchors.clear();
    known.clear();
    let mut cjk = 0usize;
    let mut word = Word::EMPTY;
    let mut word_kind = Kind::Sep;
    let mut word_cap = false;
    // A capitalised word at a sentence start is not evidence of a name.
    let mut at_start = true;
    let mut word_at_start = false;
    // Headlines are Title Case: their capitals say nothing about names.
    let mut in_title = true;
    let mut flush = |word: &mut Word, k: Kind, cap: bool, start: bool, toks: &mut Vec<u64>| {
        if word.chars == 0 {
            return;
        }
        let h = mix64(word.fnv);
        toks.push(h);
        let a = mix64(h ^ 0xA5);
        if k == Kind::Digit || (k == Kind::Alpha && cap && word.chars > 1) {
            known.push(a);
            if k == Kind::Digit || !start {
                anchors.push(a);
            }
        }
        *word = Word::EMPTY;
    };
    let bytes = s.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        // Most chars continue an ASCII word (letters after a letter, digits
        // after a digit): the general steps below would only append each.
        if word.chars > 0 && matches!(word_kind, Kind::Alpha | Kind::Digit) {
            let digits = word_kind == Kind::Digit;
            while let Some(&b) = bytes.get(at) {
                if !(if digits {
                    b.is_ascii_digit()
                } else {
                    b.is_ascii_alphabetic()
                }) {
                    break;
                }
                word.push(b.to_ascii_lowercase() as char);
                at += 1;
            }
        }
        // A run of CJK ideographs (3-byte UTF-8, U+3400..U+9FFF): each is a
        // token and changes nothing else, so the general steps are skipped.
        if word_kind == Kind::Cjk {
            while let [b0 @ 0xE3..=0xE9, b1, b2, ..] = bytes[at..] {
                let c = (b0 as u32 & 0x0F) << 12 | (b1 as u32 & 0x3F) << 6 | (b2 as u32 & 0x3F);
                if !matches!(c, 0x3400..=0x4DBF | 0x4E00..=0x9FFF) {
                    break;
                }
                tokens.push(c as u64);
                cjk += 1;
                at += 3;
            }
        }
        // An ASCII byte is its char: no UTF-8 decoding.
        let c = match bytes.get(at) {
            Some(&b) if b.is_ascii() => b as char,
            _ => match s.get(at..).and_then(|r| r.chars().next()) {
                Some(c) => c,
                None => break,
            },
        };
        let here = at;
        at += c.len_utf8();
        let k = kind(c);
        // A decimal point inside a number stays part of it.
        // (An ASCII digit byte is always a whole char.)
        if c == '.'
            && word_kind == Kind::Digit
            && bytes.get(here + 1).is_some_and(u8::is_ascii_digit)
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
                if word.chars == 0 {
                    word_cap = c.is_uppercase();
                    word_at_start = at_start || in_title;
                    at_start = false;
                }
                if c.is_ascii() {
                    word.push(c.to_ascii_lowercase());
                } else {
                    c.to_lowercase().for_each(|l| word.push(l));
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
    };
    let p = finish(&tokens, n, t);
    t.tokens = tokens;
    p
}

/// Shingles of `n` tokens (one shingle for a shorter text), each set sorted
/// and deduplicated; `t` holds the anchors and known words. The kept
/// vectors are exact-size copies of the working ones.
fn finish(tokens: &[u64], n: usize, t: &mut Tokens) -> Prepared {
    let n = n.max(1);
    let shingles = &mut t.shingles;
    shingles.clear();
    if tokens.len() <= n {
        if !tokens.is_empty() {
            shingles.push(gram(tokens));
        }
    } else {
        shingles.extend(tokens.windows(n).map(gram));
    }
    sort_u32(shingles, &mut t.radix);
    shingles.dedup();
    t.anchors.sort_unstable();
    t.anchors.dedup();
    t.known.sort_unstable();
    t.known.dedup();
    Prepared {
        shingles: shingles.as_slice().to_vec(),
        anchors: t.anchors.as_slice().to_vec(),
        known: t.known.as_slice().to_vec(),
        facts: Vec::new(),
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

    /// The straightforward fold the fast paths must agree with.
    fn fold_reference(s: &str) -> String {
        let w: String = s.chars().map(fold_width).collect();
        let w = if is_nfkc_quick(w.chars()) == IsNormalized::Yes {
            w
        } else {
            w.nfkc().collect()
        };
        if w.is_ascii() { w } else { fast2s::convert(&w) }
    }

    #[test]
    fn fast_fold_matches_reference() {
        let cases = [
            "plain ASCII text, 3.5 tons",
            "湖塘鎮：開展活動，２０２４年\u{3000}ＡＢＣ",
            "企畫 計畫 企劃 計劃 畫圖 畫畫",
            "乾隆的乾兒子一邊乾淨利落地擲出了一個乾卦",
            "「藉」其他意义仍然保留的，藉口、憑藉的藉",
            "看著 苧麻 闔家 鍾書 校讎",
            "畫畫乾乾藉藉著著",
            "兒寬 答覆 批覆 回覆 甚夥 慰藉 狼藉 瞭望 幺麽 樊於 乾隆 乾坤 乾卦",
            "藉口 憑藉 看著 苧麻 闔家 鍾書 校讎 讎定 仇讎 計畫 企畫",
            "兒子 覆蓋 夥伴 明瞭 什麽 於是 乾淨 著名 闔上 鍾錶 畫家",
            "乾",
            "藉口",
            "ﬁle ① ㈱ ｶﾀｶﾅ Å e\u{301} a\u{301}\u{316} 漢字\u{301}",
            "中文。“引号”《书名》、顿号 mixed with English",
            "",
        ];
        for c in cases {
            assert_eq!(fold(c), fold_reference(c), "{c}");
        }
        // Every BMP char alone and between ideographs (context rules).
        for x in (0x80u32..0x10000).filter_map(char::from_u32) {
            for s in [x.to_string(), format!("中{x}国")] {
                assert_eq!(fold(&s), fold_reference(&s), "U+{:04X}", x as u32);
            }
        }
    }

    /// The tokenizer before its fast paths (a String per word).
    fn kind_reference(c: char) -> Kind {
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

    fn tokenize_reference(s: &str, cjk_n: usize, word_n: usize) -> Prepared {
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
        let mut flush =
            |word: &mut String, k: Kind, cap: bool, start: bool, toks: &mut Vec<u64>| {
                if word.is_empty() {
                    return;
                }
                let h = super::super::sketch::str_hash(word);
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
            let k = kind_reference(c);
            // A decimal point inside a number stays part of it.
            if c == '.'
                && word_kind == Kind::Digit
                && chars.peek().is_some_and(|n| n.is_ascii_digit())
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
        };
        let mut t = Tokens {
            anchors,
            known,
            ..Tokens::default()
        };
        finish(&tokens, n, &mut t)
    }

    #[test]
    fn tokenizer_matches_reference() {
        let parts = [
            "Mayor", "SMITH", "said", " ", "  ", ".", "3", "3.5", "12.", ".7", "1.2.3", "\n", "!",
            "?", ":", "\"", "“", "。", "，", ",", "中", "國", "日本", "é", "École", "İs", "ß", "ǅ",
            "Ωmega", "x1", "1x", "a.b", "(", ")", "-", "’", "٣", "Ⅻ", "\u{301}", "",
        ];
        let mut x = 0x9E37_79B9u64;
        // One set of buffers for every call, as an engine uses them.
        let mut reused = Tokens::default();
        for round in 0..4000 {
            let mut s = String::new();
            for _ in 0..(round % 40) {
                x = mix64(x);
                s.push_str(parts[(x % parts.len() as u64) as usize]);
            }
            for (c, w) in [(3, 3), (2, 1), (1, 4)] {
                let a = tokenize(&s, c, w, &mut reused);
                let b = tokenize_reference(&s, c, w);
                assert_eq!(
                    (a.shingles, a.anchors, a.known),
                    (b.shingles, b.anchors, b.known),
                    "{s:?}"
                );
            }
        }
    }

    #[test]
    fn radix_sort_matches_sort_unstable() {
        let mut x = 3u64;
        let mut tmp = Vec::new();
        for n in [0, 1, 31, 32, 33, 64, 95, 96, 97, 200, 1000, 5000, 70_000] {
            for spread in [u32::MAX, 255, 0xFF00, 0xFFFF_0000] {
                let mut v: Vec<u32> = (0..n)
                    .map(|_| {
                        x = mix64(x);
                        (x as u32) & spread
                    })
                    .collect();
                let mut want = v.clone();
                want.sort_unstable();
                sort_u32(&mut v, &mut tmp);
                assert_eq!(v, want, "{n} {spread:x}");
            }
        }
    }

    #[test]
    fn ideographs_are_stable_starters() {
        for c in ('\u{4E00}'..='\u{9FFF}').filter(|c| is_ideograph(*c)) {
            assert_eq!(unicode_normalization::char::canonical_combining_class(c), 0);
            assert_eq!(is_nfkc_quick(std::iter::once(c)), IsNormalized::Yes);
        }
    }

    #[test]
    fn word_hash_is_str_hash() {
        for w in ["a", "springfield", "3.5", "straße", "i\u{307}stanbul", "ǆ"] {
            let mut x = Word::EMPTY;
            w.chars().for_each(|c| x.push(c));
            assert_eq!(
                (mix64(x.fnv), x.chars),
                (super::super::sketch::str_hash(w), w.chars().count())
            );
        }
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
