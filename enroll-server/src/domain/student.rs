//! Students as admins import them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::course::check_text;
use super::mail::Language;
use super::Invalid;

/// A student to import (the password is hashed, never stored).
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStudent {
    pub student_no: String,
    pub name: String,
    pub email: String,
    pub password: String,
    /// Language of the student's enrollment mail (`ko` when left out).
    #[serde(default)]
    pub mail_language: Language,
}

impl std::fmt::Debug for NewStudent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewStudent")
            .field("student_no", &self.student_no)
            .finish_non_exhaustive()
    }
}

impl NewStudent {
    pub fn validate(&self) -> Result<(), Invalid> {
        check_text("student_no", &self.student_no, 1, 32)?;
        check_text("name", &self.name, 1, 200)?;
        check_text("email", &self.email, 3, 320)?;
        if !self.email.contains('@') {
            return Err(Invalid::new("invalid_field", "`email` must contain @"));
        }
        if self.password.chars().count() < 8 || self.password.len() > 1024 {
            return Err(Invalid::new(
                "weak_password",
                "`password` must be at least 8 characters",
            ));
        }
        Ok(())
    }
}

/// A student as the API returns them.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Student {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub email: String,
}

/// A student created by an import.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ImportedStudent {
    pub id: i64,
    pub student_no: String,
}
