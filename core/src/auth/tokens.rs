//! Bearer secrets handed to browsers and people: session tokens, one-time
//! links (setup, invitation). Each is 256 random bits; Warden stores and
//! logs only a domain-separated BLAKE3 hash of it, never the secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use zeroize::Zeroizing;

use crate::keys::random_bytes;

/// What a token is for: its hash domain, so a hash of one kind never
/// matches a token of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    SetupLink,
    Invitation,
    PasswordReset,
    EmailVerification,
}

impl TokenKind {
    fn domain(self) -> &'static str {
        match self {
            TokenKind::Session => "warden/session-token/v1",
            TokenKind::SetupLink => "warden/setup-link/v1",
            TokenKind::Invitation => "warden/invitation/v1",
            TokenKind::PasswordReset => "warden/password-reset/v1",
            TokenKind::EmailVerification => "warden/email-verification/v1",
        }
    }
}

/// A 256-bit secret. Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct Token(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    pub fn generate() -> Self {
        Token(random_bytes::<32>())
    }

    /// The text form: 43 characters of unpadded base64url.
    pub fn encode(&self) -> String {
        BASE64URL.encode(self.0.as_ref())
    }

    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        let bytes = BASE64URL.decode(text).ok()?;
        let mut secret = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return None;
        }
        secret.copy_from_slice(&bytes);
        Some(Token(secret))
    }

    /// The stored form: lower-case hex of BLAKE3 in the kind's domain.
    pub fn hash(&self, kind: TokenKind) -> String {
        hex::encode(blake3::derive_key(kind.domain(), self.0.as_ref()))
    }

    /// The CSRF token bound to this session token: derived from the
    /// secret, so it needs no storage and cannot be made without the
    /// cookie.
    pub fn csrf(&self) -> String {
        BASE64URL.encode(blake3::derive_key("warden/csrf/v1", self.0.as_ref()))
    }
}

/// A session cookie's value: `<seq>.<token>`, where `seq` is the event that
/// created (or last rotated) the session. A node that does not know the
/// token yet waits until its read models reach `seq` instead of answering
/// 401 wrongly.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    pub seq: u64,
    pub token: Token,
}

impl SessionCookie {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.seq, self.token.encode())
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (seq, token) = text.split_once('.')?;
        if seq.is_empty() || seq.len() > 19 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(SessionCookie {
            seq: seq.parse().ok()?,
            token: Token::parse(token)?,
        })
    }
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    constant_time_eq_bytes(a.as_bytes(), b.as_bytes())
}

pub fn constant_time_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    // Lengths are not secret (tokens have one length); contents are.
    a.len() == b.len() && bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hash_per_kind() {
        let token = Token::generate();
        let text = token.encode();
        assert_eq!(text.len(), 43);
        let parsed = Token::parse(&text).unwrap();
        assert_eq!(parsed.hash(TokenKind::Session), token.hash(TokenKind::Session));
        assert_ne!(token.hash(TokenKind::Session), token.hash(TokenKind::SetupLink));
        assert_ne!(
            token.hash(TokenKind::Session),
            Token::generate().hash(TokenKind::Session)
        );
        assert!(!format!("{token:?}").contains(&text));
    }

    #[test]
    fn cookies_carry_the_seq() {
        let cookie = SessionCookie {
            seq: 42,
            token: Token::generate(),
        };
        let parsed = SessionCookie::parse(&cookie.encode()).unwrap();
        assert_eq!(parsed.seq, 42);
        assert_eq!(parsed.token.csrf(), cookie.token.csrf());
        for bad in [
            "",
            "42",
            ".abc",
            "x.abc",
            "-1.abc",
            "42.short",
            "99999999999999999999.x",
        ] {
            assert!(SessionCookie::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
    }
}
