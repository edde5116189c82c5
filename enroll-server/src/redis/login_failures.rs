//! Failed logins counted per student number.

use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use super::keys;

/// Failed logins for `student_no` within the current window.
pub async fn count(redis: &mut ConnectionManager, student_no: &str) -> redis::RedisResult<u32> {
    let n: Option<u32> = redis.get(keys::login_failures(student_no)).await?;
    Ok(n.unwrap_or(0))
}

/// Counts one more failure; the count is forgotten `window_secs` after the
/// latest one.
pub async fn record(
    redis: &mut ConnectionManager,
    student_no: &str,
    window_secs: i64,
) -> redis::RedisResult<()> {
    let key = keys::login_failures(student_no);
    redis::pipe()
        .incr(&key, 1)
        .ignore()
        .expire(&key, window_secs)
        .ignore()
        .query_async(redis)
        .await
}

/// Forgets the failures (a successful login).
pub async fn clear(redis: &mut ConnectionManager, student_no: &str) -> redis::RedisResult<()> {
    redis.del(keys::login_failures(student_no)).await
}
