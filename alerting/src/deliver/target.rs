//! Which URLs may receive webhooks.

use std::net::IpAddr;

use super::egress;

/// http or https, a host, no credentials in the URL (the signature is the
/// credential), no fragment, and no special-purpose address or
/// special-use name unless `private_allowed`. Checked when an endpoint is
/// created and again before each send; names are resolved and their
/// addresses checked when sending ([`egress::CheckedResolver`]).
pub fn check_webhook_url(url: &str, private_allowed: bool) -> Result<(), String> {
    if url.len() > 2000 {
        return Err("at most 2000 characters".into());
    }
    let parsed = reqwest::Url::parse(url).map_err(|error| error.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be http:// or https://".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a user or password".into());
    }
    if parsed.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    let host = parsed.host_str().ok_or("needs a host")?.to_ascii_lowercase();
    let private = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => egress::refused(ip),
        Err(_) => egress::refused_name(&host),
    };
    if private && !private_allowed {
        return Err(
            "is a loopback, private, link-local or other special-purpose address or name (alert_webhook_private_addresses allows them)"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_http_urls_pass() {
        for url in [
            "https://hooks.example.org/warden?team=soc",
            "http://8.8.8.8:8080/in",
            "http://[2606:4700::1111]/in",
        ] {
            assert_eq!(check_webhook_url(url, false), Ok(()), "{url}");
        }
    }

    #[test]
    fn private_targets_need_the_setting() {
        for url in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://[::127.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:a00:1::]/",
            "http://100.100.100.200/",
            "http://198.18.0.1/",
            "http://192.0.0.170/",
            "http://240.0.0.1/",
            "http://224.0.0.251/",
            "http://localhost./",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://127.1/",
        ] {
            assert!(check_webhook_url(url, false).is_err(), "{url}");
            assert_eq!(check_webhook_url(url, true), Ok(()), "{url}");
        }
    }

    #[test]
    fn other_schemes_credentials_and_fragments_are_refused() {
        for url in [
            "ftp://example.org/",
            "https://u:p@example.org/",
            "https://example.org/#x",
            "not a url",
        ] {
            assert!(check_webhook_url(url, true).is_err(), "{url}");
        }
    }
}
