//! enroll-server as separate processes sharing one Redis and one database:
//!
//! - [`kill`]: one of two servers SIGKILLed mid-rush; every acknowledged
//!   ticket is still decided and invariants 1-4 hold.
//! - [`flush`]: Redis loses its data mid-rush; no committed seat is
//!   misreported, sessions stay valid, full flags come back.
//! - [`drain`]: a stopped (SIGTERM) server drains: not ready, still
//!   serving, then gone.

mod common;
mod drain;
mod flush;
mod kill;
