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

/// The session cookie. Served over HTTPS (the default) it is
/// `__Host-enroll_session`, `Secure`: a browser keeps such a cookie only
/// from a secure origin, for this host alone, so a sibling (sub)domain cannot
/// plant or overwrite it. `enroll_session` without `Secure` is for local
/// http only. Always `HttpOnly` (scripts never see it) and `SameSite=Lax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCookie {
    secure: bool,
}

impl SessionCookie {
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-enroll_session"
        } else {
            "enroll_session"
        }
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }

    /// `Set-Cookie` value starting a session.
    pub fn set(&self, token: &str, ttl: Duration) -> String {
        format!(
            "{}={token}; {}; Max-Age={}",
            self.name(),
            self.attributes(),
            ttl.as_secs()
        )
    }

    /// `Set-Cookie` value ending a session.
    pub fn clear(&self) -> String {
        format!("{}=; {}; Max-Age=0", self.name(), self.attributes())
    }

    /// The session token from a `Cookie` header, if present (only under
    /// this cookie's own name).
    pub fn token<'a>(&self, header: &'a str) -> Option<&'a str> {
        header
            .split(';')
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == self.name())
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_cookies_are_host_only_and_local_ones_plain() {
        let secure = SessionCookie::new(true);
        let c = secure.set("abc", Duration::from_secs(60));
        assert_eq!(
            c,
            "__Host-enroll_session=abc; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60"
        );
        assert!(!c.contains("Domain"), "a __Host- cookie names no domain");
        assert!(secure.clear().contains("Secure") && secure.clear().contains("Max-Age=0"));
        let local = SessionCookie::new(false).set("abc", Duration::from_secs(60));
        assert!(local.starts_with("enroll_session=abc;") && !local.contains("Secure"));
    }

    #[test]
    fn finds_the_token_only_under_its_own_name() {
        let local = SessionCookie::new(false);
        assert_eq!(local.token("a=1; enroll_session=xyz; b=2"), Some("xyz"));
        assert_eq!(local.token("a=1"), None);
        let secure = SessionCookie::new(true);
        // A plain cookie (which a sibling domain could set) is not read.
        assert_eq!(secure.token("enroll_session=planted"), None);
        assert_eq!(secure.token("__Host-enroll_session=real"), Some("real"));
    }
}
