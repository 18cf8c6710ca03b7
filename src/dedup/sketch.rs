//! Fingerprints (MinHash bands and sampled shingle keys) and the compact
//! multi-map that indexes them.

/// SplitMix64 finalizer: a fast, well-mixed, seedless 64-bit hash step.
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// FNV-1a then mixed: stable across runs and platforms (std's hasher is not).
pub fn str_hash(s: &str) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for b in s.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01B3);
    }
    mix64(h)
}

/// Hasher for integer keys (shingle hashes are already uniform): std's
/// SipHash dominated DF updates.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl std::hash::Hasher for IntHasher {
    fn finish(&self) -> u64 {
        mix64(self.0)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = self.0.rotate_left(32) ^ i as u64;
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = self.0.rotate_left(32) ^ i;
    }
}

/// `HashMap` keyed by integers with [`IntHasher`].
pub type IntMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IntHasher>>;

/// One-permutation MinHash: each shingle lands in one of `bins` bins by its
/// hash; a bin keeps its minimum. O(shingles + bins) instead of
/// O(shingles × bins). Empty bins borrow the next non-empty bin's value
/// (rotation densification) so two sketches stay comparable.
pub fn minhash(shingles: &[u32], bins: usize) -> Vec<u32> {
    let mut sig = Vec::new();
    minhash_into(shingles, bins, &mut sig);
    sig
}

/// [`minhash`] into a reused buffer.
pub fn minhash_into(shingles: &[u32], bins: usize, sig: &mut Vec<u32>) {
    let bins = bins.max(1);
    sig.clear();
    sig.resize(bins, u32::MAX);
    // Which bins got a shingle: a bit set, on the stack for up to 256 bins.
    let mut small = [0u64; 4];
    let mut big = Vec::new();
    let filled: &mut [u64] = if bins <= 256 {
        &mut small
    } else {
        big.resize(bins.div_ceil(64), 0);
        &mut big
    };
    let is_filled = |f: &[u64], b: usize| f[b / 64] >> (b % 64) & 1 == 1;
    for &s in shingles {
        let h = mix64(s as u64 ^ 0x5EED);
        let b = (((h >> 32) * bins as u64) >> 32) as usize;
        // Branch-free: the first value of a bin is the minimum of it and
        // the initial u32::MAX, so no "filled" test is needed.
        sig[b] = sig[b].min(h as u32);
        filled[b / 64] |= 1 << (b % 64);
    }
    if !shingles.is_empty() {
        for i in 0..bins {
            if !is_filled(filled, i) {
                let mut j = (i + 1) % bins;
                let mut hop = 1u32;
                while !is_filled(filled, j) {
                    j = (j + 1) % bins;
                    hop += 1;
                }
                sig[i] = mix64(sig[j] as u64 ^ ((hop as u64) << 40)) as u32;
            }
        }
    }
}

/// LSH band keys: `rows` consecutive minima hashed together, tagged by band.
pub fn band_keys(sig: &[u32], rows: usize) -> impl Iterator<Item = u32> + '_ {
    sig.chunks(rows.max(1)).enumerate().map(|(b, c)| {
        let mut h = 0xB00Du64 + b as u64;
        for &v in c {
            h = mix64(h ^ v as u64);
        }
        (h >> 32) as u32 | 1 // odd: band keys
    })
}

/// Sampled shingle keys (a consistent 1-in-2^shift sample). Two texts that
/// share k shingles share about k/2^shift keys, whatever their lengths: this
/// finds a short summary inside a long article, which Jaccard-based bands miss.
pub fn sample_keys(shingles: &[u32], shift: u32) -> impl Iterator<Item = u32> + '_ {
    let mask = (1u64 << shift.min(31)) - 1;
    shingles.iter().filter_map(move |&s| {
        let h = mix64(s as u64 ^ 0x5A);
        (h & mask == 0).then_some((h >> 32) as u32 & !1) // even: sample keys
    })
}

/// Open-addressing multi-map u32 key → u32 value, 8 bytes a slot, linear
/// probing with backward-shift deletion (no tombstones). A key keeps at most
/// `cap` values; beyond that only a count is kept (`overflow`): such a key is
/// a stock phrase, useless as evidence, and storing it would make probe runs
/// (and so inserts) grow with the corpus.
#[derive(Debug, Default, Clone)]
pub struct MultiMap {
    slots: Vec<u64>,
    len: usize,
    cap: usize,
    overflow: IntMap<u32, u32>,
}

impl MultiMap {
    pub fn with_capacity(n: usize, cap: usize) -> Self {
        let mut m = MultiMap {
            cap: cap.max(1),
            ..MultiMap::default()
        };
        m.resize(n * 5 / 4 + 16);
        m
    }

    fn home(&self, key: u32) -> usize {
        (((mix64(key as u64) >> 32) * self.slots.len() as u64) >> 32) as usize
    }

    fn resize(&mut self, cap: usize) {
        let old = std::mem::replace(&mut self.slots, vec![0; cap]);
        self.len = 0;
        for s in old.into_iter().filter(|s| *s != 0) {
            self.put((s >> 32) as u32, (s as u32).wrapping_sub(1));
        }
    }

    fn put(&mut self, key: u32, val: u32) {
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.resize(self.slots.len() * 3 / 2 + 16);
        }
        let n = self.slots.len();
        let mut i = self.home(key);
        while self.slots[i] != 0 {
            i = (i + 1) % n;
        }
        self.slots[i] = (key as u64) << 32 | val.wrapping_add(1) as u64;
        self.len += 1;
    }

    pub fn insert(&mut self, key: u32, val: u32) {
        if let Some(o) = self.overflow.get_mut(&key) {
            *o += 1;
            return;
        }
        if (self.len + 1) * 5 > self.slots.len() * 4 {
            self.resize(self.slots.len() * 3 / 2 + 16);
        }
        // One pass finds the free slot and counts the key's values: they all
        // sit in the run that starts at the key's home.
        let n = self.slots.len();
        let (mut i, mut stored) = (self.home(key), 0);
        while self.slots[i] != 0 {
            stored += ((self.slots[i] >> 32) as u32 == key) as usize;
            i = (i + 1) % n;
        }
        if stored >= self.cap {
            self.overflow.insert(key, 1);
        } else {
            self.slots[i] = (key as u64) << 32 | val.wrapping_add(1) as u64;
            self.len += 1;
        }
    }

    /// Inserts every `key << 32 | value` of `pairs` (emptied) as [`Self::insert`]
    /// would one after the other, with the same result: the same values
    /// stored under each key (a key's values keep their order, so the cap
    /// keeps the same ones) and the same table size. A large batch is first
    /// sorted by home slot (stable), so that the inserts walk the table
    /// forward instead of missing the cache once each. `tmp` is scratch.
    pub fn insert_many(&mut self, pairs: &mut Vec<u64>, tmp: &mut Vec<u64>) {
        if pairs.len() >= 4096 {
            // The home slot is monotone in the key's mixed top 32 bits for
            // every table size (so also across a growth mid-batch): an LSD
            // radix sort on its top 22 bits, 11 bits a pass, stable.
            let h = |p: u64| (mix64(p >> 32) >> 32) as u32;
            for shift in [10, 21] {
                let mut pos = [0usize; 2048];
                for &p in pairs.iter() {
                    pos[(h(p) >> shift) as usize & 2047] += 1;
                }
                let mut sum = 0;
                for c in pos.iter_mut() {
                    (*c, sum) = (sum, sum + *c);
                }
                tmp.clear();
                tmp.resize(pairs.len(), 0);
                for &p in pairs.iter() {
                    let d = (h(p) >> shift) as usize & 2047;
                    tmp[pos[d]] = p;
                    pos[d] += 1;
                }
                std::mem::swap(pairs, tmp);
            }
        } else {
            let n = self.slots.len();
            if n > 0 {
                let x = pairs
                    .iter()
                    .fold(0, |x, &p| x ^ self.slots[self.home((p >> 32) as u32)]);
                std::hint::black_box(x);
            }
        }
        for &p in pairs.iter() {
            self.insert((p >> 32) as u32, p as u32);
        }
        pairs.clear();
    }

    /// Reads the home slots of `keys`: one load each, all independent, so
    /// the cache misses overlap instead of coming one per lookup.
    pub fn warm(&self, keys: &[u32]) {
        if self.slots.is_empty() {
            return;
        }
        let x = keys.iter().fold(0, |x, &k| x ^ self.slots[self.home(k)]);
        std::hint::black_box(x);
    }

    /// Values not stored because the key is over `cap` (0 for most keys).
    pub fn overflow(&self, key: u32) -> u32 {
        self.overflow.get(&key).copied().unwrap_or(0)
    }

    /// Calls `f` for each stored value under `key`.
    pub fn for_each(&self, key: u32, mut f: impl FnMut(u32)) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let mut i = self.home(key);
        while self.slots[i] != 0 {
            let s = self.slots[i];
            if (s >> 32) as u32 == key {
                f((s as u32).wrapping_sub(1));
            }
            i = (i + 1) % n;
        }
    }

    /// Calls `f(key, values)` once per stored key with all its stored
    /// values, ascending, in one sweep over the table: a key's values all sit
    /// in the run of occupied slots that holds its home.
    pub fn for_each_key(&self, mut f: impl FnMut(u32, &[u32])) {
        let n = self.slots.len();
        // Start after an empty slot so that no run is cut in two.
        let Some(first_empty) = self.slots.iter().position(|&s| s == 0) else {
            return;
        };
        let (mut run, mut vals) = (Vec::new(), Vec::new());
        for step in 1..=n {
            let s = self.slots[(first_empty + step) % n];
            if s != 0 {
                run.push(s);
                continue;
            }
            run.sort_unstable();
            for group in run.chunk_by(|a, b| a >> 32 == b >> 32) {
                vals.clear();
                vals.extend(group.iter().map(|&s| (s as u32).wrapping_sub(1)));
                f((group[0] >> 32) as u32, &vals);
            }
            run.clear();
        }
    }

    /// Removes one value. Returns true when the key fell back to `cap` or
    /// fewer values while some are unstored: the caller must [`Self::repair`]
    /// it with the full value list, or lookups would see an arbitrary subset.
    pub fn remove(&mut self, key: u32, val: u32) -> bool {
        if !self.take(key, val)
            && let Some(o) = self.overflow.get_mut(&key)
        {
            *o = o.saturating_sub(1);
        }
        let o = self.overflow(key) as usize;
        if o == 0 {
            self.overflow.remove(&key);
            return false;
        }
        let mut stored = 0;
        self.for_each(key, |_| stored += 1);
        stored + o <= self.cap
    }

    /// Replaces `key`'s values with `vals` (all of them, at most `cap`).
    pub fn repair(&mut self, key: u32, vals: &[u32]) {
        let mut old = Vec::new();
        self.for_each(key, |v| old.push(v));
        for v in old {
            self.take(key, v);
        }
        self.overflow.remove(&key);
        for &v in vals {
            self.insert(key, v);
        }
    }

    fn take(&mut self, key: u32, val: u32) -> bool {
        let n = self.slots.len();
        if n == 0 {
            return false;
        }
        let target = (key as u64) << 32 | val.wrapping_add(1) as u64;
        let mut i = self.home(key);
        while self.slots[i] != target {
            if self.slots[i] == 0 {
                return false;
            }
            i = (i + 1) % n;
        }
        // Backward shift: pull later entries of the run into the hole when
        // their home position allows it.
        let mut hole = i;
        let mut j = (i + 1) % n;
        while self.slots[j] != 0 {
            let h = self.home((self.slots[j] >> 32) as u32);
            if (hole + n - h) % n <= (j + n - h) % n {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
            j = (j + 1) % n;
        }
        self.slots[hole] = 0;
        self.len -= 1;
        true
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held by the table and the overflow counts.
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * 8 + self.overflow.capacity() * 9
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multimap_insert_remove() {
        let mut m = MultiMap::with_capacity(0, 100);
        for i in 0..1000u32 {
            m.insert(i % 37, i);
        }
        for i in (0..1000u32).step_by(2) {
            m.remove(i % 37, i);
        }
        let mut got = Vec::new();
        m.for_each(5, |v| got.push(v));
        got.sort();
        let want: Vec<u32> = (0..1000).filter(|i| i % 37 == 5 && i % 2 == 1).collect();
        assert_eq!(got, want);
        assert_eq!(m.len(), 500);
    }

    #[test]
    fn for_each_key_sees_every_value_once() {
        let mut m = MultiMap::with_capacity(0, 1000);
        for i in 0..3000u32 {
            m.insert(mix64(i as u64 % 211) as u32, i);
        }
        for i in (0..3000u32).step_by(3) {
            m.remove(mix64(i as u64 % 211) as u32, i);
        }
        let mut seen = 0;
        m.for_each_key(|k, vals| {
            let mut want = Vec::new();
            m.for_each(k, |v| want.push(v));
            want.sort_unstable();
            assert_eq!(vals, &want[..]);
            seen += vals.len();
        });
        assert_eq!(seen, m.len());
    }

    /// A batch insert leaves the table as one insert after the other does:
    /// the same values under every key (capped keys too), the same size.
    #[test]
    fn insert_many_matches_inserts() {
        for (n, cap, keys) in [(0, 3, 50u64), (100, 64, 5000), (20_000, 4, 3000)] {
            let (mut one, mut many) = (
                MultiMap::with_capacity(n, cap),
                MultiMap::with_capacity(n, cap),
            );
            let mut pairs = Vec::new();
            let mut x = 7u64;
            for v in 0..20_000u32 {
                x = mix64(x);
                let k = mix64(x % keys) as u32;
                one.insert(k, v);
                pairs.push((k as u64) << 32 | v as u64);
            }
            many.insert_many(&mut pairs, &mut Vec::new());
            assert!(pairs.is_empty());
            let dump = |m: &MultiMap| {
                let mut all = Vec::new();
                m.for_each_key(|k, vals| all.push((k, vals.to_vec(), m.overflow(k))));
                all.sort();
                all
            };
            assert_eq!(dump(&one), dump(&many));
            assert_eq!((one.len(), one.bytes()), (many.len(), many.bytes()));
        }
    }

    #[test]
    fn multimap_cap_and_repair() {
        let mut m = MultiMap::with_capacity(0, 3);
        for v in 0..5 {
            m.insert(7, v);
        }
        assert_eq!(m.overflow(7), 2);
        assert!(!m.remove(7, 4));
        assert!(m.remove(7, 0), "4 left of cap 3? no: 3 left → repair");
        m.repair(7, &[1, 2, 3]);
        let mut got = Vec::new();
        m.for_each(7, |v| got.push(v));
        got.sort();
        assert_eq!((got, m.overflow(7)), (vec![1, 2, 3], 0));
    }

    #[test]
    fn similar_sets_share_bands() {
        let a: Vec<u32> = (0..400).collect();
        let b: Vec<u32> = (20..420).collect();
        let (sa, sb) = (minhash(&a, 16), minhash(&b, 16));
        let shared = band_keys(&sa, 2)
            .zip(band_keys(&sb, 2))
            .filter(|(x, y)| x == y);
        assert!(shared.count() >= 3);
    }
}
