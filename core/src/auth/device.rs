//! What a session's user agent says about the device: browser, operating
//! system and form factor, and the device fingerprint that "new device"
//! events are based on.
//!
//! The fingerprint is documented in `docs/sessions.md`: the first 16 hex
//! digits of BLAKE3 over `warden/device/v1`, browser family, OS family and
//! form factor. Versions are left out on purpose, so a browser update is
//! not a new device; the IP address is left out, so a new network is not.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// `Chrome 131`, `Firefox 133`, `Safari 18`, `Edge 131`, or `Other`.
    pub browser: String,
    /// `Windows`, `macOS`, `iOS`, `Android`, `Linux`, `ChromeOS`, or `Other`.
    pub os: String,
    /// `desktop`, `mobile`, `tablet` or `bot`.
    pub form: String,
}

impl Device {
    pub fn from_user_agent(user_agent: &str) -> Self {
        let ua = user_agent;
        let browser = browser(ua);
        let os = if ua.contains("CrOS") {
            "ChromeOS"
        } else if ua.contains("Android") {
            "Android"
        } else if ua.contains("iPhone") || ua.contains("iPad") || ua.contains("iPod") {
            "iOS"
        } else if ua.contains("Windows") {
            "Windows"
        } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
            "macOS"
        } else if ua.contains("Linux") || ua.contains("X11") {
            "Linux"
        } else {
            "Other"
        };
        let lowered = ua.to_ascii_lowercase();
        let form = if lowered.contains("bot") || lowered.contains("crawler") || lowered.contains("spider") {
            "bot"
        } else if ua.contains("iPad") || ua.contains("Tablet") || (ua.contains("Android") && !ua.contains("Mobile")) {
            "tablet"
        } else if ua.contains("Mobile") || ua.contains("iPhone") {
            "mobile"
        } else {
            "desktop"
        };
        Device {
            browser,
            os: os.into(),
            form: form.into(),
        }
    }

    /// The browser's family without its version: `Chrome 131` → `Chrome`.
    pub fn browser_family(&self) -> &str {
        self.browser.split(' ').next().unwrap_or("Other")
    }

    pub fn fingerprint(&self) -> String {
        let input = format!(
            "warden/device/v1\n{}\n{}\n{}",
            self.browser_family(),
            self.os,
            self.form
        );
        blake3::hash(input.as_bytes()).to_hex()[..16].to_string()
    }
}

fn browser(ua: &str) -> String {
    // Order matters: Edge and Opera say Chrome, Chrome says Safari.
    let families = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("FxiOS/", "Firefox"),
        ("CriOS/", "Chrome"),
        ("HeadlessChrome/", "Chrome"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ];
    for (marker, family) in families {
        if let Some(at) = ua.find(marker) {
            if family == "Safari" && !ua.contains("Safari/") {
                continue;
            }
            let major: String = ua[at + marker.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(4)
                .collect();
            return if major.is_empty() {
                family.to_string()
            } else {
                format!("{family} {major}")
            };
        }
    }
    "Other".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_user_agents() {
        let cases = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                ("Chrome 131", "Windows", "desktop"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
                ("Edge 131", "Windows", "desktop"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
                ("Safari 18", "macOS", "desktop"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
                ("Safari 18", "iOS", "mobile"),
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                ("Firefox 133", "Linux", "desktop"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                ("Chrome 131", "Android", "mobile"),
            ),
            ("curl/8.5.0", ("Other", "Other", "desktop")),
            (
                "Googlebot/2.1 (+http://www.google.com/bot.html)",
                ("Other", "Other", "bot"),
            ),
        ];
        for (ua, (browser, os, form)) in cases {
            let device = Device::from_user_agent(ua);
            assert_eq!(
                (device.browser.as_str(), device.os.as_str(), device.form.as_str()),
                (browser, os, form),
                "{ua}"
            );
        }
    }

    #[test]
    fn fingerprints_ignore_versions() {
        let old = Device::from_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0");
        let new = Device::from_user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0");
        let other = Device::from_user_agent("Mozilla/5.0 (Windows NT 10.0; rv:133.0) Gecko/20100101 Firefox/133.0");
        assert_eq!(old.fingerprint(), new.fingerprint());
        assert_ne!(old.fingerprint(), other.fingerprint());
        assert_eq!(old.fingerprint().len(), 16);
    }
}
