//! Login sessions, stored in Redis so any instance serves any student.
//!
//! The cookie carries a random 256-bit token; Redis stores only its SHA-256
//! (`sess:<hex>`), so a copy of Redis's memory holds no usable session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::ApiResult;
use crate::followed_cache::{Digest, SessionCache, REVOKED_CHANNEL};
use crate::metrics::Metrics;
use prometheus::IntCounter;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "enroll_session";

/// What a session knows about its student.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub student_id: i64,
    pub student_no: String,
}

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
        metrics: Metrics,
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
    pub async fn create(&self, session: &Session) -> ApiResult<String> {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let value = serde_json::to_string(session).map_err(anyhow::Error::from)?;
        let mut redis = self.redis.clone();
        let _: () = redis.set_ex(key(&token), value, self.ttl.as_secs()).await?;
        Ok(token)
    }

    /// The session for `token`, if it exists and has not expired: from this
    /// process's cache when it is usable, else from Redis.
    pub async fn get(&self, token: &str) -> ApiResult<Option<Session>> {
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
        let value: Option<String> = redis.get(key_of(&digest)).await?;
        let session: Option<Session> = value.and_then(|v| serde_json::from_str(&v).ok());
        if let Some(s) = &session {
            self.cache.put(digest, s.clone(), Instant::now(), epoch);
        }
        Ok(session)
    }

    /// Ends the session everywhere (idempotent): deletes it in Redis and
    /// tells every instance to drop its cached copy, in one round trip.
    pub async fn delete(&self, token: &str) -> ApiResult<()> {
        let digest = digest(token);
        self.cache.evict(&digest);
        let mut redis = self.redis.clone();
        let _: () = redis::pipe()
            .del(key_of(&digest))
            .ignore()
            .publish(REVOKED_CHANNEL, &digest[..])
            .ignore()
            .query_async(&mut redis)
            .await?;
        Ok(())
    }
}

/// SHA-256 of a session token: the key it is stored and revoked under.
pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

fn key_of(digest: &Digest) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(5 + 64);
    key.push_str("sess:");
    for b in digest {
        key.push(HEX[usize::from(b >> 4)] as char);
        key.push(HEX[usize::from(b & 15)] as char);
    }
    key
}

fn key(token: &str) -> String {
    key_of(&digest(token))
}

/// `Set-Cookie` value starting a session.
pub fn set_cookie(token: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` value ending a session.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session token from a `Cookie` header, if present.
pub fn token_from_cookies(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_flags() {
        let c = set_cookie("abc", Duration::from_secs(60), true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!set_cookie("abc", Duration::from_secs(60), false).contains("Secure"));
    }

    #[test]
    fn finds_token_among_cookies() {
        assert_eq!(
            token_from_cookies("a=1; enroll_session=xyz; b=2"),
            Some("xyz")
        );
        assert_eq!(token_from_cookies("a=1"), None);
    }

    #[test]
    fn redis_key_is_a_hash_not_the_token() {
        let k = key("secret-token");
        assert!(k.starts_with("sess:") && !k.contains("secret-token") && k.len() == 69);
        let hex: String = Sha256::digest(b"secret-token")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(k, format!("sess:{hex}"));
    }
}
