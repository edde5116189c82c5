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
//!
//! Files: `timetable.rs` the meetings and slots, `course.rs` the courses to
//! create, `registrar.rs` the phased scenario's cohorts, blocks and phases;
//! the mix itself and its generation are here.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

mod course;
mod registrar;
mod timetable;

pub use course::{CourseSpec, Kind};
pub use registrar::{
    phases_json, BlockSpec, Cohort, PhaseSpec, DEFAULT_DEPARTMENT, DEPARTMENTS, MAJORS_BLOCK,
    PHASES, RESERVED_SHARE, YEARS,
};
pub use timetable::{clashes, Meeting, RUSH_CREDITS, SLOTS};
use timetable::{CAPSTONE, CAPSTONE_CREDITS, SEMINAR};

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
mod tests;
