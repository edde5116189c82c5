//! Per-address ceilings, kept in this process's memory.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use super::Rate;

type Keyed<C> =
    RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One bucket per address, for one kind of request.
pub struct AddressLimiter<C: Clock = DefaultClock> {
    limiter: Option<Keyed<C>>,
    clock: C,
}

impl AddressLimiter {
    pub fn new(rate: Rate) -> Self {
        Self::with_clock(rate, DefaultClock::default())
    }
}

impl<C: Clock + Clone> AddressLimiter<C> {
    /// On `clock` (tests pass a clock they move by hand).
    pub fn with_clock(rate: Rate, clock: C) -> Self {
        let limiter = (!rate.is_off()).then(|| {
            let quota = Quota::with_period(rate.interval.max(Duration::from_nanos(1)))
                .expect("a non-zero period")
                .allow_burst(NonZeroU32::new(rate.burst).expect("burst > 0 when on"));
            RateLimiter::dashmap_with_clock(quota, clock.clone())
        });
        Self { limiter, clock }
    }

    /// Takes a token for `addr`; when none is left, how long until one is.
    pub fn check(&self, addr: IpAddr) -> Result<(), Duration> {
        match &self.limiter {
            None => Ok(()),
            Some(l) => l
                .check_key(&addr)
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
        }
    }

    /// Forgets addresses whose bucket is full again (they would start over
    /// the same); called now and then so that memory follows the addresses
    /// seen recently, not every address ever seen.
    pub fn forget_idle(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Addresses currently remembered.
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_address_has_its_own_bucket_and_it_refills() {
        let clock = FakeRelativeClock::default();
        let l = AddressLimiter::with_clock("2/s burst 3".parse().unwrap(), clock.clone());
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            l.check(a).unwrap();
        }
        let wait = l.check(a).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another address is not affected.
        l.check(ip("192.0.2.2")).unwrap();
        clock.advance(Duration::from_millis(499));
        assert!(l.check(a).is_err());
        clock.advance(Duration::from_millis(1));
        l.check(a).unwrap();
        assert!(l.check(a).is_err(), "one token came back, not more");
    }

    #[test]
    fn idle_addresses_are_forgotten() {
        let clock = FakeRelativeClock::default();
        let l = AddressLimiter::with_clock("10/s burst 10".parse().unwrap(), clock.clone());
        for i in 0..50u8 {
            l.check(IpAddr::from([10, 0, 0, i])).unwrap();
        }
        assert_eq!(l.len(), 50);
        clock.advance(Duration::from_secs(2));
        l.forget_idle();
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn off_lets_everything_through() {
        let l = AddressLimiter::new(Rate::OFF);
        for _ in 0..10_000 {
            l.check(ip("192.0.2.1")).unwrap();
        }
        assert!(l.is_empty());
    }
}
