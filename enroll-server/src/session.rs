//! Login sessions: what a session knows, and the cookie that carries it.
//!
//! The cookie carries a random 256-bit token; Redis stores the session only
//! under the token's SHA-256 ([`digest`]), so a copy of Redis's memory holds
//! no usable session. Storing and revoking them is
//! [`crate::redis::session_store`].

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cache::FollowedCache;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "enroll_session";

/// What a session knows about its student.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub student_id: i64,
    pub student_no: String,
}

/// SHA-256 of a session token: the key it is stored and revoked under.
pub type Digest = [u8; 32];

/// Found sessions by token digest, on this instance.
pub type SessionCache = FollowedCache<Digest, Session>;

/// The digest of a session token.
pub fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
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
}
