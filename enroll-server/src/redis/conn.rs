//! The connection the server talks to Redis through.
//!
//! A [`ConnectionManager`] (which reconnects by itself) to one address; or,
//! with Redis Sentinel (`ENROLL_REDIS_SENTINELS`), to the primary the
//! sentinels name, asked again whenever the one in use stops answering as
//! a primary (refused, dropped, or `READONLY` once it was demoted): after a
//! failover the next requests go to the promoted replica.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    Client, Cmd, ErrorKind, IntoConnectionInfo, Pipeline, RedisError, RedisFuture, RedisResult,
    ServerErrorKind, Value,
};

/// Where the primary is found: the sentinels and the name they know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentinels {
    pub addresses: Vec<String>,
    pub primary_name: String,
}

/// A connection to Redis's primary, cheap to clone (every clone shares it).
#[derive(Clone)]
pub struct RedisConn {
    current: Arc<RwLock<(ConnectionManager, Client)>>,
    sentinel: Option<Arc<tokio::sync::Mutex<SentinelClient>>>,
    /// Bumped at each switch to another primary, so that the many requests
    /// failing at once during a failover ask the sentinels once.
    generation: Arc<AtomicU64>,
}

impl RedisConn {
    /// Connects to `url`, or with `sentinels` to the primary they name
    /// (`url`'s user, password and database are used for it).
    pub async fn connect(url: &str, sentinels: Option<&Sentinels>) -> RedisResult<Self> {
        let Some(s) = sentinels else {
            let client = Client::open(url)?;
            let cm = client.get_connection_manager().await?;
            return Ok(Self {
                current: Arc::new(RwLock::new((cm, client))),
                sentinel: None,
                generation: Arc::new(AtomicU64::new(0)),
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
        let client = sentinel.async_get_client().await?;
        let cm = client.get_connection_manager().await?;
        Ok(Self {
            current: Arc::new(RwLock::new((cm, client))),
            sentinel: Some(Arc::new(tokio::sync::Mutex::new(sentinel))),
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    fn manager(&self) -> (ConnectionManager, u64) {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        (current.0.clone(), self.generation.load(Ordering::Acquire))
    }

    /// A client for the primary in use now (for pub/sub, which needs a
    /// connection of its own).
    pub fn client(&self) -> Client {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// After `err` from the primary of generation `seen`: with sentinels,
    /// asks them for the primary and switches to it when it is another one.
    async fn follow_failover(&self, err: &RedisError, seen: u64) {
        let Some(sentinel) = &self.sentinel else {
            return;
        };
        let failover_sign = err.is_io_error()
            || err.is_connection_dropped()
            || err.is_connection_refusal()
            || err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly);
        if !failover_sign {
            return;
        }
        let mut sentinel = sentinel.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return; // another request switched already
        }
        let client = match sentinel.async_get_client().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the sentinels named no reachable primary");
                return;
            }
        };
        if client.get_connection_info().addr() == self.client().get_connection_info().addr() {
            return;
        }
        match client.get_connection_manager().await {
            Ok(cm) => {
                tracing::warn!(primary = %client.get_connection_info().addr(), "Redis failed over; following the new primary");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = (cm, client);
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect to the new Redis primary"),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (mut cm, seen) = self.manager();
            let reply = cm.req_packed_command(cmd).await;
            if let Err(e) = &reply {
                self.follow_failover(e, seen).await;
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (mut cm, seen) = self.manager();
            let reply = cm.req_packed_commands(pipeline, offset, count).await;
            if let Err(e) = &reply {
                self.follow_failover(e, seen).await;
            }
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.manager().0.get_db()
    }
}
