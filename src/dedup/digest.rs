//! Digests and rewrites: a paper's short item (about 120 characters) that
//! retells a full report with a new headline and the key figures and
//! places, but few of its phrases. Shingle containment cannot see it; the
//! facts can: headline words, numbers with their units (`21个`, `156亿元`,
//! `$48 million`), named places and organizations (`青石镇`, `住建局`,
//! `Mill Creek`), and a publication date close to the report's.
//!
//! A short item *fits* a long one when every number it gives is in the long
//! one, enough of its figures and names are shared and the combined score
//! clears a threshold. Fitting is necessary, not sufficient: a digest joins
//! a story only when no second story fits about as well (see [`decide`]),
//! because two meetings of one town on one day share the town, the date and
//! the stock words.

use super::sketch::{mix64, str_hash};
use super::text::Prepared;
use super::verify::DedupConfig;
use std::fmt;

/// Fact kinds, in the top 3 bits of each 32-bit fact hash.
const HEAD: u32 = 0;
/// A number below 10 with its unit (`3个`): common, never an index key.
const NUM_SMALL: u32 = 1;
/// A number of 10 or more, or with a fraction, with its unit.
const NUM_BIG: u32 = 2;
/// A year, month, day or hour (`1月`, `22日`, `2024`, `March 5`).
const DATE: u32 = 3;
const NAME: u32 = 4;
/// Every number alone, without its unit: a digest gives no number its
/// report lacks (`5-2 vote` and `passed 5-2,` are the same 2).
const BARE: u32 = 5;
const KIND_SHIFT: u32 = 29;

fn tag(kind: u32, h: u64) -> u32 {
    (kind << KIND_SHIFT) | ((h >> 35) as u32)
}

fn kind_of(f: u32) -> u32 {
    f >> KIND_SHIFT
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}')
}

/// One-character suffixes of place and organization names.
const NAME_SUFFIX: &[char] = &['镇', '区', '局', '委', '乡', '县'];
/// Two-character suffixes, by their second character.
const NAME_SUFFIX2: &[(char, char)] = &[('街', '道'), ('公', '司'), ('大', '会')];
/// Common words ending in a name suffix: not names.
const NOT_NAMES: &[&str] = &[
    "社区", "园区", "小区", "全区", "我区", "本区", "该区", "城区", "景区", "辖区", "市区", "片区",
    "校区", "两区", "各区", "灾区", "禁区", "分区", "专区", "地区", "库区", "矿区", "厂区", "郊区",
    "山区", "营区", "街区", "城镇", "乡镇", "全镇", "本镇", "该镇", "各镇", "我镇", "格局", "布局",
    "结局", "当局", "开局", "大局", "全局", "时局", "政局", "全县", "各县", "全乡", "各乡",
];
/// A one-char suffix before one of these is part of a word (`区域`,
/// `委员`, `局面`).
const NOT_NAME_AFTER: &[char] = &[
    '域', '员', '属', '托', '内', '块', '别', '分', '间', '面', '部', '限', '屈',
];

/// Chinese units that make a number a date.
const DATE_UNITS: &[char] = &['年', '月', '日', '号', '时'];
/// Words skipped between a number and its unit (`3200余个` = `3200个`).
const UNIT_FILLER: &[char] = &['余', '多', '近', '逾'];

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

/// English unit spellings folded together (`$48M` = `$48 million`).
fn unit_word(w: &str) -> &str {
    match w {
        "m" | "mn" | "mln" | "million" => "million",
        "b" | "bn" | "billion" => "billion",
        "k" | "thousand" => "thousand",
        "percent" | "pct" => "%",
        _ => w.strip_suffix('s').filter(|s| s.len() > 2).unwrap_or(w),
    }
}

/// Headline words that say nothing about which story it is.
const STOCK_ZH: &[&str] = &[
    "高质量发展",
    "召开",
    "举行",
    "举办",
    "开展",
    "启动",
    "推进",
    "推动",
    "助力",
    "持续",
    "全力",
    "扎实",
    "深入",
    "积极",
    "加快",
    "工作",
    "会议",
    "活动",
    "顺利",
    "隆重",
    "圆满",
    "成功",
    "我区",
    "全区",
    "全镇",
    "今年",
];
/// English headline and unit words that carry nothing (a match, not a
/// list search: it runs for every word of every English headline).
fn stock_en(w: &str) -> bool {
    matches!(
        w,
        "a" | "an"
            | "the"
            | "of"
            | "to"
            | "in"
            | "on"
            | "at"
            | "for"
            | "and"
            | "or"
            | "with"
            | "by"
            | "from"
            | "as"
            | "is"
            | "are"
            | "was"
            | "be"
            | "its"
            | "it"
            | "new"
            | "after"
            | "over"
            | "says"
            | "said"
            | "will"
            | "up"
            | "out"
            | "get"
            | "gets"
            | "update"
            | "news"
            | "local"
    )
}

/// Facts of an entry: `title` is its folded headline, `text` the folded
/// headline and body as compared. Sorted, deduplicated, kind-tagged hashes.
pub fn facts(title: &str, text: &str) -> Vec<u32> {
    facts_with(&mut FactScratch::default(), title, text)
}

/// Buffers reused from one [`facts_with`] to the next.
#[derive(Debug, Default)]
pub struct FactScratch {
    out: Vec<u32>,
    toks: Vec<Tok>,
    word: String,
    num: String,
    buf: String,
}

/// [`facts`] with buffers kept between calls; the result is exact-size.
pub fn facts_with(sc: &mut FactScratch, title: &str, text: &str) -> Vec<u32> {
    let out = &mut sc.out;
    out.clear();
    headline_grams(title, out, &mut sc.toks, &mut sc.word);
    numbers(text, out, &mut sc.num, &mut sc.word);
    names(text, title.len(), &mut sc.buf, |n| {
        out.push(tag(NAME, str_hash(n)))
    });
    out.sort_unstable();
    out.dedup();
    out.as_slice().to_vec()
}

/// The facts of `text` that [`numbers`] gives (numbers, dates, bare
/// numbers), sorted and deduplicated: the subset of [`facts_with`]'s result
/// of those kinds, and all that [`keys_into`] reads.
pub fn number_facts_with<'a>(sc: &'a mut FactScratch, text: &str) -> &'a [u32] {
    let out = &mut sc.out;
    out.clear();
    numbers(text, out, &mut sc.num, &mut sc.word);
    out.sort_unstable();
    out.dedup();
    out
}

/// A headline token.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Cjk(char),
    /// Hash, and whether it has four digits (a year before `年`).
    Num(u64, bool),
    /// A Latin word's hash; `None` for a stock word.
    Word(Option<u64>),
    Break,
}

/// Character bigrams of the headline after dropping a `湖塘镇：`-style
/// prefix, a leading place name, years and stock words; Latin words and
/// numbers count alone. Tokens are hashed as read: no string per gram.
fn headline_grams(title: &str, out: &mut Vec<u32>, toks: &mut Vec<Tok>, word: &mut String) {
    let mut t = title.trim();
    if let Some(rest) = t.strip_prefix('【').and_then(|r| r.split_once('】')) {
        t = rest.1.trim();
    }
    if let Some((head, rest)) = t.split_once(':')
        && head.chars().count() <= 12
        && !rest.trim().is_empty()
    {
        t = rest.trim();
    }
    toks.clear();
    let mut rest = t;
    while let Some(c) = rest.chars().next() {
        if is_cjk(c) {
            toks.push(Tok::Cjk(c));
            rest = &rest[c.len_utf8()..];
        } else if c.is_ascii_digit() {
            let n = rest
                .find(|d: char| !(d.is_ascii_digit() || d == '.'))
                .unwrap_or(rest.len());
            toks.push(Tok::Num(str_hash(&rest[..n]), n == 4));
            rest = &rest[n..];
        } else if c.is_alphabetic() {
            let n = rest
                .find(|d: char| !d.is_alphabetic() || is_cjk(d))
                .unwrap_or(rest.len());
            word.clear();
            word.extend(rest[..n].chars().flat_map(char::to_lowercase));
            let keep = !stock_en(word) && word.chars().count() > 1;
            toks.push(Tok::Word(keep.then(|| str_hash(unit_word(word)))));
            rest = &rest[n..];
        } else {
            if toks.last() != Some(&Tok::Break) {
                toks.push(Tok::Break);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    // A leading place name: CJK chars up to the first name suffix among
    // the first eight.
    let lead = toks
        .iter()
        .take(8)
        .take_while(|t| matches!(t, Tok::Cjk(_)))
        .position(|t| matches!(t, Tok::Cjk(c) if NAME_SUFFIX.contains(c)));
    if let Some(p) = lead {
        toks.drain(..=p);
    }
    // Years (`2024年`) and stock words become breaks.
    for i in 0..toks.len() {
        if let (Tok::Num(_, true), Some(Tok::Cjk('年'))) = (toks[i], toks.get(i + 1)) {
            toks[i] = Tok::Break;
            toks[i + 1] = Tok::Break;
        }
    }
    let mut i = 0;
    while i < toks.len() {
        let Tok::Cjk(c) = toks[i] else {
            i += 1;
            continue;
        };
        let stock = STOCK_ZH.iter().find(|w| {
            // Not `starts_with(c)`: that compares through a memcmp call.
            w.chars().next().is_some_and(|f| f == c)
                && w.chars()
                    .skip(1)
                    .zip(&toks[i + 1..])
                    .all(|(c, t)| *t == Tok::Cjk(c))
                && w.chars().count() <= toks.len() - i
        });
        match stock {
            Some(w) => {
                let n = w.chars().count();
                toks[i..i + n].fill(Tok::Break);
                i += n;
            }
            None => i += 1,
        }
    }
    let cjk = |c: char| mix64(c as u64 ^ 0xC1C);
    for (i, t) in toks.iter().enumerate() {
        let first = match *t {
            Tok::Num(h, _) => {
                out.push(tag(HEAD, h));
                h
            }
            Tok::Word(Some(h)) => {
                out.push(tag(HEAD, h));
                continue;
            }
            Tok::Cjk(c) => cjk(c),
            _ => continue,
        };
        if let Some(&Tok::Cjk(b)) = toks.get(i + 1) {
            out.push(tag(HEAD, mix64(first.rotate_left(17) ^ cjk(b))));
        }
    }
}

/// A number's unit: what follows it.
enum Unit {
    None,
    Cjk(char),
    Percent,
    Word(u64),
}

impl Unit {
    fn hash(&self) -> u64 {
        match *self {
            Unit::None => 0,
            Unit::Cjk(c) => mix64(c as u64),
            Unit::Percent => 0x25,
            Unit::Word(h) => h,
        }
    }
}

/// Every number with its unit: the next CJK char (after `余`/`多`…), `%`,
/// or the next Latin word. Dates are told apart: a Chinese date unit, a
/// preceding month name, or a bare year.
fn numbers(text: &str, out: &mut Vec<u32>, num: &mut String, word: &mut String) {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += next_digit(&b[i..]);
            continue;
        }
        if i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
            i += 1;
            continue;
        }
        let start = i;
        num.clear();
        while i < b.len() {
            let d = b[i];
            let next_digit = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if d.is_ascii_digit() {
                num.push(d as char);
            } else if d == b'.' && next_digit {
                num.push('.');
            } else if d == b','
                && b.get(i + 1..i + 4)
                    .is_some_and(|t| t.iter().all(u8::is_ascii_digit))
                && !b.get(i + 4).is_some_and(u8::is_ascii_digit)
            {
                // Thousands separator: `3,200` = `3200`.
            } else {
                break;
            }
            i += 1;
        }
        let unit = unit_after(&text[i..], word);
        let before = text[..start].trim_end_matches([' ', '$']);
        let prev_word = before
            .rsplit(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        let month_before =
            !prev_word.is_empty() && MONTHS.iter().any(|m| m.eq_ignore_ascii_case(prev_word));
        let year = num.len() == 4 && (num.starts_with("19") || num.starts_with("20"));
        let kind = match unit {
            Unit::Cjk(c) if DATE_UNITS.contains(&c) => DATE,
            _ if month_before => DATE,
            Unit::None | Unit::Word(_) if year => DATE,
            _ if num.contains('.') || num.len() >= 2 => NUM_BIG,
            _ => NUM_SMALL,
        };
        let bare = str_hash(num);
        // A year's unit is the noun after it (`2024 budget`), not part of it.
        let fact = if kind == DATE && year {
            bare
        } else {
            mix64(bare ^ unit.hash().rotate_left(7))
        };
        out.push(tag(kind, fact));
        out.push(tag(BARE, bare));
    }
}

/// The unit right after a number (`word` is a scratch buffer).
fn unit_after(rest: &str, word: &mut String) -> Unit {
    let rest = rest.trim_start_matches([' ', '\n', '\t', '-']);
    let mut chars = rest.chars();
    match chars.next() {
        Some('%') => Unit::Percent,
        Some(c) if is_cjk(c) => {
            if UNIT_FILLER.contains(&c) {
                chars
                    .next()
                    .filter(|&d| is_cjk(d))
                    .map_or(Unit::None, Unit::Cjk)
            } else {
                Unit::Cjk(c)
            }
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let n = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            word.clear();
            word.push_str(&rest[..n]);
            word.make_ascii_lowercase();
            let u = unit_word(word);
            if stock_en(u) {
                Unit::None
            } else {
                Unit::Word(str_hash(u))
            }
        }
        _ => Unit::None,
    }
}

/// Eight copies of a byte.
const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `v` (all bytes ≤ 0x7F) that is ≥ `lo`
/// (1..=0x80): no byte sum carries into the next.
fn ge(v: u64, lo: u8) -> u64 {
    v.wrapping_add(LO * (0x80 - lo) as u64) & HI
}

/// The high bit of each ASCII digit byte of `x`.
fn digit_bytes(x: u64) -> u64 {
    let v = x & !HI;
    ge(v, b'0') & !ge(v, b'9' + 1) & !(x & HI)
}

/// The high bit of each ASCII letter or digit byte of `x`.
fn alnum_bytes(x: u64) -> u64 {
    let v = x & !HI;
    // `| 0x20` folds upper- to lowercase and maps no other byte to a letter.
    let w = v | (LO * 0x20);
    (digit_bytes(x) | (ge(w, b'a') & !ge(w, b'z' + 1))) & !(x & HI)
}

/// Length of the ASCII letter-or-digit run at the start of `b`, eight
/// bytes a step (words end without a mispredicted branch per byte).
fn alnum_run(b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(w) = b[n..].first_chunk::<8>() {
        let stop = !alnum_bytes(u64::from_le_bytes(*w)) & HI;
        if stop != 0 {
            return n + (stop.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..]
        .iter()
        .position(|c| !c.is_ascii_alphanumeric())
        .unwrap_or(b.len() - n)
}

/// Offset of the first ASCII digit in `b` (`b.len()` if none), eight
/// bytes a step.
fn next_digit(b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(w) = b[n..].first_chunk::<8>() {
        let d = digit_bytes(u64::from_le_bytes(*w));
        if d != 0 {
            return n + (d.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..]
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap_or(b.len() - n)
}

/// Name suffix chars (one-char suffixes and the second char of two-char
/// ones): the only CJK chars that need a closer look.
fn suffix_char(c: char) -> bool {
    matches!(
        c,
        '镇' | '区' | '局' | '委' | '乡' | '县' | '道' | '司' | '会'
    )
}

/// Named places and organizations: two CJK chars and a name suffix
/// (`青石镇`, `住建局`, `发展大会`); in Latin text, capitalized words that
/// do not open a sentence (headlines are Title Case and are skipped).
/// Walks bytes: ASCII runs are skipped whole, only CJK chars are decoded.
fn names(text: &str, title_len: usize, buf: &mut String, mut emit: impl FnMut(&str)) {
    let b = text.as_bytes();
    let mut prev: [char; 3] = ['\0'; 3];
    let mut at_start = true;
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        if x.is_ascii() {
            prev = ['\0'; 3];
            if x.is_ascii_alphanumeric() {
                let n = alnum_run(&b[i..]);
                if x.is_ascii_uppercase() && !at_start && i >= title_len && n > 1 {
                    buf.clear();
                    buf.push_str(&text[i..i + n]);
                    buf.make_ascii_lowercase();
                    if buf.bytes().all(|c| c.is_ascii_alphabetic())
                        && !MONTHS.contains(&buf.as_str())
                    {
                        emit(buf);
                    }
                }
                at_start = false;
                i += n;
                continue;
            }
            at_start |= matches!(x, b'.' | b'!' | b'?' | b'\n' | b':' | b'"');
            i += 1;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        i += c.len_utf8();
        if !is_cjk(c) {
            prev = ['\0'; 3];
            at_start |= matches!(c, '。' | '“');
            at_start &= !c.is_alphanumeric();
            continue;
        }
        at_start = false;
        if suffix_char(c) {
            let next = text[i..].chars().next().unwrap_or('\0');
            let two = NAME_SUFFIX2.contains(&(prev[2], c));
            let one = !two && NAME_SUFFIX.contains(&c) && !NOT_NAME_AFTER.contains(&next);
            let (a, b2) = if two {
                (prev[0], prev[1])
            } else {
                (prev[1], prev[2])
            };
            if (one || two) && is_cjk(a) && is_cjk(b2) {
                buf.clear();
                buf.extend([a, b2]);
                if two {
                    buf.push(prev[2]);
                }
                buf.push(c);
                let tail = buf.char_indices().nth(1).map_or("", |(k, _)| &buf[k..]);
                if !NOT_NAMES.contains(&tail) {
                    emit(buf);
                }
            }
        }
        prev = [prev[1], prev[2], c];
    }
}

/// Index keys from an entry's larger numbers (the `keys` smallest hashes,
/// so a digest and its report pick the same ones first): a digest that
/// rewords shares no shingle sample with its report, but it shares these.
/// Even like the sampled shingle keys, so the same rare-key rule applies.
/// Appended to `out`, sorted among themselves.
pub fn keys_into(facts: &[u32], keys: usize, out: &mut Vec<u32>) {
    let from = out.len();
    out.extend(
        facts
            .iter()
            .filter(|&&f| kind_of(f) == NUM_BIG)
            .map(|&f| (mix64(f as u64 ^ 0x00D1_6E57) >> 32) as u32 & !1),
    );
    out[from..].sort_unstable();
    out.truncate(from + keys.min(out.len() - from));
}

/// Shared facts of each kind: `[kind] = (shared, short side's count)`.
fn overlap(s: &[u32], l: &[u32]) -> [(usize, usize); 6] {
    let mut c = [(0usize, 0usize); 6];
    let mut j = 0;
    for &x in s {
        while j < l.len() && l[j] < x {
            j += 1;
        }
        let k = kind_of(x) as usize;
        if let Some(e) = c.get_mut(k) {
            e.1 += 1;
            e.0 += (j < l.len() && l[j] == x) as usize;
        }
    }
    c
}

fn count(f: &[u32], kind: u32) -> usize {
    f.iter().filter(|&&x| kind_of(x) == kind).count()
}

/// The digest rule's scores for a short entry against a long one.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestScore {
    /// Overlap of the two headlines' grams (of the smaller set).
    pub headline: f64,
    /// Numbers with units (not dates) of the short entry found in the long one.
    pub numbers: (usize, usize),
    pub dates: (usize, usize),
    /// Named places and organizations of the short entry found in the long one.
    pub names: (usize, usize),
    /// Raw shingle containment of the short text in the long one.
    pub text: f64,
    /// Days between the two publications, when both are known.
    pub days: Option<f64>,
    pub score: f64,
    /// Why it does not fit, or `None` when it does.
    pub refused: Option<&'static str>,
    /// The best score of another story the short item fits (explain only).
    pub rival: Option<f64>,
}

impl DigestScore {
    pub fn fits(&self) -> bool {
        self.refused.is_none()
    }
}

impl fmt::Display for DigestScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "digest score {:.2} (headline {:.2}, numbers {} of {}, dates {} of {}, names {} of {}, text {:.2}",
            self.score,
            self.headline,
            self.numbers.0,
            self.numbers.1,
            self.dates.0,
            self.dates.1,
            self.names.0,
            self.names.1,
            self.text,
        )?;
        if let Some(d) = self.days {
            write!(f, ", {d:.1} days apart")?;
        }
        write!(f, ")")?;
        if let Some(r) = self.refused {
            write!(f, " does not fit: {r}")?;
        }
        if let Some(r) = self.rival.filter(|r| *r > 0.0) {
            write!(f, ", best other story {r:.2}")?;
        }
        Ok(())
    }
}

/// Whether a pair is short enough on one side for the digest rule at all
/// (shingle counts): cheap, checked before anything else.
pub fn eligible(a: usize, b: usize, cfg: &DedupConfig) -> bool {
    let (s, l) = (a.min(b), a.max(b));
    s >= cfg.min_shingles && s as f64 <= cfg.digest_max_ratio * l as f64
}

/// Scores the shorter of `a` and `b` as a digest of the other; `None` when
/// the pair is not [`eligible`]. `gap` is the seconds between publications.
/// `af` and `bf` are the entries' facts ([`facts`]; an engine computes them
/// only for the pairs scored here).
pub fn score(
    a: &Prepared,
    af: &[u32],
    b: &Prepared,
    bf: &[u32],
    gap: Option<i64>,
    cfg: &DedupConfig,
) -> Option<DigestScore> {
    if !eligible(a.shingles.len(), b.shingles.len(), cfg) {
        return None;
    }
    let ((s, sf), (l, lf)) = if a.shingles.len() <= b.shingles.len() {
        ((a, af), (b, bf))
    } else {
        ((b, bf), (a, af))
    };
    let c = overlap(sf, lf);
    let [head, small, big, dates, names, bare] = c;
    let head_l = count(lf, HEAD);
    let headline = match head.1.min(head_l) {
        0 => 0.0,
        m => head.0 as f64 / m as f64,
    };
    let numbers = (small.0 + big.0, small.1 + big.1);
    let inter = {
        let (mut i, mut j, mut n) = (0, 0, 0);
        while i < s.shingles.len() && j < l.shingles.len() {
            let (x, y) = (s.shingles[i], l.shingles[j]);
            n += (x == y) as usize;
            i += (x <= y) as usize;
            j += (y <= x) as usize;
        }
        n
    };
    let text = inter as f64 / s.shingles.len().max(1) as f64;
    let share = |(n, d): (usize, usize)| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let score =
        (headline + (numbers.0 as f64 / 3.0).min(1.0) + share(names) + (text / 0.5).min(1.0)) / 4.0;
    let days = gap.map(|g| g.abs() as f64 / 86_400.0);
    let refused = if gap.is_some_and(|g| g.abs() > cfg.digest_window_secs) {
        Some("published too far apart")
    } else if bare.0 < bare.1 {
        Some("a number of the short text is not in the long one")
    } else if numbers.0 == 0 || numbers.0 + dates.0.min(1) < 2 {
        Some("fewer than two shared figures")
    } else if names.0 == 0 {
        Some("no shared place or organization")
    } else if score < cfg.digest_min {
        Some("score below the threshold")
    } else {
        None
    };
    Some(DigestScore {
        headline,
        numbers,
        dates,
        names,
        text,
        days,
        score,
        refused,
        rival: None,
    })
}

/// What the digest rule decided for one short entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub short: u32,
    /// Joined to the best-fitting story.
    pub linked: Option<u32>,
    pub best: f64,
    /// The best score among the other stories it fits (0 if none).
    pub runner_up: f64,
}

/// Decides every digest from its fitting pairs `(short, long, score)`:
/// the stories it fits are the groups of `root` (clusters from the other
/// rules, so a report and its republication count as one story); it joins
/// the best one unless another scores within `margin` of it. Each decision
/// depends on the set of pairs only, not their order.
pub fn decide(fits: &mut [(u32, u32, f64)], root: &[u32], margin: f64) -> Vec<Decision> {
    fits.sort_unstable_by(|a, b| {
        (a.0, root[a.1 as usize])
            .cmp(&(b.0, root[b.1 as usize]))
            .then(b.2.total_cmp(&a.2))
    });
    let mut out = Vec::new();
    for group in fits.chunk_by(|a, b| a.0 == b.0) {
        // Best score per story (first of each root run), then the top two.
        let (mut best, mut second) = ((u32::MAX, f64::MIN), f64::MIN);
        for story in group.chunk_by(|a, b| root[a.1 as usize] == root[b.1 as usize]) {
            let (long, sc) = (story[0].1, story[0].2);
            if sc > best.1 || (sc == best.1 && root[long as usize] < root[best.0 as usize]) {
                second = second.max(best.1);
                best = (long, sc);
            } else {
                second = second.max(sc);
            }
        }
        let clear = second == f64::MIN || best.1 - second > margin;
        out.push(Decision {
            short: group[0].0,
            linked: clear.then_some(best.0),
            best: best.1,
            runner_up: second.max(0.0),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(title: &str, body: &str) -> Vec<u32> {
        let text = format!("{title}\n{body}");
        facts(title, &text)
    }

    fn kinds(v: &[u32], k: u32) -> usize {
        count(v, k)
    }

    #[test]
    fn numbers_with_units_and_dates() {
        let v = f(
            "",
            "1月22日，签约21个项目，总投资156亿元，提供岗位3200余个，3个问题。",
        );
        // 1月 22日 | 21个 156亿 3200个 | 3个
        assert_eq!(kinds(&v, DATE), 2);
        assert_eq!(kinds(&v, NUM_BIG), 3);
        assert_eq!(kinds(&v, NUM_SMALL), 1);
        // `余` is skipped: 3200余个 = 3200个.
        assert_eq!(
            f("", "提供岗位3200个")
                .iter()
                .filter(|&&x| kind_of(x) == NUM_BIG)
                .collect::<Vec<_>>(),
            f("", "3200余个岗位")
                .iter()
                .filter(|&&x| kind_of(x) == NUM_BIG)
                .collect::<Vec<_>>()
        );
    }

    /// The eight-byte scans agree with a byte loop on every byte value,
    /// at every offset and length.
    #[test]
    fn byte_scans_match_byte_loops() {
        let mut x = 0x5EEDu64;
        let mut b = Vec::new();
        for round in 0..20_000 {
            b.clear();
            for _ in 0..round % 29 {
                x = mix64(x);
                // Mostly letters and digits, so that runs are long.
                b.push(match x % 4 {
                    0 => (x >> 8) as u8,
                    1 => b'a' + (x >> 8) as u8 % 26,
                    2 => b'0' + (x >> 8) as u8 % 10,
                    _ => b'A' + (x >> 8) as u8 % 26,
                });
            }
            let run = b.iter().position(|c| !c.is_ascii_alphanumeric());
            assert_eq!(alnum_run(&b), run.unwrap_or(b.len()), "{b:?}");
            let d = b.iter().position(u8::is_ascii_digit);
            assert_eq!(next_digit(&b), d.unwrap_or(b.len()), "{b:?}");
        }
        for v in 0..=255u8 {
            let w = [v; 9];
            let want = if v.is_ascii_alphanumeric() { 9 } else { 0 };
            assert_eq!(alnum_run(&w), want, "{v}");
            assert_eq!(
                next_digit(&w),
                if v.is_ascii_digit() { 0 } else { 9 },
                "{v}"
            );
        }
    }

    #[test]
    fn english_units_fold() {
        let a = f(
            "",
            "approved a $48 million bond on March 5, 2024 for 3,200 homes",
        );
        let b = f("", "the $48M bond ... 3200 homes ... March 5");
        let nums = |v: &[u32]| -> Vec<u32> {
            v.iter()
                .copied()
                .filter(|&x| kind_of(x) == NUM_BIG)
                .collect()
        };
        assert_eq!(nums(&a), nums(&b));
        assert_eq!(kinds(&a, DATE), 2, "March 5 and 2024");
    }

    fn name_list(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        names(text, 0, &mut String::new(), |n| v.push(n.to_string()));
        v
    }

    #[test]
    fn names_by_suffix() {
        let v = name_list(
            "青石镇和区住建局、临江城建公司在江北街道召开产业发展大会，社区和园区、区域代表参加。",
        );
        for want in ["青石镇", "住建局", "城建公司", "江北街道", "发展大会"] {
            assert!(v.iter().any(|n| n == want), "{want} in {v:?}");
        }
        assert!(
            v.iter()
                .all(|n| !n.ends_with("社区") && !n.ends_with("园区") && !n.contains("区域")),
            "{v:?}"
        );
        let w = name_list("\nThe Port of Halden and Mill Creek Council met. Officials agreed.");
        assert_eq!(w, ["port", "halden", "mill", "creek", "council"]);
    }

    #[test]
    fn headline_drops_prefix_place_years_and_stock_words() {
        let a = f("临江经开区：召开2024年产业发展大会 发布18条措施", "");
        let b = f("经开区出台18条措施", "");
        let h =
            |v: &[u32]| -> Vec<u32> { v.iter().copied().filter(|&x| kind_of(x) == HEAD).collect() };
        let (ha, hb) = (h(&a), h(&b));
        let shared = hb.iter().filter(|x| ha.contains(x)).count();
        // 18, 18条, 条措, 措施 shared; 出台 not.
        assert_eq!((shared, hb.len()), (4, 5));
    }

    #[test]
    fn decide_refuses_ties_and_keeps_stories_whole() {
        // Slots 1 and 2 are one story (root 1), 3 another.
        let root = [0, 1, 1, 3, 4];
        let mut fits = vec![(0, 1, 0.7), (0, 2, 0.68), (0, 3, 0.5)];
        let d = decide(&mut fits, &root, 0.1);
        assert_eq!(d[0].linked, Some(1));
        let mut tie = vec![(0, 3, 0.66), (0, 1, 0.7)];
        let d = decide(&mut tie, &root, 0.1);
        assert_eq!((d[0].linked, d[0].runner_up), (None, 0.66));
        // Order of the pairs does not matter.
        let mut rev = vec![(0, 1, 0.7), (0, 3, 0.66)];
        assert_eq!(decide(&mut rev, &root, 0.1), d);
    }
}
