//! Configuration and the second, exact measure applied to every candidate.

use super::df::DfTable;
use super::digest::DigestScore;
use super::text::Prepared;
use std::fmt;

/// Tunables. Thresholds were set on the kind of data (local-government
/// reports that share long stock phrases), not on one file.
#[derive(Debug, Clone)]
pub struct DedupConfig {
    /// Only entries published within this many seconds of each other are
    /// compared (entries without a date are compared with everyone).
    pub window_secs: i64,
    /// At most this many entries are held (the newest by publication date):
    /// the memory bound of the window, whatever the feeds' volume.
    pub window_entries: usize,
    /// Shingle length in chars for CJK-dominant text.
    pub cjk_ngram: usize,
    /// Shingle length in words for other text.
    pub word_ngram: usize,
    /// MinHash bins (= bands × rows).
    pub minhash_bins: usize,
    /// Rows per LSH band; 2 rows over 16 bins finds pairs with Jaccard ≳ 0.4.
    pub band_rows: usize,
    /// One shingle in 2^shift becomes a sampled key (containment candidates).
    pub sample_shift: u32,
    /// At most this many sampled keys per entry (the smallest). Index bytes
    /// per entry are about (bands + sampled keys) × 10: ~150 for a feed
    /// entry, ≤ 560 for a long article. Lower caps lose summaries of long
    /// articles (24 was the least that kept public.jsonl at full recall).
    pub max_sample_keys: usize,
    /// A sampled key shared by more entries than this is a stock phrase and
    /// yields no candidates (decided on the final set, so order-free).
    pub sample_max_df: usize,
    /// Index values kept per key. A band key shared by more entries is
    /// treated as a stock collision and ignored (see limitations: a story
    /// copied more often than this relies on its other keys).
    pub key_cap: usize,
    /// "Near copy": DF-weighted containment of the shorter text in the
    /// longer one must reach this. Template reports from two towns score
    /// up to ~0.46; republished copies score ≥ 0.9.
    pub near_min: f64,
    /// "Near copy" also needs this share of the shorter text's anchors
    /// (numbers, Latin proper names) to appear in the longer one.
    pub near_min_anchor: f64,
    /// A text with fewer shingles than this (a bare headline) never merges
    /// on text: too little evidence, and generic headlines repeat.
    pub min_shingles: usize,
    /// Raw containment below this is refused before the DF-weighted score
    /// is computed (that needs a DF lookup per shingle; most candidates from
    /// shared stock phrases stop here).
    pub min_containment: f64,
    /// "Summary": a text at most this fraction of the other's shingle count...
    pub summary_max_ratio: f64,
    /// ...merges at this lower weighted containment,
    pub summary_min: f64,
    /// ...but only when ALL its anchors, at least this many, are in the
    /// longer text: a rewritten summary keeps the facts, a different event
    /// does not.
    pub summary_min_anchors: usize,
    /// "Digest": a text at most this fraction of the other's shingle count
    /// may join it on facts rather than phrases (see `digest`)...
    pub digest_max_ratio: f64,
    /// ...when published within this many seconds of it,
    pub digest_window_secs: i64,
    /// ...with a digest score of at least this,
    pub digest_min: f64,
    /// ...and no other story scoring within this margin of the best.
    pub digest_margin: f64,
    /// Index keys per entry from its larger numbers with units: how a
    /// digest that rewords every phrase is still found.
    pub digest_keys: usize,
    /// Threads for the work that is independent per entry or per pair when
    /// many entries are inserted or clustered at once (text preparation,
    /// document frequencies, verification); 0 is one per core. Decisions do
    /// not depend on it.
    pub threads: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            window_secs: 30 * 86_400,
            window_entries: 30_000,
            cjk_ngram: 3,
            word_ngram: 3,
            minhash_bins: 16,
            band_rows: 2,
            sample_shift: 4,
            max_sample_keys: 48,
            sample_max_df: 16,
            key_cap: 64,
            near_min: 0.6,
            near_min_anchor: 0.75,
            min_shingles: 8,
            min_containment: 0.2,
            summary_max_ratio: 0.6,
            summary_min: 0.33,
            summary_min_anchors: 2,
            digest_max_ratio: 0.4,
            digest_window_secs: 4 * 86_400,
            digest_min: 0.5,
            digest_margin: 0.1,
            digest_keys: 6,
            threads: 0,
        }
    }
}

impl DedupConfig {
    /// [`DedupConfig::threads`] resolved: at least 1, the cores for 0.
    pub fn thread_count(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// Which rule decided a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    SameUrl,
    NearCopy,
    Summary,
    /// A short item that retells the other with the same facts.
    Digest,
    RefusedLowOverlap,
    RefusedTooShort,
    RefusedAnchors,
    /// The digest fits this story and another one about as well.
    RefusedAmbiguous,
    /// The digest fits this story, but another one clearly better.
    RefusedBetterFit,
}

impl Rule {
    pub fn merges(self) -> bool {
        matches!(
            self,
            Rule::SameUrl | Rule::NearCopy | Rule::Summary | Rule::Digest
        )
    }
}

/// Scores of one candidate pair and the rule applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub jaccard: f64,
    /// Raw containment of the shorter text's shingles in the longer one.
    pub containment: f64,
    /// The same, each shingle weighted down by how many other entries have
    /// it (0 when raw containment was below `min_containment`).
    pub weighted: f64,
    /// Share of the shorter text's anchors found in the longer text.
    pub anchor_containment: f64,
    pub anchors_short: usize,
    pub rule: Rule,
    /// The digest rule's scores, for a pair where one side is short enough.
    pub digest: Option<DigestScore>,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}: jaccard {:.2}, containment {:.2}, weighted {:.2}, anchors {:.2} of {}",
            self.rule,
            self.jaccard,
            self.containment,
            self.weighted,
            self.anchor_containment,
            self.anchors_short
        )?;
        if let Some(d) = &self.digest {
            write!(f, "; {d}")?;
        }
        Ok(())
    }
}

/// Weight of a shingle seen in `others` other entries: stock phrases count
/// for little, but slowly (log), so a story republished by several sources
/// still matches itself.
fn weight(others: u32) -> f64 {
    1.0 / (1.0 + (1.0 + others as f64).ln())
}

/// `weight` memoized for the common small counts (a `ln` per shingle was a
/// visible share of verification).
fn weight_fast(others: u32) -> f64 {
    const N: usize = 256;
    static TABLE: std::sync::OnceLock<[f64; N]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| std::array::from_fn(|i| weight(i as u32)));
    t.get(others as usize)
        .copied()
        .unwrap_or_else(|| weight(others))
}

/// Common elements of two sorted, deduplicated slices. Branch-free steps:
/// which side advances is data-dependent and mispredicted half the time.
fn count_sorted<T: Ord + Copy>(a: &[T], b: &[T]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        n += (x == y) as usize;
        i += (x <= y) as usize;
        j += (y <= x) as usize;
    }
    n
}

/// Scores a pair. `df` counts entries per shingle over the current set
/// (0 and 1 mean the same: only this entry).
pub fn verify(a: &Prepared, b: &Prepared, df: &DfTable, cfg: &DedupConfig) -> Verdict {
    let (s, l) = if a.shingles.len() <= b.shingles.len() {
        (a, b)
    } else {
        (b, a)
    };
    let inter = count_sorted(&s.shingles, &l.shingles);
    let union = s.shingles.len() + l.shingles.len() - inter;
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let containment = ratio(inter, s.shingles.len());
    // All of the shorter text shared: every term lands in both sums alike,
    // so the weighted score is exactly 1 and needs no DF lookups.
    let all_shared = inter > 0 && inter == s.shingles.len();
    let scored = containment >= cfg.min_containment;
    if scored && !all_shared {
        df.warm(&s.shingles);
    }
    let (mut i, mut num, mut den) = (0usize, 0.0, 0.0);
    for &x in s.shingles.iter().filter(|_| scored && !all_shared) {
        while i < l.shingles.len() && l.shingles[i] < x {
            i += 1;
        }
        let shared = i < l.shingles.len() && l.shingles[i] == x;
        let d = df.get(x).max(1);
        if shared {
            let w = weight_fast(d.saturating_sub(2));
            num += w;
            den += w;
        } else {
            den += weight_fast(d.saturating_sub(1));
        }
    }
    // Facts of the shorter text found in the longer one; for near copies the
    // better direction counts, so junk added to one side (a page footer's
    // numbers) does not block, while swapped facts (both sides have figures
    // the other lacks) do.
    let shared_anchors = count_sorted(&s.anchors, &l.known);
    let cont = |x: &Prepared, n: usize| {
        if x.anchors.is_empty() {
            1.0
        } else {
            ratio(n, x.anchors.len())
        }
    };
    let anchor_containment = cont(s, shared_anchors);
    let near_anchor = anchor_containment.max(cont(l, count_sorted(&l.anchors, &s.known)));
    let weighted = if scored && all_shared {
        1.0
    } else if den > 0.0 {
        num / den
    } else {
        0.0
    };
    let small = s.shingles.len() as f64 <= cfg.summary_max_ratio * l.shingles.len() as f64;
    let rule = if s.shingles.len() < cfg.min_shingles {
        Rule::RefusedTooShort
    } else if weighted >= cfg.near_min {
        if near_anchor >= cfg.near_min_anchor || s.anchors.len().min(l.anchors.len()) < 2 {
            Rule::NearCopy
        } else {
            Rule::RefusedAnchors
        }
    } else if small && weighted >= cfg.summary_min {
        if shared_anchors == s.anchors.len() && s.anchors.len() >= cfg.summary_min_anchors {
            Rule::Summary
        } else {
            Rule::RefusedAnchors
        }
    } else {
        Rule::RefusedLowOverlap
    };
    Verdict {
        jaccard: ratio(inter, union),
        containment,
        weighted,
        anchor_containment,
        anchors_short: s.anchors.len(),
        rule,
        digest: None,
    }
}
