//! Deterministic synthetic benchmark: N entries (~20% Chinese) in
//! near-duplicate families, through normalize → fingerprint → cluster.

use super::engine::{DedupRecord, Engine};
use super::verify::DedupConfig;
use std::collections::HashMap;
use std::fmt;
use std::time::Instant;

/// What one bench run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub entries: usize,
    /// Threads the engine used (`[dedup] threads`).
    pub threads: usize,
    /// Seconds spent inserting (normalize, shingle, MinHash, index).
    pub insert_secs: f64,
    /// Seconds spent on candidates, verification and union-find.
    pub cluster_secs: f64,
    pub entries_per_sec: f64,
    /// On-CPU seconds of every thread of the process (user + system) while
    /// inserting and while clustering; `None` where unavailable.
    pub insert_cpu_secs: Option<f64>,
    pub cluster_cpu_secs: Option<f64>,
    /// Entries per second of on-CPU time (all threads together), robust to
    /// a busy machine; `None` where unavailable.
    pub entries_per_cpu_sec: Option<f64>,
    /// Entries per second of the calling thread's on-CPU time: it places
    /// every entry and takes its share of the parallel work, so this is
    /// about the wall figure on idle cores (with one thread, the same as
    /// `entries_per_cpu_sec`); `None` where unavailable.
    pub entries_per_main_cpu_sec: Option<f64>,
    /// LSH + sampled-key table bytes per entry.
    pub index_bytes_per_entry: f64,
    /// Keys stored in the index per entry (bands + sampled shingles).
    pub index_keys_per_entry: f64,
    /// Shingle sets + DF table bytes per entry (verification state).
    pub verify_bytes_per_entry: f64,
    /// Titles and texts kept for the digest facts, bytes per entry.
    pub text_bytes_per_entry: f64,
    pub clusters: usize,
    /// Share of generated copies that ended in their original's cluster.
    pub copy_recall: f64,
    /// Clusters that mix two generated families (false merges).
    pub mixed_clusters: usize,
    /// A hash of every cluster's members in order: equal when two builds
    /// decide every pair alike.
    pub decisions: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "entries            {}", self.entries)?;
        writeln!(f, "threads            {}", self.threads)?;
        let cpu = |c: Option<f64>| c.map(|c| format!(" ({c:.2} s on-CPU)")).unwrap_or_default();
        writeln!(
            f,
            "insert             {:.2} s{}",
            self.insert_secs,
            cpu(self.insert_cpu_secs)
        )?;
        writeln!(
            f,
            "cluster            {:.2} s{}",
            self.cluster_secs,
            cpu(self.cluster_cpu_secs)
        )?;
        writeln!(
            f,
            "throughput         {:.0} entries/s (wall)",
            self.entries_per_sec
        )?;
        if let Some(c) = self.entries_per_cpu_sec {
            writeln!(
                f,
                "cpu throughput     {c:.0} entries/s of on-CPU time (all threads)"
            )?;
        }
        if let Some(c) = self.entries_per_main_cpu_sec {
            writeln!(
                f,
                "main throughput    {c:.0} entries/s of the calling thread's on-CPU time"
            )?;
        }
        writeln!(f, "index bytes/entry  {:.1}", self.index_bytes_per_entry)?;
        writeln!(f, "index keys/entry   {:.1}", self.index_keys_per_entry)?;
        writeln!(
            f,
            "verify bytes/entry {:.1} (shingle sets + DF, not index)",
            self.verify_bytes_per_entry
        )?;
        writeln!(
            f,
            "text bytes/entry   {:.1} (titles and texts, for digest facts)",
            self.text_bytes_per_entry
        )?;
        writeln!(f, "clusters           {}", self.clusters)?;
        writeln!(f, "copy recall        {:.4}", self.copy_recall)?;
        writeln!(f, "mixed clusters     {}", self.mixed_clusters)?;
        write!(f, "decisions hash     {:016x}", self.decisions)
    }
}

/// On-CPU seconds of the whole process, every thread (ended ones too).
fn cpu_secs() -> Option<f64> {
    clock_secs(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// On-CPU seconds of the calling thread.
fn thread_cpu_secs() -> Option<f64> {
    clock_secs(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock_secs(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        super::sketch::mix64(self.0)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

struct Vocab {
    zh: Vec<String>,
    en: Vec<String>,
    zh_stock: Vec<String>,
    en_stock: Vec<String>,
}

fn vocab(rng: &mut Rng) -> Vocab {
    let zh_word = |r: &mut Rng| -> String {
        (0..2)
            .filter_map(|_| char::from_u32(0x4E00 + (r.below(3500) as u32)))
            .collect()
    };
    let syl = [
        "ka", "lo", "mi", "ra", "te", "son", "vel", "dor", "an", "is", "port", "ment", "gra", "ul",
        "ex", "pre",
    ];
    let en_word = |r: &mut Rng| -> String {
        (0..1 + r.below(3))
            .map(|_| syl[r.below(syl.len())])
            .collect()
    };
    let zh: Vec<String> = (0..6000).map(|_| zh_word(rng)).collect();
    let en: Vec<String> = (0..8000).map(|_| en_word(rng)).collect();
    let zh_stock = (0..300)
        .map(|_| {
            (0..8)
                .map(|_| zh[rng.below(zh.len())].clone())
                .collect::<String>()
        })
        .collect();
    let en_stock = (0..300)
        .map(|_| {
            (0..8)
                .map(|_| en[rng.below(en.len())].clone())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    Vocab {
        zh,
        en,
        zh_stock,
        en_stock,
    }
}

fn original(rng: &mut Rng, v: &Vocab, zh: bool) -> (String, String) {
    let words = |rng: &mut Rng, n: usize| -> String {
        let mut s = String::new();
        for i in 0..n {
            if zh {
                s.push_str(&v.zh[rng.below(v.zh.len())]);
                if i % 9 == 8 {
                    s.push('，');
                }
            } else {
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(&v.en[rng.below(v.en.len())]);
            }
            if rng.below(20) == 0 {
                s.push_str(&format!("{}", rng.below(5000)));
                s.push(if zh { '个' } else { ' ' });
            }
        }
        s
    };
    let title = words(rng, 6);
    let mut body = String::new();
    for _ in 0..2 + rng.below(2) {
        if rng.below(2) == 0 {
            let st = if zh { &v.zh_stock } else { &v.en_stock };
            body.push_str(&st[rng.below(st.len())]);
            body.push_str(if zh { "，" } else { ", " });
        }
        body.push_str(&words(rng, if zh { 30 } else { 25 }));
        body.push_str(if zh { "。\n\n" } else { ".\n\n" });
    }
    (title, body)
}

/// A republished copy: new title prefix, credit lines, a dropped tail.
fn copy(rng: &mut Rng, title: &str, body: &str, zh: bool) -> (String, String) {
    let t = if zh {
        format!("湖塘镇：{title}")
    } else {
        format!("Update: {title}")
    };
    let mut b = String::new();
    b.push_str(if zh {
        "本报讯（记者 张三）"
    } else {
        "By Staff Writer\n\n"
    });
    let paras: Vec<&str> = body.split("\n\n").filter(|p| !p.is_empty()).collect();
    let keep = if paras.len() > 2 && rng.below(3) == 0 {
        paras.len() - 1
    } else {
        paras.len()
    };
    b.push_str(&paras[..keep].join("\n\n"));
    b.push_str(if zh {
        "\n\n来源：武进日报"
    } else {
        "\n\nSource: Wire"
    });
    (t, b)
}

/// Runs the benchmark over `n` generated entries, the engine's default
/// threads (one per core).
pub fn bench(n: usize) -> BenchReport {
    bench_with(n, DedupConfig::default())
}

/// [`bench`] with an engine configuration (`threads`, say).
pub fn bench_with(n: usize, cfg: DedupConfig) -> BenchReport {
    let mut rng = Rng(42);
    let v = vocab(&mut rng);
    let mut recs = Vec::with_capacity(n);
    let mut family = Vec::with_capacity(n);
    let t0 = 1_700_000_000i64;
    let step = (365 * 86_400) as f64 / n.max(1) as f64;
    for i in 0..n {
        let zh = rng.below(5) == 0;
        let published = Some(t0 + (i as f64 * step) as i64);
        let (title, text, fam) = if i > 0 && rng.below(4) == 0 {
            // Copy of a recent original (a republication within days).
            let recent = ((3.0 * 86_400.0 / step) as usize).clamp(1, 200);
            let j = i - 1 - rng.below(i.min(recent));
            let (base, f): (&DedupRecord, usize) = (&recs[j], family[j]);
            let zh = base
                .text
                .chars()
                .any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
            let (t, b) = copy(&mut rng, &base.title, &base.text, zh);
            (t, b, f)
        } else {
            let (t, b) = original(&mut rng, &v, zh);
            (t, b, i)
        };
        recs.push(DedupRecord {
            id: format!("e{i:08}"),
            source: format!("s{}", i % 50),
            url: format!("https://s{}.example/{i}", i % 50),
            title,
            text,
            published,
            priority: (i % 3) as i32,
        });
        family.push(fam);
    }
    let fam_of: HashMap<String, usize> = recs
        .iter()
        .zip(&family)
        .map(|(r, f)| (r.id.clone(), *f))
        .collect();
    let threads = cfg.thread_count();
    let cpu0 = cpu_secs();
    let main0 = thread_cpu_secs();
    let start = Instant::now();
    let mut e = Engine::with_capacity(cfg, n);
    e.insert_batch(recs);
    let insert_secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_secs();
    let mid = Instant::now();
    let clusters = e.clusters();
    let cluster_secs = mid.elapsed().as_secs_f64();
    let cpu2 = cpu_secs();
    let main2 = thread_cpu_secs();
    let between = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a).max(0.0));
    let cpu = between(cpu0, cpu2);
    let decisions = clusters.iter().fold(0u64, |h, c| {
        c.members
            .iter()
            .fold(super::sketch::mix64(h ^ 0xC1), |h, m| {
                super::sketch::mix64(h ^ super::sketch::str_hash(m))
            })
    });
    let (mut copies, mut found, mut mixed) = (0usize, 0usize, 0usize);
    for c in &clusters {
        let fams: Vec<usize> = c
            .members
            .iter()
            .filter_map(|m| fam_of.get(m).copied())
            .collect();
        if fams.iter().any(|f| *f != fams[0]) {
            mixed += 1;
        }
        for (m, f) in c.members.iter().zip(&fams) {
            if m != &format!("e{f:08}") {
                copies += 1;
                if c.members.iter().any(|x| x == &format!("e{f:08}")) {
                    found += 1;
                }
            }
        }
    }
    let total = insert_secs + cluster_secs;
    BenchReport {
        entries: n,
        threads,
        insert_secs,
        cluster_secs,
        entries_per_sec: n as f64 / total.max(1e-9),
        insert_cpu_secs: between(cpu0, cpu1),
        cluster_cpu_secs: between(cpu1, cpu2),
        entries_per_cpu_sec: cpu.map(|c| n as f64 / c.max(1e-9)),
        entries_per_main_cpu_sec: between(main0, main2).map(|c| n as f64 / c.max(1e-9)),
        index_bytes_per_entry: e.index_bytes() as f64 / n.max(1) as f64,
        index_keys_per_entry: e.index_keys() as f64 / n.max(1) as f64,
        verify_bytes_per_entry: e.verify_bytes() as f64 / n.max(1) as f64,
        text_bytes_per_entry: e.text_bytes() as f64 / n.max(1) as f64,
        clusters: clusters.len(),
        copy_recall: if copies == 0 {
            1.0
        } else {
            found as f64 / copies as f64
        },
        mixed_clusters: mixed,
        decisions,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_bench_runs() {
        let r = super::bench(2000);
        assert_eq!(r.entries, 2000);
        assert!(r.copy_recall > 0.95, "{r}");
        assert_eq!(r.mixed_clusters, 0, "{r}");
        // Threads change the time, never a decision.
        for threads in [1, 2, 3] {
            let cfg = super::DedupConfig {
                threads,
                ..Default::default()
            };
            let t = super::bench_with(2000, cfg);
            assert_eq!((t.decisions, t.clusters), (r.decisions, r.clusters));
        }
    }
}
