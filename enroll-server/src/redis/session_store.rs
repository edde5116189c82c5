//! Login sessions stored in Redis, so any instance serves any student, with
//! a per-process cache ([`SessionCache`]) that logouts anywhere invalidate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use prometheus::IntCounter;
use rand::RngCore;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::feed::Channel;
use super::keys;
use crate::metrics::Metrics;
use crate::session::{digest, Digest, Session, SessionCache};

/// Creates, reads and deletes sessions.
#[derive(Clone)]
pub struct SessionStore {
    redis: ConnectionManager,
    ttl: Duration,
    cache: Arc<SessionCache>,
    /// Lookups answered from the cache / from Redis (resolved once: every
    /// student request counts one).
    from_cache: IntCounter,
    from_redis: IntCounter,
}

impl SessionStore {
    pub fn new(
        redis: ConnectionManager,
        ttl: Duration,
        cache: Arc<SessionCache>,
        metrics: &Metrics,
    ) -> Self {
        let lookups = &metrics.session_lookups;
        Self {
            redis,
            ttl,
            cache,
            from_cache: lookups.with_label_values(&["cache"]),
            from_redis: lookups.with_label_values(&["redis"]),
        }
    }

    /// Session lifetime (also the cookie's Max-Age).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session and returns the token for the cookie.
    pub async fn create(&self, session: &Session) -> redis::RedisResult<String> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let value = serde_json::to_string(session).expect("a session serializes");
        let digest = digest(&token);
        let index = keys::student_sessions(session.student_id);
        let mut redis = self.redis.clone();
        // The index outlives each session it names by at most one lifetime.
        let _: () = redis::pipe()
            .set_ex(keys::session(&digest), value, self.ttl.as_secs())
            .ignore()
            .sadd(&index, &digest[..])
            .ignore()
            .expire(&index, self.ttl.as_secs() as i64)
            .ignore()
            .query_async(&mut redis)
            .await?;
        Ok(token)
    }

    /// The session for `token`, if it exists and has not expired: from this
    /// process's cache when it is usable, else from Redis.
    pub async fn get(&self, token: &str) -> redis::RedisResult<Option<Session>> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let digest = digest(token);
        if let Some(session) = self.cache.get(&digest, Instant::now()) {
            self.from_cache.inc();
            return Ok(Some(session));
        }
        self.from_redis.inc();
        let epoch = self.cache.epoch();
        let mut redis = self.redis.clone();
        let value: Option<String> = redis.get(keys::session(&digest)).await?;
        let session: Option<Session> = value.and_then(|v| serde_json::from_str(&v).ok());
        if let Some(s) = &session {
            self.cache.put(digest, s.clone(), Instant::now(), epoch);
        }
        Ok(session)
    }

    /// Ends the session of `student` with `token` everywhere (idempotent):
    /// deletes it in Redis and tells every instance to drop its cached copy
    /// (and its event streams), in one round trip.
    pub async fn delete(&self, student: i64, token: &str) -> redis::RedisResult<()> {
        self.delete_digests(student, &[digest(token)]).await
    }

    /// Ends every session of `student`, on every device; returns how many
    /// there were.
    pub async fn delete_all(&self, student: i64) -> redis::RedisResult<usize> {
        let mut redis = self.redis.clone();
        let members: Vec<Vec<u8>> = redis.smembers(keys::student_sessions(student)).await?;
        let digests: Vec<Digest> = members
            .into_iter()
            .filter_map(|m| Digest::try_from(m.as_slice()).ok())
            .collect();
        self.delete_digests(student, &digests).await?;
        Ok(digests.len())
    }

    async fn delete_digests(&self, student: i64, digests: &[Digest]) -> redis::RedisResult<()> {
        // Nothing left to end (a second logout-all racing the first): an
        // empty pipeline is an error to the client, not a no-op.
        if digests.is_empty() {
            return Ok(());
        }
        let index = keys::student_sessions(student);
        let mut pipe = redis::pipe();
        for digest in digests {
            self.cache.evict(digest);
            pipe.del(keys::session(digest))
                .ignore()
                .srem(&index, &digest[..])
                .ignore()
                .publish(Channel::Revoked.name(), &digest[..])
                .ignore();
        }
        let mut redis = self.redis.clone();
        pipe.query_async(&mut redis).await
    }
}
