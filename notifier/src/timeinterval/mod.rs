//! Alertmanager's time intervals (`time_intervals`, and the older
//! `mute_time_intervals` with the same shape), which routes name in
//! `mute_time_intervals` and `active_time_intervals`.
//!
//! ```yaml
//! time_intervals:
//!   - name: offhours
//!     time_intervals:
//!       - times: [{start_time: '17:00', end_time: '24:00'}]
//!         weekdays: ['monday:friday']
//!         days_of_month: ['1:5', '-3:-1']   # negative: from the month's end
//!         months: ['january:march', '12']
//!         years: ['2030:2031']
//!         location: Europe/Berlin           # default UTC
//! ```
//!
//! An interval contains an instant when every field it sets contains it
//! (a field left out contains everything); a list contains it when one of
//! its ranges does. Ranges are inclusive, times are `[start, end)` in
//! minutes of the day. Parsing and the containment rules are Alertmanager's
//! (`timeinterval` package), and a bad value is reported by the YAML parser
//! with its line and column.

mod fields;

pub use fields::{DayOfMonth, Location, Member, Month, Range, TimeRange, Weekday, Year};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A named list of intervals; a route refers to it by name.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamedTimeInterval {
    /// The name routes use.
    pub name: String,
    /// The instant is in the named interval when it is in one of these.
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

impl NamedTimeInterval {
    /// Whether `t` falls in one of the intervals.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.time_intervals.iter().any(|i| i.contains(t))
    }
}

/// One interval: the fields it sets must all contain the instant.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeInterval {
    /// Times of day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<Vec<TimeRange>>,
    /// Days of the week (`monday`, `monday:friday`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekdays: Option<Vec<Range<Weekday>>>,
    /// Days of the month, 1..31 or -31..-1 (from the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_of_month: Option<Vec<Range<DayOfMonth>>>,
    /// Months, by name or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<Vec<Range<Month>>>,
    /// Years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<Vec<Range<Year>>>,
    /// Time zone the other fields are read in (default UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The calendar fields of an instant in a time zone.
struct Civil {
    minute_of_day: i32,
    weekday: i32,
    day: i32,
    days_in_month: i32,
    month: i32,
    year: i32,
}

fn civil(t: DateTime<Utc>, location: Option<&Location>) -> Civil {
    let ts = jiff::Timestamp::from_millisecond(t.timestamp_millis())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let tz = location.map_or(jiff::tz::TimeZone::UTC, |l| l.tz().clone());
    let z = ts.to_zoned(tz);
    Civil {
        minute_of_day: i32::from(z.hour()) * 60 + i32::from(z.minute()),
        weekday: i32::from(z.weekday().to_sunday_zero_offset()),
        day: i32::from(z.day()),
        days_in_month: i32::from(z.days_in_month()),
        month: i32::from(z.month()),
        year: i32::from(z.year()),
    }
}

fn any<T>(list: &Option<Vec<T>>, f: impl Fn(&T) -> bool) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(f))
}

impl TimeInterval {
    /// Whether the instant `t` is in this interval.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let c = civil(t, self.location.as_ref());
        let in_days = |r: &Range<DayOfMonth>| {
            let resolve = |d: i32| if d < 0 { c.days_in_month + d + 1 } else { d };
            let (begin, end) = (resolve(r.begin.0), resolve(r.end.0));
            if begin > c.days_in_month {
                return false;
            }
            let clamp = |d: i32| d.clamp(-c.days_in_month, c.days_in_month);
            (clamp(begin)..=clamp(end)).contains(&c.day)
        };
        any(&self.times, |r| (r.start..r.end).contains(&c.minute_of_day))
            && any(&self.days_of_month, in_days)
            && any(&self.months, |r| (r.begin.0..=r.end.0).contains(&c.month))
            && any(&self.weekdays, |r| {
                (r.begin.0..=r.end.0).contains(&c.weekday)
            })
            && any(&self.years, |r| (r.begin.0..=r.end.0).contains(&c.year))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(yaml: &str) -> TimeInterval {
        yaml_serde::from_str(yaml).unwrap()
    }

    fn error(yaml: &str) -> String {
        yaml_serde::from_str::<TimeInterval>(yaml)
            .unwrap_err()
            .to_string()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn every_field_must_contain_the_instant() {
        let i = interval(
            "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']\nmonths: ['january:march', '12']\nyears: ['2030']\n",
        );
        // 2030-01-07 is a Monday.
        assert!(i.contains(at("2030-01-07T09:00:00Z")), "start inclusive");
        assert!(!i.contains(at("2030-01-07T17:00:00Z")), "end exclusive");
        assert!(!i.contains(at("2030-01-06T12:00:00Z")), "Sunday");
        assert!(!i.contains(at("2030-04-01T12:00:00Z")), "April");
        assert!(
            i.contains(at("2030-12-02T12:00:00Z")),
            "December (a Monday)"
        );
        assert!(!i.contains(at("2031-01-06T12:00:00Z")), "2031");
        assert!(TimeInterval::default().contains(at("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn negative_days_count_from_the_end_of_the_month() {
        let last_two = interval("days_of_month: ['-2:-1']\n");
        assert!(last_two.contains(at("2030-02-27T00:00:00Z")));
        assert!(last_two.contains(at("2030-02-28T23:59:00Z")));
        assert!(!last_two.contains(at("2030-02-26T12:00:00Z")));
        assert!(last_two.contains(at("2030-01-30T12:00:00Z")));
        let end_of_long_months = interval("days_of_month: ['31']\n");
        assert!(!end_of_long_months.contains(at("2030-02-28T12:00:00Z")));
    }

    #[test]
    fn location_moves_the_calendar() {
        let i = interval(
            "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: [monday]\nlocation: America/New_York\n",
        );
        // 13:00 UTC is 08:00 in New York in winter (EST), 09:00 in summer (EDT).
        assert!(!i.contains(at("2030-01-07T13:00:00Z")));
        assert!(i.contains(at("2030-01-07T14:00:00Z")));
        assert!(i.contains(at("2030-07-01T13:00:00Z")));
        // Monday 02:00 UTC is still Sunday in New York.
        assert!(!i.contains(at("2030-01-07T02:00:00Z")));
    }

    #[test]
    fn bad_values_are_refused_with_alertmanagers_reasons_and_a_position() {
        let e = error("times: [{start_time: '17:00', end_time: '09:00'}]\n");
        assert!(
            e.contains("start time cannot be equal or greater than end time"),
            "{e}"
        );
        assert!(e.contains("line 1"), "{e}");
        assert!(
            error("times: [{start_time: '25:00', end_time: '26:00'}]\n").contains("invalid format")
        );
        assert!(error("weekdays: [funday]\n").contains("funday is not a valid weekday"));
        assert!(
            error("weekdays: ['friday:monday']\n").contains("start day cannot be before end day")
        );
        assert!(error("days_of_month: ['0']\n").contains("out of range"));
        assert!(error("days_of_month: ['-3:5']\n").contains("end day must be negative"));
        assert!(error("months: ['march:january']\n")
            .contains("end month january is before start month march"));
        assert!(error("months: ['13']\n").contains("not a valid month"));
        assert!(error("years: ['2031:2030']\n").contains("end year 2030 is before start year 2031"));
        assert!(error("location: Mars/Olympus\n").contains("unknown time zone"));
        assert!(error("weekday: [monday]\n").contains("unknown field"));
    }

    #[test]
    fn written_back_in_alertmanagers_forms() {
        let i = interval(
            "times: [{start_time: '09:00', end_time: '24:00'}]\nweekdays: ['Monday:Friday', sunday]\nmonths: ['1:3']\nlocation: Europe/Berlin\n",
        );
        let v = yaml_serde::to_value(&i).unwrap();
        assert_eq!(v["times"][0]["end_time"], "24:00");
        assert_eq!(v["weekdays"][0], "monday:friday");
        assert_eq!(v["weekdays"][1], "sunday");
        assert_eq!(v["months"][0], "january:march");
        assert_eq!(v["location"], "Europe/Berlin");
    }
}
