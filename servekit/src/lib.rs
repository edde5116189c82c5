//! Plumbing the workspace's servers share, so each binary does not grow its
//! own copy.
//!
//! Layout:
//! - [`http`]: HTTP/1.1 serving with a header-read deadline, a connection
//!   cap and an accept loop that backs off.
//! - [`shutdown_signal`]: completes on Ctrl-C or SIGTERM, for
//!   `run_until_stopped`.
//! - `allocator` (feature `mimalloc`): mimalloc's settings for the binaries
//!   that use it as their global allocator.
//! - [`procstat`]: a process's `/proc/<pid>/stat` and its CPU seconds.

#[cfg(feature = "mimalloc")]
pub mod allocator;
pub mod http;
pub mod procstat;
mod shutdown;

pub use shutdown::shutdown_signal;
