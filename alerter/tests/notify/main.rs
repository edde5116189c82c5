//! The alerter with its embedded notifier, end to end against a local HTTP
//! server that answers as Slack's incoming webhooks do. Time is injected:
//! the alerter steps with `tick(now)`, the notifier reads a manual clock set
//! to the same instant and is stepped with `Notifier::tick`.
//!
//! A dying target → one InstanceDown message with the right content; a
//! restart of the whole alerter from its data directory mid-incident → no
//! duplicate, same `startsAt`, a pending alert's `for` timer resumes; the
//! resolution when the target returns; `POST /api/v2/alerts` and silences on
//! the alerter's port; a bad notifier configuration on reload keeps the old.

mod api;
mod harness;
mod incident;
