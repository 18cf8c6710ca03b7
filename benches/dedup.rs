//! Near-duplicate detection at scale: N synthetic entries (about 20% Chinese,
//! with near-duplicate families) through normalization, fingerprinting and
//! clustering, on one thread per core (`[dedup] threads`' default).
//!
//!     cargo bench --bench dedup                  # N = 1,000,000
//!     DEDUP_BENCH_N=100000 cargo bench --bench dedup
//!     DEDUP_BENCH_THREADS=1 cargo bench --bench dedup   # one thread

mod common;

fn main() {
    let n = std::env::var("DEDUP_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let threads = std::env::var("DEDUP_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let cfg = huiliu::dedup::DedupConfig {
        threads,
        ..Default::default()
    };
    let report = huiliu::dedup::bench::bench_with(n, cfg);
    println!("{report}");
    match common::peak_rss_kib() {
        0 => {}
        kib => println!("peak RSS: {:.0} MiB", kib as f64 / 1024.0),
    }
}
