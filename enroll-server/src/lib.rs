//! enroll-server: the course registration API.
//!
//! Layout, top to bottom (a module only uses modules listed below it, or
//! its own children):
//! - [`startup`]: [`startup::Application::build`] and `run_until_stopped`,
//!   the one start-up path for `main` and the tests.
//! - [`api`]: the HTTP API — one router per resource, the one API error
//!   type, extractors, who is calling.
//! - [`web`]: the students' page at `/` — embedded assets, versioned URLs,
//!   cache headers, the Content-Security-Policy.
//! - [`service`]: what the API asks for — enroll, cancel, tickets, logging
//!   in — with errors of its own.
//! - [`state`]: what handlers and services share.
//! - [`admission`]: the runner that drains queues into seats, batch by
//!   batch, on its own thread; its rules are a pure function.
//! - [`mail`]: the sender of enrollment mail — digests of the outbox,
//!   claims, SMTP, retries, parked mail; templates in Korean and English.
//! - [`redis`]: everything kept in Redis — keys, Lua scripts, the enqueue
//!   pipeline, batches, leases, switches, sessions, the pub/sub feed.
//! - [`store`]: every SQL statement, with one lock order and errors of its
//!   own.
//! - [`events`]: the students' ticket event streams held by this process.
//! - [`position`]: a stream's places in line, moved by the decisions feed.
//! - [`fair_use`]: rate limits per student and per address, and the cap on
//!   tickets in line.
//! - [`snapshot`]: the registration window and course seats kept in memory.
//! - [`cache`]: per-process caches of Redis answers, invalidated by pub/sub.
//! - [`db`]: the primary and its replicas — where each query goes, replica
//!   health and lag.
//! - [`domain`]: validated input types and the records the API shows.
//! - [`ticket`], [`pace`], [`session`]: the ticket vocabulary and its one
//!   codec; a queue's pace and ETAs; what a session is and its cookie.
//! - [`config`], [`metrics`], [`password`]: settings, Prometheus metrics,
//!   argon2id.

pub mod admission;
pub mod api;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod events;
pub mod fair_use;
pub mod mail;
pub mod metrics;
pub mod pace;
pub mod password;
pub mod position;
pub mod redis;
pub mod service;
pub mod session;
pub mod snapshot;
pub mod startup;
pub mod state;
pub mod store;
pub mod ticket;
pub mod web;

pub use config::{Cli, Options, Settings};
pub use startup::Application;
