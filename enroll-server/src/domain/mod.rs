//! Domain types: validated at the edge, so the rest of the code can trust
//! them, and the records the API shows.

pub mod admin;
pub mod block;
pub mod cart;
pub mod course;
pub mod enrollment;
pub mod mail;
pub mod objects;
pub mod phase;
pub mod schedule;
pub mod student;
pub mod whole;

/// Input that breaks a rule: a stable code (`invalid_field`,
/// `invalid_schedule`, `weak_password`, ...) and a message naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}
