//! Near-duplicate detection at scale: N synthetic entries (about 20% Chinese,
//! with near-duplicate families) through normalization, fingerprinting and
//! clustering, on one thread.
//!
//!     cargo bench --bench dedup                  # N = 1,000,000
//!     DEDUP_BENCH_N=100000 cargo bench --bench dedup

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let n = std::env::var("DEDUP_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let report = huiliu::dedup::bench::bench(n);
    println!("{report}");
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS: {mib:.0} MiB");
    }
}
