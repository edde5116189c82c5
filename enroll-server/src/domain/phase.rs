//! Phases: when whom may enroll. No university opens registration to
//! everyone at once (4th years Monday, 3rd years Tuesday, everyone
//! Thursday); a student may enroll while any phase that includes them is
//! open. The single registration window is the phase for everyone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Invalid;

/// Most phases the registrar may set at once.
pub const MAX_PHASES: usize = 64;

/// What phases and reserved blocks select students by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    /// Year of study, 1 to 6.
    pub year: i16,
    /// Major department ("" when none).
    pub department: String,
}

/// Who a phase or a reserved block is for: a student must match every list
/// given; a list left out matches anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Audience {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 6)]
    pub years: Option<Vec<i16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 200)]
    pub departments: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 5000)]
    pub student_nos: Option<Vec<String>>,
}

impl Audience {
    /// Whether the student (`student_no`, `cohort`) belongs to it.
    pub fn includes(&self, student_no: &str, cohort: &Cohort) -> bool {
        self.years.as_ref().is_none_or(|y| y.contains(&cohort.year))
            && self
                .departments
                .as_ref()
                .is_none_or(|d| d.iter().any(|d| d == &cohort.department))
            && self
                .student_nos
                .as_ref()
                .is_none_or(|n| n.iter().any(|n| n == student_no))
    }

    /// Whether no student can belong to both (some list given in both with
    /// nothing in common).
    fn disjoint(&self, other: &Self) -> bool {
        fn apart<T: PartialEq>(a: &Option<Vec<T>>, b: &Option<Vec<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => !a.iter().any(|x| b.contains(x)),
                _ => false,
            }
        }
        apart(&self.years, &other.years)
            || apart(&self.departments, &other.departments)
            || apart(&self.student_nos, &other.student_nos)
    }

    /// Checks the lists; `what` names the phase or block in the message.
    pub fn validate(&self, what: &str) -> Result<(), Invalid> {
        let bad = |m: String| Err(Invalid::new("invalid_audience", format!("{what}: {m}")));
        if let Some(years) = &self.years {
            if years.is_empty() || years.iter().any(|y| !(1..=6).contains(y)) {
                return bad("`years` must list years 1 to 6".into());
            }
        }
        if let Some(deps) = &self.departments {
            if deps.is_empty() || deps.len() > 200 || deps.iter().any(|d| too_long(d, 100)) {
                return bad(
                    "`departments` must list 1 to 200 names of at most 100 characters".into(),
                );
            }
        }
        if let Some(nos) = &self.student_nos {
            if nos.is_empty()
                || nos.len() > 5000
                || nos.iter().any(|n| n.is_empty() || too_long(n, 32))
            {
                return bad("`student_nos` must list 1 to 5000 student numbers".into());
            }
        }
        Ok(())
    }
}

fn too_long(s: &str, max: usize) -> bool {
    s.chars().count() > max || s.contains('\0')
}

/// One phase, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Phase {
    pub name: String,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    #[serde(flatten)]
    pub audience: Audience,
}

/// One phase as the registrar sets it (`PUT /api/v1/admin/phases`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseInput {
    /// Unique among the phases, 1 to 64 characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    pub opens_at: DateTime<Utc>,
    /// After `opens_at`.
    pub closes_at: DateTime<Utc>,
    /// Years of study (1 to 6) it is for; left out: every year.
    #[serde(default, deserialize_with = "super::whole::optional_list")]
    #[schema(min_items = 1, max_items = 6)]
    pub years: Option<Vec<i16>>,
    /// Departments it is for; left out: every department.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 200)]
    pub departments: Option<Vec<String>>,
    /// Student numbers it is for; left out: every student.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 5000)]
    pub student_nos: Option<Vec<String>>,
}

impl From<PhaseInput> for Phase {
    fn from(p: PhaseInput) -> Self {
        Self {
            name: p.name,
            opens_at: p.opens_at,
            closes_at: p.closes_at,
            audience: Audience {
                years: p.years,
                departments: p.departments,
                student_nos: p.student_nos,
            },
        }
    }
}

impl Phase {
    /// The phase for everyone: what the single registration window sets.
    pub fn everyone(opens_at: DateTime<Utc>, closes_at: DateTime<Utc>) -> Self {
        Self {
            name: "registration".into(),
            opens_at,
            closes_at,
            audience: Audience::default(),
        }
    }

    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.opens_at <= now && now < self.closes_at
    }
}

/// Checks a whole set of phases: names unique, each well-formed, and no two
/// that could include the same student overlapping in time (422
/// `invalid_phase`, `invalid_audience` or `overlapping_phases`, naming the
/// phase).
pub fn validate(phases: &[Phase]) -> Result<(), Invalid> {
    if phases.len() > MAX_PHASES {
        return Err(Invalid::new(
            "invalid_phase",
            format!("at most {MAX_PHASES} phases"),
        ));
    }
    for (i, p) in phases.iter().enumerate() {
        let n = p.name.trim().chars().count();
        if n == 0 || p.name.chars().count() > 64 || p.name.contains('\0') {
            return Err(Invalid::new(
                "invalid_phase",
                format!("phase {}: `name` must be 1 to 64 characters", i + 1),
            ));
        }
        if p.closes_at <= p.opens_at {
            return Err(Invalid::new(
                "invalid_phase",
                format!("phase `{}`: closes_at must be after opens_at", p.name),
            ));
        }
        p.audience.validate(&format!("phase `{}`", p.name))?;
        for q in &phases[..i] {
            if q.name == p.name {
                return Err(Invalid::new(
                    "invalid_phase",
                    format!("phase `{}` is named twice", p.name),
                ));
            }
            let overlap = p.opens_at < q.closes_at && q.opens_at < p.closes_at;
            if overlap && !p.audience.disjoint(&q.audience) {
                return Err(Invalid::new(
                    "overlapping_phases",
                    format!(
                        "phases `{}` and `{}` overlap in time for some students",
                        q.name, p.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What the countdown page shows: the phase open now (the one closing
/// last), else the next to open, else the last that closed.
pub fn window<'a>(
    phases: impl IntoIterator<Item = &'a Phase> + Clone,
    now: DateTime<Utc>,
) -> Option<&'a Phase> {
    let open = phases
        .clone()
        .into_iter()
        .filter(|p| p.is_open(now))
        .max_by_key(|p| p.closes_at);
    let next = || {
        phases
            .clone()
            .into_iter()
            .filter(|p| p.opens_at > now)
            .min_by_key(|p| p.opens_at)
    };
    let last = || phases.clone().into_iter().max_by_key(|p| p.closes_at);
    open.or_else(next).or_else(last)
}

/// Whether the student may enroll at `now`: `Ok` while a phase including
/// them is open; else when the next one opens for them (`None`: never).
pub fn admits(
    phases: &[Phase],
    student_no: &str,
    cohort: &Cohort,
    now: DateTime<Utc>,
) -> Result<(), Option<DateTime<Utc>>> {
    let theirs = phases
        .iter()
        .filter(|p| p.audience.includes(student_no, cohort));
    if theirs.clone().any(|p| p.is_open(now)) {
        return Ok(());
    }
    Err(theirs
        .filter(|p| p.opens_at > now)
        .map(|p| p.opens_at)
        .min())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + h * 3600, 0).unwrap()
    }

    fn phase(name: &str, from: i64, to: i64, years: Option<Vec<i16>>) -> Phase {
        Phase {
            name: name.into(),
            opens_at: at(from),
            closes_at: at(to),
            audience: Audience {
                years,
                ..Audience::default()
            },
        }
    }

    fn cohort(year: i16, department: &str) -> Cohort {
        Cohort {
            year,
            department: department.into(),
        }
    }

    #[test]
    fn a_student_enrolls_only_in_their_phases() {
        let phases = vec![
            phase("4th", 0, 8, Some(vec![4])),
            phase("3rd", 24, 32, Some(vec![3])),
            phase("all", 72, 80, None),
        ];
        validate(&phases).unwrap();
        let third = cohort(3, "CS");
        assert_eq!(admits(&phases, "s1", &third, at(1)), Err(Some(at(24))));
        assert_eq!(admits(&phases, "s1", &third, at(25)), Ok(()));
        assert_eq!(admits(&phases, "s1", &third, at(40)), Err(Some(at(72))));
        assert_eq!(admits(&phases, "s1", &third, at(73)), Ok(()));
        assert_eq!(admits(&phases, "s1", &third, at(80)), Err(None));
        assert_eq!(admits(&phases, "s1", &cohort(4, ""), at(1)), Ok(()));
    }

    #[test]
    fn departments_and_student_numbers_narrow_a_phase() {
        let mut p = phase("cs seniors", 0, 8, Some(vec![4]));
        p.audience.departments = Some(vec!["CS".into()]);
        let phases = vec![p];
        assert!(admits(&phases, "a", &cohort(4, "CS"), at(1)).is_ok());
        assert!(admits(&phases, "a", &cohort(4, "EE"), at(1)).is_err());
        assert!(admits(&phases, "a", &cohort(3, "CS"), at(1)).is_err());
        let mut only = phase("exceptions", 0, 8, None);
        only.audience.student_nos = Some(vec!["2020001".into()]);
        let phases = vec![only];
        assert!(admits(&phases, "2020001", &cohort(1, ""), at(1)).is_ok());
        assert!(admits(&phases, "2020002", &cohort(1, ""), at(1)).is_err());
    }

    #[test]
    fn overlapping_phases_are_refused_unless_their_students_differ() {
        let err = validate(&[phase("a", 0, 8, None), phase("b", 7, 9, Some(vec![1]))]).unwrap_err();
        assert_eq!(err.code, "overlapping_phases");
        assert!(
            err.message.contains("`a`") && err.message.contains("`b`"),
            "{err}"
        );
        // Same hours, different years: nobody is in both.
        validate(&[
            phase("a", 0, 8, Some(vec![4])),
            phase("b", 0, 8, Some(vec![3])),
        ])
        .unwrap();
        // Back to back is no overlap.
        validate(&[phase("a", 0, 8, None), phase("b", 8, 9, None)]).unwrap();
    }

    #[test]
    fn malformed_phases_are_named() {
        let err = validate(&[phase("late", 8, 8, None)]).unwrap_err();
        assert_eq!(err.code, "invalid_phase");
        assert!(err.message.contains("`late`"), "{err}");
        let err = validate(&[phase("y", 0, 1, Some(vec![7]))]).unwrap_err();
        assert_eq!(err.code, "invalid_audience");
        assert!(err.message.contains("`y`"), "{err}");
        let err = validate(&[phase("x", 0, 1, None), phase("x", 2, 3, None)]).unwrap_err();
        assert!(err.message.contains("twice"), "{err}");
        let err = validate(&[phase(" ", 0, 1, None)]).unwrap_err();
        assert!(err.message.contains("phase 1"), "{err}");
    }

    #[test]
    fn the_window_shows_the_open_then_the_next_then_the_last_phase() {
        let phases = [phase("a", 0, 8, None), phase("b", 24, 32, None)];
        assert_eq!(window(&phases, at(-1)).unwrap().name, "a");
        assert_eq!(window(&phases, at(1)).unwrap().name, "a");
        assert_eq!(window(&phases, at(9)).unwrap().name, "b");
        assert_eq!(window(&phases, at(40)).unwrap().name, "b");
        assert!(window(&[], at(0)).is_none());
    }
}
