//! Everything the server keeps in Redis: the waiting queues, their leases
//! and switches, sessions, and the pub/sub feed between instances.
//!
//! - [`conn`]: the connection to Redis's primary; [`primary`]: the one in
//!   use and the signs that it failed over; [`follow`]: asking the
//!   sentinels for the promoted one; [`retry`]: backoff and rate-limited
//!   warnings for the loops that talk to Redis.
//! - [`keys`]: every key name, built in one place.
//! - [`pipeline`]: the task that sends script calls arriving together as
//!   one pipeline.
//! - [`enqueue`]: joining a queue (the enqueue script).
//! - [`fair_use`]: per-student buckets and the cap on tickets in line.
//! - [`tickets`]: reading a student's tickets; [`expiry`]: forgetting
//!   decided ones.
//! - [`batch`]: claiming a batch at a queue's head and finishing it once
//!   decided.
//! - [`lease`]: one admission worker per course at a time.
//! - [`control`]: the pause switch, queue lengths, full flags, freed seats.
//! - [`feed`]: every pub/sub channel and the loop that follows them.
//! - [`session_store`], [`login_throttle`]: sessions; failed logins counted
//!   per client address and per (address, student number).
//! - [`deployment`]: whose data Redis holds, and putting back what the
//!   database knows after Redis lost its data.
//!
//! Multi-key steps run as Lua scripts (`scripts/*.lua`) or `MULTI`
//! transactions, each within one hash slot: a course's (`{c<id>}`), a
//! student's (`{s<id>}`) or a client address's (`{l<addr>}`).

pub mod batch;
pub mod conn;
pub mod control;
pub mod deployment;
pub mod enqueue;
pub mod expiry;
pub mod fair_use;
pub mod feed;
pub mod follow;
pub mod keys;
pub mod lease;
pub mod login_throttle;
pub mod pipeline;
pub mod primary;
pub mod retry;
pub mod session_store;
pub mod tickets;
