//! The cart's close: who gets a seat without the rush.
//!
//! Courses are settled in id order. In each, the students who put it in
//! their cart and may still take it (not enrolled in it already, within
//! the credit limit and without a timetable clash, counting the seats this
//! run already gave them) are the demand. Where every one of them can have
//! a seat (from a block they qualify for or the open pool), they all get
//! one. Where demand is larger, the registrar's policy decides: `rush`
//! leaves the course to the queue, `lottery` gives its seats in the order
//! of a published draw.
//!
//! The draw is reproducible by anyone from the seed: students are ordered
//! by SHA-256 of `"{seed}:{course_id}:{student_no}"` (lowercase hex,
//! ascending) — no random number generator whose algorithm could change.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::block::seat_for;
use super::course::CourseSeats;
use super::enrollment::HeldSeat;
use super::phase::Cohort;
use super::schedule::clashes;

/// What happens to over-demanded courses at close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Left to the registration rush.
    #[default]
    Rush,
    /// Their seats drawn by a seeded, published lottery.
    Lottery,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rush => "rush",
            Self::Lottery => "lottery",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "lottery" => Self::Lottery,
            _ => Self::Rush,
        }
    }
}

/// A student who put a course in their cart.
#[derive(Debug, Clone)]
pub struct Entrant {
    pub student: i64,
    pub student_no: String,
    pub cohort: Cohort,
}

/// One course's seats and its cart demand, in the order carts were filled.
#[derive(Debug, Clone)]
pub struct Demand {
    pub course: CourseSeats,
    pub entrants: Vec<Entrant>,
}

/// A seat the run gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartSeat {
    pub student: i64,
    pub course: i64,
    pub block: Option<String>,
    /// Won in a draw rather than by fitting demand.
    pub drawn: bool,
}

/// What the run decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    pub seats: Vec<CartSeat>,
    /// `(student, course, reason)`: cart entries the student may not take.
    pub skipped: Vec<(i64, i64, &'static str)>,
    /// `(course, student numbers in drawn order)` for each lottery.
    pub draws: Vec<(i64, Vec<String>)>,
    /// Over-demanded courses left to the rush.
    pub left_to_rush: Vec<i64>,
}

/// What the close run did with one entry of a student's cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A seat, from fitting demand or the draw.
    Enrolled,
    /// Not taken: already held, past the credit limit or a clash (the
    /// reason says which).
    Skipped,
    /// More demand than seats, and the policy left the course to the rush.
    LeftToRush,
    /// More demand than seats, and the draw did not reach the student.
    NotDrawn,
}

impl Outcome {
    /// From the entry's audit row kind (`cart_enrolled`, `cart_skipped`,
    /// or none): an entry the run wrote nothing for was in an
    /// over-demanded course, which `policy` decided.
    pub fn of(kind: Option<&str>, policy: Policy) -> Self {
        match (kind, policy) {
            (Some("cart_enrolled"), _) => Self::Enrolled,
            (Some(_), _) => Self::Skipped,
            (None, Policy::Rush) => Self::LeftToRush,
            (None, Policy::Lottery) => Self::NotDrawn,
        }
    }
}

/// The draw's key for one student: lowercase hex SHA-256 of
/// `"{seed}:{course}:{student_no}"`.
pub fn lottery_key(seed: i64, course: i64, student_no: &str) -> String {
    let digest = Sha256::digest(format!("{seed}:{course}:{student_no}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why `student` may not take a seat in `course`, given what they hold.
fn ineligible(course: &CourseSeats, held: &[HeldSeat], credit_limit: i32) -> Option<&'static str> {
    if held.iter().any(|h| h.course_id == course.id) {
        Some("already_enrolled")
    } else if held.iter().map(|h| h.credits as i32).sum::<i32>() + course.credits as i32
        > credit_limit
    {
        Some("credit_limit")
    } else if held.iter().any(|h| clashes(&h.schedule, &course.schedule)) {
        Some("schedule_conflict")
    } else {
        None
    }
}

/// Settles the cart: `held` is every entrant's seats (updated with the
/// seats given, so a seat in one course counts in the next).
pub fn settle(
    demands: &[Demand],
    held: &mut HashMap<i64, Vec<HeldSeat>>,
    credit_limit: i32,
    policy: Policy,
    seed: i64,
) -> Settlement {
    let mut out = Settlement::default();
    let mut order: Vec<&Demand> = demands.iter().collect();
    order.sort_by_key(|d| d.course.id);
    for d in order {
        let c = &d.course;
        let mut eligible = Vec::new();
        for e in &d.entrants {
            let mine = held.get(&e.student).map_or(&[][..], Vec::as_slice);
            match ineligible(c, mine, credit_limit) {
                Some(reason) => out.skipped.push((e.student, c.id, reason)),
                None => eligible.push(e),
            }
        }
        let fits = allocate(c, &eligible).len() == eligible.len();
        let (winners, drawn) = if fits {
            (eligible, false)
        } else if policy == Policy::Lottery {
            let mut drawn: Vec<(String, &Entrant)> = eligible
                .into_iter()
                .map(|e| (lottery_key(seed, c.id, &e.student_no), e))
                .collect();
            drawn.sort_by(|a, b| a.0.cmp(&b.0));
            let names = drawn.iter().map(|(_, e)| e.student_no.clone()).collect();
            out.draws.push((c.id, names));
            (drawn.into_iter().map(|(_, e)| e).collect(), true)
        } else {
            out.left_to_rush.push(c.id);
            continue;
        };
        for (e, block) in allocate(c, &winners) {
            held.entry(e.student).or_default().push(HeldSeat {
                course_id: c.id,
                ticket: None,
                credits: c.credits,
                schedule: c.schedule.clone(),
            });
            out.seats.push(CartSeat {
                student: e.student,
                course: c.id,
                block,
                drawn,
            });
        }
    }
    out
}

/// Seats for `entrants` in order, while seats last (a block they qualify
/// for first, else the open pool).
fn allocate<'a>(
    course: &CourseSeats,
    entrants: &[&'a Entrant],
) -> Vec<(&'a Entrant, Option<String>)> {
    let mut blocks = course.blocks.clone();
    let mut pool = course.pool_left;
    let mut given = Vec::new();
    for &e in entrants {
        match seat_for(&blocks, pool, &e.cohort) {
            Some(Some(i)) => {
                blocks[i].enrolled += 1;
                given.push((e, Some(blocks[i].name.clone())));
            }
            Some(None) => {
                pool -= 1;
                given.push((e, None));
            }
            None => {}
        }
    }
    given
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(id: i64, seats: i32) -> CourseSeats {
        CourseSeats {
            id,
            capacity: seats,
            enrolled: 0,
            credits: 3,
            schedule: Vec::new(),
            pool_left: seats,
            blocks: Vec::new(),
        }
    }

    fn entrants(n: i64) -> Vec<Entrant> {
        (1..=n)
            .map(|i| Entrant {
                student: i,
                student_no: format!("S{i}"),
                cohort: Cohort {
                    year: 1,
                    department: String::new(),
                },
            })
            .collect()
    }

    #[test]
    fn an_entry_without_a_row_was_decided_by_the_policy() {
        assert_eq!(
            Outcome::of(Some("cart_enrolled"), Policy::Lottery),
            Outcome::Enrolled
        );
        assert_eq!(
            Outcome::of(Some("cart_skipped"), Policy::Rush),
            Outcome::Skipped
        );
        assert_eq!(Outcome::of(None, Policy::Rush), Outcome::LeftToRush);
        assert_eq!(Outcome::of(None, Policy::Lottery), Outcome::NotDrawn);
    }

    #[test]
    fn demand_that_fits_is_enrolled_whole() {
        let d = [Demand {
            course: course(1, 3),
            entrants: entrants(3),
        }];
        let s = settle(&d, &mut HashMap::new(), 18, Policy::Rush, 7);
        assert_eq!(s.seats.len(), 3);
        assert!(s.left_to_rush.is_empty() && s.draws.is_empty());
    }

    #[test]
    fn over_demand_is_left_to_the_rush_or_drawn_reproducibly() {
        let d = [Demand {
            course: course(1, 2),
            entrants: entrants(5),
        }];
        let rush = settle(&d, &mut HashMap::new(), 18, Policy::Rush, 7);
        assert!(rush.seats.is_empty());
        assert_eq!(rush.left_to_rush, vec![1]);
        let a = settle(&d, &mut HashMap::new(), 18, Policy::Lottery, 7);
        let b = settle(&d, &mut HashMap::new(), 18, Policy::Lottery, 7);
        assert_eq!(a, b, "the same seed draws the same winners");
        assert_eq!(a.seats.len(), 2);
        // The order is the published one: sorted by the documented key.
        let mut expected: Vec<(String, String)> = (1..=5)
            .map(|i| (lottery_key(7, 1, &format!("S{i}")), format!("S{i}")))
            .collect();
        expected.sort();
        let names: Vec<String> = expected.into_iter().map(|(_, n)| n).collect();
        assert_eq!(a.draws, vec![(1, names.clone())]);
        let winners: Vec<String> = a.seats.iter().map(|s| format!("S{}", s.student)).collect();
        assert_eq!(winners, names[..2]);
        let other = settle(&d, &mut HashMap::new(), 18, Policy::Lottery, 8);
        assert_ne!(other.draws, a.draws, "another seed, another order");
    }

    #[test]
    fn a_seat_given_counts_against_the_next_course() {
        let mut two = course(2, 5);
        two.credits = 16;
        let d = [
            Demand {
                course: course(1, 5),
                entrants: entrants(1),
            },
            Demand {
                course: two,
                entrants: entrants(1),
            },
        ];
        let s = settle(&d, &mut HashMap::new(), 18, Policy::Rush, 1);
        assert_eq!(s.seats.len(), 1);
        assert_eq!(s.skipped, vec![(1, 2, "credit_limit")]);
    }

    #[test]
    fn the_key_is_the_documented_hash() {
        // printf '%s' '42:7:2024001' | sha256sum
        assert_eq!(
            lottery_key(42, 7, "2024001"),
            "dc74ab201797a172e54b5f936b6b68a7c286e7c572a23b78383a618e3d3cc6d9"
        );
    }
}
