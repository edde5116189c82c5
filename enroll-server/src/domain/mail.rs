//! The vocabulary of enrollment mail: what changed, in which language it is
//! told, and a parked message as an admin sees it. Each enum has one codec
//! (`as_str` / `parse`), the strings the database's CHECKs allow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A change of a student's enrollments that is announced by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Admission gave the student a seat.
    Enrolled,
    /// The student gave the seat back.
    Cancelled,
    /// An admin gave the student a seat (force-add).
    Added,
    /// An admin took the seat away (drop).
    Dropped,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enrolled => "enrolled",
            Self::Cancelled => "cancelled",
            Self::Added => "added",
            Self::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "enrolled" => Self::Enrolled,
            "cancelled" => Self::Cancelled,
            "added" => Self::Added,
            "dropped" => Self::Dropped,
            _ => return None,
        })
    }
}

/// The language a student's mail is written in; Korean unless the student
/// asked for English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    Ko,
    En,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ko => "ko",
            Self::En => "en",
        }
    }

    /// Anything unknown reads as the default, Korean.
    pub fn parse(s: &str) -> Self {
        match s {
            "en" => Self::En,
            _ => Self::Ko,
        }
    }
}

/// A message the mail server refused for good (or that ran out of
/// attempts), waiting for an operator to fix the address or the server and
/// re-queue it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ParkedMail {
    /// The message's id (what re-queueing names).
    pub id: i64,
    pub student_id: i64,
    pub student_no: String,
    /// The address it was sent to.
    pub email: String,
    /// Changes the message announces.
    pub changes: i64,
    pub attempts: i32,
    /// The mail server's reply (code and text) or the network error.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub parked_at: Option<DateTime<Utc>>,
    /// Who re-queued it last (an admin's username, or `token` for the
    /// bootstrap token), if anyone.
    pub requeued_by: Option<String>,
    pub requeued_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_and_language_round_trips_through_its_codec() {
        for c in [
            Change::Enrolled,
            Change::Cancelled,
            Change::Added,
            Change::Dropped,
        ] {
            assert_eq!(Change::parse(c.as_str()), Some(c));
        }
        assert_eq!(Change::parse("moved"), None);
        assert_eq!(Language::parse("en"), Language::En);
        assert_eq!(Language::parse("ko"), Language::Ko);
        assert_eq!(Language::parse("fr"), Language::Ko);
    }
}
