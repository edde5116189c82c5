//! HTTP API. Merge [`router`] into the alerter's axum app.
//!
//! Alertmanager's API v2 ([`v2`]), in its JSON shapes, for Prometheus,
//! amtool and Grafana:
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/api/v2/status` | version, uptime, configuration (Alertmanager YAML), cluster `disabled` |
//! | GET | `/api/v2/receivers` | receiver names |
//! | GET, POST | `/api/v2/alerts` | unresolved alerts with status and receivers (filters: `filter`, `active`, `silenced`, `inhibited`, `receiver`); push alerts |
//! | GET | `/api/v2/alerts/groups` | aggregation groups, same filters |
//! | GET, POST | `/api/v2/silences` | list (`filter`); create or update |
//! | GET, DELETE | `/api/v2/silence/{id}` | one silence; expire it |
//!
//! Our own additions ([`v1`]):
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | POST | `/api/v1/silences` | create a silence → `{"silenceID": id}` |
//! | GET | `/api/v1/silences` | list silences with their state |
//! | DELETE | `/api/v1/silences/{id}` | expire a silence |
//! | GET | `/api/v1/notifications/queue` | queued notifications |
//! | GET | `/api/v1/notifications/log` | delivered notifications |
//! | GET | `/api/v1/notifications/dead_letters` | undeliverable notifications |
//! | POST | `/api/v1/notifications/dead_letters/{id}/retry` | re-queue one |

pub mod v1;
pub mod v2;

pub use v1::ApiError;

use crate::notifier::Notifier;
use axum::Router;

/// Every route of the notifier, with the notifier as state.
pub fn router(notifier: Notifier) -> Router {
    v1::router(notifier.clone()).merge(v2::router(notifier))
}
