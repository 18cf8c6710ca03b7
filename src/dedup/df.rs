//! Document-frequency table: shingle hash → number of entries holding it.
//!
//! Built in one go from the current entries' shingle sets (when clusters are
//! computed), not updated per insert: a hash-table update per shingle was a
//! cache miss each, the largest cost of inserting at a million entries.
//! Here the keys are radix-sorted (mostly in cache) and counted.

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

/// Stable counting sort of `src` into `dst` on the 11-bit digit at `shift`.
fn radix_pass(src: &[u32], dst: &mut [u32], shift: u32) {
    let mut pos = [0usize; 2048];
    for &k in src {
        pos[(k >> shift) as usize & 2047] += 1;
    }
    let mut sum = 0;
    for p in pos.iter_mut() {
        let h = *p;
        *p = sum;
        sum += h;
    }
    for &k in src {
        let d = (k >> shift) as usize & 2047;
        dst[pos[d]] = k;
        pos[d] += 1;
    }
}

impl DfTable {
    /// Counts every key of every set (each set already deduplicated).
    pub fn build<'a>(sets: impl Iterator<Item = &'a [u32]> + Clone) -> DfTable {
        // One pass out to memory: keys partitioned by their top 11 bits into
        // 2048 buckets; each bucket is then sorted on the low 21 bits while
        // it sits in cache.
        let mut start = vec![0usize; 2049];
        for s in sets.clone() {
            for &k in s {
                start[(k >> 21) as usize + 1] += 1;
            }
        }
        for i in 0..2048 {
            start[i + 1] += start[i];
        }
        let mut a = vec![0u32; start[2048]];
        let mut pos = start.clone();
        for s in sets {
            for &k in s {
                let d = (k >> 21) as usize;
                a[pos[d]] = k;
                pos[d] += 1;
            }
        }
        drop(pos);
        // Runs of equal keys → (key, count) for counts ≥ 2, written over the
        // front of `a` (never past what has been read).
        let mut n = 0;
        let mut scratch = Vec::new();
        for w in start.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            if hi - lo < 2 {
                continue; // no key twice in this bucket
            }
            if hi - lo <= 64 {
                // Small sets (a feed's few entries) skip the radix passes'
                // fixed cost of two 2048-entry histograms per bucket.
                a[lo..hi].sort_unstable();
            } else {
                scratch.clear();
                scratch.resize(hi - lo, 0);
                radix_pass(&a[lo..hi], &mut scratch, 0);
                radix_pass(&scratch, &mut a[lo..hi], 11);
            }
            let mut i = lo;
            while i < hi {
                let k = a[i];
                let mut j = i + 1;
                while j < hi && a[j] == k {
                    j += 1;
                }
                if j - i >= 2 {
                    a[2 * n] = k;
                    a[2 * n + 1] = (j - i).min(u32::MAX as usize) as u32;
                    n += 1;
                }
                i = j;
            }
        }
        drop(scratch);
        // Only the pairs are needed now: return the rest before allocating
        // the table (lower peak memory).
        a.truncate(2 * n);
        a.shrink_to_fit();
        // Sorted, so filling is one forward sweep: each key goes to its home
        // slot or just after the previous key.
        let homes = n * 2 + 1;
        let mut slots = vec![0u64; homes];
        let mut next = 0usize;
        for p in 0..n {
            let (k, c) = (a[2 * p], a[2 * p + 1]);
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
    }
}
