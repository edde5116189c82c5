//! Following Redis Sentinel: the task that asks the sentinels which Redis
//! is the primary and switches the shared connection to it.
//!
//! It asks when a request saw a sign of failover ([`super::primary`]) and
//! every [`CHECK_EVERY`] regardless (a primary that failed over while no
//! request failed), and while the sentinels name no primary that answers
//! — the killed primary not yet marked down, no replica promoted yet — it
//! asks again, [`Backoff`] apart, until one is promoted: a failover is
//! followed within a wait of the promotion, whether or not requests keep
//! failing meanwhile. While no primary is known and the one in use does
//! not answer as primary, requests are refused at once (503).

use std::sync::{Arc, Weak};
use std::time::Duration;

use redis::sentinel::SentinelClient;
use redis::{Client, RedisError, RedisResult, Value};
use tokio::sync::Notify;

use super::primary::{Primary, Shared};
use super::retry::{Backoff, Warnings, WARN_EVERY};

/// How often the sentinels are asked while nothing failed.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// The least time between two asks on requests' signs (a Redis failing
/// every request would otherwise be asked about back to back).
const MIN_GAP: Duration = Duration::from_millis(200);
/// While no primary is known: the first wait, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// The longest one ask (every sentinel, then the primary named) may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Starts following for the connection `shared`; the task ends once every
/// clone of it is dropped.
pub fn spawn(shared: &Arc<Shared>, sentinel: SentinelClient) {
    tokio::spawn(run(
        Arc::downgrade(shared),
        shared.suspect.clone(),
        sentinel,
    ));
}

async fn run(shared: Weak<Shared>, suspect: Arc<Notify>, mut sentinel: SentinelClient) {
    let mut backoff = Backoff::new(RETRY_FIRST, RETRY_MAX);
    let warnings = Warnings::new(WARN_EVERY);
    let mut failing = false;
    loop {
        if failing {
            // Requests failing meanwhile do not hurry it: backoff.
            tokio::time::sleep(backoff.next_wait()).await;
        } else {
            tokio::select! {
                () = suspect.notified() => {}
                () = tokio::time::sleep(CHECK_EVERY) => {}
            }
        }
        let Some(s) = shared.upgrade() else {
            return;
        };
        match ask(&mut sentinel, &s).await {
            Ok(()) => {
                if failing {
                    tracing::warn!("a Redis primary is known again");
                }
                failing = false;
                backoff.reset();
                warnings.reset();
                drop(s);
                tokio::time::sleep(MIN_GAP).await;
            }
            Err(e) => {
                failing = true;
                // Sentinels out of reach say nothing about a primary that
                // still answers as one: keep it.
                let keep = answers_as_primary(&s.primary().client).await;
                s.set_lost(!keep);
                if let Some(left_out) = warnings.due() {
                    tracing::warn!(
                        error = %e,
                        left_out,
                        keeping_the_one_in_use = keep,
                        "the sentinels name no Redis primary that answers; asking again"
                    );
                }
            }
        }
    }
}

/// Asks the sentinels for the primary and switches to it when it is
/// another one than the one in use; an error when they name none that
/// answers as primary.
async fn ask(sentinel: &mut SentinelClient, s: &Shared) -> RedisResult<()> {
    let named = tokio::time::timeout(ASK_TIMEOUT, sentinel.async_get_client())
        .await
        .map_err(|_| timed_out())??;
    let in_use = s.primary();
    if named.get_connection_info().addr() == in_use.client.get_connection_info().addr() {
        s.set_lost(false);
        return Ok(());
    }
    let to = named.get_connection_info().addr().to_string();
    let primary = tokio::time::timeout(ASK_TIMEOUT, Primary::connect(named, s.reply_timeout))
        .await
        .map_err(|_| timed_out())??;
    tracing::warn!(
        from = %in_use.client.get_connection_info().addr(),
        to = %to,
        "Redis failed over; following the new primary"
    );
    s.switch_to(primary);
    Ok(())
}

fn timed_out() -> RedisError {
    RedisError::from((redis::ErrorKind::Io, "asking the sentinels took too long"))
}

/// Whether the Redis of `client` answers, as a primary (`ROLE`), on a
/// connection of its own (the shared one may be busy reconnecting).
pub async fn answers_as_primary(client: &Client) -> bool {
    let role = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("ROLE")
            .query_async::<Vec<Value>>(&mut conn)
            .await
    };
    match tokio::time::timeout(Duration::from_secs(1), role).await {
        Ok(Ok(role)) => matches!(role.first(), Some(Value::BulkString(r)) if r == b"master"),
        _ => false,
    }
}
