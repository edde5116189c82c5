//! Enrollment mail: students hear about every change of their enrollments,
//! once, in their language.
//!
//! The change and its announcement commit together: admission's batch
//! transaction and a cancel write a row to `mail_outbox` (see
//! [`crate::store::outbox`]), so a seat is never announced that was not
//! granted, nor granted without being announced. A [`Sender`] runs in every
//! instance when `ENROLL_SMTP_URL` is set:
//!
//! 1. it groups each student's changes into one message once the first of
//!    them is `ENROLL_MAIL_DIGEST_WINDOW_MS` old (a digest, not one mail per
//!    seat in the second registration opens);
//! 2. claims a few messages (`FOR UPDATE SKIP LOCKED` and a lease, so two
//!    instances never send the same one, and a dead instance's claims are
//!    taken over when their lease ends);
//! 3. sends them over SMTP under the rate limit, each with a Message-ID
//!    made from its row, so a crash between "sent" and "marked sent"
//!    resends at worst the same Message-ID;
//! 4. records the outcome: sent; a 4xx or network error is retried after
//!    1 s, 2 s, 4 s … up to `ENROLL_MAIL_RETRY_MAX_MS`; a 5xx, or too many
//!    attempts, parks the message for an operator, who lists and re-queues
//!    parked mail through the admin API.
//!
//! Addresses, names and the server's replies (which may name an address)
//! never reach the logs: those carry message ids, reply codes and counts.
//!
//! - [`sender`]: the steps above and the loop around them.
//! - [`smtp`]: the lettre transport, the message, failures told apart.
//! - [`template`]: the text and HTML of a mail, in Korean and English.
//! - [`pace`]: the clock (injectable), the retry backoff, the rate limit.

pub mod pace;
pub mod sender;
pub mod smtp;
pub mod template;

pub use pace::{Clock, ManualClock, SystemClock};
pub use sender::{Sender, Tick};
