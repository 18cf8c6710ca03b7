//! Document-frequency table: shingle hash → number of entries holding it.

use super::sketch::IntMap;

#[derive(Debug, Default, Clone)]
pub struct DfTable {
    map: IntMap<u32, u32>,
}

impl DfTable {
    pub fn get(&self, key: u32) -> u32 {
        self.map.get(&key).copied().unwrap_or(0)
    }

    /// Counts each key once more (keys of one entry, already deduplicated).
    pub fn add_all(&mut self, keys: &[u32]) {
        for &k in keys {
            *self.map.entry(k).or_insert(0) += 1;
        }
    }

    /// Counts each key once less, dropping keys that reach zero.
    pub fn sub_all(&mut self, keys: &[u32]) {
        for k in keys {
            if let Some(d) = self.map.get_mut(k) {
                *d -= 1;
                if *d == 0 {
                    self.map.remove(k);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Approximate heap bytes (8 per slot plus a control byte).
    pub fn bytes(&self) -> usize {
        self.map.capacity() * 9
    }
}

#[cfg(test)]
mod tests {
    use super::DfTable;

    #[test]
    fn counts_up_and_down() {
        let mut t = DfTable::default();
        let a: Vec<u32> = (0..3000).collect();
        let b: Vec<u32> = (1000..2000).collect();
        t.add_all(&a);
        t.add_all(&b);
        assert_eq!((t.get(5), t.get(1500), t.get(9999)), (1, 2, 0));
        t.sub_all(&a);
        assert_eq!((t.get(5), t.get(1500)), (0, 1));
        t.sub_all(&b);
        assert!(t.is_empty());
    }
}
