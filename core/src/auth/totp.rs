//! Time-based one-time passwords (RFC 6238), on top of `totp-rs`.
//!
//! Warden generates a 160-bit secret per enrolment, shows it once (as an
//! `otpauth://` URI, a QR code and base32 text) and keeps it only sealed in
//! events. A code is accepted for the current time step or one step either
//! side, and each step is accepted once: [`Totp::check`] returns the step
//! the code belongs to, and the caller refuses a step not after the last
//! one used.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use totp_rs::{Algorithm, Builder, Secret};
use zeroize::Zeroizing;

/// Steps accepted either side of the current one (clock drift, typing).
const SKEW: u16 = 1;

/// Digits, period and algorithm of an enrolment. The defaults are what
/// every authenticator app supports: 6 digits, 30 s, SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpParams {
    pub digits: u8,
    pub period_seconds: u64,
    pub algorithm: TotpAlgorithm,
}

impl Default for TotpParams {
    fn default() -> Self {
        TotpParams {
            digits: 6,
            period_seconds: 30,
            algorithm: TotpAlgorithm::Sha1,
        }
    }
}

impl TotpParams {
    /// Whether these parameters are within what RFC 6238 and authenticator
    /// apps support: 6 to 8 digits, a period of 15 to 120 s.
    pub fn check(&self) -> Result<(), TotpError> {
        if !(6..=8).contains(&self.digits) {
            return Err(TotpError::Params("digits must be 6, 7 or 8"));
        }
        if !(15..=120).contains(&self.period_seconds) {
            return Err(TotpError::Params("the period must be 15 to 120 seconds"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TotpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(TotpAlgorithm::Sha1),
            "SHA256" => Some(TotpAlgorithm::Sha256),
            "SHA512" => Some(TotpAlgorithm::Sha512),
            _ => None,
        }
    }

    fn library(self) -> Algorithm {
        match self {
            TotpAlgorithm::Sha1 => Algorithm::SHA1,
            TotpAlgorithm::Sha256 => Algorithm::SHA256,
            TotpAlgorithm::Sha512 => Algorithm::SHA512,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TotpError {
    #[error("TOTP settings: {0}")]
    Params(&'static str),
    #[error("the TOTP secret is not valid base32 of at least 128 bits")]
    Secret,
}

/// One authenticator: a secret and its parameters.
pub struct Totp {
    inner: totp_rs::Totp,
    params: TotpParams,
}

/// The secret stays out of debug output.
impl std::fmt::Debug for Totp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Totp")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Totp {
    /// A new enrolment's secret (160 random bits, as RFC 4226 recommends),
    /// base32 without padding.
    pub fn generate_secret() -> Zeroizing<String> {
        let bytes = crate::keys::random_bytes::<20>();
        Zeroizing::new(Secret::from(bytes.as_ref()).to_base32())
    }

    pub fn new(base32_secret: &str, params: TotpParams) -> Result<Self, TotpError> {
        params.check()?;
        let secret = Secret::try_from_base32(base32_secret).map_err(|_| TotpError::Secret)?;
        let inner = Builder::new()
            .with_algorithm(params.algorithm.library())
            .with_digits(params.digits)
            .with_skew(SKEW)
            .with_step_duration(params.period_seconds)
            .with_secret(secret)
            .build()
            .map_err(|_| TotpError::Secret)?;
        Ok(Totp { inner, params })
    }

    /// The code for the Unix time `at` (seconds).
    pub fn code_at(&self, at: u64) -> String {
        self.inner.generate(at).to_string()
    }

    /// The time step a code belongs to if it is valid at `at` (the current
    /// step or one either side). Spaces in the code are ignored; anything
    /// but digits of the right length is simply not valid.
    pub fn check(&self, code: &str, at: u64) -> Option<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(self.params.digits) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.inner.check(&code, at)
    }

    /// The `otpauth://` URI authenticator apps read from the QR code
    /// (Google Authenticator's key URI format).
    pub fn uri(base32_secret: &str, params: TotpParams, issuer: &str, account: &str) -> String {
        let label = format!("{}:{}", encode(issuer), encode(account));
        format!(
            "otpauth://totp/{label}?secret={base32_secret}&issuer={}&algorithm={}&digits={}&period={}",
            encode(issuer),
            params.algorithm.as_str(),
            params.digits,
            params.period_seconds
        )
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B seeds, base32.
    const SHA1_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // "12345678901234567890"
    const SHA256_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"; // 32 bytes
    const SHA512_SEED: &str =
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA"; // 64 bytes

    fn totp(seed: &str, algorithm: TotpAlgorithm) -> Totp {
        Totp::new(
            seed,
            TotpParams {
                digits: 8,
                period_seconds: 30,
                algorithm,
            },
        )
        .unwrap()
    }

    #[test]
    fn rfc_6238_appendix_b_vectors() {
        // (time, SHA1, SHA256, SHA512), 8 digits.
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let sha1 = totp(SHA1_SEED, TotpAlgorithm::Sha1);
        let sha256 = totp(SHA256_SEED, TotpAlgorithm::Sha256);
        let sha512 = totp(SHA512_SEED, TotpAlgorithm::Sha512);
        for (at, one, two_five_six, five_twelve) in vectors {
            assert_eq!(sha1.code_at(at), one, "SHA1 at {at}");
            assert_eq!(sha256.code_at(at), two_five_six, "SHA256 at {at}");
            assert_eq!(sha512.code_at(at), five_twelve, "SHA512 at {at}");
        }
    }

    #[test]
    fn a_code_is_valid_one_step_either_side_and_names_its_step() {
        let totp = Totp::new(SHA1_SEED, TotpParams::default()).unwrap();
        let at = 1_111_111_111;
        let code = totp.code_at(at);
        assert_eq!(code, "050471");
        assert_eq!(totp.check(&code, at), Some(at / 30));
        assert_eq!(totp.check(&code, at + 30), Some(at / 30));
        assert_eq!(totp.check(&code, at - 30), Some(at / 30));
        assert_eq!(totp.check(&code, at + 60), None);
        assert_eq!(totp.check(&code, at - 60), None);
        assert_eq!(totp.check("050 471", at), Some(at / 30));
    }

    #[test]
    fn malformed_codes_are_not_valid() {
        let totp = Totp::new(SHA1_SEED, TotpParams::default()).unwrap();
        for code in ["", "05047", "0504711", "05047a", "+50471", "٠٥٠٤٧١"] {
            assert_eq!(totp.check(code, 1_111_111_111), None, "{code:?}");
        }
    }

    #[test]
    fn generated_secrets_are_160_bits_and_distinct() {
        let one = Totp::generate_secret();
        let two = Totp::generate_secret();
        assert_eq!(one.len(), 32);
        assert_ne!(*one, *two);
        assert!(Totp::new(&one, TotpParams::default()).is_ok());
    }

    #[test]
    fn short_secrets_and_odd_params_are_refused() {
        assert!(Totp::new("GEZDGNBVGY3TQOJQ", TotpParams::default()).is_err()); // 80 bits
        let params = TotpParams {
            digits: 5,
            ..TotpParams::default()
        };
        assert!(Totp::new(SHA1_SEED, params).is_err());
        let params = TotpParams {
            period_seconds: 5,
            ..TotpParams::default()
        };
        assert!(Totp::new(SHA1_SEED, params).is_err());
    }

    #[test]
    fn uri_follows_the_key_uri_format() {
        let uri = Totp::uri(SHA1_SEED, TotpParams::default(), "Warden Acme", "ada@example.org");
        assert_eq!(
            uri,
            "otpauth://totp/Warden%20Acme:ada%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Warden%20Acme&algorithm=SHA1&digits=6&period=30"
        );
    }
}
