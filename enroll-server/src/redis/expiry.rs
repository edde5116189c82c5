//! Decided tickets are forgotten after a while: Redis holds the line, the
//! database holds the outcome (a student's enrollments), so a ticket's
//! record is only needed while its owner is likely to look at it.

use std::sync::LazyLock;
use std::time::Duration;

use crate::redis::conn::RedisConn;
use redis::Script;

use super::keys::CourseKeys;

static EXPIRE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/expire_decided.lua")));

/// Most tickets forgotten per course per call (one script call stays short).
pub const PER_CALL: usize = 1000;

/// Forgets `course_id`'s tickets decided more than `age` ago (by Redis's
/// clock, or `now_ms` in tests); returns how many.
pub async fn expire_decided(
    redis: &mut RedisConn,
    course_id: i64,
    age: Duration,
    now_ms: Option<u64>,
) -> redis::RedisResult<usize> {
    let k = CourseKeys::new(course_id);
    EXPIRE
        .key(&k.done)
        .key(&k.tickets)
        .key(&k.student_ticket)
        .arg(age.as_millis() as u64)
        .arg(PER_CALL)
        .arg(now_ms.map(|n| n.to_string()).unwrap_or_default())
        .invoke_async(redis)
        .await
}
