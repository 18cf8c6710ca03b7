//! The engine as the running aggregator shares it: refreshes insert what
//! they stored, the server asks which cluster an entry belongs to.

use std::sync::Mutex;

use super::{ClusterView, DedupConfig, DedupRecord, Engine, Explanation};
use crate::model::{Entry, StoredEntry};

pub struct SharedIndex {
    engine: Mutex<Engine>,
}

impl Default for SharedIndex {
    fn default() -> Self {
        SharedIndex::new(DedupConfig::default())
    }
}

/// What the engine needs of an entry; `published` falls back to `seen`.
pub fn record(e: &Entry, seen: chrono::DateTime<chrono::Utc>, priority: i32) -> DedupRecord {
    DedupRecord {
        id: e.id.clone(),
        source: e.source_id.clone(),
        url: e.url.clone().unwrap_or_default(),
        title: e.title.clone(),
        text: e.text.clone(),
        published: Some(e.published.unwrap_or(seen).timestamp()),
        priority,
    }
}

impl SharedIndex {
    pub fn new(cfg: DedupConfig) -> SharedIndex {
        SharedIndex {
            engine: Mutex::new(Engine::new(cfg)),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> Option<T> {
        // A panic inside the engine must not take clustering down for good.
        let mut guard = match self.engine.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(f(&mut guard))
    }

    /// Adds (or replaces) entries; `priority` maps a source id to its priority.
    pub fn insert(&self, records: impl IntoIterator<Item = DedupRecord>) {
        self.with(|e| {
            for r in records {
                e.insert(r);
            }
        });
    }

    /// Loads stored entries (at start-up).
    pub fn load(&self, stored: &[StoredEntry], priority: impl Fn(&str) -> i32) {
        self.insert(
            stored
                .iter()
                .map(|s| record(&s.entry, s.first_seen, priority(&s.entry.source_id))),
        );
    }

    pub fn cluster_of(&self, id: &str) -> Option<ClusterView> {
        self.with(|e| e.cluster_of(id)).flatten()
    }

    /// [`Engine::component_of`]: `cluster_of` without a full re-clustering.
    pub fn component_of(&self, id: &str) -> Option<ClusterView> {
        self.with(|e| e.component_of(id)).flatten()
    }

    pub fn explain(&self, id: &str) -> Option<Explanation> {
        self.with(|e| e.explain(id)).flatten()
    }

    pub fn len(&self) -> usize {
        self.with(|e| e.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
