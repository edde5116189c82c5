//! Test support: real services on free ports in temporary directories.
//!
//! Layout:
//! - [`process`]: a child process stopped by pid when its guard drops, plus
//!   [`free_port`] and [`wait_for_port`].
//! - [`pg`]: a PostgreSQL primary and streaming replicas ([`PgCluster`]).
//! - [`redis`]: a throwaway redis-server ([`RedisServer`]) and a sentinel
//!   watching one ([`RedisSentinel`]).
//! - [`smtp`]: a real SMTP server (aiosmtpd) that keeps every mail it
//!   receives ([`SmtpSink`]).
//! - [`modules`]: the module-circle check, for each crate's tests.
//! - [`shared`]: one cluster per test process, shared by its tests, each test
//!   in a database of its own ([`shared::database`]).
//! - [`webcfg`]: certificates, bcrypt hashes and `--web.config.file`s for
//!   the servers' TLS and basic-auth tests, and `promtool check web-config`.
//!
//! Everything here starts *real* software (never mocks) and cleans up after
//! itself by pid — never by process name — so parallel test runs and a
//! developer's own services are left alone.

pub mod modules;
pub mod pg;
pub mod process;
pub mod redis;
pub mod shared;
pub mod smtp;
pub mod webcfg;

pub use pg::{Durability, PgCluster, PgOptions};
pub use process::{free_port, stable_port, wait_for_port, ChildGuard};
pub use redis::{RedisSentinel, RedisServer};
pub use smtp::{ReceivedMail, SinkOptions, SmtpSink};
