//! Students as admins import them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::course::check_text;
use super::mail::Language;
use super::phase::Cohort;
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
    /// Year of study, 1 to 6 (1 when left out): phases and reserved seats
    /// select by it.
    #[serde(default = "first_year", deserialize_with = "super::whole::number")]
    #[schema(minimum = 1, maximum = 6, default = 1)]
    pub year: i16,
    /// Major department (none when left out): phases and reserved seats
    /// select by it.
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub department: String,
}

fn first_year() -> i16 {
    1
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
        email(&self.email)?;
        year(self.year)?;
        check_text("department", &self.department, 0, 100)?;
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

fn year(v: i16) -> Result<(), Invalid> {
    if !(1..=6).contains(&v) {
        return Err(Invalid::new("invalid_field", "`year` must be 1 to 6"));
    }
    Ok(())
}

/// A student as the API returns them.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Student {
    pub id: i64,
    pub student_no: String,
    pub name: String,
    pub email: String,
    pub year: i16,
    pub department: String,
}

/// Columns selected for a [`Student`].
pub const STUDENT_COLUMNS: &str = "id, student_no, name, email, year, department";

impl Student {
    /// What phases and reserved blocks select the student by.
    pub fn cohort(&self) -> Cohort {
        Cohort {
            year: self.year,
            department: self.department.clone(),
        }
    }
}

/// Changes to a student (`PATCH /api/v1/admin/students/{student_no}`);
/// absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StudentPatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub name: Option<String>,
    #[schema(min_length = 3, max_length = 320, pattern = r"^[^\u0000]*@[^\u0000]*$")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 1, maximum = 6)]
    pub year: Option<i16>,
    #[schema(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub department: Option<String>,
    pub mail_language: Option<Language>,
}

impl StudentPatch {
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(v) = &self.name {
            check_text("name", v, 1, 200)?;
        }
        if let Some(v) = &self.email {
            email(v)?;
        }
        if let Some(v) = self.year {
            year(v)?;
        }
        if let Some(v) = &self.department {
            check_text("department", v, 0, 100)?;
        }
        Ok(())
    }

    /// Whether it changes what phases and blocks select the student by.
    pub fn changes_cohort(&self) -> bool {
        self.year.is_some() || self.department.is_some()
    }
}

fn email(v: &str) -> Result<(), Invalid> {
    let n = v.chars().count();
    if !(3..=320).contains(&n) || !v.contains('@') || v.contains('\0') {
        return Err(Invalid::new(
            "invalid_field",
            "`email` must be 3 to 320 characters with an @ (and no NUL)",
        ));
    }
    Ok(())
}

/// A student created by an import.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct ImportedStudent {
    pub id: i64,
    pub student_no: String,
}
