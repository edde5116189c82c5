//! Weekly meeting times and timetable clashes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// Day of the week, as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Day {
    MON,
    TUE,
    WED,
    THU,
    FRI,
    SAT,
    SUN,
}

/// A time of day in minutes since midnight; `"HH:MM"` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    pub fn parse(s: &str) -> Option<Self> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(Self(h * 60 + m))
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid time `{s}`, expected HH:MM")))
    }
}

/// One weekly meeting of a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Meeting {
    pub day: Day,
    #[schema(value_type = String, example = "09:00", min_length = 5, max_length = 5, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub start: TimeOfDay,
    #[schema(value_type = String, example = "10:15", min_length = 5, max_length = 5, pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub end: TimeOfDay,
}

impl Meeting {
    fn overlaps(&self, other: &Meeting) -> bool {
        self.day == other.day && self.start < other.end && other.start < self.end
    }
}

/// Checks a schedule is usable: each meeting ends after it starts and no two
/// meetings of the same course overlap.
pub fn validate(meetings: &[Meeting]) -> Result<(), String> {
    if meetings.len() > 14 {
        return Err("a schedule has at most 14 meetings a week".into());
    }
    for (i, m) in meetings.iter().enumerate() {
        if m.end <= m.start {
            return Err(format!(
                "meeting {} ends ({}) before it starts ({})",
                i + 1,
                m.end,
                m.start
            ));
        }
        if meetings[..i].iter().any(|o| o.overlaps(m)) {
            return Err(format!(
                "meeting {} overlaps another meeting of the same course",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Whether two schedules share any minute.
pub fn clashes(a: &[Meeting], b: &[Meeting]) -> bool {
    a.iter().any(|x| b.iter().any(|y| x.overlaps(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(day: Day, s: &str, e: &str) -> Meeting {
        Meeting {
            day,
            start: TimeOfDay::parse(s).unwrap(),
            end: TimeOfDay::parse(e).unwrap(),
        }
    }

    #[test]
    fn parses_and_rejects_times() {
        assert_eq!(TimeOfDay::parse("09:05").unwrap().to_string(), "09:05");
        for bad in ["9:05", "24:00", "12:60", "ab:cd", "1200"] {
            assert!(TimeOfDay::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn clash_needs_same_day_and_overlap() {
        let a = [m(Day::MON, "09:00", "10:15")];
        assert!(clashes(&a, &[m(Day::MON, "10:00", "11:00")]));
        assert!(
            !clashes(&a, &[m(Day::MON, "10:15", "11:00")]),
            "back to back is fine"
        );
        assert!(!clashes(&a, &[m(Day::TUE, "09:00", "10:15")]));
    }

    #[test]
    fn validation() {
        assert!(validate(&[m(Day::MON, "10:00", "09:00")]).is_err());
        assert!(validate(&[m(Day::MON, "09:00", "10:00"), m(Day::MON, "09:30", "11:00")]).is_err());
        assert!(validate(&[m(Day::MON, "09:00", "10:00"), m(Day::WED, "09:00", "10:00")]).is_ok());
    }

    #[test]
    fn wire_format() {
        let parsed: Vec<Meeting> =
            serde_json::from_str(r#"[{"day":"MON","start":"09:00","end":"10:15"}]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"[{"day":"MON","start":"09:00","end":"10:15"}]"#
        );
        assert!(serde_json::from_str::<Vec<Meeting>>(
            r#"[{"day":"XYZ","start":"09:00","end":"10:15"}]"#
        )
        .is_err());
    }
}
