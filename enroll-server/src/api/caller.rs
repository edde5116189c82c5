//! Who is calling: a logged-in student (session cookie) or an admin (the
//! bootstrap token or an admin session's bearer token).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use servekit::http::PeerAddr;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

use super::error::ApiError;
pub use crate::domain::admin::{Actor, Role};
use crate::service::admins;
use crate::session::{Session, SessionCookie};
use crate::state::AppState;

/// The logged-in student; rejects with 401 `unauthenticated` otherwise.
#[derive(Debug, Clone)]
pub struct CurrentStudent {
    pub session: Session,
    /// The cookie's token (logout deletes it).
    pub token: String,
}

impl FromRequestParts<AppState> for CurrentStudent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        MaybeStudent::from_request_parts(parts, state)
            .await?
            .0
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// The logged-in student, if the request carries a live session: for
/// public routes that answer a student in their own terms.
#[derive(Debug, Clone)]
pub struct MaybeStudent(pub Option<CurrentStudent>);

impl FromRequestParts<AppState> for MaybeStudent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let cookie = SessionCookie::new(state.settings.cookie_secure);
        let Some(token) = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|header| cookie.token(header))
            .map(str::to_string)
        else {
            return Ok(Self(None));
        };
        let found = state.sessions.get(&token).await?;
        Ok(Self(found.map(|session| CurrentStudent { session, token })))
    }
}

impl ApiError {
    /// 401 for student routes without a valid session.
    pub fn unauthenticated() -> Self {
        ApiError::unauthorized("unauthenticated", "log in first")
    }
}

/// The client's address: the peer's, or — when the peer is a trusted proxy
/// (`ENROLL_TRUSTED_PROXIES`) — the last address in `X-Forwarded-For` that
/// is not one. What per-client limits count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<PeerAddr>()
            .map(|p| p.0.ip())
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no peer address")))?;
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(client_ip(
            peer,
            &state.settings.trusted_proxies,
            &forwarded,
        )))
    }
}

/// `peer`, or the address behind it when `peer` is a trusted proxy: the
/// `X-Forwarded-For` entries read from the right, past every trusted one
/// (a client can prepend anything, but not append past its proxy).
fn client_ip(peer: IpAddr, trusted: &[IpAddr], forwarded: &[&str]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops = forwarded
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

/// An authenticated admin request: who made it and what they may do.
/// Accepted with either `Authorization: Bearer` credential:
/// - the bootstrap token (`ENROLL_ADMIN_TOKEN`, compared in constant
///   time): [`Actor::Token`], [`Role::Registrar`] — for the first account
///   and for automation;
/// - the token of a live admin session (`POST /api/v1/admin/auth/login`):
///   [`Actor::Account`] with the account's role.
///
/// 401 `admin_token_required` without either, 403 `forbidden` with a wrong,
/// ended or made-up one (a token this deployment did not sign costs no
/// query; a signed one one indexed lookup). Every accepted request is
/// logged with who made it (`admin`), never with its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub actor: Actor,
    pub role: Role,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let given = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized(
                "admin_token_required",
                "send Authorization: Bearer <admin token or session token>",
            )
        })?;
        let expected = state.settings.admin_token.expose().as_bytes();
        let admin = if bool::from(given.as_bytes().ct_eq(expected)) {
            Admin {
                actor: Actor::Token,
                role: Role::Registrar,
            }
        } else if let Some((actor, role)) = admins::authenticate(state, given).await? {
            Admin { actor, role }
        } else {
            return Err(ApiError::forbidden(
                "forbidden",
                "the admin token is not valid",
            ));
        };
        tracing::info!(
            admin = %admin.actor.label(),
            role = %admin.role,
            method = %parts.method,
            path = %parts.uri.path(),
            "admin request"
        );
        Ok(admin)
    }
}

/// The bearer token of `Authorization: Bearer <token>`, trimmed.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// An [`Admin`] who may change things: the bootstrap token or a
/// registrar's session. A viewer is answered 403 `insufficient_role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registrar(pub Admin);

impl FromRequestParts<AppState> for Registrar {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let admin = Admin::from_request_parts(parts, state).await?;
        if !admin.role.may_change() {
            tracing::info!(admin = %admin.actor.label(), role = %admin.role, "refused: read-only role");
            return Err(insufficient_role());
        }
        Ok(Self(admin))
    }
}

/// 403 for a viewer on a route that changes something.
pub fn insufficient_role() -> ApiError {
    ApiError::forbidden(
        "insufficient_role",
        "this account may only read; a registrar's is needed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_bearer_token_is_read_from_authorization_only() {
        let headers = |value: &str| {
            let mut h = HeaderMap::new();
            h.insert(AUTHORIZATION, value.parse().unwrap());
            h
        };
        assert_eq!(bearer_token(&headers("Bearer abc.def ")), Some("abc.def"));
        assert_eq!(bearer_token(&headers("Basic YWRtaW4=")), None);
        assert_eq!(bearer_token(&headers("bearerabc")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        let header = ["6.6.6.6, 203.0.113.7", "10.0.0.2"];
        // Not a trusted peer: its header is ignored.
        assert_eq!(
            client_ip(ip("198.51.100.9"), &[proxy], &header),
            ip("198.51.100.9")
        );
        // From the trusted proxy: the last hop that is not a proxy, not the
        // first one (which the client wrote itself).
        let trusted = [proxy, ip("10.0.0.2")];
        assert_eq!(client_ip(proxy, &trusted, &header), ip("203.0.113.7"));
        // No usable header: the proxy itself.
        assert_eq!(client_ip(proxy, &trusted, &["garbage"]), proxy);
    }
}
