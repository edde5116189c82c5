//! The allocator settings of the binaries that use mimalloc (enroll-server
//! and the rush tool): freed memory is kept a while instead of handed back
//! to the OS at once.
//!
//! Why mimalloc: the request paths allocate small, short-lived buffers on
//! every request, and glibc's malloc and free showed up as a sizeable share
//! of the CPU in profiles of a rush. Why its 2.x series (the `v2` feature of
//! the `mimalloc` and `libmimalloc-sys` crates, not the 3.x series those
//! crates default to since 0.1.49): under the same load, 3.x spent more of
//! the CPU in malloc and interleaved rush runs were consistently slower.
//!
//! Why the purge delay: mimalloc's default returns ("purges") freed pages
//! 10 ms after they fall empty. Under a burst the same pages are wanted again
//! right away, so each comes back as a page fault (and the purges cost
//! `madvise` calls), and the kernel's fault path became a visible share of
//! the server's CPU. With a one-second delay the faults all but disappear,
//! and memory still goes back after a burst, a second later (jemalloc's
//! default decay is ten seconds).

use std::ffi::c_long;

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_e` (`mimalloc.h`);
/// libmimalloc-sys does not name it. The unit test checks that this index
/// is the purge delay (its documented default, 10 ms).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long freed memory stays with the process before it goes back to the
/// OS, in milliseconds.
pub const PURGE_DELAY_MS: c_long = 1_000;

/// Sets the purge delay to [`PURGE_DELAY_MS`], unless the operator chose one
/// with mimalloc's own `MIMALLOC_PURGE_DELAY`. Call first thing in `main`,
/// before any other thread starts (mimalloc's option setters are not
/// thread-safe).
pub fn keep_freed_pages() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: stores one integer option that mimalloc reads at its next
    // purge; no other thread exists yet to read it concurrently.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_DELAY_MS) }
}

/// The purge delay mimalloc is using, in milliseconds.
#[cfg(test)]
fn purge_delay_ms() -> c_long {
    // SAFETY: reads one integer option.
    unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_is_the_purge_delay_and_is_set() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            // The operator's choice stands.
            let chosen = purge_delay_ms();
            keep_freed_pages();
            assert_eq!(purge_delay_ms(), chosen);
            return;
        }
        assert_eq!(purge_delay_ms(), 10, "mimalloc 2.x's default purge delay");
        keep_freed_pages();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
