//! Course leases: one admission worker decides a course at a time, across
//! instances.

use std::sync::LazyLock;

use crate::redis::conn::RedisConn;
use redis::Script;

use super::keys::CourseKeys;

static ACQUIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/acquire_lease.lua")));

static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/release_lease.lua")));

/// Outcome of trying to take or renew a course's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Held,
    /// Taken over from a worker that died mid-batch (its claim was left).
    TakenOver,
    Busy,
}

/// Takes (or renews) the lease on a course for `ttl_ms`.
pub async fn acquire_lease(
    redis: &mut RedisConn,
    course_id: i64,
    worker: &str,
    ttl_ms: u64,
) -> redis::RedisResult<Lease> {
    let k = CourseKeys::new(course_id);
    let r: i64 = ACQUIRE
        .key(&k.lease)
        .key(&k.claim)
        .arg(worker)
        .arg(ttl_ms)
        .invoke_async(redis)
        .await?;
    Ok(match r {
        1 => Lease::Held,
        2 => Lease::TakenOver,
        _ => Lease::Busy,
    })
}

/// Gives the lease back if we still hold it.
pub async fn release_lease(
    redis: &mut RedisConn,
    course_id: i64,
    worker: &str,
) -> redis::RedisResult<()> {
    let k = CourseKeys::new(course_id);
    let _: i64 = RELEASE
        .key(&k.lease)
        .key(&k.claim)
        .arg(worker)
        .invoke_async(redis)
        .await?;
    Ok(())
}
