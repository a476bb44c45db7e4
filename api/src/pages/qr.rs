//! QR codes as inline SVG (no image request, nothing for the CSP to allow).

use qrcodegen::{QrCode, QrCodeEcc};

/// An SVG QR code of `text`, with a four-module quiet zone; empty when the
/// text is too long for a QR code.
pub fn svg(text: &str) -> String {
    let Ok(code) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = code.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let full = size + 2 * border;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {full} {full}\" width=\"220\" height=\"220\" \
         role=\"img\" aria-label=\"QR code for your authenticator app\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_an_otpauth_uri_as_svg() {
        let svg = super::svg("otpauth://totp/Warden:ada%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<path d=\"M"));
        assert!(super::svg(&"x".repeat(5000)).is_empty());
    }
}
