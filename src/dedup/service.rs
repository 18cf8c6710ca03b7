//! The dedup stage as the running aggregator uses it: one thread owns the
//! [`Engine`] over the entries of the dedup window, decides the cluster of
//! every entry as it is written, and says which stored cluster labels
//! change. Polls and requests only send it messages, so no async worker
//! ever waits on a lock or on clustering work.
//!
//! # Labels
//!
//! Each stored entry carries a cluster *label*; entries with one label are
//! one report. A component of the engine (entries joined by verified pairs)
//! is labelled with the smallest of its members' ids and of the archived
//! labels its members are linked to (a member was in one cluster with an
//! entry that left the window), so a story keeps its label, and its
//! archived copies, after its first report ages out. A component joining
//! two archived labels renames the larger one everywhere.
//!
//! # Order independence
//!
//! An entry's component is decided when it is written, over the window as
//! it is then (its candidates only: milliseconds). After a change the
//! thread re-clusters the whole window exactly, as the batch engine would
//! ([`Engine::clusters`]: cost follows the window, not the store) and
//! writes the labels that differ. So once the same entries have arrived, in
//! whatever order and across restarts, the window's clusters are those of
//! the batch clustering of that set, and labelled by the rule above.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{ClusterView, DedupConfig, DedupRecord, Engine, Explanation};

/// What the engine needs of a stored entry; an undated entry is placed at
/// `seen` (its first-seen time).
pub fn record(
    e: &crate::model::Entry,
    seen: chrono::DateTime<chrono::Utc>,
    priority: i32,
) -> DedupRecord {
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

/// Label writes for the store: `assign` sets the label of entries by id,
/// `rename` relabels every entry carrying the old label (archived copies).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Relabel {
    pub assign: Vec<(String, String)>,
    pub rename: Vec<(String, String)>,
}

impl Relabel {
    pub fn is_empty(&self) -> bool {
        self.assign.is_empty() && self.rename.is_empty()
    }

    fn extend(&mut self, other: Relabel) {
        self.assign.extend(other.assign);
        self.rename.extend(other.rename);
    }
}

/// One stored entry handed to the engine at start-up, with its label.
pub struct Loaded {
    pub record: DedupRecord,
    /// When it was first seen (unix seconds).
    pub arrived: i64,
    pub label: Option<String>,
}

enum Job {
    Load(Vec<Loaded>, oneshot::Sender<usize>),
    Loaded,
    Assign(Vec<(DedupRecord, i64)>, oneshot::Sender<Relabel>),
    Remove(Vec<String>),
    Reconcile(i64, oneshot::Sender<Relabel>),
    Explain(String, oneshot::Sender<Option<Explanation>>),
    ClusterOf(String, oneshot::Sender<Option<(ClusterView, String)>>),
    Stats(oneshot::Sender<(usize, usize)>),
}

/// Up to this many entries in the window, each write re-clusters it
/// exactly (milliseconds); above, a write walks its own component with the
/// document frequencies of the last exact clustering, and the daemon
/// settles the window exactly every 30 s.
const EXACT_UP_TO: usize = 5_000;

/// The handle polls and commands use; cheap to share.
pub struct Clusterer {
    jobs: mpsc::Sender<Job>,
    window_secs: i64,
}

impl Clusterer {
    /// Starts the clustering thread. It answers requests once
    /// [`Clusterer::finish_loading`] was called (after the window's
    /// entries were loaded with [`Clusterer::load`]).
    pub fn start(cfg: DedupConfig) -> Clusterer {
        let (jobs, rx) = mpsc::channel();
        let window_secs = cfg.window_secs;
        let spawned = std::thread::Builder::new()
            .name("huiliu-dedup".into())
            .spawn(move || State::new(cfg).run(rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the dedup thread: entries are not clustered");
        }
        Clusterer { jobs, window_secs }
    }

    /// A clusterer over an empty window (nothing stored yet, or tests).
    pub fn empty(cfg: DedupConfig) -> Clusterer {
        let c = Clusterer::start(cfg);
        c.finish_loading();
        c
    }

    /// The dedup window: entries published this long ago or less are compared.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs.max(0) as u64)
    }

    /// Hands stored entries to the engine; returns once they are held
    /// (so a loader reading the store never runs ahead of the engine and
    /// piles up texts in the queue) with how many more it takes before the
    /// window is full (`[dedup] window_entries`).
    pub async fn load(&self, batch: Vec<Loaded>) -> usize {
        self.ask(|tx| Job::Load(batch, tx)).await.unwrap_or(0)
    }

    /// Every stored entry of the window is loaded: start answering.
    pub fn finish_loading(&self) {
        let _ = self.jobs.send(Job::Loaded);
    }

    async fn ask<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(job(tx)).ok()?;
        rx.await.ok()
    }

    /// Entries just written (new or changed), each with its first-seen
    /// time: their clusters, as label writes for the store.
    pub async fn assign(&self, records: Vec<(DedupRecord, i64)>) -> Relabel {
        if records.is_empty() {
            return Relabel::default();
        }
        self.ask(|tx| Job::Assign(records, tx))
            .await
            .unwrap_or_default()
    }

    /// Entries deleted from the store (pruned).
    pub fn remove(&self, ids: Vec<String>) {
        let _ = self.jobs.send(Job::Remove(ids));
    }

    /// Re-clusters the window exactly (entries older than the window at
    /// `now` leave the engine first); the labels that change.
    pub async fn reconcile(&self, now: chrono::DateTime<chrono::Utc>) -> Relabel {
        self.ask(|tx| Job::Reconcile(now.timestamp(), tx))
            .await
            .unwrap_or_default()
    }

    pub async fn explain(&self, id: &str) -> Option<Explanation> {
        self.ask(|tx| Job::Explain(id.to_string(), tx))
            .await
            .flatten()
    }

    /// The entry's exact cluster and its label (tests, `dedup explain`).
    pub async fn cluster_of(&self, id: &str) -> Option<(ClusterView, String)> {
        self.ask(|tx| Job::ClusterOf(id.to_string(), tx))
            .await
            .flatten()
    }

    /// Entries held, and bytes of the candidate index.
    pub async fn stats(&self) -> (usize, usize) {
        self.ask(Job::Stats).await.unwrap_or_default()
    }
}

/// The clustering thread's state.
struct State {
    engine: Engine,
    /// Entry id → its stored label, for every entry in the engine.
    labels: HashMap<String, String>,
    /// Entry id → when it was first seen: an entry stays in the engine
    /// while it was published *or* first seen within the window.
    arrived: HashMap<String, i64>,
    /// Entry id → the label of the archived cluster it was joined to (an
    /// entry of its cluster left the window): its link to the archive.
    anchors: HashMap<String, String>,
    /// Jobs that arrived while the window was still loading.
    waiting: Vec<Job>,
    loaded: bool,
    /// Changed since the last exact clustering.
    dirty: bool,
}

impl State {
    fn new(cfg: DedupConfig) -> State {
        State {
            engine: Engine::new(cfg),
            labels: HashMap::new(),
            arrived: HashMap::new(),
            anchors: HashMap::new(),
            waiting: Vec::new(),
            loaded: false,
            dirty: false,
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Job>) {
        while let Ok(job) = rx.recv() {
            self.handle(job);
        }
    }

    fn handle(&mut self, job: Job) {
        match job {
            Job::Load(batch, reply) => {
                // One batch insert: the index entries of the whole batch go
                // into the key index together (the same engine as inserts
                // one by one).
                let mut records = Vec::with_capacity(batch.len());
                for l in batch {
                    let id = l.record.id.clone();
                    self.arrived.insert(id.clone(), l.arrived);
                    self.labels.insert(id.clone(), l.label.unwrap_or(id));
                    records.push(l.record);
                }
                self.engine.insert_batch(records);
                let room = self
                    .engine
                    .window_entries()
                    .saturating_sub(self.engine.len());
                let _ = reply.send(room);
            }
            Job::Loaded => {
                self.loaded = true;
                self.keep_within_cap();
                // A stored label naming no entry of the window links its
                // holder to the archive.
                for (id, label) in &self.labels {
                    if !self.engine.contains(label) {
                        self.anchors.insert(id.clone(), label.clone());
                    }
                }
                for job in std::mem::take(&mut self.waiting) {
                    self.handle(job);
                }
            }
            job if !self.loaded => self.waiting.push(job),
            Job::Assign(records, reply) => {
                let _ = reply.send(self.assign(records));
            }
            Job::Remove(ids) => {
                for id in ids {
                    self.forget(&id);
                }
                self.dirty = true;
            }
            Job::Reconcile(now, reply) => {
                let _ = reply.send(self.reconcile(now));
            }
            Job::Explain(id, reply) => {
                let _ = reply.send(self.engine.explain(&id));
            }
            Job::ClusterOf(id, reply) => {
                let found = self.engine.cluster_of(&id).map(|c| {
                    let label = self.labels.get(&id).cloned().unwrap_or_default();
                    (c, label)
                });
                let _ = reply.send(found);
            }
            Job::Stats(reply) => {
                let _ = reply.send((self.engine.len(), self.engine.index_bytes()));
            }
        }
    }

    fn forget(&mut self, id: &str) {
        self.engine.remove(id);
        self.labels.remove(id);
        self.arrived.remove(id);
        self.anchors.remove(id);
    }

    fn assign(&mut self, records: Vec<(DedupRecord, i64)>) -> Relabel {
        let mut touched: Vec<String> = Vec::new();
        // One batch insert (a large one prepares its texts on several
        // threads); the labels follow record by record, as they read no
        // engine state.
        let mut ids = Vec::with_capacity(records.len());
        let mut recs = Vec::with_capacity(records.len());
        for (r, arrived) in records {
            self.arrived.insert(r.id.clone(), arrived);
            ids.push(r.id.clone());
            recs.push(r);
        }
        let changed = self.engine.insert_each(recs);
        for (id, changed) in ids.into_iter().zip(changed) {
            let old_label = self.labels.get(&id).cloned();
            if !changed {
                continue;
            }
            self.dirty = true;
            // An update may split its old cluster: revisit its old mates.
            if let Some(old) = old_label.filter(|l| *l != id) {
                touched.extend(
                    self.labels
                        .iter()
                        .filter(|(m, l)| **l == old && **m != id)
                        .map(|(m, _)| m.clone()),
                );
            }
            self.labels.entry(id.clone()).or_insert_with(|| id.clone());
            touched.push(id);
        }
        self.keep_within_cap();
        if self.engine.len() <= EXACT_UP_TO {
            // Small window: the exact clusters now, cheaply.
            return self.relabel_all();
        }
        let mut out = Relabel::default();
        let mut done = std::collections::HashSet::new();
        for id in touched {
            if done.contains(&id) {
                continue;
            }
            let Some(c) = self.engine.component_of(&id) else {
                continue;
            };
            done.extend(c.members.iter().cloned());
            out.extend(self.label(&c.members));
        }
        out
    }

    fn reconcile(&mut self, now: i64) -> Relabel {
        let cutoff = now.saturating_sub(self.engine.window_secs());
        let leaving: Vec<String> = self
            .engine
            .published_before(cutoff)
            .into_iter()
            .filter(|id| self.arrived.get(id).is_none_or(|a| *a < cutoff))
            .collect();
        self.archive(leaving);
        self.keep_within_cap();
        if !self.dirty {
            return Relabel::default();
        }
        self.relabel_all()
    }

    /// Entries leave the engine (the window moved past them, or it is
    /// full); their cluster mates still held keep a link to their label.
    fn archive(&mut self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let mut archived = std::collections::HashSet::new();
        for id in ids {
            if let Some(l) = self.labels.get(&id) {
                archived.insert(l.clone());
            }
            self.forget(&id);
        }
        self.dirty = true;
        for (id, label) in &self.labels {
            if archived.contains(label) {
                self.anchors.insert(id.clone(), label.clone());
            }
        }
    }

    /// `[dedup] window_entries`: past the cap, the oldest entries leave,
    /// down to 95% of it (so the scan for the oldest is not paid per write).
    fn keep_within_cap(&mut self) {
        let cap = self.engine.window_entries();
        if self.engine.len() <= cap {
            return;
        }
        let keep = cap - cap / 20;
        let oldest = self.engine.oldest(self.engine.len() - keep);
        self.archive(oldest);
    }

    /// The exact clusters of the window, labelled.
    fn relabel_all(&mut self) -> Relabel {
        let mut out = Relabel::default();
        for c in self.engine.clusters() {
            out.extend(self.label(&c.members));
        }
        self.dirty = false;
        out
    }

    /// Labels one component by the rule in the module docs; returns the
    /// writes that make the store agree.
    fn label(&mut self, members: &[String]) -> Relabel {
        let mut archived: Vec<String> = members
            .iter()
            .filter_map(|m| self.anchors.get(m))
            .cloned()
            .collect();
        archived.sort_unstable();
        archived.dedup();
        let Some(label) = members.iter().chain(archived.iter()).min().cloned() else {
            return Relabel::default();
        };
        let mut out = Relabel::default();
        let linked = !archived.is_empty();
        for a in archived {
            if a != label {
                out.rename.push((a, label.clone()));
            }
        }
        if linked {
            // The archived copies now carry `label`: so do the links to them.
            for m in members {
                if let Some(a) = self.anchors.get_mut(m) {
                    *a = label.clone();
                }
            }
        }
        for m in members {
            if self.labels.get(m) != Some(&label) {
                self.labels.insert(m.clone(), label.clone());
                out.assign.push((m.clone(), label.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written entry, first seen when published.
    fn w(id: &str, text: &str, day: i64) -> (DedupRecord, i64) {
        let r = rec(id, text, day);
        let at = r.published.unwrap_or_default();
        (r, at)
    }

    fn rec(id: &str, text: &str, day: i64) -> DedupRecord {
        DedupRecord {
            id: id.into(),
            source: format!("src-{id}"),
            url: String::new(),
            title: String::new(),
            text: text.into(),
            published: Some(1_700_000_000 + day * 86_400),
            priority: 0,
        }
    }

    const STORY: &str = "The county council approved a new budget of 12 million dollars for road repairs on Tuesday, \
        after a long debate about the bridge on Main Street and the schools in the northern district. \
        Council member Alice Jones said the plan would start in March and finish by the end of next year.";
    const OTHER: &str = "A local bakery won the regional prize for its sourdough bread this weekend, beating \
        forty other entries from across the state. The owner, Bob Smith, thanked his staff and said the \
        recipe came from his grandmother, who opened the shop in 1952 on Elm Street.";

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_700_000_000 + 3 * 86_400, 0).unwrap_or_default()
    }

    #[tokio::test]
    async fn copies_share_the_smallest_id_as_label_in_any_order() {
        let mut labels = Vec::new();
        for order in [["b", "a", "c"], ["c", "b", "a"], ["a", "c", "b"]] {
            let c = Clusterer::start(DedupConfig::default());
            c.finish_loading();
            let mut all = Relabel::default();
            for id in order {
                let text = if id == "c" { OTHER } else { STORY };
                all.extend(c.assign(vec![w(id, text, 0)]).await);
            }
            all.extend(c.reconcile(now()).await);
            let (cluster, label) = c.cluster_of("b").await.unwrap();
            assert_eq!(cluster.members.len(), 2);
            let (_, alone) = c.cluster_of("c").await.unwrap();
            labels.push((label, alone));
        }
        assert!(
            labels
                .iter()
                .all(|l| *l == ("a".to_string(), "c".to_string())),
            "{labels:?}"
        );
    }

    #[tokio::test]
    async fn an_update_splits_and_an_archived_label_is_kept() {
        let c = Clusterer::start(DedupConfig::default());
        // "a" left the window long ago; "b" still carries its label.
        c.load(vec![Loaded {
            record: rec("b", STORY, 0),
            arrived: 0,
            label: Some("a".into()),
        }])
        .await;
        c.finish_loading();
        let r = c.assign(vec![w("x", STORY, 1)]).await;
        assert!(r.assign.contains(&("x".into(), "a".into())), "{r:?}");
        // "x" is rewritten into another story: it leaves the cluster.
        let r = c.assign(vec![w("x", OTHER, 1)]).await;
        assert!(r.assign.contains(&("x".into(), "x".into())), "{r:?}");
        let (_, label) = c.cluster_of("b").await.unwrap();
        assert_eq!(label, "a");
    }

    #[tokio::test]
    async fn two_archived_labels_joined_rename_the_larger() {
        let c = Clusterer::start(DedupConfig::default());
        c.load(vec![
            Loaded {
                record: rec("p", STORY, 0),
                arrived: 0,
                label: Some("old1".into()),
            },
            Loaded {
                record: rec("q", OTHER, 0),
                arrived: 0,
                label: Some("old2".into()),
            },
        ])
        .await;
        c.finish_loading();
        // "q" is rewritten to tell the same story as "p".
        let r = c.assign(vec![w("q", STORY, 0)]).await;
        assert_eq!(r.rename, vec![("old2".to_string(), "old1".to_string())]);
        assert!(r.assign.contains(&("q".into(), "old1".into())), "{r:?}");
    }

    #[tokio::test]
    async fn a_full_window_keeps_the_newest_and_their_archive_links() {
        let c = Clusterer::start(DedupConfig {
            window_entries: 20,
            ..DedupConfig::default()
        });
        // Loading stops being welcome once the window is full.
        let first: Vec<Loaded> = (0..15)
            .map(|i| Loaded {
                record: rec(&format!("l{i:02}"), &format!("{OTHER} {i}"), 0),
                arrived: 0,
                label: None,
            })
            .collect();
        assert_eq!(c.load(first).await, 5);
        c.finish_loading();
        // Copies of one story keep arriving, newer than everything loaded.
        c.assign(vec![w("a", STORY, 1)]).await;
        c.assign(vec![w("z", STORY, 2)]).await;
        for i in 0..10 {
            c.assign(vec![w(&format!("n{i}"), &format!("{STORY} {i} x"), 3 + i)])
                .await;
        }
        let (held, _) = c.stats().await;
        assert!(held <= 20, "{held} held");
        // The oldest (the loaded ones, published on day 0) left first.
        assert!(c.cluster_of("l00").await.is_none());
        assert!(c.cluster_of("n9").await.is_some());
    }

    #[tokio::test]
    async fn entries_leave_the_engine_with_the_window() {
        let c = Clusterer::start(DedupConfig {
            window_secs: 86_400,
            ..DedupConfig::default()
        });
        c.finish_loading();
        c.assign(vec![w("old", STORY, -10), w("new", OTHER, 3)])
            .await;
        assert_eq!(c.stats().await.0, 2);
        c.reconcile(now()).await;
        assert_eq!(c.stats().await.0, 1);
        assert!(c.cluster_of("old").await.is_none());
    }
}
