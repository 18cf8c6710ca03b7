//! Running huiliu as a service: the daemon (`huiliu run`: signals, reload,
//! graceful shutdown, systemd notification), retention, and backups.

pub mod backup;
pub mod bench;
pub mod commands;
pub mod daemon;
pub mod notify;
pub mod prune;
