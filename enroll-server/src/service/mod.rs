//! What the API asks for, in the server's own terms: each call checks the
//! rules, talks to the stores, and answers with a result or an error of its
//! own (mapped to HTTP in [`crate::api::error`]).
//!
//! - [`enrollment`]: enroll (join a queue), cancel, seats freed.
//! - [`tickets`]: a student's tickets with their place and ETA.
//! - [`accounts`]: logging in and out.
//! - [`admins`]: admin accounts — logging in and out, their sessions,
//!   creating, listing and deleting them.
//! - [`fair_use`]: rate limits and the cap on tickets in line, applied.
//! - [`registrar`]: courses, student imports, the window, the admission
//!   switch.
//! - [`recovery`]: claiming Redis for this deployment, and rebuilding it
//!   from the database after it lost its data.

pub mod accounts;
pub mod admins;
pub mod cart;
pub mod clock;
pub mod enrollment;
pub mod fair_use;
pub mod overrides;
pub mod positions;
pub mod recovery;
pub mod registrar;
pub mod tickets;
pub mod waitlist;
