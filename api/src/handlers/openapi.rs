//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route
//! (`api/openapi.json`, checked against `routes::table` by a test).

use axum::http::header;
use axum::response::IntoResponse;

pub const DOCUMENT: &str = include_str!("../../openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DOCUMENT;
    use crate::routes::{Surface, table};

    /// (method, path) of every route of `surface` in `routes::table`.
    fn routed(surface: Surface) -> BTreeSet<(String, String)> {
        table()
            .into_iter()
            .filter(|route| route.surface == surface)
            .flat_map(|route| {
                route
                    .methods
                    .iter()
                    .map(|method| (method.as_str().to_ascii_lowercase(), route.path.to_string()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn documented() -> BTreeSet<(String, String)> {
        let document: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.clone(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routed = routed(Surface::Api);
        assert!(routed.len() >= 6, "{routed:?}");
        assert_eq!(routed, documented());
        let documented_paths: BTreeSet<String> = documented().into_iter().map(|(_, path)| path).collect();
        for (_, page) in self::routed(Surface::Page) {
            assert!(!documented_paths.contains(&page), "{page} is a page, not in the API");
        }
    }
}
