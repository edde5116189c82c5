//! `GET /api-docs/openapi.json`: the API contract, generated from the
//! handlers, with the answers every route shares added in one place.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{HttpMethod, Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::session::SessionCookie;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "enroll-server", description = "Course registration API"),
    paths(
        super::auth::login, super::auth::logout, super::auth::logout_all, super::me::me,
        super::courses::list, super::courses::show,
        super::enrollments::enroll, super::tickets::read_one, super::tickets::read_many,
        super::tickets::events,
        super::enrollments::list, super::enrollments::cancel,
        super::window::show, super::window::set, super::window::set_phases, super::window::list_phases,
        super::admin::create_courses, super::admin::update_course,
        super::admin::import_students, super::admin::update_student, super::admin::roster,
        super::admission::show, super::admission::set,
        super::mail::parked, super::mail::requeue,
        super::audit::force_add, super::audit::force_drop, super::audit::trail, super::audit::history,
        super::cart::show, super::cart::add, super::cart::remove,
        super::cart::set_period, super::cart::get_period, super::cart::demand,
        super::waitlist::join, super::waitlist::list, super::waitlist::leave,
        super::waitlist::accept, super::waitlist::decline,
        super::admin_accounts::login, super::admin_accounts::logout,
        super::admin_accounts::create, super::admin_accounts::list,
        super::admin_accounts::remove,
        super::health::healthz, super::health::readyz, super::health::metrics,
    ),
    modifiers(&Authentication, &SharedAnswers)
)]
pub struct ApiDoc;

/// The ways in: a bearer token for admins (the bootstrap token or an admin
/// session's), and the student's session cookie.
struct Authentication;

/// The role an admin route asks for, named in its security requirement
/// (`"admin_token" = ["registrar"]`); routes naming none take any admin.
const REGISTRAR: &str = "registrar";

impl Modify for Authentication {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The bootstrap token (`ENROLL_ADMIN_TOKEN`, role registrar), or the \
                         token of an admin account's session from `POST \
                         /api/v1/admin/auth/login` (its role: `registrar` or `viewer`). \
                         Routes whose requirement names `registrar` answer a viewer 403 \
                         `insufficient_role`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme("student_session", session_scheme(true));
    }
}

fn session_scheme(secure: bool) -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
        SessionCookie::new(secure).name(),
        "The HttpOnly cookie `POST /api/v1/auth/login` sets.",
    )))
}

/// Answers any route may give besides its own, so that the document lists
/// every status a client can meet (the codes are in the README):
/// - a JSON body: 400 `malformed_json`, 415 `unsupported_media_type`, 422
///   `invalid_body`; query parameters: 422 `invalid_query`; a path id that
///   does not parse: 404 `not_found`;
/// - a student's session: 401 `unauthenticated`; the admin token: 401
///   `admin_token_required`, 403 `forbidden` (and `insufficient_role` where
///   the registrar's role is needed);
/// - the students' routes: 429 `rate_limited` (the per-address ceiling),
///   403 `cross_site_request` for changes sent from another site;
/// - every route: 503 (`timeout`, `database_unavailable`,
///   `redis_unavailable`, `shutting_down`).
struct SharedAnswers;

impl Modify for SharedAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let methods = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ];
            for (method, op) in methods {
                if let Some(op) = op {
                    shared_answers(path, &method, op);
                }
            }
        }
    }
}

fn shared_answers(path: &str, method: &HttpMethod, op: &mut Operation) {
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(description));
    };
    // Each requirement as JSON: {"<scheme>": [<scopes>]}.
    let requirements: Vec<serde_json::Map<String, serde_json::Value>> = op
        .security
        .iter()
        .flatten()
        .filter_map(|s| serde_json::to_value(s).ok())
        .filter_map(|v| v.as_object().cloned())
        .collect();
    let schemes: Vec<&String> = requirements.iter().flat_map(|r| r.keys()).collect();
    let registrar = requirements
        .iter()
        .filter_map(|r| r.get("admin_token"))
        .filter_map(|scopes| scopes.as_array())
        .flatten()
        .any(|scope| scope == REGISTRAR);
    let params = op.parameters.as_deref().unwrap_or_default();
    if op.request_body.is_some() {
        add("400", "malformed_json, unreadable_body");
        add("415", "unsupported_media_type");
        add("422", "invalid_body");
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
        add("422", "invalid_query");
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        add("404", "not_found: no such resource");
    }
    if schemes.iter().any(|s| *s == "student_session") {
        add("401", "unauthenticated");
    }
    if schemes.iter().any(|s| *s == "admin_token") {
        add("401", "admin_token_required");
        if registrar {
            add(
                "403",
                "forbidden: the token is not valid; insufficient_role: a viewer's session",
            );
        } else {
            add("403", "forbidden: the token is not valid");
        }
    }
    let students = path.starts_with("/api/v1/") && !path.starts_with("/api/v1/admin/");
    if students {
        add("429", "rate_limited (with Retry-After)");
        if !matches!(method, HttpMethod::Get | HttpMethod::Head) {
            add("403", "cross_site_request");
        }
    }
    add(
        "503",
        "timeout, database_unavailable, redis_unavailable, shutting_down",
    );
}

fn error_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
        .into()
}

/// The document, naming the session cookie this instance sets (without the
/// `__Host-` prefix where cookies are not `Secure`, for local http).
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api-docs/openapi.json",
        get(|State(state): State<AppState>| async move {
            let mut doc = ApiDoc::openapi();
            if let Some(c) = doc.components.as_mut() {
                c.add_security_scheme(
                    "student_session",
                    session_scheme(state.settings.cookie_secure),
                );
            }
            Json(doc)
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every admin route that changes something names the registrar's role
    /// and documents `insufficient_role`; the reads, logging in and out do
    /// not.
    #[test]
    fn changing_admin_routes_ask_for_the_registrar() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut changing = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            if !path.starts_with("/api/v1/admin/") {
                continue;
            }
            for (method, op) in item.as_object().unwrap() {
                let scopes = &op["security"][0]["admin_token"];
                let forbidden = op["responses"]["403"]["description"].as_str();
                let needs_registrar = method != "get" && !path.starts_with("/api/v1/admin/auth/");
                if needs_registrar {
                    changing += 1;
                    assert_eq!(scopes, &serde_json::json!([REGISTRAR]), "{method} {path}");
                    assert!(
                        forbidden.is_some_and(|d| d.contains("insufficient_role")),
                        "{method} {path}"
                    );
                } else if path != "/api/v1/admin/auth/login" {
                    assert_eq!(scopes, &serde_json::json!([]), "{method} {path}");
                    assert!(
                        forbidden.is_some_and(|d| !d.contains("insufficient_role")),
                        "{method} {path}"
                    );
                }
            }
        }
        assert!(changing >= 8, "{changing}");
    }
}
