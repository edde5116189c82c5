//! `GET /api-docs/openapi.json`: the API contract, generated from the handlers.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
        super::window::show, super::window::set,
        super::admin::create_courses, super::admin::update_course,
        super::admin::import_students, super::admin::roster,
        super::admission::show, super::admission::set,
        super::mail::parked, super::mail::requeue,
        super::health::healthz, super::health::readyz, super::health::metrics,
    ),
    modifiers(&AdminToken)
)]
pub struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api-docs/openapi.json",
        get(|| async { Json(ApiDoc::openapi()) }),
    )
}
