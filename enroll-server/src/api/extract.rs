//! Request extractors that turn every malformed input into a coded error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` whose rejections are [`ApiError`]s: 400 `malformed_json` for
/// syntax errors, 422 `invalid_body` for wrong types, unknown fields or
/// missing fields, 415 for a wrong content type.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// [`ApiJson`] that takes only a JSON object: serde also reads a struct from
/// an array (its fields in order, `[null, null]` as two absent options),
/// which no client means. Anything but an object is 422 `invalid_body`.
pub struct ApiObject<T>(pub T);

impl<S, T> FromRequest<S> for ApiObject<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<serde_json::Value>::from_request(req, state).await?;
        if !value.is_object() {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "expected a JSON object",
            ));
        }
        serde_json::from_value(value)
            .map(Self)
            .map_err(|e| ApiError::unprocessable("invalid_body", e.to_string()))
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
            "malformed_json",
            format!("malformed JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => ApiError::unprocessable("invalid_body", e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(e) => ApiError::bad_request("unreadable_body", e.body_text()),
        other => ApiError::bad_request("bad_request", other.body_text()),
    }
}

/// `Query<T>` answering 422 `invalid_query` on bad parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| ApiError::unprocessable("invalid_query", e.body_text()))
    }
}

/// `Path<T>` answering 404 `not_found` when the id does not parse (an id that
/// is not a number names no resource).
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e: PathRejection| ApiError::not_found("not_found", e.body_text()))
    }
}
