//! Failed logins counted per client, so that nobody can lock a student out.
//!
//! Two counters, both keyed by the client's address: one per (address,
//! student number), one per address. Every attempt is counted before its
//! password is checked (atomically, in one script), and a successful login
//! takes its own attempt back and clears its (address, student number)
//! counter. Past the per-client limit that client waits, doubling with each
//! further attempt; past the per-address limit the whole address waits. A
//! student logging in from their own address is never refused because of
//! failures from another. Admins' logins are counted the same way, under
//! keys of their own ([`Accounts`]).

use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::conn::RedisConn;
use redis::Script;

use super::keys;

static ATTEMPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/login_attempt.lua")));

/// How many failures are tolerated, and how long they are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Failures of one student number from one address before it waits.
    pub per_client: u32,
    /// Failures from one address before it waits.
    pub per_address: u32,
    /// How long failures are remembered.
    pub window: Duration,
    /// The first wait past the per-client limit; each further attempt
    /// doubles it, up to `window`.
    pub first_delay: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_client: 10,
            per_address: 500,
            window: Duration::from_secs(15 * 60),
            first_delay: Duration::from_secs(2),
        }
    }
}

/// Whose logins are counted: students' and admins' never share a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounts {
    Students,
    Admins,
}

impl Accounts {
    /// The counters of `(addr, name)` and of `addr`.
    fn keys(self, addr: IpAddr, name: &str) -> (String, String) {
        match self {
            Self::Students => keys::login_attempts(addr, name),
            Self::Admins => keys::admin_login_attempts(addr, name),
        }
    }
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// Not before this long.
    Wait(Duration),
}

/// Counts an attempt of `name` (a student number or an admin's username)
/// from `addr` before its password is checked.
pub async fn attempt(
    redis: &mut RedisConn,
    accounts: Accounts,
    addr: IpAddr,
    name: &str,
    limits: &Limits,
) -> redis::RedisResult<Attempt> {
    let (client, address) = accounts.keys(addr, name);
    let (allowed, wait_ms): (i64, i64) = ATTEMPT
        .key(client)
        .key(address)
        .arg(limits.per_client)
        .arg(limits.per_address)
        .arg(limits.window.as_millis() as u64)
        .arg(limits.first_delay.as_millis() as u64)
        .arg(limits.window.as_millis() as u64)
        .invoke_async(redis)
        .await?;
    Ok(if allowed == 1 {
        Attempt::Allowed
    } else {
        Attempt::Wait(Duration::from_millis(wait_ms.max(1000) as u64))
    })
}

/// The attempt succeeded: it does not count, and this client starts over.
pub async fn succeeded(
    redis: &mut RedisConn,
    accounts: Accounts,
    addr: IpAddr,
    name: &str,
) -> redis::RedisResult<()> {
    let (client, address) = accounts.keys(addr, name);
    redis::pipe()
        .atomic()
        .del(client)
        .ignore()
        .decr(address, 1)
        .ignore()
        .query_async(redis)
        .await
}
