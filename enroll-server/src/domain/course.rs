//! Courses as the catalogue shows them and as admins create and change them.

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use utoipa::ToSchema;

use super::block::{self, Block, BlockInput};
use super::phase::Cohort;
use super::schedule::{self, Meeting};
use super::Invalid;

/// A course as the API returns it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Course {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub professor: String,
    pub department: String,
    pub credits: i16,
    pub capacity: i32,
    pub enrolled: i32,
    /// Seats left in total (`capacity - enrolled`), reserved ones included.
    pub remaining: i32,
    #[schema(value_type = Vec<Meeting>)]
    pub schedule: Json<Vec<Meeting>>,
    /// Seats held back for blocks (a released block: its students only).
    pub reserved: i32,
    /// Seats an admin granted beyond the capacity (not in `enrolled`).
    pub over_capacity: i32,
    /// Seats given back and withheld for a random delay: never shown.
    #[serde(skip)]
    pub withheld: i32,
    /// Reserved seats, in the order admission tries them.
    #[schema(value_type = Vec<Block>)]
    pub blocks: Json<Vec<Block>>,
    /// `off`, `auto` (a freed seat enrolls the waitlist's head) or
    /// `offer` (it is offered to the head until a deadline).
    pub waitlist_mode: String,
    /// Students on the waitlist.
    pub waitlisted: i64,
    /// Seats left that the logged-in student could take: the open pool's
    /// and those of the blocks they qualify for (absent when anonymous).
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_for_you: Option<i32>,
}

impl Course {
    /// Seats of the open pool left.
    pub fn pool_left(&self) -> i32 {
        let pooled = self.enrolled - self.blocks.iter().map(|b| b.enrolled).sum::<i32>();
        (self.capacity - self.reserved - pooled - self.withheld).max(0)
    }

    /// Fills in [`Self::remaining_for_you`] for a student of `cohort`.
    pub fn for_student(mut self, cohort: &Cohort) -> Self {
        let blocks: i32 = self
            .blocks
            .iter()
            .filter(|b| b.admits(cohort))
            .map(Block::left)
            .sum();
        self.remaining_for_you = Some(self.pool_left() + blocks);
        self
    }
}

/// Columns selected for a [`Course`]; `remaining` is derived, never stored.
pub const COURSE_COLUMNS: &str = "id, code, name, professor, department, credits, capacity, \
     enrolled, capacity - enrolled - withheld AS remaining, schedule, reserved, over_capacity, withheld, \
     coalesce((SELECT json_agg(json_build_object('name', b.name, 'seats', b.seats, \
       'enrolled', b.enrolled, 'departments', b.departments, 'years', b.years, \
       'release_at', b.release_at, 'released_at', b.released_at) ORDER BY b.position) \
       FROM course_blocks b WHERE b.course_id = courses.id), '[]'::json) AS blocks, waitlist_mode, \
     (SELECT count(*) FROM waitlist w WHERE w.course_id = courses.id) AS waitlisted";

/// A course's seats and what a seat in it costs a student: what admission
/// decides against and what the enqueue path knows of every course.
#[derive(Debug, Clone)]
pub struct CourseSeats {
    pub id: i64,
    pub capacity: i32,
    /// Seats taken, or given back and withheld for a delay.
    pub enrolled: i32,
    pub credits: i16,
    pub schedule: Vec<Meeting>,
    /// Seats of the open pool left (`capacity - reserved - pooled -
    /// withheld`).
    pub pool_left: i32,
    /// Reserved blocks (admission reads them with the course's lock; the
    /// enqueue path's snapshot leaves them empty).
    pub blocks: Vec<Block>,
}

impl CourseSeats {
    /// Whether a seat is left.
    pub fn has_seats(&self) -> bool {
        self.capacity > self.enrolled
    }
}

/// A course to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourse {
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub code: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    pub professor: String,
    #[serde(default)]
    #[schema(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub department: String,
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(minimum = 0, maximum = 30)]
    pub credits: i16,
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(minimum = 0, maximum = 100000)]
    pub capacity: i32,
    /// Each meeting ends after it starts, and no two overlap (422
    /// `invalid_schedule` otherwise: rules a schema cannot state).
    #[serde(default)]
    #[schema(max_items = 14)]
    pub schedule: Vec<Meeting>,
}

impl NewCourse {
    pub fn validate(&self) -> Result<(), Invalid> {
        text("code", &self.code, 1, 32)?;
        text("name", &self.name, 1, 200)?;
        text("professor", &self.professor, 0, 200)?;
        text("department", &self.department, 0, 100)?;
        credits(self.credits)?;
        capacity(self.capacity)?;
        schedule::validate(&self.schedule).map_err(|m| Invalid::new("invalid_schedule", m))
    }
}

/// Changes to a course; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoursePatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
    )]
    pub name: Option<String>,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    pub professor: Option<String>,
    #[schema(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub department: Option<String>,
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 0, maximum = 30)]
    pub credits: Option<i16>,
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 0, maximum = 100000)]
    pub capacity: Option<i32>,
    /// As in [`NewCourse::schedule`].
    #[schema(max_items = 14)]
    pub schedule: Option<Vec<Meeting>>,
    /// Replaces the reserved blocks (an empty list: none). A block may not
    /// shrink below its students nor be removed while it has any (409
    /// `block_below_enrolled`, `block_in_use`), blocks may not reserve
    /// seats the open pool has given away (409 `reserved_seats_taken`) nor
    /// more than the capacity (409 `reserved_over_capacity`).
    #[serde(default, deserialize_with = "super::objects::optional_objects")]
    #[schema(max_items = 16)]
    pub reserved: Option<Vec<BlockInput>>,
    /// How the course's waitlist works.
    #[serde(default, deserialize_with = "super::objects::optional_object")]
    pub waitlist: Option<WaitlistSettings>,
}

/// A course's waitlist settings; absent fields stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitlistSettings {
    /// `off`, `auto` (a freed seat enrolls the head) or `offer` (offered
    /// to the head until `offer_minutes` have passed).
    pub mode: Option<WaitlistMode>,
    /// Most students on the list.
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 0, maximum = 10000)]
    pub limit: Option<i32>,
    /// How long an offer stands.
    #[serde(default, deserialize_with = "super::whole::optional")]
    #[schema(minimum = 1, maximum = 10080)]
    pub offer_minutes: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaitlistMode {
    Off,
    Auto,
    Offer,
}

impl WaitlistMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Auto => "auto",
            Self::Offer => "offer",
        }
    }
}

impl CoursePatch {
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(v) = &self.name {
            text("name", v, 1, 200)?;
        }
        if let Some(v) = &self.professor {
            text("professor", v, 0, 200)?;
        }
        if let Some(v) = &self.department {
            text("department", v, 0, 100)?;
        }
        if let Some(v) = self.credits {
            credits(v)?;
        }
        if let Some(v) = self.capacity {
            capacity(v)?;
        }
        if let Some(s) = &self.schedule {
            schedule::validate(s).map_err(|m| Invalid::new("invalid_schedule", m))?;
        }
        if let Some(b) = &self.reserved {
            block::validate(b)?;
        }
        if let Some(w) = &self.waitlist {
            if w.limit.is_some_and(|l| !(0..=10_000).contains(&l)) {
                return Err(Invalid::new(
                    "invalid_field",
                    "`waitlist.limit` must be 0 to 10000",
                ));
            }
            if w.offer_minutes.is_some_and(|m| !(1..=10_080).contains(&m)) {
                return Err(Invalid::new(
                    "invalid_field",
                    "`waitlist.offer_minutes` must be 1 to 10080",
                ));
            }
        }
        Ok(())
    }
}

fn text(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let n = v.trim_matches(blank).chars().count();
    if v.contains('\0') {
        // PostgreSQL's text cannot hold it.
        return Err(Invalid::new(
            "invalid_field",
            format!("`{field}` must not contain NUL characters"),
        ));
    }
    if n < min || v.chars().count() > max {
        return Err(Invalid::new(
            "invalid_field",
            format!("`{field}` must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

fn credits(v: i16) -> Result<(), Invalid> {
    if !(0..=30).contains(&v) {
        return Err(Invalid::new("invalid_field", "`credits` must be 0 to 30"));
    }
    Ok(())
}

fn capacity(v: i32) -> Result<(), Invalid> {
    if !(0..=100_000).contains(&v) {
        return Err(Invalid::new(
            "invalid_field",
            "`capacity` must be 0 to 100000",
        ));
    }
    Ok(())
}

/// What a text may not consist of only: Unicode white space, and the
/// information separators U+001C..U+001F that a JSON Schema `\s` (as
/// Python reads it) also counts as space, so that the documented patterns
/// and this check agree on every string.
fn blank(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Re-exported for the student module's length checks.
pub(crate) fn check_text(field: &str, v: &str, min: usize, max: usize) -> Result<(), Invalid> {
    text(field, v, min, max)
}
