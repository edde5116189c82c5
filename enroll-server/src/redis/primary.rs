//! The Redis primary in use, shared by every clone of a
//! [`super::conn::RedisConn`], and what in a reply says that it may no
//! longer be the primary.
//!
//! A primary that failed over shows it in one of two ways: it stops
//! answering (refused, dropped, timed out), or — brought back as the new
//! primary's replica — it answers, but refuses every write (`READONLY`,
//! also inside a pipeline's or a transaction's replies, where it is no
//! error of the whole call) and every `WAIT`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ErrorKind, RedisError, ServerErrorKind, Value};
use tokio::sync::{watch, Notify};

/// One primary: its connection and what it is asked through.
#[derive(Clone)]
pub struct Primary {
    pub manager: ConnectionManager,
    pub client: Client,
}

impl Primary {
    /// Connects to the Redis of `client`; a reply slower than
    /// `reply_timeout` fails its call.
    pub async fn connect(client: Client, reply_timeout: Duration) -> Result<Self, RedisError> {
        let manager = client
            .get_connection_manager_with_config(manager_config(reply_timeout))
            .await?;
        Ok(Self { manager, client })
    }
}

/// How the connection to a primary reconnects: twice, briefly, then the
/// request fails (503). A request waits on the reconnection, and the
/// pipeline sender sends one pipeline at a time: with the crate's default
/// (six attempts, doubling) a killed primary held every enroll for seconds,
/// and then sent it to whatever answered on the old address — its
/// successor's replica. Redis back on the address, or the promoted one,
/// is reached by the next request.
fn manager_config(reply_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(200))
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(reply_timeout))
}

/// How long a reply may take before the call fails (and the primary is
/// suspected), beside any `WAIT` the pipelines end in.
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(500);

/// What every clone of a connection shares.
pub struct Shared {
    current: RwLock<Primary>,
    /// Woken by a request that saw a sign of failover; with sentinels,
    /// the follower then asks them for the primary.
    pub suspect: Arc<Notify>,
    /// No primary known: the sentinels named none that answers and the one
    /// in use does not answer as primary. Requests fail at once meanwhile
    /// (503), rather than wait on a dead address.
    lost: AtomicBool,
    /// Bumped at each switch to another primary, for connections of their
    /// own (pub/sub) that must move too.
    switched: watch::Sender<u64>,
    /// The reply timeout of every connection to a primary.
    pub reply_timeout: Duration,
}

impl Shared {
    pub fn new(first: Primary, reply_timeout: Duration) -> Self {
        Self {
            reply_timeout,
            current: RwLock::new(first),
            suspect: Arc::new(Notify::new()),
            lost: AtomicBool::new(false),
            switched: watch::Sender::new(0),
        }
    }

    /// The primary in use; an error at once while none is known.
    pub fn current(&self) -> Result<Primary, RedisError> {
        if self.lost.load(Ordering::Acquire) {
            return Err(no_primary());
        }
        Ok(self.primary())
    }

    /// The primary in use (or last used, while none is known).
    pub fn primary(&self) -> Primary {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether a primary is known.
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    pub fn set_lost(&self, lost: bool) {
        self.lost.store(lost, Ordering::Release);
    }

    /// Makes `to` the primary in use.
    pub fn switch_to(&self, to: Primary) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = to;
        self.lost.store(false, Ordering::Release);
        self.switched.send_modify(|g| *g += 1);
    }

    /// Told of every switch to another primary.
    pub fn switches(&self) -> watch::Receiver<u64> {
        self.switched.subscribe()
    }
}

/// The error of a request made while no primary is known: an I/O error,
/// so that it reads as Redis unavailable everywhere.
pub fn no_primary() -> RedisError {
    RedisError::from((
        ErrorKind::Io,
        "no Redis primary is known (failing over); try again shortly",
    ))
}

/// The error of a request answered by a Redis that is no longer the
/// primary (the whole call fails: its writes were refused).
pub fn not_primary() -> RedisError {
    RedisError::from((
        ErrorKind::Server(ServerErrorKind::ReadOnly),
        "the Redis in use is no longer the primary (failing over); try again shortly",
    ))
}

/// Whether `err` says the Redis in use may be gone: it does not answer.
pub fn is_unreachable(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_timeout()
}

/// Whether `err` says the Redis that answered is not the primary: a
/// refused write (`READONLY`, also the items of an aborted transaction) or
/// `WAIT` refused by a replica.
pub fn is_not_primary(err: &RedisError) -> bool {
    match err.kind() {
        ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown) => true,
        // The kind of an aborted transaction hides its items' kinds.
        ErrorKind::Server(ServerErrorKind::ExecAbort) => err.to_string().contains("ReadOnly"),
        ErrorKind::Server(ServerErrorKind::ResponseError) => err
            .detail()
            .is_some_and(|d| d.contains("used with replica")),
        _ => false,
    }
}

/// Whether a reply (or one of a pipeline's) is a refusal that says the
/// Redis that answered is not the primary (see [`is_not_primary`]).
pub fn refused_as_replica(value: &Value) -> bool {
    match value {
        Value::ServerError(e) => is_not_primary(&RedisError::from(e.clone())),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_demoted_primary_from_other_failures() {
        assert!(is_not_primary(&not_primary()));
        assert!(!is_not_primary(&no_primary()));
        assert!(is_unreachable(&no_primary()));
        let wait_on_replica = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "WAIT cannot be used with replica instances.".to_string(),
        ));
        assert!(is_not_primary(&wait_on_replica));
        let other = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "wrong number of arguments".to_string(),
        ));
        assert!(!is_not_primary(&other));
        assert!(!is_unreachable(&other));
    }
}
