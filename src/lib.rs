//! huiliu (汇流): a feed aggregator and publisher.
//!
//! The modules follow the data flow of one poll:
//! config → fetch → parse → normalize → dedup → store → publish → serve.
//! [`refresh::refresh_source`] reads that whole pipeline top to bottom for one
//! source; [`schedule`] decides when each source is refreshed.

pub mod config;
pub mod model;
pub mod redact;

pub mod dedup;
pub mod fetch;
pub mod normalize;
pub mod parse;
pub mod publish;
pub mod serve;
pub mod store;

pub mod budget;
pub mod lease;
pub mod liveness;
pub mod memory;
pub mod refresh;
pub mod schedule;
pub mod store_copy;
pub mod timing;

pub mod health;
pub mod service;

pub mod app;
pub mod cli;
pub mod metrics;

/// `huiliu/<version> (+<project url>)`, sent with every request.
pub const USER_AGENT: &str = concat!(
    "huiliu/",
    env!("CARGO_PKG_VERSION"),
    " (+",
    env!("CARGO_PKG_REPOSITORY"),
    ")"
);
