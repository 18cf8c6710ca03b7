//! The application layer: what every command does before its own work —
//! read the config, open the store, assemble the pipeline — with the error
//! printed once (what and where) and exit status 2. Commands (`cli.rs`,
//! `service/`) call this; nothing here calls them.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config::{self, Config};
use crate::fetch::Fetcher;
use crate::refresh::Pipeline;
use crate::store::{self, Store};

/// Prints a command's failure and gives its exit status.
pub fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("huiliu: {e}");
    ExitCode::from(2)
}

/// Reads and checks the config file; every error is printed with its
/// file:line:column.
pub fn load(path: &Path) -> Result<Config, ExitCode> {
    config::load_file(path).map_err(|errors| {
        eprint!("{errors}");
        ExitCode::from(2)
    })
}

/// Opens the configured store, running its migrations.
pub async fn open_store(cfg: &Config) -> Result<Arc<dyn Store>, ExitCode> {
    store::open(&cfg.storage).await.map_err(fail)
}

/// fetch → parse → normalize → dedup → store, as configured.
pub async fn pipeline(cfg: &Config) -> Result<Pipeline, ExitCode> {
    let store = open_store(cfg).await?;
    let fetcher = Fetcher::new(&cfg.fetch).map_err(fail)?;
    let mut p = Pipeline::new(fetcher, store.clone());
    p.dedup = crate::refresh::start_dedup(store, cfg);
    Ok(p)
}
