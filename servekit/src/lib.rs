//! Plumbing the workspace's servers share, so each binary does not grow its
//! own copy.
//!
//! Layout:
//! - [`http`]: HTTP/1.1 serving, plain or TLS, with a header-read deadline,
//!   a connection cap and an accept loop that backs off.
//! - [`webconfig`]: `--web.config.file` (Prometheus's web configuration:
//!   TLS, basic auth with bcrypt hashes, response headers).
//! - [`statefile`]: state files written atomically, readable by the owner
//!   only (0600 in a 0700 directory).
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
pub mod statefile;
mod tls_accept;
pub mod webconfig;

pub use shutdown::shutdown_signal;
