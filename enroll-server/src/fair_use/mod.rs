//! Fair use: how often one student, or one address, may ask.
//!
//! Per-student buckets live in Redis ([`crate::redis::fair_use`]), so a
//! student whose requests the balancer spreads over every instance still
//! has one allowance. They are the main control: a campus NAT puts
//! thousands of students behind one address. Per-address ceilings live in
//! this process's memory ([`address`]): a coarse cap on what one address
//! may cost one instance, which must cost less than the requests it turns
//! away (a Redis round trip would not).

pub mod address;

use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// A rate with a burst: on average one request every `interval`, at most
/// `burst` at once. Per address it is a token bucket (one token back every
/// `interval`); per student, counted in Redis, a bucket of `burst` refilled
/// whole every `burst × interval` (see [`crate::redis::fair_use`]).
/// `burst == 0` is switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub interval: Duration,
    pub burst: u32,
}

impl Rate {
    /// No limit.
    pub const OFF: Rate = Rate {
        interval: Duration::ZERO,
        burst: 0,
    };

    /// `count` per `period`, `burst` at once.
    pub fn new(count: u32, period: Duration, burst: u32) -> Self {
        Self {
            interval: period / count.max(1),
            burst,
        }
    }

    pub fn is_off(&self) -> bool {
        self.burst == 0
    }
}

/// `<count>/<s|min|h>` with an optional `burst <n>` (default: the count),
/// or `off`: `2/s burst 20`, `600/min`, `off`.
impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}`: expected e.g. `2/s burst 20`, `600/min` or `off`");
        let words: Vec<&str> = s.split_whitespace().collect();
        let (rate, burst) = match words.as_slice() {
            ["off"] => return Ok(Rate::OFF),
            [rate] => (*rate, None),
            [rate, "burst", n] => (*rate, Some(n.parse::<u32>().map_err(|_| bad())?)),
            _ => return Err(bad()),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.parse().map_err(|_| bad())?;
        let period = match unit {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 || burst == Some(0) {
            return Err(format!(
                "`{s}`: a rate and burst of 0 refuse everything; use `off` for no limit"
            ));
        }
        Ok(Rate::new(count, period, burst.unwrap_or(count)))
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What a per-student bucket is for; each has its own allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudentLimit {
    Enroll,
    TicketReads,
    EventStreams,
}

impl StudentLimit {
    /// Its name in keys and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enroll => "enroll",
            Self::TicketReads => "ticket_reads",
            Self::EventStreams => "event_streams",
        }
    }
}

/// Every fair-use limit, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub enroll: Rate,
    pub ticket_reads: Rate,
    pub event_streams: Rate,
    /// Tickets one student may hold in line at once, over all courses.
    pub open_tickets: u32,
    /// Logins from one address, on one instance.
    pub logins_per_address: Rate,
    /// Every request from one address, on one instance.
    pub requests_per_address: Rate,
}

impl Limits {
    pub fn student(&self, limit: StudentLimit) -> Rate {
        match limit {
            StudentLimit::Enroll => self.enroll,
            StudentLimit::TicketReads => self.ticket_reads,
            StudentLimit::EventStreams => self.event_streams,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        let sec = Duration::from_secs(1);
        Self {
            enroll: Rate::new(2, sec, 20),
            ticket_reads: Rate::new(10, sec, 40),
            event_streams: Rate::new(1, sec, 10),
            open_tickets: 12,
            // Sized for a campus NAT: a whole student body logging in in
            // the minutes before opening, through one address.
            logins_per_address: Rate::new(200, sec, 20_000),
            requests_per_address: Rate::new(5_000, sec, 100_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_written() {
        let r: Rate = "2/s burst 20".parse().unwrap();
        assert_eq!(r, Rate::new(2, Duration::from_secs(1), 20));
        assert_eq!(r.interval, Duration::from_millis(500));
        let r: Rate = "600/min".parse().unwrap();
        assert_eq!((r.interval, r.burst), (Duration::from_millis(100), 600));
        assert!("off".parse::<Rate>().unwrap().is_off());
        for bad in [
            "2",
            "2/day",
            "x/s",
            "2/s burst",
            "2/s burst 0",
            "0/s",
            "2/s bust 3",
        ] {
            let err = bad.parse::<Rate>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }
}
