//! The subjects Warden's own events are about: one list, [`Prefix`], from
//! which every Warden subject is built (`user:<id>`, `session:<id>`, or a
//! bare name such as `ledger`). The application records its own events
//! (`POST /api/v1/app-events`) on any subject but these: an event of its
//! own on a Warden subject would move that subject's version under
//! Warden's feet.

macro_rules! prefixes {
    ($($variant:ident => $text:literal,)*) => {
        /// The first part of a Warden subject.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Prefix {
            $($variant,)*
        }

        impl Prefix {
            /// Every prefix (built from the same list as the enum).
            pub const ALL: &'static [Prefix] = &[$(Prefix::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Prefix::$variant => $text,)*
                }
            }
        }
    };
}

prefixes! {
    Ledger => "ledger",
    Retention => "retention",
    Checkpoints => "checkpoints",
    Setup => "setup",
    Org => "org",
    User => "user",
    Login => "login",
    Audit => "audit",
    Mfa => "mfa",
    MfaAttempts => "mfa-attempts",
    Devices => "devices",
    Session => "session",
    Request => "request",
    Import => "import",
    LegalHold => "legal_hold",
    AlertRule => "alert_rule",
    Alert => "alert",
    WebhookEndpoint => "webhook_endpoint",
    ApiKey => "api_key",
    ApiKeyUse => "api_key_use",
    Kms => "kms",
    KeyUse => "key_use",
    VaultSecret => "vault_secret",
    VaultAccess => "vault_access",
    EmailAddress => "email_address",
    Email => "email",
    PasswordReset => "password_reset",
    EmailChange => "email_change",
    SsoConnection => "sso_connection",
    SsoFlow => "sso_flow",
}

/// `user:<id>`, `org:<id>`, `session:<id>`: the subject of an entity.
pub fn subject(prefix: Prefix, id: &str) -> String {
    format!("{}:{id}", prefix.as_str())
}

/// The id part of a subject with this prefix.
pub fn subject_id(subject: &str, prefix: Prefix) -> Option<&str> {
    subject.strip_prefix(prefix.as_str())?.strip_prefix(':')
}

/// Whether `subject` is one of Warden's: a bare prefix or `prefix:…`,
/// compared without regard to case (so that no reader can mistake
/// `User:42` for `user:42`).
pub fn is_warden_subject(subject: &str) -> bool {
    let head = subject.split(':').next().unwrap_or(subject);
    Prefix::ALL
        .iter()
        .any(|prefix| head.eq_ignore_ascii_case(prefix.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_and_bare_subject_is_warden_s() {
        for prefix in Prefix::ALL {
            assert!(is_warden_subject(prefix.as_str()), "{prefix:?}");
            assert!(is_warden_subject(&subject(*prefix, "42")), "{prefix:?}");
            assert!(is_warden_subject(&subject(*prefix, "42").to_uppercase()), "{prefix:?}");
            assert_eq!(subject_id(&subject(*prefix, "a:b"), *prefix), Some("a:b"));
        }
        assert_eq!(crate::chain::LEDGER_SUBJECT, Prefix::Ledger.as_str());
    }

    #[test]
    fn application_subjects_are_not() {
        for subject in [
            "invoice:42",
            "users:1",
            "user_profile:1",
            "ledgers",
            "app",
            "",
            ":",
            "alerts:1",
            "sessionx:1",
        ] {
            assert!(!is_warden_subject(subject), "{subject}");
        }
        assert_eq!(subject_id("user:1", Prefix::Org), None);
        assert_eq!(subject_id("userx:1", Prefix::User), None);
    }
}
