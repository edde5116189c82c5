//! The alerter: scrapes targets, evaluates Prometheus rule files and holds
//! alert state exactly as Prometheus does, without a Prometheus.
//!
//! Layout:
//! - [`config`]: `alerter.yml` (global, scrape_configs, rule_files, and the
//!   notifier's keys kept uninterpreted).
//! - [`storage`]: in-memory series, bounded by what the rules look back over.
//! - [`promql`]: the supported PromQL subset and its evaluator.
//! - [`rules`]: rule files, groups, recording and alerting rules, the alert
//!   state machine, annotation templates.
//! - [`scrape`]: the text exposition parser and the HTTP scraper.
//! - [`unittest`]: `alerter test rules`, promtool's unit-test format.
//! - [`sink`]: where alerts go (the notifier plugs in here).
//! - [`notify`]: the embedded notifier (`route` / `receivers` /
//!   `inhibit_rules`, Slack) wired to the sink, HTTP API, metrics, reload.
//! - [`persist`]: alert state saved to and restored from the data directory.
//! - [`engine`]: scrape results + rule groups + alert dispatch, driven by a
//!   `tick(now)` step function.
//! - [`http`]: the HTTP API (`/api/v1/*`, `/metrics`, `/-/reload`).
//! - [`app`]: `build(settings)` / `run_until_stopped()`, shared by main and tests.
//! - [`cli`]: the command line.
//! - [`metrics`]: the alerter's own `/metrics` text.
//! - Helpers: [`duration`] (Prometheus durations), [`gofmt`] (Go's number
//!   formatting, for templates and the API), [`notation`] (series notation of
//!   promtool tests and PromQL test files).

pub mod app;
pub mod cli;
pub mod config;
pub mod duration;
pub mod engine;
pub mod gofmt;
pub mod http;
pub mod metrics;
pub mod notation;
pub mod notify;
pub mod persist;
pub mod promql;
pub mod rules;
pub mod scrape;
pub mod sink;
pub mod storage;
pub mod unittest;
