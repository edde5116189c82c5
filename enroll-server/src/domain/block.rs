//! Reserved seats: a course's capacity split into blocks for departments or
//! years, and the open pool. Admission gives a student a seat from the
//! first block (in the registrar's order) they qualify for that has one
//! left, else from the open pool; at `release_at` a block's unused seats
//! join the open pool (its students keep theirs).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::phase::{Audience, Cohort};
use super::Invalid;

/// Most blocks one course may have.
pub const MAX_BLOCKS: usize = 16;

/// A block as the catalogue shows it and admission weighs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Block {
    pub name: String,
    /// Seats reserved.
    pub seats: i32,
    /// Students holding a seat from it.
    pub enrolled: i32,
    /// Departments it is for (absent: every department).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub departments: Option<Vec<String>>,
    /// Years it is for (absent: every year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<i16>>,
    /// When its unused seats join the open pool.
    #[serde(default)]
    pub release_at: Option<DateTime<Utc>>,
    /// When they did.
    #[serde(default)]
    pub released_at: Option<DateTime<Utc>>,
}

impl Block {
    /// Seats it still offers (none once released).
    pub fn left(&self) -> i32 {
        if self.released_at.is_some() {
            0
        } else {
            (self.seats - self.enrolled).max(0)
        }
    }

    /// Whether a student of `cohort` may take a seat from it.
    pub fn admits(&self, cohort: &Cohort) -> bool {
        self.years.as_ref().is_none_or(|y| y.contains(&cohort.year))
            && self
                .departments
                .as_ref()
                .is_none_or(|d| d.iter().any(|d| d == &cohort.department))
    }
}

/// A block as the registrar sets it (`reserved` of `PATCH
/// /api/v1/admin/courses/{id}`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockInput {
    /// Unique within the course, 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    #[serde(deserialize_with = "super::whole::number")]
    #[schema(minimum = 0, maximum = 100000)]
    pub seats: i32,
    /// Departments it is for; left out: every department.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub departments: Option<Vec<String>>,
    /// Years (1 to 6) it is for; left out: every year.
    #[serde(default, deserialize_with = "super::whole::optional_list")]
    #[schema(min_items = 1, max_items = 6)]
    pub years: Option<Vec<i16>>,
    /// When its unused seats join the open pool; left out: never.
    #[serde(default)]
    pub release_at: Option<DateTime<Utc>>,
}

/// Checks a course's new blocks (422 `invalid_block` or `invalid_audience`
/// naming the block); what the seats already taken allow is the database's
/// to check.
pub fn validate(blocks: &[BlockInput]) -> Result<(), Invalid> {
    if blocks.len() > MAX_BLOCKS {
        return Err(Invalid::new(
            "invalid_block",
            format!("at most {MAX_BLOCKS} blocks per course"),
        ));
    }
    for (i, b) in blocks.iter().enumerate() {
        let n = b.name.trim().chars().count();
        if n == 0 || b.name.chars().count() > 64 || b.name.contains('\0') {
            return Err(Invalid::new(
                "invalid_block",
                format!("block {}: `name` must be 1 to 64 characters", i + 1),
            ));
        }
        if !(0..=100_000).contains(&b.seats) {
            return Err(Invalid::new(
                "invalid_block",
                format!("block `{}`: `seats` must be 0 to 100000", b.name),
            ));
        }
        if blocks[..i].iter().any(|o| o.name == b.name) {
            return Err(Invalid::new(
                "invalid_block",
                format!("block `{}` is named twice", b.name),
            ));
        }
        Audience {
            years: b.years.clone(),
            departments: b.departments.clone(),
            student_nos: None,
        }
        .validate(&format!("block `{}`", b.name))?;
    }
    Ok(())
}

/// Where a seat for a student of `cohort` comes from: the first block they
/// qualify for with a seat left (`Some(Some(i))`), else the open pool
/// (`Some(None)`) when it has `pool_left` seats, else nowhere.
pub fn seat_for(blocks: &[Block], pool_left: i32, cohort: &Cohort) -> Option<Option<usize>> {
    if let Some(i) = blocks.iter().position(|b| b.left() > 0 && b.admits(cohort)) {
        return Some(Some(i));
    }
    (pool_left > 0).then_some(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(name: &str, seats: i32, enrolled: i32, deps: &[&str]) -> Block {
        Block {
            name: name.into(),
            seats,
            enrolled,
            departments: Some(deps.iter().map(|d| d.to_string()).collect()),
            years: None,
            release_at: None,
            released_at: None,
        }
    }

    fn cs() -> Cohort {
        Cohort {
            year: 2,
            department: "CS".into(),
        }
    }

    #[test]
    fn a_major_takes_their_block_first_then_the_pool() {
        let blocks = vec![block("math", 5, 0, &["MATH"]), block("cs", 2, 1, &["CS"])];
        assert_eq!(seat_for(&blocks, 3, &cs()), Some(Some(1)));
        let full = vec![block("cs", 2, 2, &["CS"])];
        assert_eq!(seat_for(&full, 3, &cs()), Some(None));
        assert_eq!(seat_for(&full, 0, &cs()), None);
        let other = Cohort {
            year: 2,
            department: "EE".into(),
        };
        assert_eq!(seat_for(&blocks, 0, &other), None, "no block for EE");
    }

    #[test]
    fn a_released_block_offers_nothing() {
        let mut b = block("cs", 5, 1, &["CS"]);
        b.released_at = Some(Utc::now());
        assert_eq!(b.left(), 0);
        assert_eq!(seat_for(&[b], 1, &cs()), Some(None));
    }

    #[test]
    fn blocks_are_checked_by_name() {
        let input = |name: &str, seats, years| BlockInput {
            name: name.into(),
            seats,
            departments: None,
            years,
            release_at: None,
        };
        assert!(validate(&[input("a", 3, None), input("b", 2, Some(vec![4]))]).is_ok());
        let e = validate(&[input("a", 3, None), input("a", 2, None)]).unwrap_err();
        assert!(e.message.contains("`a`"), "{e}");
        let e = validate(&[input("y", 3, Some(vec![9]))]).unwrap_err();
        assert_eq!(e.code, "invalid_audience");
        let e = validate(&[input("n", -1, None)]).unwrap_err();
        assert_eq!(e.code, "invalid_block");
    }
}
