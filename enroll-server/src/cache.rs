//! Per-process caches of Redis answers, kept honest by Redis pub/sub.
//!
//! Some answers are asked for so often that a Redis round trip for each
//! would be most of a request's cost, and they change rarely (a student's
//! session, whether a course is full). A [`FollowedCache`] keeps what Redis
//! answered for a short time, and is told of every change on any instance
//! by a pub/sub message ([`crate::redis::feed`]), on which it drops the entry
//! at once, not after the cache time.
//!
//! While an instance is not subscribed (start-up, Redis connection lost) its
//! caches are bypassed and Redis is asked every time; on (re)subscribing
//! they start empty, so nothing published while it was away can be missed.
//! A lookup that raced an invalidation (Redis answered just before it, the
//! message arrived before the answer was stored) is not kept: every eviction
//! bumps an epoch, and only lookups begun after the latest one are stored.
//! The cache time remains only a bound for a subscription that hangs without
//! failing.
//!
//! Absent answers are never cached (a session created a moment ago on
//! another instance must work here at once; a course not flagged full must
//! be asked about again).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Courses Redis answered as flagged full, by id: their enroll requests
/// are refused without a round trip.
pub type KnownFull = FollowedCache<i64, ()>;

/// Answers by key, each until its own deadline, usable only while the
/// invalidations for them are followed.
pub struct FollowedCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    /// True while this process follows the invalidation channel.
    following: AtomicBool,
    /// Bumped by every eviction and feed change: a lookup that started
    /// before one may have read an answer invalidated since, so it is not
    /// kept.
    epoch: AtomicU64,
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash, V: Clone> FollowedCache<K, V> {
    /// A cache keeping entries for `ttl` (zero disables it), at most
    /// `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            following: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether lookups may be answered from memory: on, and invalidations
    /// are being followed.
    pub fn usable(&self) -> bool {
        !self.ttl.is_zero() && self.following.load(Ordering::Acquire)
    }

    /// The cached answer for `key`, if usable and not past its time.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        if !self.usable() {
            return None;
        }
        let mut entries = self.entries();
        match entries.get(key) {
            Some((value, until)) if now < *until => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Taken before asking Redis, handed back to [`Self::put`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Remembers what Redis answered in a lookup that began at `epoch`,
    /// unless an invalidation arrived since (it may have been for this
    /// key). When full, expired entries go first, then everything (the cache
    /// refills from Redis).
    pub fn put(&self, key: K, value: V, now: Instant, epoch: u64) {
        if !self.usable() {
            return;
        }
        let mut entries = self.entries();
        if self.epoch() != epoch {
            return;
        }
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, until)| now < *until);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, now + self.ttl));
    }

    /// Forgets one answer (invalidated here or on another instance).
    pub fn evict(&self, key: &K) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    /// Marks whether invalidations are followed; either way the cache
    /// starts over empty, since messages may have been missed in between.
    pub fn set_following(&self, following: bool) {
        let mut entries = self.entries();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        self.following.store(following, Ordering::Release);
    }

    /// Entries held (expired ones included until touched).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone)]
    struct Session {
        student_id: i64,
    }

    type SessionCache = FollowedCache<[u8; 32], Session>;

    fn session(id: i64) -> Session {
        Session { student_id: id }
    }

    fn following(ttl_ms: u64, max: usize) -> SessionCache {
        let cache = SessionCache::new(Duration::from_millis(ttl_ms), max);
        cache.set_following(true);
        cache
    }

    #[test]
    fn entries_live_for_the_ttl_only() {
        let cache = following(1000, 10);
        let t0 = Instant::now();
        cache.put([1; 32], session(1), t0, cache.epoch());
        assert_eq!(cache.get(&[1; 32], t0).unwrap().student_id, 1);
        let late = t0 + Duration::from_millis(999);
        assert!(cache.get(&[1; 32], late).is_some());
        assert!(cache
            .get(&[1; 32], t0 + Duration::from_millis(1000))
            .is_none());
        assert!(cache.is_empty(), "an expired entry is dropped when touched");
    }

    #[test]
    fn nothing_is_served_or_kept_unless_revocations_are_followed() {
        let cache = SessionCache::new(Duration::from_secs(10), 10);
        let now = Instant::now();
        cache.put([1; 32], session(1), now, cache.epoch());
        assert!(cache.get(&[1; 32], now).is_none() && cache.is_empty());

        cache.set_following(true);
        cache.put([1; 32], session(1), now, cache.epoch());
        assert!(cache.get(&[1; 32], now).is_some());
        // The feed drops: whatever was cached may have been revoked meanwhile.
        cache.set_following(false);
        assert!(cache.get(&[1; 32], now).is_none());
        cache.set_following(true);
        assert!(cache.get(&[1; 32], now).is_none(), "starts over empty");
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_kept() {
        let cache = following(10_000, 10);
        let now = Instant::now();
        // Redis answered before the logout; the revocation arrives before
        // the answer is stored.
        let epoch = cache.epoch();
        cache.evict(&[1; 32]);
        cache.put([1; 32], session(1), now, epoch);
        assert!(cache.get(&[1; 32], now).is_none());
        // A lookup begun after it is kept.
        cache.put([1; 32], session(1), now, cache.epoch());
        assert!(cache.get(&[1; 32], now).is_some());
    }

    #[test]
    fn zero_ttl_disables_the_cache() {
        let cache = following(0, 10);
        let now = Instant::now();
        cache.put([1; 32], session(1), now, cache.epoch());
        assert!(!cache.usable() && cache.get(&[1; 32], now).is_none());
    }

    #[test]
    fn eviction_is_immediate() {
        let cache = following(10_000, 10);
        let now = Instant::now();
        cache.put([1; 32], session(1), now, cache.epoch());
        cache.put([2; 32], session(2), now, cache.epoch());
        cache.evict(&[1; 32]);
        assert!(cache.get(&[1; 32], now).is_none());
        assert_eq!(cache.get(&[2; 32], now).unwrap().student_id, 2);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_first_then_everything() {
        let cache = following(1000, 2);
        let t0 = Instant::now();
        cache.put([1; 32], session(1), t0, cache.epoch());
        let t1 = t0 + Duration::from_millis(600);
        cache.put([2; 32], session(2), t1, cache.epoch());
        // Full; entry 1 has expired by t2, entry 2 has not.
        let t2 = t0 + Duration::from_millis(1200);
        cache.put([3; 32], session(3), t2, cache.epoch());
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&[2; 32], t2).is_some() && cache.get(&[3; 32], t2).is_some());
        // Full of live entries: start over rather than grow.
        cache.put([4; 32], session(4), t2, cache.epoch());
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&[4; 32], t2).is_some());
    }
}
