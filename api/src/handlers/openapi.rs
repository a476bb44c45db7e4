//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route
//! (`api/openapi.json`, held to `routes::table` by a test there).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
