//! One course to create ([`CourseSpec`]) and what it is for ([`Kind`]).

use super::registrar::BlockSpec;
use super::timetable::Meeting;

/// What a course is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hot {
        slot: usize,
    },
    Normal {
        slot: usize,
    },
    /// Pre-rush course of the [`Group::Clash`](super::Group::Clash) students.
    Seminar,
    /// Pre-rush course of the [`Group::Credit`](super::Group::Credit) students.
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
    /// Its department ([`DEFAULT_DEPARTMENT`](super::DEFAULT_DEPARTMENT) outside the phased scenario).
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
