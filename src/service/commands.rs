//! The service commands: `huiliu prune`, `export`, `import`, `backup`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use chrono::Utc;

use super::{backup, prune};
use crate::app::{fail, load, open_store as open};

pub async fn prune(path: &Path, dry_run: bool, verbose: bool) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = open(&cfg).await?;
    let plan = prune::plan(store.as_ref(), &cfg, Utc::now())
        .await
        .map_err(fail)?;
    for s in &plan.sources {
        println!(
            "{:<20} remove {:>6}  kept for outputs {:>5}  (rule: {})",
            s.source_id,
            s.remove.len(),
            s.kept_for_outputs,
            s.rule
        );
        if verbose {
            for c in &s.remove {
                println!(
                    "    {}  {}  {}",
                    c.sort_time.format("%Y-%m-%d %H:%M"),
                    c.id,
                    c.title
                );
            }
        }
    }
    if dry_run {
        println!(
            "dry run: would remove {} entries from {} sources",
            plan.total(),
            plan.sources.iter().filter(|s| !s.remove.is_empty()).count()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let n = prune::execute(
        store.as_ref(),
        &plan,
        cfg.retention.batch_size,
        std::time::Duration::ZERO,
        None,
    )
    .await
    .map_err(fail)?;
    store.close().await.map_err(fail)?;
    println!("removed {n} entries");
    Ok(ExitCode::SUCCESS)
}

pub async fn export(path: &Path, output: Option<&Path>) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = open(&cfg).await?;
    let mut out: Box<dyn Write> = match output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| fail(format!("{}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = backup::export_jsonl(store.as_ref(), &cfg, &mut out)
        .await
        .map_err(fail)?;
    eprintln!("exported {n} entries");
    Ok(ExitCode::SUCCESS)
}

/// Reads of a few thousand lines at a time (an 8 KiB buffer made a read
/// call per two lines of a 4 KB-a-line export).
const IMPORT_READ_BUFFER: usize = 1 << 20;

pub async fn import(path: &Path, file: &Path) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = open(&cfg).await?;
    let mut input: Box<dyn std::io::BufRead> = if file == Path::new("-") {
        Box::new(std::io::BufReader::with_capacity(
            IMPORT_READ_BUFFER,
            std::io::stdin().lock(),
        ))
    } else {
        Box::new(std::io::BufReader::with_capacity(
            IMPORT_READ_BUFFER,
            std::fs::File::open(file).map_err(|e| fail(format!("{}: {e}", file.display())))?,
        ))
    };
    let report = backup::import_jsonl(store.as_ref(), &mut input)
        .await
        .map_err(|e| fail(format!("{}: {e}", file.display())))?;
    store.close().await.map_err(fail)?;
    println!(
        "read {} entries: {} added, {} already stored",
        report.read,
        report.inserted,
        report.read - report.inserted
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn backup(path: &Path, out: &Path) -> Result<ExitCode, ExitCode> {
    let cfg = load(path)?;
    let store = open(&cfg).await?;
    store.backup_to(out).await.map_err(fail)?;
    println!("backed up to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
