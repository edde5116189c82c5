//! The registrar's rules of the phased scenario: students' years and
//! departments ([`Cohort`]), courses' reserved blocks ([`BlockSpec`]), the
//! departments and years spread over, and the phases ([`PHASES`],
//! [`phases_json`]).

/// A block of reserved seats for the students of some departments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSpec {
    pub name: String,
    pub seats: i32,
    pub departments: Vec<String>,
}

impl BlockSpec {
    /// Whether a student of `cohort` may take a seat from it.
    pub fn admits(&self, cohort: &Cohort) -> bool {
        self.departments.contains(&cohort.department)
    }

    /// The wire form, as in `reserved` of `PATCH /api/v1/admin/courses/{id}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"name": self.name, "seats": self.seats, "departments": self.departments})
    }
}

/// A student's year of study and department, which phases and blocks
/// select by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cohort {
    pub year: i16,
    pub department: String,
}

impl Cohort {
    /// What the server gives a student imported without either.
    pub fn server_default() -> Self {
        Self {
            year: 1,
            department: String::new(),
        }
    }
}

/// The department of every course outside the phased scenario.
pub const DEFAULT_DEPARTMENT: &str = "RUSH";
/// The phased scenario's catalogue departments: courses and students are
/// spread over them.
pub const DEPARTMENTS: [&str; 4] = ["CS", "EE", "MATH", "BIO"];
/// Share of every rush course's seats reserved for its own department.
pub const RESERVED_SHARE: f64 = 0.3;
/// The name of that block.
pub const MAJORS_BLOCK: &str = "majors";
/// Years the phased scenario's students are spread over.
pub const YEARS: std::ops::RangeInclusive<i16> = 1..=4;

/// A phase of the phased scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhaseSpec {
    pub name: &'static str,
    pub years: &'static [i16],
    /// Open while the rush runs; else it opens a day later.
    pub open: bool,
}

/// The phased scenario's phases: two open at once for disjoint years (same
/// hours, which the server allows only because nobody is in both), and
/// year 1's still to come, so its students are answered 403
/// `not_your_phase`.
pub const PHASES: [PhaseSpec; 3] = [
    PhaseSpec {
        name: "years 3-4",
        years: &[3, 4],
        open: true,
    },
    PhaseSpec {
        name: "year 2",
        years: &[2],
        open: true,
    },
    PhaseSpec {
        name: "year 1",
        years: &[1],
        open: false,
    },
];

/// The `PUT /api/v1/admin/phases` body for `phases` at `now`: the open ones
/// from an hour ago to a day on, the others from a day on to two.
pub fn phases_json(phases: &[PhaseSpec], now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let (hour, day) = (chrono::Duration::hours(1), chrono::Duration::days(1));
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    phases
        .iter()
        .map(|p| {
            let (opens, closes) = if p.open {
                (now - hour, now + day)
            } else {
                (now + day, now + day + day)
            };
            serde_json::json!({"name": p.name, "opens_at": at(opens), "closes_at": at(closes), "years": p.years})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_phases_share_the_hours_for_disjoint_years_and_year_1_waits() {
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let body = phases_json(&PHASES, now);
        assert_eq!(
            body,
            serde_json::json!([
                {"name": "years 3-4", "opens_at": "2027-01-15T07:00:00Z",
                 "closes_at": "2027-01-16T08:00:00Z", "years": [3, 4]},
                {"name": "year 2", "opens_at": "2027-01-15T07:00:00Z",
                 "closes_at": "2027-01-16T08:00:00Z", "years": [2]},
                {"name": "year 1", "opens_at": "2027-01-16T08:00:00Z",
                 "closes_at": "2027-01-17T08:00:00Z", "years": [1]},
            ])
        );
        let years: Vec<i16> = PHASES
            .iter()
            .flat_map(|p| p.years.iter().copied())
            .collect();
        let mut unique = years.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(years.len(), unique.len(), "no year in two phases");
    }
}
