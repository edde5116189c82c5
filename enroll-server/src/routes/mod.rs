//! One router per resource, merged in [`crate::startup`].

pub mod admin;
pub mod admission;
pub mod auth;
pub mod courses;
pub mod docs;
pub mod enrollments;
pub mod health;
pub mod me;
pub mod window;
