//! Alertmanager's notification half, embedded in the alerter: routing,
//! aggregation groups, inhibition, silences, and durable delivery to Slack
//! (incoming webhooks or `chat.postMessage`) and generic webhooks.
//!
//! Layout:
//! - [`config`]: `route` / `receivers` / `inhibit_rules` serde types with
//!   Alertmanager's field names, plus validation; [`duration`], [`matcher`],
//!   [`secret`], [`template`] and [`timeinterval`] (`time_intervals`) are
//!   its building blocks.
//! - [`alert`]: alerts in Alertmanager's API v2 shape, fingerprints, merging.
//! - `route`, `dispatch`: the compiled routing tree and aggregation groups
//!   with group_wait / group_interval / repeat_interval and de-duplication
//!   against the notification log; `inhibit` and [`silence`] mute alerts.
//! - [`notification`], `queue`: what is queued, the bounded per-integration
//!   FIFO with overflow summaries, retries and dead letters.
//! - [`message`]: Block Kit rendering within Slack's limits; `delivery`
//!   sends and classifies answers (429, 5xx, permanent errors); `webhook`
//!   builds Alertmanager's webhook JSON.
//! - `state`: the persisted state file, written atomically.
//! - `metrics`: `alerter_notifications_total` and friends.
//! - [`clock`]: injectable time.
//! - `amconfig`: the configuration written back as Alertmanager YAML (for
//!   `GET /api/v2/status`).
//! - [`notifier`] ([`Notifier`]): ties it together, and the views the API
//!   shows (alert status, groups); [`api`]: the HTTP routes, Alertmanager's
//!   API v2 and our v1 additions.

pub mod alert;
mod amconfig;
pub mod api;
pub mod clock;
pub mod config;
mod delivery;
mod dispatch;
pub mod duration;
mod inhibit;
pub mod matcher;
pub mod message;
mod metrics;
pub mod notification;
pub mod notifier;
mod queue;
mod route;
pub mod secret;
pub mod silence;
mod state;
pub mod template;
pub mod timeinterval;
mod webhook;

pub use alert::Alert;
pub use config::NotifyConfig;
pub use notifier::{BuildError, Notifier, NotifierOptions, SilenceNotFound};
pub use silence::SilenceError;
pub use state::StateError;
