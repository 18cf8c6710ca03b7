//! Near-duplicate detection: normalize, fingerprint (MinHash LSH bands plus
//! sampled shingle keys), verify with DF-weighted containment and anchor
//! guards, join digests that retell a report by their facts, cluster by
//! union-find.

pub mod bench;
pub mod df;
pub mod digest;
pub mod engine;
pub mod eval;
mod par;
pub mod service;
pub mod sketch;
pub mod text;
pub mod verify;

#[cfg(test)]
mod tests;

pub use engine::{ClusterView, DedupRecord, Engine, Explanation};
pub use eval::{EvalError, eval_jsonl};
pub use service::{Clusterer, Loaded, Relabel};
pub use verify::{DedupConfig, Rule, Verdict};
