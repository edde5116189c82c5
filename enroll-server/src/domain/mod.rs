//! Domain types: validated at the edge, so the rest of the code can trust them.

pub mod course;
pub mod schedule;
pub mod student;
