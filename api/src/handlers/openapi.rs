//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of every route
//! (`api/openapi.json`, checked against `routes.rs` by a test).

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

    /// (method, path) of every `.route(...)` in routes.rs.
    fn routed() -> BTreeSet<(String, String)> {
        // One line per route whatever rustfmt did: whitespace collapsed.
        let source = include_str!("../routes.rs")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace(".route( \"", ".route(\"");
        let methods = ["get", "post", "put", "patch", "delete"];
        source
            .split(".route(\"")
            .skip(1)
            .flat_map(|rest| {
                let path = rest.split('"').next().unwrap().to_string();
                let handlers = rest.split_once("\", ").unwrap().1;
                let handlers = handlers.split(".fallback(").next().unwrap().to_string();
                // `get(a).post(b)`: every method of the route.
                methods
                    .iter()
                    .filter(move |method| {
                        handlers.starts_with(&format!("{method}(")) || handlers.contains(&format!(".{method}("))
                    })
                    .map(move |method| (method.to_string(), path.clone()))
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
        let (pages, routed): (BTreeSet<_>, BTreeSet<_>) = routed()
            .into_iter()
            .partition(|(_, path)| crate::pages::PATHS.contains(&path.as_str()));
        assert!(routed.len() >= 6, "{routed:?}");
        assert_eq!(routed, documented());
        let listed: BTreeSet<&str> = pages.iter().map(|(_, path)| path.as_str()).collect();
        assert_eq!(
            listed,
            crate::pages::PATHS.iter().copied().collect(),
            "pages::PATHS is out of date"
        );
    }
}
