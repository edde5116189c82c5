//! The connection the server talks to Redis through.
//!
//! A [`ConnectionManager`] (which reconnects by itself) to one address; or,
//! with Redis Sentinel (`ENROLL_REDIS_SENTINELS`), to the primary the
//! sentinels name, followed through a failover by [`super::follow`]: a
//! reply that says the Redis in use is gone or no longer the primary
//! ([`super::primary`]) wakes it, and it also asks on its own every few
//! seconds and, while no primary is known, until one is promoted.
//!
//! A reply refusing a write as a replica would (`READONLY`, also inside a
//! pipeline's replies, or `WAIT` on a replica) fails the whole call with
//! [`not_primary`]; while no primary is known every call fails at once
//! with [`no_primary`]. Both read as Redis unavailable (503), never as a
//! failed command.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Client, Cmd, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult, Value,
};
use tokio::sync::watch;

use super::follow;
use super::primary::{
    is_not_primary, is_unreachable, refused_as_replica, Primary, Shared, REPLY_TIMEOUT,
};
pub use super::primary::{no_primary, not_primary};

/// Where the primary is found: the sentinels and the name they know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentinels {
    pub addresses: Vec<String>,
    pub primary_name: String,
}

/// A connection to Redis's primary, cheap to clone (every clone shares it).
#[derive(Clone)]
pub struct RedisConn {
    shared: Arc<Shared>,
    /// Whether sentinels are followed (a sign of failover then wakes them).
    following: bool,
}

impl RedisConn {
    /// Connects to `url`, or with `sentinels` to the primary they name
    /// (`url`'s user, password and database are used for it) and follows
    /// them from then on.
    pub async fn connect(url: &str, sentinels: Option<&Sentinels>) -> RedisResult<Self> {
        Self::connect_with(url, sentinels, REPLY_TIMEOUT).await
    }

    /// [`Self::connect`], failing a call whose reply takes longer than
    /// `reply_timeout` (a server's:
    /// [`crate::config::Settings::connect_redis`]).
    pub async fn connect_with(
        url: &str,
        sentinels: Option<&Sentinels>,
        reply_timeout: Duration,
    ) -> RedisResult<Self> {
        let Some(s) = sentinels else {
            let primary = Primary::connect(Client::open(url)?, reply_timeout).await?;
            return Ok(Self {
                shared: Arc::new(Shared::new(primary, reply_timeout)),
                following: false,
            });
        };
        let info = url.into_connection_info()?;
        let node = SentinelNodeConnectionInfo::default()
            .set_redis_connection_info(info.redis_settings().clone());
        let addresses: Vec<String> = s
            .addresses
            .iter()
            .map(|a| {
                if a.contains("://") {
                    a.clone()
                } else {
                    format!("redis://{a}")
                }
            })
            .collect();
        let mut sentinel = SentinelClient::build(
            addresses,
            s.primary_name.clone(),
            Some(node),
            SentinelServerType::Master,
        )?;
        let primary = Primary::connect(sentinel.async_get_client().await?, reply_timeout).await?;
        let shared = Arc::new(Shared::new(primary, reply_timeout));
        follow::spawn(&shared, sentinel);
        Ok(Self {
            shared,
            following: true,
        })
    }

    /// A client for the primary in use now (for pub/sub, which needs a
    /// connection of its own: see [`Self::switches`]).
    pub fn client(&self) -> Client {
        self.shared.primary().client
    }

    /// Changes each time the connection switches to another primary: a
    /// connection of its own made from [`Self::client`] must then be made
    /// again.
    pub fn switches(&self) -> watch::Receiver<u64> {
        self.shared.switches()
    }

    /// Whether no primary is known now (requests fail at once).
    pub fn primary_lost(&self) -> bool {
        self.shared.is_lost()
    }

    /// Looks at a reply for signs of failover: wakes the follower, and
    /// makes a refusal as a replica the error of the whole call.
    fn checked<T>(&self, reply: RedisResult<T>, refused: impl Fn(&T) -> bool) -> RedisResult<T> {
        let (suspect, failed) = match &reply {
            Err(e) if is_not_primary(e) => (true, true),
            Err(e) => (is_unreachable(e), false),
            Ok(v) => {
                let r = refused(v);
                (r, r)
            }
        };
        if suspect && self.following {
            self.shared.suspect.notify_one();
        }
        if failed {
            return Err(not_primary());
        }
        reply
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut manager = self.shared.current()?.manager;
            let reply = manager.req_packed_command(cmd).await;
            self.checked(reply, refused_as_replica)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut manager = self.shared.current()?.manager;
            let reply = manager.req_packed_commands(pipeline, offset, count).await;
            self.checked(reply, |values| values.iter().any(refused_as_replica))
        })
    }

    fn get_db(&self) -> i64 {
        self.shared.primary().manager.get_db()
    }
}

/// Whether `err` means Redis is unavailable for now (gone, failing over,
/// or no longer the primary) rather than a command that failed.
pub fn is_unavailable(err: &RedisError) -> bool {
    is_unreachable(err) || is_not_primary(err)
}
