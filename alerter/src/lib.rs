//! The alerter: scrapes targets, evaluates Prometheus rule files and holds
//! alert state exactly as Prometheus does, without a Prometheus.
//!
//! Layout (each module imports only those listed before it, so there are
//! no circles; `scripts/module-graph.sh alerter` checks):
//! - Helpers: [`gofmt`] (Go's number formatting, for templates and the
//!   API), [`notation`] (series notation of promtool tests and PromQL test
//!   files). Prometheus durations are the notifier's
//!   ([`notifier::duration`]).
//! - [`storage`]: in-memory series, bounded by what the rules look back over.
//! - [`promql`]: the supported PromQL subset and its evaluator.
//! - [`rules`]: rule files, groups, recording and alerting rules, the alert
//!   state machine, annotation templates.
//! - [`config`]: `alerter.yml` (global, scrape_configs, rule_files, and the
//!   notifier's keys kept uninterpreted).
//! - [`scrape`]: the text exposition parser and the HTTP scraper.
//! - [`sink`]: where alerts go (the notifier plugs in here).
//! - [`engine`]: scrape results + rule groups + alert dispatch, driven by a
//!   `tick(now)` step function.
//! - [`unittest`]: `alerter test rules`, promtool's unit-test format.
//! - [`shared`]: the state the parts below share (engine lock, reload
//!   counters, clock), stepped by the loop or by tests.
//! - [`metrics`]: the alerter's own `/metrics` text.
//! - [`http`]: the HTTP API (`/api/v1/*`, `/metrics`, `/-/reload`).
//! - [`persist`]: alert state saved to and restored from the data directory.
//! - [`app`]: [`app::Alerter::build`]`(settings)` /
//!   `run_until_stopped(shutdown)`, the one startup path of main and tests.
//! - [`notify`]: the embedded notifier (`route` / `receivers` /
//!   `inhibit_rules`, Slack) attached to a built alerter: sink, HTTP API,
//!   metrics, reload.
//! - [`inbox`]: `alerter inbox`, a webhook receiver shown on a page, for a
//!   stack without Slack.
//! - [`cli`]: the command line and its offline commands (`check`, `test`);
//!   `alerter run` is assembled in the binary's `main`.

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod gofmt;
pub mod http;
pub mod inbox;
pub mod metrics;
pub mod notation;
pub mod notify;
pub mod persist;
pub mod promql;
pub mod rules;
pub mod scrape;
pub mod shared;
pub mod sink;
pub mod storage;
pub mod unittest;
