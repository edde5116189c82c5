//! Login sessions stored in Redis, so any instance serves any student, with
//! a per-process cache ([`SessionCache`]) that logouts anywhere invalidate.
//!
//! Every session is also a row in the database ([`crate::store::sessions`]),
//! written at login and deleted at logout: losing Redis's data (or a
//! failover to a replica that was behind) logs nobody out. Redis is rebuilt
//! from those rows when its loss is noticed
//! ([`crate::service::recovery`]); in between, a genuine token
//! ([`TokenSigner`]) that Redis does not know is looked up in the database
//! and put back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::redis::conn::RedisConn;
use chrono::{DateTime, Utc};
use prometheus::IntCounter;
use redis::AsyncCommands;
use sqlx::PgPool;

use super::feed::Channel;
use super::keys;
use super::retry::{Warnings, WARN_EVERY};
use crate::metrics::Metrics;
use crate::session::{digest, Digest, Session, SessionCache, TokenSigner};
use crate::store::{sessions as rows, StoreError};

/// Why a session could not be started, read or ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for SessionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Creates, reads and deletes sessions.
#[derive(Clone)]
pub struct SessionStore {
    redis: RedisConn,
    db: PgPool,
    signer: TokenSigner,
    ttl: Duration,
    cache: Arc<SessionCache>,
    /// Lookups answered from the cache / from Redis (resolved once: every
    /// student request counts one).
    from_cache: IntCounter,
    from_redis: IntCounter,
    /// Lookups Redis could not answer, answered by the database.
    from_db: IntCounter,
}

impl SessionStore {
    /// Sessions in `redis`, mirrored in `db` (the primary), with tokens
    /// signed by `signer`.
    pub fn new(
        redis: RedisConn,
        db: PgPool,
        signer: TokenSigner,
        ttl: Duration,
        cache: Arc<SessionCache>,
        metrics: &Metrics,
    ) -> Self {
        let lookups = &metrics.session_lookups;
        Self {
            redis,
            db,
            signer,
            ttl,
            cache,
            from_cache: lookups.with_label_values(&["cache"]),
            from_redis: lookups.with_label_values(&["redis"]),
            from_db: lookups.with_label_values(&["database"]),
        }
    }

    /// Session lifetime (also the cookie's Max-Age).
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session and returns the token for the cookie: recorded in
    /// the database first, then in Redis.
    pub async fn create(&self, session: &Session) -> Result<String, SessionError> {
        let token = self.signer.issue();
        let digest = digest(&token);
        let expires = Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        rows::insert(&self.db, &digest, session.student_id, expires).await?;
        self.put(&digest, session, self.ttl).await?;
        Ok(token)
    }

    /// Adds to `pipe` the writes of `session` under `digest`, ending after
    /// `ttl`, and its place in the student's index (which outlives each
    /// session it names by at most one lifetime).
    fn stage(&self, pipe: &mut redis::Pipeline, digest: &Digest, session: &Session, ttl: Duration) {
        let value = serde_json::to_string(session).expect("a session serializes");
        let index = keys::student_sessions(session.student_id);
        pipe.set_ex(keys::session(digest), value, ttl.as_secs().max(1))
            .ignore()
            .sadd(&index, &digest[..])
            .ignore()
            .expire(&index, self.ttl.as_secs() as i64)
            .ignore();
    }

    /// Writes `session` to Redis under `digest`, ending after `ttl`.
    async fn put(
        &self,
        digest: &Digest,
        session: &Session,
        ttl: Duration,
    ) -> redis::RedisResult<()> {
        let mut pipe = redis::pipe();
        self.stage(&mut pipe, digest, session, ttl);
        pipe.query_async(&mut self.redis.clone()).await
    }

    /// Puts every live session of the database back into Redis (after
    /// Redis lost its data); returns how many.
    pub async fn restore_all(&self) -> Result<usize, SessionError> {
        let live = rows::live(&self.db).await?;
        for chunk in live.chunks(1000) {
            let mut pipe = redis::pipe();
            for (digest, session, expires) in chunk {
                self.stage(&mut pipe, digest, session, remaining(*expires));
            }
            let mut redis = self.redis.clone();
            let _: () = pipe.query_async(&mut redis).await?;
        }
        Ok(live.len())
    }

    /// Deletes ended sessions from the database; returns how many.
    pub async fn sweep(&self) -> Result<u64, SessionError> {
        Ok(rows::sweep(&self.db).await?)
    }

    /// The session for `token`, if it exists and has not expired: from this
    /// process's cache when it is usable, else from Redis; a genuine token
    /// Redis does not know (or cannot be asked about) from the database,
    /// and then put back into Redis.
    pub async fn get(&self, token: &str) -> Result<Option<Session>, SessionError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let digest = digest(token);
        if let Some(session) = self.cache.get(&digest, Instant::now()) {
            self.from_cache.inc();
            return Ok(Some(session));
        }
        let epoch = self.cache.epoch();
        let mut redis = self.redis.clone();
        let found: redis::RedisResult<Option<String>> = redis.get(keys::session(&digest)).await;
        let session = match found {
            Ok(Some(v)) => {
                self.from_redis.inc();
                serde_json::from_str(&v).ok()
            }
            Ok(None) | Err(_) if self.signer.is_genuine(token) => {
                let Some((session, expires)) = rows::find(&self.db, &digest).await? else {
                    return Ok(None);
                };
                self.from_db.inc();
                if found.is_ok() {
                    if let Err(e) = self.put(&digest, &session, remaining(expires)).await {
                        static WARNINGS: Warnings = Warnings::new(WARN_EVERY);
                        if let Some(left_out) = WARNINGS.due() {
                            tracing::warn!(error = %e, left_out, "could not put a session back into Redis");
                        }
                    }
                }
                Some(session)
            }
            Ok(None) => None,
            Err(e) => return Err(e.into()),
        };
        if let Some(s) = &session {
            self.cache.put(digest, s.clone(), Instant::now(), epoch);
        }
        Ok(session)
    }

    /// Ends the session of `student` with `token` everywhere (idempotent):
    /// deletes it in the database and Redis and tells every instance to
    /// drop its cached copy (and its event streams).
    pub async fn delete(&self, student: i64, token: &str) -> Result<(), SessionError> {
        let digest = digest(token);
        rows::delete(&self.db, &[digest]).await?;
        Ok(self.delete_digests(student, &[digest]).await?)
    }

    /// Ends every session of `student`, on every device; returns how many
    /// there were.
    pub async fn delete_all(&self, student: i64) -> Result<usize, SessionError> {
        let mut digests = rows::delete_all(&self.db, student).await?;
        let mut redis = self.redis.clone();
        let members: Vec<Vec<u8>> = redis.smembers(keys::student_sessions(student)).await?;
        digests.extend(
            members
                .into_iter()
                .filter_map(|m| Digest::try_from(m.as_slice()).ok()),
        );
        digests.sort_unstable();
        digests.dedup();
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

/// How long until `expires` (zero when past).
fn remaining(expires: DateTime<Utc>) -> Duration {
    (expires - Utc::now()).to_std().unwrap_or_default()
}
