//! Login sessions: what a session knows, and the cookie that carries it.
//!
//! The cookie carries a random 256-bit token signed by the deployment
//! ([`TokenSigner`]); Redis and the database store the session only under
//! the token's SHA-256 ([`digest`]), so a copy of either holds no usable
//! session. Storing and revoking them is [`crate::redis::session_store`].

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::cache::FollowedCache;
use crate::domain::phase::Cohort;

/// What a session knows about its student.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub student_id: i64,
    pub student_no: String,
    /// Year and department at login (a change by the registrar ends the
    /// student's sessions); absent in sessions older than phases, which
    /// read it from the database.
    #[serde(default)]
    pub cohort: Option<Cohort>,
}

/// SHA-256 of a session token: the key it is stored and revoked under.
pub type Digest = [u8; 32];

/// Issues session tokens and recognises the ones this deployment issued:
/// 32 random bytes followed by 16 bytes of their HMAC-SHA256 under the
/// deployment's key (in the database), base64url. A session Redis does not
/// know (its data lost, or a failover to a replica that was behind) is
/// then looked up in the database for a genuine token only; a made-up
/// cookie never reaches the database.
#[derive(Clone)]
pub struct TokenSigner {
    key: std::sync::Arc<[u8]>,
}

const TOKEN_RANDOM: usize = 32;
const TOKEN_TAG: usize = 16;

impl TokenSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }

    /// A new token.
    pub fn issue(&self) -> String {
        let mut raw = [0u8; TOKEN_RANDOM + TOKEN_TAG];
        rand::thread_rng().fill_bytes(&mut raw[..TOKEN_RANDOM]);
        let mut mac = self.mac();
        mac.update(&raw[..TOKEN_RANDOM]);
        let tag = mac.finalize().into_bytes();
        raw[TOKEN_RANDOM..].copy_from_slice(&tag[..TOKEN_TAG]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether this deployment issued `token` (constant-time comparison).
    pub fn is_genuine(&self, token: &str) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if raw.len() != TOKEN_RANDOM + TOKEN_TAG {
            return false;
        }
        let mut mac = self.mac();
        mac.update(&raw[..TOKEN_RANDOM]);
        mac.verify_truncated_left(&raw[TOKEN_RANDOM..]).is_ok()
    }
}

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
    fn only_tokens_signed_with_the_key_are_genuine() {
        let signer = TokenSigner::new(b"key one");
        let token = signer.issue();
        assert_eq!(token.len(), 64);
        assert!(signer.is_genuine(&token));
        assert_ne!(signer.issue(), token, "random");
        assert!(!TokenSigner::new(b"key two").is_genuine(&token));
        let mut forged = token.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        assert!(!signer.is_genuine(std::str::from_utf8(&forged).unwrap()));
        // Tokens issued before signing (32 random bytes) are not genuine.
        assert!(!signer.is_genuine(&URL_SAFE_NO_PAD.encode([7u8; 32])));
        assert!(!signer.is_genuine("not base64 !"));
    }

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
