//! The workload: courses, students and the order of their requests.
//!
//! Invariant 4 ("the winners of an oversubscribed course are exactly its
//! earliest eligible tickets") is only checkable if eligibility does not
//! depend on the order in which the server happens to decide *other*
//! courses (courses are decided in parallel). So the mix is built such that
//! eligibility is fixed before the rush starts:
//!
//! - Timetable slots: a student requests at most one course per slot, and
//!   courses of different slots never overlap, so rush requests never clash
//!   with each other; 6 slots x 3 credits = 18, so they never break the
//!   credit limit together either.
//! - The eligibility rules are still exercised, deterministically: before the
//!   rush a share of the students is enrolled in a *seminar* (3 credits) that
//!   overlaps slot 0, so their slot-0 request must be rejected with
//!   `schedule_conflict`; another share is enrolled in a 16-credit
//!   *capstone*, so every rush request of theirs must be rejected with
//!   `credit_limit` (16 + 3 > 18). Either may instead be answered
//!   `course_full` if the course filled before their ticket: the server checks
//!   seats first.
//!
//! Then a ticket is eligible iff its student is not excluded as above, and
//! each course's winners must be its first `capacity` eligible tickets.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// A weekly meeting: day and minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meeting {
    pub day: &'static str,
    pub start: u16,
    pub end: u16,
}

impl Meeting {
    const fn new(day: &'static str, start: u16, end: u16) -> Self {
        Self { day, start, end }
    }

    /// Same day and the times overlap (back to back is fine), exactly as the
    /// server decides it.
    pub fn overlaps(&self, other: &Meeting) -> bool {
        self.day == other.day && self.start < other.end && other.start < self.end
    }

    /// The wire form: `{"day":"MON","start":"09:00","end":"10:15"}`.
    pub fn to_json(self) -> serde_json::Value {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        serde_json::json!({"day": self.day, "start": hm(self.start), "end": hm(self.end)})
    }
}

/// Whether two timetables share a moment.
pub fn clashes(a: &[Meeting], b: &[Meeting]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.overlaps(y)))
}

/// The timetable slots of rush courses; no two overlap.
pub const SLOTS: [&[Meeting]; 6] = [
    &[Meeting::new("MON", 540, 615), Meeting::new("WED", 540, 615)],
    &[Meeting::new("MON", 630, 705), Meeting::new("WED", 630, 705)],
    &[Meeting::new("TUE", 540, 615), Meeting::new("THU", 540, 615)],
    &[Meeting::new("TUE", 630, 705), Meeting::new("THU", 630, 705)],
    &[Meeting::new("FRI", 540, 705)],
    &[Meeting::new("FRI", 780, 945)],
];
/// Overlaps slot 0 (MON 09:00-10:15) and nothing else.
const SEMINAR: &[Meeting] = &[Meeting::new("MON", 570, 620)];
/// Overlaps nothing.
const CAPSTONE: &[Meeting] = &[Meeting::new("SAT", 540, 720)];
/// Credits of every rush course.
pub const RUSH_CREDITS: i16 = 3;
const CAPSTONE_CREDITS: i16 = 16;
// One course per slot fits the limit of 18; so does the seminar plus the
// other five slots; the capstone plus any rush course does not.
const _: () = assert!(SLOTS.len() as i16 * RUSH_CREDITS <= 18);
const _: () = assert!(RUSH_CREDITS + 5 * RUSH_CREDITS <= 18);
const _: () = assert!(CAPSTONE_CREDITS + RUSH_CREDITS > 18);

/// What a course is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hot {
        slot: usize,
    },
    Normal {
        slot: usize,
    },
    /// Pre-rush course of the [`Group::Clash`] students.
    Seminar,
    /// Pre-rush course of the [`Group::Credit`] students.
    Capstone,
}

/// One course to create.
#[derive(Debug, Clone)]
pub struct CourseSpec {
    pub code: String,
    pub kind: Kind,
    pub credits: i16,
    pub capacity: i32,
    pub meetings: Vec<Meeting>,
}

/// What a student holds before the rush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Plain,
    Clash,
    Credit,
}

/// Knobs of the mix (from the command line).
#[derive(Debug, Clone)]
pub struct MixParams {
    pub students: usize,
    pub requests: usize,
    pub hot_per_slot: usize,
    pub hot_capacity: i32,
    pub hot_share: f64,
    pub normal_per_slot: usize,
    pub clash_share: f64,
    pub credit_share: f64,
    pub seed: u64,
}

/// The generated workload. Students and courses are indices here; the ids
/// the server gives them are mapped by the caller.
#[derive(Debug, Clone)]
pub struct Mix {
    pub courses: Vec<CourseSpec>,
    pub groups: Vec<Group>,
    /// `(student, course)` enrollments made and decided before the rush.
    pub pre: Vec<(usize, usize)>,
    /// `(student, course)` in the (shuffled) order they are fired.
    pub rush: Vec<(usize, usize)>,
}

impl Mix {
    /// Builds the mix; the same parameters and seed give the same mix.
    pub fn generate(p: &MixParams, code_prefix: &str) -> Mix {
        let mut rng = rand::rngs::StdRng::seed_from_u64(p.seed);
        let (courses, hot, normal) = rush_courses(p, code_prefix);
        let mut courses = courses;
        let n_clash = (p.students as f64 * p.clash_share).round() as usize;
        let n_credit = (p.students as f64 * p.credit_share).round() as usize;
        let n_credit = n_credit.min(p.students - n_clash.min(p.students));
        let mut order: Vec<usize> = (0..p.students).collect();
        order.shuffle(&mut rng);
        let mut groups = vec![Group::Plain; p.students];
        let mut pre = Vec::new();
        let pre_courses = [
            (
                Group::Clash,
                n_clash,
                Kind::Seminar,
                "SEM",
                RUSH_CREDITS,
                SEMINAR,
            ),
            (
                Group::Credit,
                n_credit,
                Kind::Capstone,
                "CAP",
                CAPSTONE_CREDITS,
                CAPSTONE,
            ),
        ];
        let mut taken = 0;
        for (group, n, kind, tag, credits, meetings) in pre_courses {
            if n == 0 {
                continue;
            }
            courses.push(CourseSpec {
                code: format!("{code_prefix}-{tag}"),
                kind,
                credits,
                capacity: n as i32,
                meetings: meetings.to_vec(),
            });
            for &s in &order[taken..taken + n] {
                groups[s] = group;
                pre.push((s, courses.len() - 1));
            }
            taken += n;
        }
        let mut rush = Vec::with_capacity(p.students * p.requests);
        for s in 0..p.students {
            for slot in 0..p.requests {
                let pick_hot = !hot[slot].is_empty() && rng.gen_bool(p.hot_share.clamp(0.0, 1.0));
                let pool = if pick_hot || normal[slot].is_empty() {
                    &hot[slot]
                } else {
                    &normal[slot]
                };
                rush.push((s, pool[rng.gen_range(0..pool.len())]));
            }
        }
        rush.shuffle(&mut rng);
        Mix {
            courses,
            groups,
            pre,
            rush,
        }
    }

    /// `Ok(())` when the student's rush ticket for `course` is eligible,
    /// else the reason the server must give (unless the course is full).
    pub fn eligibility(&self, student: usize, course: usize) -> Result<(), &'static str> {
        let slot = match self.courses[course].kind {
            Kind::Hot { slot } | Kind::Normal { slot } => Some(slot),
            Kind::Seminar | Kind::Capstone => None,
        };
        match (self.groups[student], slot) {
            (_, None) => Ok(()),
            (Group::Credit, Some(_)) => Err("credit_limit"),
            (Group::Clash, Some(0)) => Err("schedule_conflict"),
            _ => Ok(()),
        }
    }
}

/// The rush courses, plus the indices of the hot and normal ones per slot.
fn rush_courses(
    p: &MixParams,
    prefix: &str,
) -> (Vec<CourseSpec>, Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let mut courses = Vec::new();
    let mut hot = vec![Vec::new(); p.requests];
    let mut normal = vec![Vec::new(); p.requests];
    let normal_demand = p.students as f64 * (1.0 - p.hot_share) / p.normal_per_slot.max(1) as f64;
    for slot in 0..p.requests {
        for h in 0..p.hot_per_slot {
            hot[slot].push(courses.len());
            courses.push(CourseSpec {
                code: format!("{prefix}-H{slot}-{h}"),
                kind: Kind::Hot { slot },
                credits: RUSH_CREDITS,
                capacity: p.hot_capacity,
                meetings: SLOTS[slot].to_vec(),
            });
        }
        for n in 0..p.normal_per_slot {
            // From 0.7x to 1.3x the expected demand: some normal courses are
            // (mildly) oversubscribed, some are not.
            let spread = if p.normal_per_slot > 1 {
                n as f64 / (p.normal_per_slot - 1) as f64
            } else {
                0.5
            };
            normal[slot].push(courses.len());
            courses.push(CourseSpec {
                code: format!("{prefix}-N{slot}-{n}"),
                kind: Kind::Normal { slot },
                credits: RUSH_CREDITS,
                capacity: ((normal_demand * (0.7 + 0.6 * spread)).round() as i32).max(1),
                meetings: SLOTS[slot].to_vec(),
            });
        }
    }
    (courses, hot, normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> MixParams {
        MixParams {
            students: 500,
            requests: 6,
            hot_per_slot: 2,
            hot_capacity: 10,
            hot_share: 0.4,
            normal_per_slot: 5,
            clash_share: 0.1,
            credit_share: 0.04,
            seed: 7,
        }
    }

    #[test]
    fn slots_never_overlap_and_fit_the_credit_limit() {
        for (i, a) in SLOTS.iter().enumerate() {
            for b in &SLOTS[i + 1..] {
                assert!(!clashes(a, b));
            }
            assert!(!clashes(a, CAPSTONE));
            assert_eq!(
                clashes(a, SEMINAR),
                i == 0,
                "seminar clashes with slot 0 only"
            );
        }
        // The credit arithmetic is checked at compile time (see below the slots).
    }

    #[test]
    fn every_student_requests_one_course_per_slot() {
        let mix = Mix::generate(&params(), "T");
        assert_eq!(mix.rush.len(), 500 * 6);
        let mut per_student = vec![Vec::new(); 500];
        for &(s, c) in &mix.rush {
            per_student[s].push(c);
        }
        for courses in per_student {
            let meetings: Vec<&[Meeting]> = courses
                .iter()
                .map(|&c| &mix.courses[c].meetings[..])
                .collect();
            for (i, a) in meetings.iter().enumerate() {
                for b in &meetings[i + 1..] {
                    assert!(!clashes(a, b), "a student's requests never clash");
                }
            }
        }
        let hot_requests = mix
            .rush
            .iter()
            .filter(|&&(_, c)| matches!(mix.courses[c].kind, Kind::Hot { .. }))
            .count();
        assert!((900..1500).contains(&hot_requests), "{hot_requests}");
    }

    #[test]
    fn groups_are_pre_enrolled_and_their_eligibility_fixed() {
        let mix = Mix::generate(&params(), "T");
        let clash = mix.groups.iter().filter(|g| **g == Group::Clash).count();
        let credit = mix.groups.iter().filter(|g| **g == Group::Credit).count();
        assert_eq!((clash, credit), (50, 20));
        assert_eq!(mix.pre.len(), 70);
        for &(s, c) in &mix.pre {
            let want = if mix.groups[s] == Group::Clash {
                Kind::Seminar
            } else {
                Kind::Capstone
            };
            assert_eq!(mix.courses[c].kind, want);
            assert_eq!(mix.eligibility(s, c), Ok(()));
        }
        for &(s, c) in &mix.rush {
            let r = mix.eligibility(s, c);
            match (mix.groups[s], mix.courses[c].kind) {
                (Group::Plain, _) => assert_eq!(r, Ok(())),
                (Group::Credit, _) => assert_eq!(r, Err("credit_limit")),
                (Group::Clash, Kind::Hot { slot: 0 } | Kind::Normal { slot: 0 }) => {
                    assert_eq!(r, Err("schedule_conflict"))
                }
                (Group::Clash, _) => assert_eq!(r, Ok(())),
            }
        }
    }

    #[test]
    fn same_seed_same_mix() {
        let a = Mix::generate(&params(), "T");
        let b = Mix::generate(&params(), "T");
        assert_eq!(a.rush, b.rush);
        assert_eq!(a.groups, b.groups);
    }
}
