//! `huiliu bench …`: measurements on real-world material, printed for the README.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use chrono_tz::Tz;

use crate::parse::article_eval;

/// `huiliu bench articles DIR`: extraction over the pages of DIR, the
/// folder's scorer, date/author accuracy against `labels`, pages per second.
pub fn articles(
    dir: &Path,
    labels: Option<&Path>,
    output: Option<&Path>,
    timezone: &str,
    per_page: bool,
) -> Result<ExitCode, ExitCode> {
    let fail = |msg: String| {
        eprintln!("huiliu: {msg}");
        ExitCode::from(2)
    };
    let tz: Tz = timezone.parse().map_err(|_| {
        fail(format!(
            "unknown time zone `{timezone}`: use an IANA name such as Asia/Shanghai"
        ))
    })?;
    let started = Instant::now();
    let cpu_before = article_eval::thread_cpu_seconds();
    let preds = article_eval::run(dir, tz).map_err(fail)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = article_eval::thread_cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let out_path = output.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::temp_dir().join(format!("huiliu-articles-{}.jsonl", std::process::id()))
    });
    std::fs::write(&out_path, article_eval::predictions_jsonl(&preds))
        .map_err(|e| fail(format!("cannot write {}: {e}", out_path.display())))?;

    let scorer = dir.join("score.py");
    if scorer.exists() {
        let mut cmd = std::process::Command::new("python3");
        cmd.arg(&scorer)
            .arg(&out_path)
            .arg("--truth")
            .arg(dir.join("truth.jsonl"));
        if per_page {
            cmd.arg("--per-page");
        }
        match cmd.status() {
            Ok(s) if s.success() => {}
            Ok(s) => eprintln!("huiliu: {} exited with {s}", scorer.display()),
            Err(e) => eprintln!("huiliu: cannot run python3 {}: {e}", scorer.display()),
        }
    } else {
        eprintln!(
            "huiliu: no score.py in {}: body and title not scored",
            dir.display()
        );
    }

    println!();
    if let Some(path) = labels {
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        let labels = article_eval::read_labels(&text)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        let s = article_eval::score_labels(&preds, &labels, tz);
        let pct = |a: usize, b: usize| {
            if b == 0 {
                0.0
            } else {
                100.0 * a as f64 / b as f64
            }
        };
        println!(
            "date right:   {} of {} labelled pages ({:.0}%)",
            s.dates_right,
            s.dates,
            pct(s.dates_right, s.dates)
        );
        println!(
            "author right: {} of {} labelled pages naming one ({:.0}%)",
            s.authors_right,
            s.authors,
            pct(s.authors_right, s.authors)
        );
        for m in &s.misses {
            println!("  miss {m}");
        }
    }
    let extract: f64 = preds.iter().map(|p| p.seconds).sum();
    println!(
        "pages/s: {:.0} (decode + extract + normalize, one thread; {} pages in {:.3}s, {:.3}s with reading the files)",
        preds.len() as f64 / extract.max(1e-9),
        preds.len(),
        extract,
        wall
    );
    if let Some(cpu) = cpu {
        // On a loaded machine the wall clock counts other processes' turns too.
        println!(
            "on-CPU: {:.0} pages/s ({:.3}s of this thread's CPU time for the {} pages, files read included)",
            preds.len() as f64 / cpu.max(1e-9),
            cpu,
            preds.len()
        );
    }
    println!("predictions: {}", out_path.display());
    Ok(ExitCode::SUCCESS)
}
