//! Test support: real services on free ports in temporary directories.
//!
//! Layout:
//! - [`process`]: a child process killed by pid when its guard drops, plus
//!   [`free_port`] and [`wait_for_port`].
//!
//! Everything here starts *real* software (never mocks) and cleans up after
//! itself by pid — never by process name — so parallel test runs and a
//! developer's own services are left alone.

pub mod process;

pub use process::{free_port, wait_for_port, ChildGuard};
