//! enroll-server: the course registration API.
//!
//! Layout:
//! - [`config`]: settings, layered defaults < YAML < environment < flags.
//! - [`startup`]: [`startup::Application::build`] and `run_until_stopped`,
//!   the one start-up path for `main` and the tests.
//! - [`routes`]: one router per resource (auth, me, courses, enrollments,
//!   window, admin, health, docs).
//! - [`domain`]: validated types (courses, schedules, students).
//! - [`db`]: the primary and its replicas — where each query goes, replica
//!   health and lag.
//! - [`session`], [`auth`], [`password`]: sessions in Redis, who is
//!   calling, argon2id.
//! - [`followed_cache`]: per-process caches of sessions and full courses,
//!   invalidated everywhere by pub/sub.
//! - [`error`], [`extract`]: one API error type; extractors that turn bad
//!   input into coded errors.
//! - [`metrics`]: Prometheus metrics and the HTTP middleware.
//! - [`queue`]: the Redis waiting queue (keys, Lua scripts).
//! - [`admission`]: the runner that drains queues into seats, batch by batch.
//! - [`live`]: the registration window and course facts kept in memory.
//! - [`ticket_events`]: decisions pushed to the students' event streams.
//! - [`allocator`]: the binaries' allocator settings.

pub mod admission;
pub mod allocator;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod enqueuer;
pub mod error;
pub mod extract;
pub mod followed_cache;
pub mod live;
pub mod metrics;
pub mod password;
pub mod queue;
pub mod routes;
pub mod session;
pub mod startup;
pub mod state;
pub mod ticket_events;

pub use config::{Cli, Options, Settings};
pub use startup::Application;
