//! JSON request bodies, read strictly: axum's `Json`, but an object that
//! names a member twice is refused with a 400 (`warden_core::strict_json`),
//! because `serde_json` would silently keep the last value where another
//! reader of the same bytes keeps the first. Every request body of the
//! API is an object: anything else is a 422, because serde would read an
//! array into a struct field by field (`["a@b.c"]` as `{"email": …}`).
//! Answers are written as axum's `Json` writes them.

use axum::body::Bytes;
use axum::extract::{FromRequest, OptionalFromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub struct Json<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    // `application/json` or `application/<anything>+json`, parameters aside.
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|subtype| subtype == "json" || (subtype.ends_with("+json") && subtype.len() > 5))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    warden_core::strict_json::check(bytes).map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ApiError::code_for(StatusCode::BAD_REQUEST),
            format!("Failed to parse the request body as JSON: {error}"),
        )
    })?;
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    if first.is_some_and(|byte| *byte != b'{') {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::code_for(StatusCode::UNPROCESSABLE_ENTITY),
            "the request body must be a JSON object",
        ));
    }
    axum::Json::<T>::from_bytes(bytes)
        .map(|axum::Json(value)| value)
        .map_err(|rejection| {
            ApiError::new(
                rejection.status(),
                ApiError::code_for(rejection.status()),
                rejection.body_text(),
            )
        })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Err(ApiError::new(
                status,
                ApiError::code_for(status),
                "Expected request with `Content-Type: application/json`",
            )
            .into_response());
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        decode(&bytes).map(Json).map_err(IntoResponse::into_response)
    }
}

impl<T: DeserializeOwned, S: Send + Sync> OptionalFromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        if request.headers().get(header::CONTENT_TYPE).is_none() {
            return Ok(None);
        }
        <Json<T> as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_naming_a_member_twice_is_a_400_and_a_wrong_type_a_422() {
        let error = decode::<serde_json::Value>(br#"{"kind":"a","kind":"b"}"#)
            .err()
            .unwrap();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(
            error.message.contains("duplicate member name \"kind\""),
            "{}",
            error.message
        );
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            n: u32,
        }
        assert_eq!(
            decode::<Body>(br#"{"n":"x"}"#).err().unwrap().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            decode::<Body>(br#"{"n":1"#).err().unwrap().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(decode::<Body>(br#"{"n":1}"#).unwrap().n, 1);
        // Serde would read an array into the struct, field by field.
        for body in [&br#"[1]"#[..], br#" ["x"]"#, br#"1"#, br#""n""#, br#"null"#] {
            let error = decode::<Body>(body).err().unwrap();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
            assert_eq!(error.message, "the request body must be a JSON object");
        }
        let error = decode::<serde_json::Value>(br#"["a"]"#).err().unwrap();
        assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
