//! node-agent: a node_exporter-compatible host metrics agent.
//!
//! Same flags, metric names, labels, types and text format as node_exporter
//! for the collectors it has, so dashboards and alert rules keep working.
//!
//! Layout:
//! - [`config`]: command-line flags (node_exporter's names and defaults),
//!   parsed into [`settings::Config`], which is all the collectors read.
//! - [`collectors`]: one file per collector behind [`collectors::Collector`],
//!   registered in [`collectors::COLLECTORS`], which also makes the
//!   `--collector.<name>` flags.
//! - [`scrape`]: runs the collectors, times them, reports success.
//! - [`process`]: the agent's own `process_*` metrics.
//! - [`log`]: `--log.level` / `--log.format` logging on stderr.
//! - [`metrics`]: families and the text exposition format 0.0.4.
//! - [`parse`]: a parser of that format, for comparing scrapes in tests.
//! - [`server`]: `build(config)` and `run_until_stopped` — the one start-up
//!   path for `main` and the tests.

pub mod collectors;
pub mod config;
pub mod log;
pub mod metrics;
pub mod parse;
pub mod process;
pub mod scrape;
pub mod server;
pub mod settings;

pub use config::Config;
pub use server::{build, App};
