//! Which URLs may receive webhooks.

use std::net::IpAddr;

/// http or https, a host, no credentials in the URL (the signature is the
/// credential), no fragment, and no loopback, private or link-local
/// address unless `private_allowed`. Names are not resolved here: a name
/// that resolves to a private address is not caught (decision 0015).
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
        Ok(ip) => is_private(ip),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    };
    if private && !private_allowed {
        return Err(
            "is a loopback, private or link-local address (alert_webhook_private_addresses allows them)".into(),
        );
    }
    Ok(())
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_http_urls_pass() {
        for url in [
            "https://hooks.example.org/warden?team=soc",
            "http://203.0.113.7:8080/in",
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
