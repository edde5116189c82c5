//! The students' page, served by the server itself at `/`.
//!
//! Plain ES modules and one stylesheet, embedded in the binary
//! ([`assets`]): nothing to build, nothing to deploy beside the server,
//! and the page and the API it speaks always come from the same release.
//!
//! - `GET /` answers the page (`Cache-Control: no-cache`, revalidated by
//!   its `ETag`), which names every asset under `/assets/<version>/`: the
//!   version is a digest of all assets, so a new release changes every
//!   asset URL and the assets themselves may be cached for a year.
//! - Every answer carries a strict Content-Security-Policy: scripts,
//!   styles and connections from this origin only, no inline script or
//!   style, no framing.
//! - Text answers are gzip-compressed when the browser accepts it.

pub mod assets;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use assets::Assets;

/// What the page may load and from where: this origin only, no inline
/// script or style (the page sets no `style=` attributes; positions in the
/// timetable are set through the CSS object model, which CSP allows).
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; font-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A year: asset URLs change with their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `/`, `/assets/<version>/<file>` and `/favicon.ico`, with the security
/// headers and compression.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    // The digest is taken now, not on the first student's request.
    Assets::get();
    Router::new()
        .route("/", get(page))
        .route("/index.html", get(page))
        .route("/assets/{version}/{*file}", get(asset))
        .route(
            "/favicon.ico",
            get(|| async {
                let icon = Assets::get()
                    .file("icon.svg")
                    .expect("icon.svg is embedded");
                (
                    [
                        (CONTENT_TYPE, icon.content_type),
                        (CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    icon.body,
                )
            }),
        )
        .layer(CompressionLayer::new().gzip(true))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY_VALUE),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
}

/// The page: revalidated on every load, `304` while the release is the same.
async fn page(headers: HeaderMap) -> Response {
    let assets = Assets::get();
    let etag = format!("\"{}\"", assets.version());
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [(CACHE_CONTROL, "no-cache".to_string()), (ETAG, etag)];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        assets.page(),
    )
        .into_response()
}

/// One asset of this release; another release's version is a 404 (a page
/// of the old release reloads and gets the new one).
async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let assets = Assets::get();
    match assets.file(&file) {
        Some(a) if version == assets.version() => (
            [(CONTENT_TYPE, a.content_type), (CACHE_CONTROL, IMMUTABLE)],
            a.body,
        )
            .into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            [(CACHE_CONTROL, "no-store")],
            "no such asset",
        )
            .into_response(),
    }
}
