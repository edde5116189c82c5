//! `basic_auth_users` and `http_server_config.headers` as a tower layer.
//!
//! With users configured every request needs `Authorization: Basic`
//! credentials whose password matches the user's bcrypt hash; anything else
//! is answered `401` with `WWW-Authenticate: Basic`. The configured headers
//! are set on every answer, 401s included.
//!
//! bcrypt is slow on purpose, so the layer remembers a small number of
//! (user, hash, password) triples that verified, as SHA-256 digests (no
//! password is kept): a scraper sending the same credentials every 15 s
//! costs one bcrypt run, not one per scrape. The configuration is read once
//! at startup, so a remembered triple never goes stale. Only one bcrypt runs
//! at a time, on the blocking pool: a flood of wrong passwords queues
//! behind itself, and remembered credentials are answered without waiting.
//! A user name that does not exist is checked against a real user's hash
//! and refused, so its answer takes as long as a wrong password's.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Verified credentials remembered at most.
const REMEMBERED: usize = 256;

/// The policy the layer enforces, shared by every connection.
pub(crate) struct Policy {
    /// `(user, bcrypt hash)`.
    users: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    verified: Mutex<HashSet<[u8; 32]>>,
    bcrypt_gate: Semaphore,
    bcrypt_runs: AtomicU64,
    refusals: AtomicU64,
}

impl Policy {
    pub(crate) fn new(
        users: Vec<(String, String)>,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Self {
        Self {
            users,
            headers,
            verified: Mutex::new(HashSet::new()),
            bcrypt_gate: Semaphore::new(1),
            bcrypt_runs: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    pub(crate) fn requires_auth(&self) -> bool {
        !self.users.is_empty()
    }

    pub(crate) fn bcrypt_runs(&self) -> u64 {
        self.bcrypt_runs.load(Ordering::Relaxed)
    }

    pub(crate) fn refusals(&self) -> u64 {
        self.refusals.load(Ordering::Relaxed)
    }

    /// Whether `headers` carry the credentials of a configured user.
    async fn admits(&self, headers: &HeaderMap) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        // Every name is compared, in constant time, whether or not an
        // earlier one matched.
        let mut found = None;
        for (i, (name, _)) in self.users.iter().enumerate() {
            let hit: bool = name.as_bytes().ct_eq(&user).into();
            if hit && found.is_none() {
                found = Some(i);
            }
        }
        let hash = self.users[found.unwrap_or(0)].1.clone();
        let key = digest(&user, &hash, &password);
        if found.is_some() && self.remembered(&key) {
            return true;
        }
        let Ok(_turn) = self.bcrypt_gate.acquire().await else {
            return false;
        };
        self.bcrypt_runs.fetch_add(1, Ordering::Relaxed);
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = matches && found.is_some();
        if ok {
            self.remember(key);
        }
        ok
    }

    fn remembered(&self, key: &[u8; 32]) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut set = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        if set.len() >= REMEMBERED {
            // Only credentials that verified get here, so this is rare:
            // forget any one.
            let any = set.iter().next().copied();
            if let Some(k) = any {
                set.remove(&k);
            }
        }
        set.insert(key);
    }

    fn add_headers<B>(&self, resp: &mut Response<B>) {
        for (name, value) in &self.headers {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
    }

    fn unauthorized<B>(&self) -> Response<Either<B, Full<Bytes>>> {
        self.refusals.fetch_add(1, Ordering::Relaxed);
        let mut resp = Response::new(Either::Right(Full::new(Bytes::from_static(
            b"Unauthorized\n",
        ))));
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        let h = resp.headers_mut();
        h.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        resp
    }
}

/// SHA-256 over the length-prefixed user, hash and password.
fn digest(user: &[u8], hash: &str, password: &[u8]) -> [u8; 32] {
    let mut d = Sha256::new();
    for part in [user, hash.as_bytes(), password] {
        d.update((part.len() as u64).to_be_bytes());
        d.update(part);
    }
    d.finalize().into()
}

/// `(user, password)` from `Authorization: Basic base64(user:password)`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let encoded = rest.trim_ascii();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// The tower layer of a [`super::WebConfig`]: see the module docs.
#[derive(Clone)]
pub struct WebLayer {
    pub(crate) policy: Arc<Policy>,
}

impl<S> tower::Layer<S> for WebLayer {
    type Service = WebGuard<S>;

    fn layer(&self, inner: S) -> WebGuard<S> {
        WebGuard {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// A service behind [`WebLayer`]: answered only with valid credentials
/// (when users are configured), with the configured headers added.
#[derive(Clone)]
pub struct WebGuard<S> {
    inner: S,
    policy: Arc<Policy>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqB, ResB> tower::Service<Request<ReqB>> for WebGuard<S>
where
    S: tower::Service<Request<ReqB>, Response = Response<ResB>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
{
    type Response = Response<Either<ResB, Full<Bytes>>>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = self.policy.clone();
        Box::pin(async move {
            let mut resp = if policy.admits(req.headers()).await {
                inner.call(req).await?.map(Either::Left)
            } else {
                policy.unauthorized()
            };
            policy.add_headers(&mut resp);
            Ok(resp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_decoded_and_split_at_the_first_colon() {
        // "alice:pa:ss"
        let h = auth("Basic YWxpY2U6cGE6c3M=");
        assert_eq!(
            basic_credentials(&h),
            Some((b"alice".to_vec(), b"pa:ss".to_vec()))
        );
        assert!(basic_credentials(&auth("basic  YWxpY2U6cGE6c3M=")).is_some());
        assert_eq!(basic_credentials(&auth("Bearer YWxpY2U6cGE6c3M=")), None);
        assert_eq!(basic_credentials(&auth("Basic !!!")), None);
        // "alice" without a colon.
        assert_eq!(basic_credentials(&auth("Basic YWxpY2U=")), None);
        assert_eq!(basic_credentials(&HeaderMap::new()), None);
    }

    #[test]
    fn digests_separate_their_parts() {
        assert_ne!(digest(b"ab", "h", b"c"), digest(b"a", "h", b"bc"));
        assert_eq!(digest(b"a", "h", b"c"), digest(b"a", "h", b"c"));
    }

    #[tokio::test]
    async fn verified_credentials_are_remembered_and_others_rerun_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let policy = Policy::new(vec![("alice".into(), hash)], vec![]);
        let good = auth("Basic YWxpY2U6czNjcmV0"); // alice:s3cret
        let wrong = auth("Basic YWxpY2U6d3Jvbmc="); // alice:wrong
        let nobody = auth("Basic Ym9iOnMzY3JldA=="); // bob:s3cret
        assert!(policy.admits(&good).await);
        assert!(policy.admits(&good).await);
        assert_eq!(policy.bcrypt_runs(), 1, "the second request hit the cache");
        assert!(!policy.admits(&wrong).await);
        assert!(!policy.admits(&wrong).await);
        assert_eq!(
            policy.bcrypt_runs(),
            3,
            "wrong passwords are never remembered"
        );
        assert!(!policy.admits(&nobody).await);
        assert_eq!(
            policy.bcrypt_runs(),
            4,
            "an unknown user costs a bcrypt run too"
        );
        assert!(!policy.admits(&HeaderMap::new()).await);
    }

    #[tokio::test]
    async fn the_cache_stays_small() {
        let hash = bcrypt::hash("x", 4).unwrap();
        let policy = Policy::new(vec![("u".into(), hash)], vec![]);
        for i in 0..(REMEMBERED as u64 + 10) {
            policy.remember(digest(b"u", "h", &i.to_be_bytes()));
        }
        assert_eq!(policy.verified.lock().unwrap().len(), REMEMBERED);
    }
}
