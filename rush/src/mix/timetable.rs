//! The timetable: weekly meetings, the rush courses' slots (no two
//! overlap), the seminar and capstone that the pre-rush groups hold, and the
//! credit arithmetic that keeps rush requests within the limit.

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
pub(super) const SEMINAR: &[Meeting] = &[Meeting::new("MON", 570, 620)];
/// Overlaps nothing.
pub(super) const CAPSTONE: &[Meeting] = &[Meeting::new("SAT", 540, 720)];
/// Credits of every rush course.
pub const RUSH_CREDITS: i16 = 3;
pub(super) const CAPSTONE_CREDITS: i16 = 16;
// One course per slot fits the limit of 18; so does the seminar plus the
// other five slots; the capstone plus any rush course does not.
const _: () = assert!(SLOTS.len() as i16 * RUSH_CREDITS <= 18);
const _: () = assert!(RUSH_CREDITS + 5 * RUSH_CREDITS <= 18);
const _: () = assert!(CAPSTONE_CREDITS + RUSH_CREDITS > 18);

#[cfg(test)]
mod tests {
    use super::*;

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
}
