//! Document-frequency table: shingle hash → number of entries holding it.
//!
//! Built in one go from the current entries' shingle sets (when clusters are
//! computed), not updated per insert: a hash-table update per shingle was a
//! cache miss each, the largest cost of inserting at a million entries.
//! Here the keys are radix-sorted (mostly in cache) and counted.

use super::par;

/// Counts of keys held by two or more entries, in a sorted table with gaps:
/// a key sits at or after its home slot (`key * len / 2^32`, monotone in the
/// key), and slots hold increasing keys, so a lookup scans a short run from
/// the home slot. Keys held by one entry are left out (`get` answers 0;
/// callers treat 0 and 1 alike), which shrinks the table severalfold.
#[derive(Debug, Default, Clone)]
pub struct DfTable {
    /// `key << 32 | count`, 0 for an empty slot (counts are ≥ 2).
    slots: Vec<u64>,
    /// Home slots span `0..homes`; `slots` may run a little past it.
    homes: usize,
    len: usize,
}

/// Stable counting sort of the keys of `src` (its slices one after the
/// other) into `dst` on the 11-bit digit at `shift`.
fn radix_pass(src: &[&[u32]], dst: &mut [u32], shift: u32) {
    let mut pos = [0usize; 2048];
    for &k in src.iter().copied().flatten() {
        pos[(k >> shift) as usize & 2047] += 1;
    }
    let mut sum = 0;
    for p in pos.iter_mut() {
        let h = *p;
        *p = sum;
        sum += h;
    }
    for &k in src.iter().copied().flatten() {
        let d = (k >> shift) as usize & 2047;
        dst[pos[d]] = k;
        pos[d] += 1;
    }
}

/// Keys partitioned by their top 11 bits: bucket `d` is
/// `keys[start[d]..start[d + 1]]`.
struct Part {
    keys: Vec<u32>,
    start: Vec<usize>,
}

impl Part {
    fn new(sets: &[&[u32]]) -> Part {
        let mut start = vec![0usize; 2049];
        for &k in sets.iter().copied().flatten() {
            start[(k >> 21) as usize + 1] += 1;
        }
        for i in 0..2048 {
            start[i + 1] += start[i];
        }
        let mut keys = vec![0u32; start[2048]];
        let mut pos = start.clone();
        for &k in sets.iter().copied().flatten() {
            let d = (k >> 21) as usize;
            keys[pos[d]] = k;
            pos[d] += 1;
        }
        Part { keys, start }
    }

    fn bucket(&self, d: usize) -> &[u32] {
        &self.keys[self.start[d]..self.start[d + 1]]
    }
}

/// The `(key, count)` pairs, counts ≥ 2, of the top-bit buckets in `range`,
/// ascending, as `key, count` one after the other.
fn count_buckets(parts: &[Part], range: std::ops::Range<usize>) -> Vec<u32> {
    let mut out = Vec::new();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    let mut src: Vec<&[u32]> = Vec::with_capacity(parts.len());
    for d in range {
        src.clear();
        src.extend(parts.iter().map(|p| p.bucket(d)).filter(|b| !b.is_empty()));
        let len: usize = src.iter().map(|b| b.len()).sum();
        if len < 2 {
            continue; // no key twice in this bucket
        }
        let sorted: &[u32] = if len <= 64 {
            // Small sets (a feed's few entries) skip the radix passes'
            // fixed cost of two 2048-entry histograms per bucket.
            one.clear();
            one.extend(src.iter().copied().flatten());
            one.sort_unstable();
            &one
        } else {
            one.clear();
            one.resize(len, 0);
            two.clear();
            two.resize(len, 0);
            radix_pass(&src, &mut one, 0);
            radix_pass(&[&one], &mut two, 11);
            &two
        };
        for run in sorted.chunk_by(|a, b| a == b) {
            if run.len() >= 2 {
                out.push(run[0]);
                out.push(run.len().min(u32::MAX as usize) as u32);
            }
        }
    }
    out
}

impl DfTable {
    /// Counts every key of every set (each set already deduplicated).
    pub fn build<'a>(sets: impl Iterator<Item = &'a [u32]>) -> DfTable {
        let sets: Vec<&[u32]> = sets.collect();
        Self::build_parallel(&sets, 1)
    }

    /// [`DfTable::build`] on up to `threads` threads: the same table.
    pub fn build_parallel(sets: &[&[u32]], threads: usize) -> DfTable {
        // One pass out to memory: keys partitioned by their top 11 bits into
        // 2048 buckets (a partition per share of the sets, one per thread
        // and a few more to even out a shared machine's cores); each bucket
        // is then sorted on the low 21 bits while it sits in cache, buckets
        // shared out between the threads.
        let parts_wanted = if threads > 1 { threads * 4 } else { 1 };
        let per = sets.len().div_ceil(parts_wanted).max(1);
        let parts: Vec<Part> = par::blocks(sets.len(), per, threads, |r| Part::new(&sets[r]));
        let pairs: Vec<u32> = par::blocks(2048, 2048usize.div_ceil(threads * 8), threads, |r| {
            count_buckets(&parts, r)
        })
        .concat();
        // Only the pairs are needed now: return the rest before allocating
        // the table (lower peak memory).
        drop(parts);
        let n = pairs.len() / 2;
        // Sorted, so filling is one forward sweep: each key goes to its home
        // slot or just after the previous key.
        let homes = n * 2 + 1;
        let mut slots = vec![0u64; homes];
        let mut next = 0usize;
        for p in pairs.chunks_exact(2) {
            let (k, c) = (p[0], p[1]);
            let at = Self::home_of(k, homes).max(next);
            if at >= slots.len() {
                slots.push(0);
            }
            slots[at] = (k as u64) << 32 | c as u64;
            next = at + 1;
        }
        DfTable {
            slots,
            homes,
            len: n,
        }
    }

    fn home_of(key: u32, homes: usize) -> usize {
        ((key as u64 * homes as u64) >> 32) as usize
    }

    /// Entries holding `key`; 0 for keys held by fewer than two.
    pub fn get(&self, key: u32) -> u32 {
        if self.homes == 0 {
            return 0;
        }
        for &s in &self.slots[Self::home_of(key, self.homes)..] {
            let k = (s >> 32) as u32;
            if s == 0 || k > key {
                return 0;
            }
            if k == key {
                return s as u32;
            }
        }
        0
    }

    /// Reads the home slots of `keys` ahead of [`Self::get`]: independent
    /// loads, so their cache misses overlap.
    pub fn warm(&self, keys: &[u32]) {
        if self.homes == 0 {
            return;
        }
        let x = keys
            .iter()
            .fold(0, |x, &k| x ^ self.slots[Self::home_of(k, self.homes)]);
        std::hint::black_box(x);
    }

    /// Keys held by two or more entries.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::DfTable;
    use std::collections::HashMap;

    #[test]
    fn counts_match_a_hash_map() {
        let mut sets: Vec<Vec<u32>> = Vec::new();
        let mut x = 0x1234_5678u64;
        for i in 0..300u32 {
            let mut s: Vec<u32> = (0..50 + i % 70)
                .map(|_| {
                    x = super::super::sketch::mix64(x);
                    // Small and extreme keys too, and many repeats.
                    match x % 5 {
                        0 => (x >> 40) as u32 % 97,
                        1 => u32::MAX - (x >> 40) as u32 % 7,
                        _ => (x >> 32) as u32,
                    }
                })
                .collect();
            s.sort_unstable();
            s.dedup();
            sets.push(s);
        }
        let mut want: HashMap<u32, u32> = HashMap::new();
        for s in &sets {
            for &k in s {
                *want.entry(k).or_default() += 1;
            }
        }
        let t = DfTable::build(sets.iter().map(|s| s.as_slice()));
        for (&k, &c) in &want {
            assert_eq!(t.get(k), if c >= 2 { c } else { 0 }, "key {k}");
        }
        assert_eq!(t.len(), want.values().filter(|c| **c >= 2).count());
        for k in [1u32, 12345, 0xFFFF_0000, u32::MAX] {
            if !want.contains_key(&k) {
                assert_eq!(t.get(k), 0);
            }
        }
        let empty = DfTable::build(std::iter::empty());
        assert_eq!((empty.get(7), empty.len()), (0, 0));
        // On several threads: the same table.
        let refs: Vec<&[u32]> = sets.iter().map(|s| s.as_slice()).collect();
        for threads in [2, 3, 8] {
            let p = DfTable::build_parallel(&refs, threads);
            assert_eq!((&p.slots, p.homes, p.len), (&t.slots, t.homes, t.len));
        }
    }
}
