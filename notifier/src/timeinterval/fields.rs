//! The fields of a time interval: `times`, the ranges of `weekdays`,
//! `days_of_month`, `months` and `years`, and `location`, each read (with
//! Alertmanager's checks and reasons) and written back as Alertmanager
//! writes them.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `start_time` / `end_time`, `HH:MM` (`24:00` allowed as an end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeRange {
    /// Minutes after midnight, inclusive.
    pub start: i32,
    /// Minutes after midnight, exclusive.
    pub end: i32,
}

fn parse_clock(text: &str) -> Result<i32, String> {
    let bad = || format!("couldn't parse timestamp {text}, invalid format");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if (h, m) == (24, 0) || ((0..24).contains(&h) && (0..60).contains(&m)) {
        Ok(h * 60 + m)
    } else {
        Err(bad())
    }
}

fn clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            #[serde(default)]
            start_time: String,
            #[serde(default)]
            end_time: String,
        }
        let raw = Raw::deserialize(d)?;
        let e = |m: String| D::Error::custom(m);
        if raw.start_time.is_empty() || raw.end_time.is_empty() {
            return Err(e("both start and end times must be provided".into()));
        }
        let start = parse_clock(&raw.start_time).map_err(e)?;
        let end = parse_clock(&raw.end_time).map_err(e)?;
        if start >= end {
            return Err(e(
                "start time cannot be equal or greater than end time".into()
            ));
        }
        Ok(TimeRange { start, end })
    }
}

impl Serialize for TimeRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("start_time", &clock(self.start))?;
        m.serialize_entry("end_time", &clock(self.end))?;
        m.end()
    }
}

/// One member kind of a range: how it is read, checked and written.
pub trait Member: Copy + fmt::Debug {
    /// Reads one member (already lowercased).
    fn parse(text: &str) -> Result<Self, String>;
    /// Checks a whole range.
    fn check(begin: Self, end: Self, text: &str) -> Result<(), String>;
    /// Writes one member as Alertmanager does.
    fn write(self) -> String;
}

/// `begin` or `begin:end`, inclusive.
#[derive(Clone, Copy, Debug)]
pub struct Range<T> {
    /// First member.
    pub begin: T,
    /// Last member.
    pub end: T,
}

impl<'de, T: Member> Deserialize<'de> for Range<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?.to_lowercase();
        let parsed = match text.split_once(':') {
            Some((_, rest)) if rest.contains(':') => {
                Err(format!("couldn't parse range {text}, invalid format"))
            }
            Some((a, b)) => T::parse(a).and_then(|a| Ok((a, T::parse(b)?))),
            None => T::parse(&text).map(|a| (a, a)),
        };
        let (begin, end) = parsed.map_err(serde::de::Error::custom)?;
        T::check(begin, end, &text).map_err(serde::de::Error::custom)?;
        Ok(Range { begin, end })
    }
}

impl<T: Member> Serialize for Range<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (a, b) = (self.begin.write(), self.end.write());
        if a == b {
            s.serialize_str(&a)
        } else {
            s.serialize_str(&format!("{a}:{b}"))
        }
    }
}

fn number(text: &str) -> Result<i32, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("strconv.Atoi: parsing {text:?}: invalid syntax"))
}

/// A day of the week, 0 = Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weekday(pub i32);

impl Member for Weekday {
    fn parse(text: &str) -> Result<Self, String> {
        WEEKDAYS
            .iter()
            .position(|d| *d == text)
            .map(|i| Weekday(i as i32))
            .ok_or_else(|| format!("{text} is not a valid weekday"))
    }
    fn check(begin: Self, end: Self, _: &str) -> Result<(), String> {
        if begin.0 > end.0 {
            return Err("start day cannot be before end day".into());
        }
        Ok(())
    }
    fn write(self) -> String {
        WEEKDAYS[self.0 as usize].to_string()
    }
}

/// A day of the month: 1..31, or -31..-1 counted from the month's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayOfMonth(pub i32);

impl Member for DayOfMonth {
    fn parse(text: &str) -> Result<Self, String> {
        number(text).map(DayOfMonth)
    }
    fn check(begin: Self, end: Self, _: &str) -> Result<(), String> {
        for d in [begin.0, end.0] {
            if d == 0 || !(-31..=31).contains(&d) {
                return Err(format!("{d} is not a valid day of the month: out of range"));
            }
        }
        if begin.0 < 0 && end.0 > 0 {
            return Err("end day must be negative if start day is negative".into());
        }
        let comparable = |d: i32| if d < 0 { 28 + d } else { d };
        if comparable(begin.0) > comparable(end.0) {
            return Err(format!(
                "end day {} is always before start day {}",
                end.0, begin.0
            ));
        }
        Ok(())
    }
    fn write(self) -> String {
        self.0.to_string()
    }
}

/// A month, 1 = January; by name or number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month(pub i32);

impl Member for Month {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(i) = MONTHS.iter().position(|m| *m == text) {
            return Ok(Month(i as i32 + 1));
        }
        match text.parse::<i32>() {
            Ok(n) if (1..=12).contains(&n) => Ok(Month(n)),
            Ok(n) => Err(format!("{n} is not a valid month: out of range")),
            Err(_) => Err(format!("{text} is not a valid month")),
        }
    }
    fn check(begin: Self, end: Self, _: &str) -> Result<(), String> {
        if begin.0 > end.0 {
            return Err(format!(
                "end month {} is before start month {}",
                end.write(),
                begin.write()
            ));
        }
        Ok(())
    }
    fn write(self) -> String {
        MONTHS[(self.0 - 1) as usize].to_string()
    }
}

/// A year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Year(pub i32);

impl Member for Year {
    fn parse(text: &str) -> Result<Self, String> {
        number(text).map(Year)
    }
    fn check(begin: Self, end: Self, _: &str) -> Result<(), String> {
        if begin.0 > end.0 {
            return Err(format!(
                "end year {} is before start year {}",
                end.0, begin.0
            ));
        }
        Ok(())
    }
    fn write(self) -> String {
        self.0.to_string()
    }
}

/// A time zone from the system's zoneinfo database (`Europe/Berlin`,
/// `UTC`, `Local` for the machine's own), as Go's `time.LoadLocation`.
#[derive(Clone, Debug)]
pub struct Location {
    name: String,
    tz: jiff::tz::TimeZone,
}

impl Location {
    /// The zone.
    pub(crate) fn tz(&self) -> &jiff::tz::TimeZone {
        &self.tz
    }

    /// Loads a zone by its IANA name.
    pub fn load(name: &str) -> Result<Self, String> {
        let tz = match name {
            "" | "UTC" => Ok(jiff::tz::TimeZone::UTC),
            "Local" => jiff::tz::TimeZone::try_system().map_err(|e| e.to_string()),
            _ => jiff::tz::TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
        }?;
        Ok(Location {
            name: name.to_string(),
            tz,
        })
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Location::load(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}
