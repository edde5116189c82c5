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
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub student_no: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub name: String,
    #[schema(min_length = 3, max_length = 320, pattern = r"^[^\u0000]*@[^\u0000]*$")]
    pub email: String,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
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
        let n = self.email.chars().count();
        if !(3..=320).contains(&n) || !self.email.contains('@') || self.email.contains('\0') {
            return Err(Invalid::new(
                "invalid_field",
                "`email` must be 3 to 320 characters with an @ (and no NUL)",
            ));
        }
        // At most 256 characters, so at most 1 KiB for argon2 to hash.
        if !(8..=256).contains(&self.password.chars().count()) {
            return Err(Invalid::new(
                "weak_password",
                "`password` must be 8 to 256 characters",
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
