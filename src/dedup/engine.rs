//! The incremental engine: entries in, clusters out.
//!
//! Order independence: inserts only update order-free state (the key index,
//! the entries). Document frequencies, candidate pairs, verification
//! and union-find run on demand over the *current* set, so every decision
//! depends on the final set alone, never on what was seen first. The cost is
//! a full re-clustering pass after changes (cached until the next change),
//! which is linear in entries × candidates.

use super::df::DfTable;
use super::digest::{self, Decision};
use super::sketch::{MultiMap, band_keys, minhash_into, sample_keys};
use super::text::{self, Prepared, Scratch, number_facts, prepare_text};
use super::verify::{DedupConfig, Rule, Verdict, verify};
use hashbrown::HashTable;
use std::collections::BTreeMap;
#[cfg(test)]
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError, mpsc};

/// The entries with one URL: the first inline (most URLs have one entry).
struct UrlSlots {
    first: u32,
    more: Vec<u32>,
}

/// An entry's id or URL by slot ("" for an empty slot), for the tables
/// keyed by them.
fn id_at(entries: &[Option<Entry>], s: u32) -> &str {
    entries
        .get(s as usize)
        .and_then(|e| e.as_ref())
        .map_or("", |e| e.id.as_str())
}

fn url_at(entries: &[Option<Entry>], s: u32) -> &str {
    entries
        .get(s as usize)
        .and_then(|e| e.as_ref())
        .map_or("", |e| e.url.as_str())
}

/// One entry as the aggregator sees it.
#[derive(Debug, Clone, Default)]
pub struct DedupRecord {
    pub id: String,
    pub source: String,
    /// Canonical URL; equal non-empty URLs always share a cluster.
    pub url: String,
    pub title: String,
    /// Plain text, paragraphs separated by `\n` or blank lines.
    pub text: String,
    /// Unix seconds.
    pub published: Option<i64>,
    /// Source priority: higher wins representative ties.
    pub priority: i32,
}

struct Entry {
    id: String,
    /// The record's source (with url, title, text, published and priority,
    /// all that the engine reads of a record: an insert of the same changes
    /// nothing).
    source: String,
    url: String,
    published: Option<i64>,
    priority: i32,
    /// Shingles, anchors; `facts` left empty (see `facts` below).
    prep: Prepared,
    keys: Vec<u32>,
    /// The record's title and text as given, kept for `facts`.
    title: String,
    text: String,
    /// The digest facts ([`text::facts`]), computed when a pair first needs
    /// them: most entries are never scored as a digest or its report.
    facts: OnceLock<Vec<u32>>,
}

/// A cluster: its id is the representative's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    pub id: String,
    /// Representative first, then by (published, priority desc, id).
    pub members: Vec<String>,
}

/// Why an entry is where it is.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub id: String,
    pub cluster: ClusterView,
    /// Every candidate of the entry, with scores and the deciding rule.
    pub pairs: Vec<(String, Verdict)>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} is in cluster {} ({} members)",
            self.id,
            self.cluster.id,
            self.cluster.members.len()
        )?;
        if self.pairs.is_empty() {
            writeln!(f, "  no candidates")?;
        }
        for (other, v) in &self.pairs {
            let verb = if v.rule.merges() {
                "merged with"
            } else {
                "kept apart from"
            };
            writeln!(f, "  {verb} {other}: {v}")?;
        }
        Ok(())
    }
}

impl Entry {
    /// Whether `rec` is the record this entry was made from (every field
    /// the engine reads), so that inserting it changes nothing.
    fn is_record(&self, rec: &DedupRecord) -> bool {
        self.published == rec.published
            && self.priority == rec.priority
            && self.url == rec.url
            && self.title == rec.title
            && self.text == rec.text
            && self.source == rec.source
    }

    /// The digest facts, computed on first use.
    fn facts(&self) -> &[u32] {
        self.facts
            .get_or_init(|| text::facts(&self.title, &self.text))
    }
}

/// Removes repeats from the sorted tail `v[from..]`, leaving `v[..from]`.
fn dedup_tail(v: &mut Vec<u32>, from: usize) {
    let mut out = from;
    for i in from..v.len() {
        if out == from || v[i] != v[out - 1] {
            v[out] = v[i];
            out += 1;
        }
    }
    v.truncate(out);
}

struct Clusters {
    /// Document frequencies over the set the clusters were built from.
    df: DfTable,
    /// Slot → slot of its representative (`u32::MAX` for empty slots).
    rep: Vec<u32>,
    /// Representative slot → its members' range in `order`.
    span: Vec<(u32, u32)>,
    /// Slots grouped by cluster, representative first.
    order: Vec<u32>,
    /// The digest rule's decisions, by short slot.
    digests: Vec<Decision>,
}

/// Near-duplicate clustering over a changing set of entries.
pub struct Engine {
    cfg: DedupConfig,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Slots by id and by (non-empty) URL. The tables hold bare slots,
    /// hashed and compared through the entry's own string: no copy of the
    /// key per insert, and a table several times smaller than a
    /// `HashMap<String, _>` (fewer cache misses at a million entries).
    by_id: HashTable<u32>,
    by_url: HashTable<UrlSlots>,
    /// foldhash: several times faster than SipHash on short strings and
    /// still seeded per process (ids come from feeds).
    hasher: foldhash::fast::RandomState,
    index: MultiMap,
    cache: OnceLock<Clusters>,
    /// The document frequencies of the last clustering, kept after a change
    /// for [`Engine::component_of`]'s estimate.
    last_df: DfTable,
    /// Buffers reused by every insert.
    scratch: InsertScratch,
    /// [`MultiMap::insert_many`]'s scratch.
    sort: Vec<u64>,
    /// Index entries (`key << 32 | slot`) of inserted entries not yet in
    /// `index`: every method that reads the index finds it empty (inserts
    /// and removals put them in first).
    pending: Vec<u64>,
}

/// Index entries held back by [`Engine::insert_batch`] before they go into
/// the index together (sorted by table position).
const PENDING_MAX: usize = 1 << 20;

/// A batch of at least this many records prepares its texts on
/// [`DedupConfig::thread_count`] threads; smaller ones (a poll's few new
/// entries) on the caller's alone, without a thread to start.
pub const PARALLEL_MIN: usize = 512;

/// Records prepared together, as one unit of a parallel batch.
const PREP_BLOCK: usize = 256;

/// Entries of the clustering pass's per-entry and per-pair work handed to a
/// thread at a time.
const CLUSTER_BLOCK: usize = 8192;

/// What an insert computes and does not keep, allocated once (per thread).
#[derive(Default)]
struct InsertScratch {
    text: Scratch,
    sig: Vec<u32>,
    keys: Vec<u32>,
}

/// What an insert computes from the record alone, not from the engine:
/// done ahead, on any thread, for a batch.
struct Staged {
    prep: Prepared,
    keys: Vec<u32>,
}

/// The comparable form and the index keys of a record.
fn prepare_record(c: &DedupConfig, sc: &mut InsertScratch, rec: &DedupRecord) -> Staged {
    let prep = prepare_text(
        &mut sc.text,
        &rec.title,
        &rec.text,
        c.cjk_ngram,
        c.word_ngram,
    );
    minhash_into(&prep.shingles, c.minhash_bins, &mut sc.sig);
    let keys = &mut sc.keys;
    keys.clear();
    keys.extend(band_keys(&sc.sig, c.band_rows));
    // Bottom-k of the sampled keys: bounds index bytes for long texts and
    // stays consistent between texts (the smallest keys are shared first).
    let from = keys.len();
    keys.extend(sample_keys(&prep.shingles, c.sample_shift));
    keys[from..].sort_unstable();
    dedup_tail(keys, from);
    keys.truncate(from + c.max_sample_keys.min(keys.len() - from));
    // Only the numbers of the facts: all that the fact keys come from.
    digest::keys_into(number_facts(&mut sc.text), c.digest_keys, keys);
    keys.sort_unstable();
    keys.dedup();
    Staged {
        prep,
        keys: keys.as_slice().to_vec(),
    }
}

impl Engine {
    pub fn new(cfg: DedupConfig) -> Self {
        Self::with_capacity(cfg, 0)
    }

    /// Pre-sizes the index for `n` feed-length entries (batch use); it
    /// grows by half when full.
    pub fn with_capacity(cfg: DedupConfig, n: usize) -> Self {
        // Bands plus ~8 sampled keys (a feed entry of ~130 shingles) plus
        // ~2 fact keys: sized so that a batch of feed entries never grows
        // the table (growing rehashes every key once more).
        let per = cfg.minhash_bins / cfg.band_rows.max(1) + 8 + cfg.digest_keys.min(2);
        Engine {
            cfg: cfg.clone(),
            entries: Vec::with_capacity(n),
            free: Vec::new(),
            by_id: HashTable::with_capacity(n),
            by_url: HashTable::with_capacity(n),
            hasher: Default::default(),
            index: MultiMap::with_capacity(n * per, cfg.key_cap),
            cache: OnceLock::new(),
            last_df: DfTable::default(),
            scratch: InsertScratch::default(),
            sort: Vec::new(),
            pending: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds an entry, or replaces the one with the same id (an update).
    /// Returns false (and changes nothing) when the same record is already
    /// there.
    pub fn insert(&mut self, rec: DedupRecord) -> bool {
        let changed = self.stage(rec, None);
        self.flush_index();
        changed
    }

    /// [`Engine::insert`] of every record in turn, with the same result, for
    /// loading many at once: the index entries of many records go into the
    /// index together, in table order, instead of a cache miss each, and a
    /// batch of [`PARALLEL_MIN`] or more prepares its texts on
    /// [`DedupConfig::thread_count`] threads. Returns how many records
    /// changed something.
    pub fn insert_batch(&mut self, recs: impl IntoIterator<Item = DedupRecord>) -> usize {
        let recs: Vec<DedupRecord> = recs.into_iter().collect();
        self.insert_each(recs).into_iter().filter(|&c| c).count()
    }

    /// [`Engine::insert_batch`], telling for each record (in order) whether
    /// it changed something, as [`Engine::insert`] would have.
    pub fn insert_each(&mut self, recs: Vec<DedupRecord>) -> Vec<bool> {
        let threads = self.cfg.thread_count();
        let mut changed = Vec::with_capacity(recs.len());
        if threads > 1 && recs.len() >= PARALLEL_MIN {
            self.insert_parallel(recs, threads, &mut changed);
        } else {
            for rec in recs {
                changed.push(self.stage(rec, None));
                if self.pending.len() >= PENDING_MAX {
                    self.flush_index();
                }
            }
        }
        self.flush_index();
        changed
    }

    /// The records' texts prepared on `threads` threads, the caller one of
    /// them, while the caller also puts the prepared records into the
    /// engine one after the other in input order: exactly what
    /// [`Engine::stage`] of each in turn does (preparing reads only the
    /// record).
    fn insert_parallel(&mut self, recs: Vec<DedupRecord>, threads: usize, changed: &mut Vec<bool>) {
        type Done = (Vec<DedupRecord>, Vec<Staged>);
        let mut blocks: Vec<Mutex<Option<Vec<DedupRecord>>>> = Vec::new();
        let mut it = recs.into_iter();
        loop {
            let b: Vec<DedupRecord> = it.by_ref().take(PREP_BLOCK).collect();
            if b.is_empty() {
                break;
            }
            blocks.push(Mutex::new(Some(b)));
        }
        drop(it);
        let next = AtomicUsize::new(0);
        // The next block nobody has taken yet.
        let claim = || -> Option<(usize, Vec<DedupRecord>)> {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let recs = blocks
                .get(k)?
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()?;
            Some((k, recs))
        };
        let cfg = self.cfg.clone();
        let prep = |sc: &mut InsertScratch, recs: &[DedupRecord]| -> Vec<Staged> {
            recs.iter().map(|r| prepare_record(&cfg, sc, r)).collect()
        };
        let mut sc = std::mem::take(&mut self.scratch);
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<(usize, Done)>();
            for _ in 1..threads {
                let (tx, claim, prep) = (tx.clone(), &claim, &prep);
                s.spawn(move || {
                    super::par::give_way();
                    let mut sc = InsertScratch::default();
                    while let Some((k, recs)) = claim() {
                        let st = prep(&mut sc, &recs);
                        if tx.send((k, (recs, st))).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(tx);
            // Blocks prepared ahead of the one to put in next.
            let mut ready: BTreeMap<usize, Done> = BTreeMap::new();
            for b in 0..blocks.len() {
                let (recs, staged) = loop {
                    ready.extend(rx.try_iter());
                    if let Some(done) = ready.remove(&b) {
                        break done;
                    }
                    // Not ready: prepare another block meanwhile, or wait.
                    if let Some((k, recs)) = claim() {
                        let st = prep(&mut sc, &recs);
                        ready.insert(k, (recs, st));
                        continue;
                    }
                    match rx.recv() {
                        Ok((k, done)) => {
                            ready.insert(k, done);
                        }
                        // Every block is taken and every helper gone: one
                        // panicked (the scope passes its panic on).
                        Err(_) => return,
                    }
                };
                for (rec, st) in recs.into_iter().zip(staged) {
                    changed.push(self.stage(rec, Some(st)));
                    if self.pending.len() >= PENDING_MAX {
                        self.flush_index();
                    }
                }
            }
        });
        self.scratch = sc;
    }

    /// Puts the pending index entries into the index.
    fn flush_index(&mut self) {
        self.index.insert_many(&mut self.pending, &mut self.sort);
    }

    /// The slot of the entry with this id.
    fn slot_of(&self, id: &str) -> Option<u32> {
        let h = self.hasher.hash_one(id);
        self.by_id
            .find(h, |&s| id_at(&self.entries, s) == id)
            .copied()
    }

    /// An insert, its index entries left pending. `staged` is the record's
    /// [`prepare_record`] when it was prepared ahead.
    fn stage(&mut self, rec: DedupRecord, staged: Option<Staged>) -> bool {
        // One lookup for a new id (the common case), not a second in `remove`.
        let id_hash = self.hasher.hash_one(rec.id.as_str());
        if let Some(&s) = self
            .by_id
            .find(id_hash, |&s| id_at(&self.entries, s) == rec.id)
        {
            if self.entry(s).is_some_and(|e| e.is_record(&rec)) {
                return false;
            }
            self.remove(&rec.id);
        }
        let Staged { prep, keys } = match staged {
            Some(st) => st,
            None => prepare_record(&self.cfg, &mut self.scratch, &rec),
        };
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.entries.push(None);
                (self.entries.len() - 1) as u32
            }
        };
        self.pending
            .extend(keys.iter().map(|&k| (k as u64) << 32 | slot as u64));
        let url_hash = self.hasher.hash_one(rec.url.as_str());
        let has_url = !rec.url.is_empty();
        self.entries[slot as usize] = Some(Entry {
            id: rec.id,
            source: rec.source,
            url: rec.url,
            published: rec.published,
            priority: rec.priority,
            prep,
            keys,
            title: rec.title,
            text: rec.text,
            facts: OnceLock::new(),
        });
        // The entry is in place: the tables read their keys from it.
        let (entries, st) = (&self.entries, &self.hasher);
        self.by_id
            .insert_unique(id_hash, slot, |&s| st.hash_one(id_at(entries, s)));
        if has_url {
            let url = url_at(entries, slot);
            match self
                .by_url
                .find_mut(url_hash, |g| url_at(entries, g.first) == url)
            {
                Some(g) => g.more.push(slot),
                None => {
                    let g = UrlSlots {
                        first: slot,
                        more: Vec::new(),
                    };
                    self.by_url
                        .insert_unique(url_hash, g, |g| st.hash_one(url_at(entries, g.first)));
                }
            }
        }
        self.invalidate();
        true
    }

    /// `[dedup] window`: entries further apart are never compared.
    pub fn window_secs(&self) -> i64 {
        self.cfg.window_secs
    }

    /// `[dedup] window_entries`: the most entries held.
    pub fn window_entries(&self) -> usize {
        self.cfg.window_entries.max(1)
    }

    /// Whether an entry with this id is held.
    pub fn contains(&self, id: &str) -> bool {
        self.slot_of(id).is_some()
    }

    /// Ids of the entries published (or first seen) before `t` (unix
    /// seconds): those that left the dedup window.
    pub fn published_before(&self, t: i64) -> Vec<String> {
        self.entries
            .iter()
            .flatten()
            .filter(|e| e.published.is_some_and(|p| p < t))
            .map(|e| e.id.clone())
            .collect()
    }

    /// Ids of the `k` entries published first (undated entries count as
    /// oldest; ties by id, so the choice does not depend on arrival).
    pub fn oldest(&self, k: usize) -> Vec<String> {
        let mut all: Vec<(i64, &str)> = self
            .entries
            .iter()
            .flatten()
            .map(|e| (e.published.unwrap_or(i64::MIN), e.id.as_str()))
            .collect();
        if k < all.len() {
            all.select_nth_unstable(k);
            all.truncate(k);
        }
        all.into_iter().map(|(_, id)| id.to_string()).collect()
    }

    pub fn remove(&mut self, id: &str) {
        self.flush_index();
        let h = self.hasher.hash_one(id);
        let Ok(found) = self.by_id.find_entry(h, |&s| id_at(&self.entries, s) == id) else {
            return;
        };
        let slot = found.remove().0;
        // Out of the URL table while the entry is still there to compare.
        let url = url_at(&self.entries, slot);
        if !url.is_empty() {
            let h = self.hasher.hash_one(url);
            if let Ok(mut found) = self
                .by_url
                .find_entry(h, |g| url_at(&self.entries, g.first) == url)
            {
                let g = found.get_mut();
                if g.first != slot {
                    g.more.retain(|&x| x != slot);
                } else if let Some(x) = g.more.pop() {
                    g.first = x;
                } else {
                    found.remove();
                }
            }
        }
        let Some(e) = self.entries[slot as usize].take() else {
            return;
        };
        for &k in &e.keys {
            if self.index.remove(k, slot) {
                // Rare: a stock key shrank back under the cap; restore all
                // of its values so lookups see the whole set, not a subset.
                let vals: Vec<u32> = (0..self.entries.len() as u32)
                    .filter(|&j| {
                        self.entry(j)
                            .is_some_and(|o| o.keys.binary_search(&k).is_ok())
                    })
                    .collect();
                self.index.repair(k, &vals);
            }
        }
        self.free.push(slot);
        self.invalidate();
    }

    /// Clusters are recomputed at the next query; their DF is kept.
    fn invalidate(&mut self) {
        if let Some(c) = self.cache.take() {
            self.last_df = c.df;
        }
    }

    fn entry(&self, slot: u32) -> Option<&Entry> {
        self.entries.get(slot as usize).and_then(|e| e.as_ref())
    }

    /// Candidate slots of `slot`: shared band key, shared rare sampled key
    /// (within the time window), or the same URL.
    fn candidates(&self, slot: u32, out: &mut Vec<u32>) {
        let Some(e) = self.entry(slot) else {
            out.clear();
            return;
        };
        let published = |j: u32| self.entry(j).and_then(|o| o.published);
        self.key_candidates(slot, published, &mut Vec::new(), out);
        if !e.url.is_empty() {
            let h = self.hasher.hash_one(e.url.as_str());
            if let Some(g) = self
                .by_url
                .find(h, |g| url_at(&self.entries, g.first) == e.url)
            {
                let all = std::iter::once(&g.first).chain(&g.more);
                out.extend(all.filter(|&&j| j != slot));
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// The candidates of `slot` from shared keys, unsorted, looked up key by
    /// key (for one entry; clustering sweeps the index instead, see
    /// [`Self::candidate_pairs`]). `published` gives a slot's date.
    fn key_candidates(
        &self,
        slot: u32,
        published: impl Fn(u32) -> Option<i64>,
        post: &mut Vec<u32>,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let Some(e) = self.entry(slot) else { return };
        for &k in &e.keys {
            post.clear();
            self.index.for_each(k, |j| post.push(j));
            if self.is_evidence(k, post.len()) {
                out.extend_from_slice(post);
            }
        }
        out.retain(|&j| j != slot && self.within_window(e.published, published(j)));
    }

    /// Whether sharing key `k` (held by `holders` entries) makes two entries
    /// candidates: not a key over the cap (a stock phrase, no evidence either
    /// way), and a band key or a rare sampled key.
    fn is_evidence(&self, k: u32, holders: usize) -> bool {
        self.index.overflow(k) == 0 && (k & 1 == 1 || holders <= self.cfg.sample_max_df)
    }

    /// Whether two publication dates are within the candidate window (an
    /// entry without a date is near every other).
    fn within_window(&self, a: Option<i64>, b: Option<i64>) -> bool {
        match (a, b) {
            (Some(a), Some(b)) => (a - b).abs() <= self.cfg.window_secs,
            _ => true,
        }
    }

    /// Every candidate pair by shared key, as [`Self::key_candidates`] finds
    /// them, from one sweep over the index instead of a lookup per key.
    /// Returns `(start, partners)`: slot `i`'s partners `j > i`, ascending
    /// and distinct, are `partners[start[i]..start[i + 1]]`.
    fn candidate_pairs(&self, n: usize, published: &[Option<i64>]) -> (Vec<usize>, Vec<u32>) {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        // The holders' dates, read once per holder rather than once per pair.
        let mut dates: Vec<Option<i64>> = Vec::new();
        self.index.for_each_key(|k, vals| {
            // Most keys have one holder: no pair, so no overflow lookup.
            if vals.len() < 2 || !self.is_evidence(k, vals.len()) {
                return;
            }
            dates.clear();
            dates.extend(vals.iter().map(|&v| published[v as usize]));
            for (x, &a) in vals.iter().enumerate() {
                for (y, &b) in vals.iter().enumerate().skip(x + 1) {
                    if a != b && self.within_window(dates[x], dates[y]) {
                        pairs.push((a.min(b), a.max(b)));
                    }
                }
            }
        });
        // Counting sort by the first slot, then each short list sorted.
        let mut start = vec![0usize; n + 1];
        for &(a, _) in &pairs {
            start[a as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut other = vec![0u32; pairs.len()];
        for &(a, b) in &pairs {
            other[fill[a as usize]] = b;
            fill[a as usize] += 1;
        }
        drop(pairs);
        // Dedup in place, compacting: a pair shared by several keys counts once.
        let mut out = 0;
        let mut kept = vec![0usize; n + 1];
        for i in 0..n {
            let list = &mut other[start[i]..start[i + 1]];
            list.sort_unstable();
            let mut last = None;
            for x in start[i]..start[i + 1] {
                let v = other[x];
                if last != Some(v) {
                    other[out] = v;
                    out += 1;
                    last = Some(v);
                }
            }
            kept[i + 1] = out;
        }
        other.truncate(out);
        (kept, other)
    }

    fn judge(&self, df: &DfTable, a: u32, b: u32) -> Option<Verdict> {
        let (x, y) = (self.entry(a)?, self.entry(b)?);
        let mut v = verify(&x.prep, &y.prep, df, &self.cfg);
        if !x.url.is_empty() && x.url == y.url {
            v.rule = Rule::SameUrl;
        }
        Some(v)
    }

    /// Representative order: earliest published, higher priority, smaller id.
    fn rank(&self, slot: u32) -> (i64, i32, &str) {
        match self.entry(slot) {
            Some(e) => (e.published.unwrap_or(i64::MAX), -e.priority, e.id.as_str()),
            None => (i64::MAX, i32::MAX, ""),
        }
    }

    fn build(&self) -> Clusters {
        let n = self.entries.len();
        let threads = if self.len() >= PARALLEL_MIN {
            self.cfg.thread_count()
        } else {
            1
        };
        let sets: Vec<&[u32]> = self
            .entries
            .iter()
            .flatten()
            .map(|e| &e.prep.shingles[..])
            .collect();
        let df = DfTable::build_parallel(&sets, threads);
        drop(sets);
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        // Same URL always merges: join those groups up front, so the pair
        // loop below only needs the key candidates.
        for g in self.by_url.iter() {
            let first = g.first;
            for &j in &g.more {
                let (r0, rj) = (find(&mut parent, first), find(&mut parent, j));
                parent[r0.max(rj) as usize] = r0.min(rj);
            }
        }
        let published: Vec<Option<i64>> = (0..n as u32)
            .map(|i| self.entry(i).and_then(|e| e.published))
            .collect();
        let (start, partners) = self.candidate_pairs(n, &published);
        // Verdicts are independent of each other: the pairs that merge,
        // found on `threads` threads, then joined in order (a root is the
        // smallest slot of its set, so the sets do not depend on the order
        // of the joins either). A pair already joined by its URL needs none.
        let url_root: Vec<u32> = (0..n as u32).map(|i| find(&mut parent, i)).collect();
        let merging = super::par::blocks(n, CLUSTER_BLOCK, threads, |range| {
            let mut out = Vec::new();
            for i in range {
                for &j in &partners[start[i]..start[i + 1]] {
                    if url_root[i] != url_root[j as usize]
                        && self
                            .judge(&df, i as u32, j)
                            .is_some_and(|v| v.rule.merges())
                    {
                        out.push((i as u32, j));
                    }
                }
            }
            out
        });
        drop(url_root);
        for &(i, j) in merging.iter().flatten() {
            let (ri, rj) = (find(&mut parent, i), find(&mut parent, j));
            parent[ri.max(rj) as usize] = ri.min(rj);
        }
        drop(merging);
        // Digests join on facts, decided against the stories the rules above
        // formed: a report and its republications are one story, not two
        // that a digest would fit equally.
        let roots: Vec<u32> = (0..n as u32).map(|i| find(&mut parent, i)).collect();
        let digests = self.digest_decisions(&start, &partners, &roots, &published, threads);
        for d in &digests {
            if let Some(l) = d.linked {
                let (ri, rj) = (find(&mut parent, d.short), find(&mut parent, l));
                parent[ri.max(rj) as usize] = ri.min(rj);
            }
        }
        // Members grouped by root in one array (counting sort), each group
        // ordered representative first.
        let mut root = vec![u32::MAX; n];
        let mut start = vec![0u32; n + 1];
        for i in 0..n as u32 {
            if self.entry(i).is_some() {
                let r = find(&mut parent, i);
                root[i as usize] = r;
                start[r as usize + 1] += 1;
            }
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut order = vec![0u32; start[n] as usize];
        for i in 0..n as u32 {
            let r = root[i as usize];
            if r != u32::MAX {
                order[fill[r as usize] as usize] = i;
                fill[r as usize] += 1;
            }
        }
        drop(fill);
        let mut rep = vec![u32::MAX; n];
        let mut span = vec![(0u32, 0u32); n];
        for r in 0..n {
            let (a, b) = (start[r] as usize, start[r + 1] as usize);
            if a == b {
                continue;
            }
            let m = &mut order[a..b];
            if m.len() > 1 {
                m.sort_by(|&x, &y| self.rank(x).cmp(&self.rank(y)));
            }
            for &s in m.iter() {
                rep[s as usize] = m[0];
            }
            span[m[0] as usize] = (a as u32, b as u32);
        }
        Clusters {
            df,
            rep,
            span,
            order,
            digests,
        }
    }

    /// The digest score of a candidate pair, when one side is short enough.
    fn digest_score(&self, a: u32, b: u32) -> Option<digest::DigestScore> {
        let (x, y) = (self.entry(a)?, self.entry(b)?);
        let gap = x.published.zip(y.published).map(|(p, q)| p - q);
        digest::score(&x.prep, x.facts(), &y.prep, y.facts(), gap, &self.cfg)
    }

    /// [`digest::decide`] over every candidate pair with a short side.
    fn digest_decisions(
        &self,
        start: &[usize],
        partners: &[u32],
        roots: &[u32],
        published: &[Option<i64>],
        threads: usize,
    ) -> Vec<Decision> {
        let len = |s: u32| self.entry(s).map_or(0, |e| e.prep.shingles.len());
        let lens: Vec<usize> = (0..roots.len() as u32).map(len).collect();
        // Scored on `threads` threads, in the order of one.
        let mut fits: Vec<(u32, u32, f64)> =
            super::par::blocks(roots.len(), CLUSTER_BLOCK, threads, |range| {
                self.digest_fits(range, start, partners, &lens, published)
            })
            .concat();
        digest::decide(&mut fits, roots, self.cfg.digest_margin)
    }

    /// The fitting digest pairs `(short, long, score)` of the slots in
    /// `range` with their partners, in order.
    fn digest_fits(
        &self,
        range: std::ops::Range<usize>,
        start: &[usize],
        partners: &[u32],
        lens: &[usize],
        published: &[Option<i64>],
    ) -> Vec<(u32, u32, f64)> {
        let mut fits = Vec::new();
        for i in range {
            for &j in &partners[start[i]..start[i + 1]] {
                let (a, b) = (lens[i], lens[j as usize]);
                // Cheap refusals first: length ratio, then publication gap
                // (`digest::score` refuses the same pairs, after scoring).
                if !digest::eligible(a, b, &self.cfg)
                    || published[i]
                        .zip(published[j as usize])
                        .is_some_and(|(p, q)| (p - q).abs() > self.cfg.digest_window_secs)
                {
                    continue;
                }
                if let Some(d) = self.digest_score(i as u32, j).filter(|d| d.fits()) {
                    let (short, long) = if a <= b { (i as u32, j) } else { (j, i as u32) };
                    fits.push((short, long, d.score));
                }
            }
        }
        fits
    }

    fn clusters_cached(&self) -> &Clusters {
        self.cache.get_or_init(|| self.build())
    }

    fn view(&self, members: &[u32]) -> ClusterView {
        let mut ids = Vec::with_capacity(members.len());
        ids.extend(
            members
                .iter()
                .filter_map(|&s| self.entry(s).map(|e| e.id.clone())),
        );
        ClusterView {
            id: ids.first().cloned().unwrap_or_default(),
            members: ids,
        }
    }

    pub fn cluster_of(&self, id: &str) -> Option<ClusterView> {
        let slot = self.slot_of(id)?;
        let c = self.clusters_cached();
        let rep = *c.rep.get(slot as usize)?;
        let &(a, b) = c.span.get(rep as usize)?;
        Some(self.view(c.order.get(a as usize..b as usize)?))
    }

    /// The entry's cluster, cheaply: [`Engine::cluster_of`] when the
    /// clusters are current, else a walk over the entry's own candidates
    /// verified with the document frequencies of the last clustering (the
    /// exact ones need every entry). An estimate for counting merges as
    /// entries arrive; feeds use `cluster_of`.
    pub fn component_of(&self, id: &str) -> Option<ClusterView> {
        if self.cache.get().is_some() {
            return self.cluster_of(id);
        }
        let start = self.slot_of(id)?;
        let mut seen: std::collections::HashSet<u32, foldhash::fast::RandomState> =
            Default::default();
        seen.insert(start);
        let mut members = vec![start];
        let mut next = 0;
        let mut cands = Vec::new();
        while next < members.len() {
            let u = members[next];
            next += 1;
            self.candidates(u, &mut cands);
            for &v in &cands {
                if seen.contains(&v) {
                    continue;
                }
                if self
                    .judge(&self.last_df, u.min(v), u.max(v))
                    .is_some_and(|verdict| verdict.rule.merges())
                {
                    seen.insert(v);
                    members.push(v);
                }
            }
        }
        members.sort_by(|&a, &b| self.rank(a).cmp(&self.rank(b)));
        Some(self.view(&members))
    }

    /// All clusters, singletons included, ordered by cluster id.
    pub fn clusters(&self) -> Vec<ClusterView> {
        let c = self.clusters_cached();
        let id = |s: u32| self.entry(s).map_or("", |e| e.id.as_str());
        // Representatives by id; a 16-byte prefix settles most comparisons
        // (ids with a common 8-byte head too) without reading both strings.
        let prefix = |s: u32| {
            let mut p = [0u8; 16];
            let b = id(s).as_bytes();
            let k = b.len().min(16);
            p[..k].copy_from_slice(&b[..k]);
            u128::from_be_bytes(p)
        };
        let mut reps: Vec<(u128, u32)> = (0..c.rep.len() as u32)
            .filter(|&s| c.rep[s as usize] == s)
            .map(|s| (prefix(s), s))
            .collect();
        reps.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| id(a.1).cmp(id(b.1))));
        reps.iter()
            .map(|&(_, r)| {
                let (a, b) = c.span[r as usize];
                self.view(&c.order[a as usize..b as usize])
            })
            .collect()
    }

    pub fn explain(&self, id: &str) -> Option<Explanation> {
        let slot = self.slot_of(id)?;
        let cluster = self.cluster_of(id)?;
        let c = self.clusters_cached();
        let mut cands = Vec::new();
        self.candidates(slot, &mut cands);
        let mut pairs: Vec<(String, Verdict)> = cands
            .iter()
            .filter_map(|&j| {
                let mut v = self.judge(&c.df, slot, j)?;
                if !v.rule.merges() {
                    v.digest = self.digest_score(slot, j);
                    self.digest_rule(c, slot, j, &mut v);
                }
                Some((self.entry(j)?.id.clone(), v))
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Some(Explanation {
            id: id.to_string(),
            cluster,
            pairs,
        })
    }

    /// What the digest rule made of a pair it fits: joined (the same
    /// cluster), or refused because another story fits as well or better.
    fn digest_rule(&self, c: &Clusters, a: u32, b: u32, v: &mut Verdict) {
        let Some(d) = v.digest.as_mut().filter(|d| d.fits()) else {
            return;
        };
        let len = |s: u32| self.entry(s).map_or(0, |e| e.prep.shingles.len());
        let short = if len(a) <= len(b) { a } else { b };
        let Ok(k) = c.digests.binary_search_by_key(&short, |d| d.short) else {
            return;
        };
        let decision = c.digests[k];
        d.rival = Some(decision.runner_up);
        v.rule = if c.rep.get(a as usize) == c.rep.get(b as usize) {
            Rule::Digest
        } else if decision.linked.is_none() {
            Rule::RefusedAmbiguous
        } else {
            Rule::RefusedBetterFit
        };
    }

    /// Bytes of the LSH / sampled-key index (not texts, shingles or DF).
    pub fn index_bytes(&self) -> usize {
        self.index.bytes()
    }

    /// Values stored in the index.
    pub fn index_keys(&self) -> usize {
        self.index.len()
    }

    /// Bytes of the verification state: shingle sets and the DF table (as
    /// last built with the clusters).
    pub fn verify_bytes(&self) -> usize {
        let sh: usize = self
            .entries
            .iter()
            .flatten()
            .map(|e| {
                e.prep.shingles.capacity() * 4
                    + e.prep.anchors.capacity() * 8
                    + e.facts.get().map_or(0, |f| f.capacity() * 4)
            })
            .sum();
        sh + self.cache.get().map_or(0, |c| c.df.bytes())
    }

    /// Bytes of the records' titles and texts, kept for the digest facts.
    pub fn text_bytes(&self) -> usize {
        self.entries
            .iter()
            .flatten()
            .map(|e| e.title.capacity() + e.text.capacity())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each key with its values and overflow count.
    type KeyDump = Vec<(u32, Vec<u32>, u32)>;

    /// The key index, key by key, with its size: equal for engines that
    /// hold the same records.
    fn index_dump(e: &Engine) -> (KeyDump, usize, usize) {
        let mut all = Vec::new();
        e.index
            .for_each_key(|k, v| all.push((k, v.to_vec(), e.index.overflow(k))));
        all.sort();
        (all, e.index.len(), e.index.bytes())
    }

    /// The index sweep finds exactly the pairs of the per-entry lookups.
    #[test]
    fn candidate_pairs_match_key_lookups() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dedup/public.jsonl"
        );
        let input = std::fs::read_to_string(path).expect("fixture");
        let recs = super::super::eval::parse_jsonl(&input).expect("parses");
        // A small key cap and sample DF limit exercise the stock-key rules.
        let cfg = DedupConfig {
            key_cap: 3,
            sample_max_df: 2,
            window_secs: 3 * 86_400,
            ..DedupConfig::default()
        };
        let mut e = Engine::new(cfg);
        for r in recs.iter().cloned() {
            e.insert(r);
        }
        // Free slots in the middle too.
        for r in recs.iter().step_by(7) {
            e.remove(&r.id);
        }
        let n = e.entries.len();
        let published: Vec<Option<i64>> = (0..n as u32)
            .map(|i| e.entry(i).and_then(|x| x.published))
            .collect();
        let (start, other) = e.candidate_pairs(n, &published);
        let mut total = 0;
        for i in 0..n as u32 {
            let mut want = Vec::new();
            e.key_candidates(i, |j| published[j as usize], &mut Vec::new(), &mut want);
            want.retain(|&j| j > i);
            want.sort_unstable();
            want.dedup();
            total += want.len();
            assert_eq!(
                &other[start[i as usize]..start[i as usize + 1]],
                &want[..],
                "slot {i}"
            );
        }
        assert!(total > 10, "{total}");
    }

    fn fixture_records(name: &str) -> Vec<DedupRecord> {
        let path = format!("{}/tests/fixtures/dedup/{name}", env!("CARGO_MANIFEST_DIR"));
        let input = std::fs::read_to_string(path).expect("fixture");
        super::super::eval::parse_jsonl(&input).expect("parses")
    }

    /// The facts computed on demand, and the fact keys taken from the
    /// numbers alone, are those of the full preparation.
    #[test]
    fn lazy_facts_match_eager_ones() {
        let cfg = DedupConfig::default();
        let mut recs = fixture_records("public.jsonl");
        recs.extend(fixture_records("digests.jsonl"));
        let mut e = Engine::new(cfg.clone());
        e.insert_batch(recs.iter().cloned());
        let mut sc = Scratch::default();
        for r in &recs {
            let full = text::prepare(&r.title, &r.text, cfg.cjk_ngram, cfg.word_ngram);
            let x = e.entry(e.slot_of(&r.id).expect("held")).expect("held");
            assert_eq!(x.facts(), &full.facts[..], "{}", r.id);
            assert_eq!(
                (&x.prep.shingles, &x.prep.anchors, &x.prep.known),
                (&full.shingles, &full.anchors, &full.known)
            );
            let lazy = prepare_text(&mut sc, &r.title, &r.text, 3, 3);
            assert!(lazy.facts.is_empty());
            let (mut want, mut got) = (Vec::new(), Vec::new());
            digest::keys_into(&full.facts, cfg.digest_keys, &mut want);
            digest::keys_into(number_facts(&mut sc), cfg.digest_keys, &mut got);
            assert_eq!(want, got, "{}", r.id);
        }
    }

    /// A batch insert (with updates and a same-record repeat inside it, and
    /// removals after) leaves the engine as inserts one by one do: the same
    /// index and the same clusters.
    #[test]
    fn insert_batch_matches_inserts() {
        let mut recs = fixture_records("public.jsonl");
        recs.extend(fixture_records("digests.jsonl"));
        // An update of an entry and a repeat of another, later in the batch.
        let mut upd = recs[3].clone();
        upd.text.push_str("\n更正：时间有误。");
        recs.push(upd);
        recs.push(recs[5].clone());
        // Small caps exercise the stock-key rules and the batch sort path
        // (a low index size makes the table grow during the batch).
        let cfg = DedupConfig {
            key_cap: 3,
            ..DedupConfig::default()
        };
        let (mut one, mut many) = (Engine::new(cfg.clone()), Engine::new(cfg));
        let changed_one = recs.iter().filter(|r| one.insert((*r).clone())).count();
        let changed_many = many.insert_batch(recs.iter().cloned());
        assert_eq!(changed_one, changed_many);
        assert_eq!(index_dump(&one), index_dump(&many));
        assert_eq!(one.clusters(), many.clusters());
        for r in recs.iter().step_by(5) {
            one.remove(&r.id);
            many.remove(&r.id);
        }
        assert_eq!(index_dump(&one), index_dump(&many));
        assert_eq!(one.clusters(), many.clusters());
    }

    /// A batch large enough to be prepared on several threads leaves the
    /// engine as inserts one by one on one thread do, whatever the threads:
    /// the same flags, index and clusters.
    #[test]
    fn parallel_batch_matches_inserts() {
        let mut base = fixture_records("public.jsonl");
        base.extend(fixture_records("digests.jsonl"));
        let mut recs = Vec::new();
        for round in 0..(2 * PARALLEL_MIN / base.len() + 2) {
            for r in &base {
                let mut r = r.clone();
                r.id = format!("{}-{round}", r.id);
                r.url = format!("{}#{round}", r.url);
                recs.push(r);
            }
        }
        assert!(recs.len() > 2 * PARALLEL_MIN, "{}", recs.len());
        // Updates and repeats, in the same block as their first and in others.
        for k in [3, 40, 300, 700] {
            let mut upd = recs[k].clone();
            upd.text.push_str("\n更正：时间有误。");
            recs.insert(k + 2, upd);
            let again = recs[k + 5].clone();
            recs.push(again);
        }
        let cfg = |threads| DedupConfig {
            threads,
            ..DedupConfig::default()
        };
        let mut one = Engine::new(cfg(1));
        let flags_one: Vec<bool> = recs.iter().map(|r| one.insert(r.clone())).collect();
        for threads in [2, 3] {
            let mut many = Engine::new(cfg(threads));
            assert_eq!(many.insert_each(recs.clone()), flags_one, "{threads}");
            assert_eq!(index_dump(&one), index_dump(&many));
            let clusters = one.clusters();
            assert_eq!(clusters, many.clusters());
            assert!(clusters.len() < recs.len() / 2, "{}", clusters.len());
        }
    }

    /// Inserting the same record again changes nothing; a change to any
    /// field the engine reads replaces the entry.
    #[test]
    fn same_record_is_no_change() {
        let r = fixture_records("public.jsonl").swap_remove(0);
        let mut e = Engine::new(DedupConfig::default());
        assert!(e.insert(r.clone()));
        assert!(!e.insert(r.clone()));
        let changes: [fn(&mut DedupRecord); 6] = [
            |r| r.source.push('x'),
            |r| r.url.push('x'),
            |r| r.title.push('x'),
            |r| r.text.push('x'),
            |r| r.published = r.published.map(|p| p + 1),
            |r| r.priority += 1,
        ];
        for change in changes {
            let mut c = r.clone();
            change(&mut c);
            assert!(e.insert(c.clone()));
            assert!(!e.insert(c));
            assert_eq!(e.len(), 1);
        }
    }

    /// A digest that rewords its report shares few shingle samples with it;
    /// the keys from its numbers are how it is found. Every digest of the
    /// fixture is a candidate of each report of its story, and the figure
    /// without those keys is printed for the README.
    #[test]
    fn fact_keys_find_reworded_digests() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dedup/digests.jsonl"
        );
        let input = std::fs::read_to_string(path).expect("fixture");
        let story: HashMap<String, String> = input
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| {
                (
                    v["id"].as_str().unwrap_or("").into(),
                    v["cluster"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        let found = |cfg: DedupConfig| {
            let mut e = Engine::new(cfg);
            for r in super::super::eval::parse_jsonl(&input).expect("parses") {
                e.insert(r);
            }
            let (mut pairs, mut hits) = (0, 0);
            let mut cands = Vec::new();
            for i in 0..e.entries.len() as u32 {
                for j in 0..e.entries.len() as u32 {
                    let (Some(a), Some(b)) = (e.entry(i), e.entry(j)) else {
                        continue;
                    };
                    let (la, lb) = (a.prep.shingles.len(), b.prep.shingles.len());
                    if story[&a.id] != story[&b.id] || !digest::eligible(la, lb, &e.cfg) || la > lb
                    {
                        continue;
                    }
                    pairs += 1;
                    e.candidates(i, &mut cands);
                    hits += cands.contains(&j) as usize;
                }
            }
            (hits, pairs)
        };
        let with = found(DedupConfig::default());
        let without = found(DedupConfig {
            digest_keys: 0,
            ..DedupConfig::default()
        });
        println!(
            "digest-report pairs found as candidates: {with:?} with fact keys, {without:?} without"
        );
        assert_eq!(with.0, with.1, "every digest is a candidate of its reports");
        assert!(with.1 >= 20);
    }
}
