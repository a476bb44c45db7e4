//! The console's own static files: its stylesheet and its two scripts
//! (passkey ceremonies, copy buttons). Compiled into the binary, served
//! with an `ETag` so a browser revalidates them with a 304, and never
//! sniffed as another type.

use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    content_type: &'static str,
    body: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(content_type: &'static str, body: &'static str) -> Self {
        let hash = blake3::hash(body.as_bytes()).to_hex();
        // Hex digits in quotes: always a header value.
        let etag = HeaderValue::from_str(&format!("\"{}\"", &hash[..32]))
            .unwrap_or_else(|_| HeaderValue::from_static("\"warden\""));
        Asset {
            content_type,
            body,
            etag,
        }
    }

    fn serve(&self, request: &HeaderMap) -> Response {
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static(self.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::ETAG, self.etag.clone()),
        ];
        if request.get(header::IF_NONE_MATCH) == Some(&self.etag) {
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        (headers, self.body).into_response()
    }
}

static STYLESHEET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("text/css; charset=utf-8", include_str!("../../assets/warden.css")));
static PASSKEYS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/passkeys.js"),
    )
});
static COPY: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("text/javascript; charset=utf-8", include_str!("../../assets/copy.js")));

static TIME_ZONE: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/time-zone.js"),
    )
});

/// `GET /assets/warden.css`: the console's stylesheet.
pub async fn stylesheet(headers: HeaderMap) -> Response {
    STYLESHEET.serve(&headers)
}

/// `GET /assets/passkeys.js`: the passkey ceremonies (WebAuthn needs a script).
pub async fn passkeys_script(headers: HeaderMap) -> Response {
    PASSKEYS.serve(&headers)
}

/// `GET /assets/copy.js`: the copy buttons of the pages that show a secret once.
pub async fn copy_script(headers: HeaderMap) -> Response {
    COPY.serve(&headers)
}

/// `GET /assets/time-zone.js`: the time zone settings suggest the browser's
/// zone until the user chooses one.
pub async fn time_zone_script(headers: HeaderMap) -> Response {
    TIME_ZONE.serve(&headers)
}
