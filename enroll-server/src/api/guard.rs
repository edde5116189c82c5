//! What a student route passes before its handler: the request timeout,
//! the per-address ceiling and the cross-site check.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::caller::ClientAddr;
use super::error::ApiError;
use crate::state::AppState;

/// Answers 503 `timeout` when the handler takes longer than `limit` (the
/// handler is dropped: its client has long stopped waiting, and its
/// database and Redis calls are cancelled with it).
pub async fn time_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::unavailable("timeout", "the request took too long; retry").into_response()
        }
    }
}

/// Answers 429 `rate_limited` when the client's address is past its
/// ceiling (see [`crate::fair_use`]).
pub async fn per_address(
    State(state): State<AppState>,
    client: ClientAddr,
    req: Request,
    next: Next,
) -> Response {
    match state.fair_use.address(client.0) {
        Ok(()) => next.run(req).await,
        Err(refused) => ApiError::from(refused).into_response(),
    }
}

/// Answers 403 `cross_site_request` to a request that would change
/// something (not GET, HEAD, OPTIONS) and that a browser sent from another
/// site: the session cookie rides along on such requests, so another site
/// could otherwise enroll, cancel or log a student out (or in, as someone
/// else) behind their back.
pub async fn same_origin(req: Request, next: Next) -> Response {
    if !req.method().is_safe() && cross_site(req.headers()) {
        return ApiError::forbidden(
            "cross_site_request",
            "requests from another site may not change anything here",
        )
        .into_response();
    }
    next.run(req).await
}

/// Whether a browser says the request comes from another origin:
/// `Sec-Fetch-Site` when it sends one (only `same-origin` and `none` — typed
/// or bookmarked — pass; a sibling subdomain is another site's page), else
/// an `Origin` whose host is not this one. A request with neither is not a
/// browser's cross-site request (command-line clients, old browsers' GETs).
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    match (authority, host) {
        (Some(a), Some(h)) => !a.eq_ignore_ascii_case(h),
        // `Origin: null` (sandboxed frames, file pages) or no Host.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn fetch_metadata_decides_when_sent() {
        assert!(!cross_site(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!cross_site(&headers(&[("sec-fetch-site", "none")])));
        assert!(cross_site(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(cross_site(&headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://enroll.uni.test"),
            ("host", "enroll.uni.test"),
        ])));
    }

    #[test]
    fn otherwise_the_origin_must_be_this_host() {
        let same = [
            ("origin", "https://enroll.uni.test"),
            ("host", "enroll.uni.test"),
        ];
        assert!(!cross_site(&headers(&same)));
        let port = [
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ];
        assert!(!cross_site(&headers(&port)));
        let other = [("origin", "https://evil.test"), ("host", "enroll.uni.test")];
        assert!(cross_site(&headers(&other)));
        assert!(cross_site(&headers(&[("origin", "null"), ("host", "a")])));
        // No browser metadata at all: curl, scripts, the load tool.
        assert!(!cross_site(&headers(&[("host", "enroll.uni.test")])));
    }
}
