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
//!
//! The phased scenario (`--scenario phased`) keeps the same courses and
//! requests and adds the registrar's rules, again fixed before the rush:
//! every student has a year (1-4) and a department ([`DEPARTMENTS`]), every
//! rush course a department and a block of [`RESERVED_SHARE`] of its seats
//! for that department, and at the rush's start [`PHASES`] let only some
//! years in. A ticket's seat then comes from its course's block when the
//! student is a major with a block seat left, else from the open pool; the
//! winners are still fixed by the queue order (see [`Mix::seat_for`]).

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
    /// Its department ([`DEFAULT_DEPARTMENT`] outside the phased scenario).
    pub department: String,
    /// Seats reserved for some students (`PATCH .. {"reserved": ..}`), in
    /// the order admission tries them; none outside the phased scenario.
    pub blocks: Vec<BlockSpec>,
}

impl CourseSpec {
    /// Seats no block reserves: the open pool.
    pub fn pool_seats(&self) -> i32 {
        self.capacity - self.blocks.iter().map(|b| b.seats).sum::<i32>()
    }
}

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

/// Which workload: the default rush, or the same rush under the
/// registrar's phases and reserved seats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    #[default]
    Default,
    Phased,
    /// The default rush, with waitlist joins and cancels during it.
    Waitlist,
    /// The default rush after a cart period settled by fit and lottery.
    Cart,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Default => "default",
            Scenario::Phased => "phased",
            Scenario::Waitlist => "waitlist",
            Scenario::Cart => "cart",
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
    pub scenario: Scenario,
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
    /// Each student's year and department; `None`: imported without
    /// (the server's default for everyone).
    pub cohorts: Option<Vec<Cohort>>,
    /// The phases set when the rush starts; none: the window stays open to
    /// everyone.
    pub phases: Vec<PhaseSpec>,
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
                department: DEFAULT_DEPARTMENT.into(),
                blocks: Vec::new(),
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
        let mut mix = Mix {
            courses,
            groups,
            pre,
            rush,
            cohorts: None,
            phases: Vec::new(),
        };
        if p.scenario == Scenario::Phased {
            mix.add_registrar_rules();
        }
        mix
    }

    /// The phased scenario on top of the same courses and requests (no
    /// random draw, so the default mix of a seed is the phased one's too):
    /// students spread over every (year, department), courses over the
    /// departments, each rush course's majors holding [`RESERVED_SHARE`]
    /// of its seats, and [`PHASES`].
    fn add_registrar_rules(&mut self) {
        let n = DEPARTMENTS.len();
        let years = (YEARS.end() - YEARS.start() + 1) as usize;
        self.cohorts = Some(
            (0..self.groups.len())
                .map(|s| Cohort {
                    year: YEARS.start() + (s % years) as i16,
                    department: DEPARTMENTS[(s / years) % n].to_string(),
                })
                .collect(),
        );
        for (i, c) in self.courses.iter_mut().enumerate() {
            c.department = DEPARTMENTS[i % n].to_string();
            // The seminar and capstone are set-up: every student holding
            // one was enrolled before the rush, whatever their department.
            if matches!(c.kind, Kind::Hot { .. } | Kind::Normal { .. }) {
                c.blocks = vec![BlockSpec {
                    name: MAJORS_BLOCK.into(),
                    seats: (c.capacity as f64 * RESERVED_SHARE).round() as i32,
                    departments: vec![c.department.clone()],
                }];
            }
        }
        self.phases = PHASES.to_vec();
    }

    /// A student's year and department.
    pub fn cohort(&self, student: usize) -> Cohort {
        match &self.cohorts {
            Some(c) => c[student].clone(),
            None => Cohort::server_default(),
        }
    }

    /// Whether the student may enroll during the rush: some phase of theirs
    /// is open (always, without phases).
    pub fn in_phase(&self, student: usize) -> bool {
        self.phases.is_empty() || {
            let year = self.cohort(student).year;
            self.phases
                .iter()
                .any(|p| p.open && p.years.contains(&year))
        }
    }

    /// Where a student's seat in `course` comes from, as admission gives
    /// it: the first block they qualify for with a seat left (`Some(Some(i))`),
    /// else the open pool if it has one (`Some(None)`), else none. `left`
    /// holds the seats left in each block and then in the pool; the seat is
    /// taken from it.
    pub fn seat_for(
        &self,
        student: usize,
        course: usize,
        left: &mut [i32],
    ) -> Option<Option<usize>> {
        let cohort = self.cohort(student);
        let blocks = &self.courses[course].blocks;
        if let Some(i) = (0..blocks.len()).find(|&i| left[i] > 0 && blocks[i].admits(&cohort)) {
            left[i] -= 1;
            return Some(Some(i));
        }
        let pool = &mut left[blocks.len()];
        (*pool > 0).then(|| {
            *pool -= 1;
            None
        })
    }

    /// The seats each block of `course` and then its pool start with, for
    /// [`Mix::seat_for`].
    pub fn seats_left(&self, course: usize) -> Vec<i32> {
        let c = &self.courses[course];
        c.blocks
            .iter()
            .map(|b| b.seats)
            .chain([c.pool_seats().max(0)])
            .collect()
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
                department: DEFAULT_DEPARTMENT.into(),
                blocks: Vec::new(),
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
                department: DEFAULT_DEPARTMENT.into(),
                blocks: Vec::new(),
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
            scenario: Scenario::Default,
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

    fn phased() -> Mix {
        let p = MixParams {
            scenario: Scenario::Phased,
            ..params()
        };
        Mix::generate(&p, "T")
    }

    #[test]
    fn the_phased_mix_is_the_default_one_under_the_registrars_rules() {
        let (default, phased) = (Mix::generate(&params(), "T"), phased());
        assert_eq!(
            default.rush, phased.rush,
            "the same requests in the same order"
        );
        assert_eq!(default.pre, phased.pre);
        assert!(default.cohorts.is_none() && default.phases.is_empty());
        assert!(default
            .courses
            .iter()
            .all(|c| c.blocks.is_empty() && c.department == DEFAULT_DEPARTMENT));
        let cohorts = phased.cohorts.as_ref().unwrap();
        for year in YEARS {
            for d in DEPARTMENTS {
                let n = cohorts
                    .iter()
                    .filter(|c| c.year == year && c.department == d)
                    .count();
                assert!((31..=32).contains(&n), "{year} {d}: {n} of 500");
            }
        }
        for c in &phased.courses {
            if matches!(c.kind, Kind::Hot { .. } | Kind::Normal { .. }) {
                let b = &c.blocks[..];
                assert_eq!(b.len(), 1, "{}", c.code);
                assert_eq!(b[0].departments, vec![c.department.clone()]);
                assert_eq!(b[0].seats, (c.capacity as f64 * 0.3).round() as i32);
                assert_eq!(c.pool_seats(), c.capacity - b[0].seats);
            } else {
                assert!(
                    c.blocks.is_empty(),
                    "{}: set-up courses reserve nothing",
                    c.code
                );
            }
        }
        for d in DEPARTMENTS {
            assert!(
                phased
                    .courses
                    .iter()
                    .any(|c| matches!(c.kind, Kind::Hot { .. }) && c.department == d),
                "{d} has a hot course"
            );
        }
        // Years 2-4 have an open phase, year 1 not yet: a quarter of the crowd.
        assert!((0..500).all(|s| phased.in_phase(s) == (phased.cohort(s).year != 1)));
        assert_eq!((0..500).filter(|&s| !phased.in_phase(s)).count(), 125);
        assert!((0..500).all(|s| default.in_phase(s)));
        assert_eq!(default.cohort(3), Cohort::server_default());
    }

    #[test]
    fn majors_take_their_block_first_then_the_pool_others_only_the_pool() {
        let mix = phased();
        // A hot course of 10 seats: 3 for its majors, 7 in the pool.
        let c = 0;
        assert_eq!(mix.courses[c].kind, Kind::Hot { slot: 0 });
        assert_eq!(mix.courses[c].capacity, 10);
        let dept = mix.courses[c].department.clone();
        let major = (0..500)
            .find(|&s| mix.cohort(s).department == dept)
            .unwrap();
        let other = (0..500)
            .find(|&s| mix.cohort(s).department != dept)
            .unwrap();
        let mut left = mix.seats_left(c);
        assert_eq!(left, vec![3, 7]);
        for _ in 0..3 {
            assert_eq!(mix.seat_for(major, c, &mut left), Some(Some(0)));
        }
        assert_eq!(
            mix.seat_for(major, c, &mut left),
            Some(None),
            "block full: pool"
        );
        for _ in 0..6 {
            assert_eq!(mix.seat_for(other, c, &mut left), Some(None));
        }
        assert_eq!(left, vec![0, 0]);
        assert_eq!(mix.seat_for(major, c, &mut left), None);
        // A block seat left is no seat for a non-major.
        let mut left = vec![2, 0];
        assert_eq!(mix.seat_for(other, c, &mut left), None);
        assert_eq!(left, vec![2, 0]);
    }

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
