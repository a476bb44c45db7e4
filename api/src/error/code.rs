//! The error codes of the HTTP surface: one closed list, so a handler
//! cannot answer a code that is not documented (`docs/api.md` names every
//! one; a test checks it) and a caller branches on a variant, never on a
//! string.

macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// An error code: the `error.code` member of every error answer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in the order they are declared.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The code as it is written in an answer.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    // The generic code of each status.
    BadRequest = "bad_request",
    Unauthorized = "unauthorized",
    Forbidden = "forbidden",
    NotFound = "not_found",
    MethodNotAllowed = "method_not_allowed",
    Timeout = "timeout",
    Conflict = "conflict",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    Unprocessable = "unprocessable",
    TooManyRequests = "too_many_requests",
    Unavailable = "unavailable",
    Internal = "internal",
    /// 503 before the request is read: the server holds `max_connections`.
    TooManyConnections = "too_many_connections",
    // Sessions and sign-in.
    SessionRequired = "session_required",
    InvalidCredentials = "invalid_credentials",
    AccountDisabled = "account_disabled",
    Invited = "invited",
    SecondFactorRequired = "second_factor_required",
    EnrolmentRequired = "enrolment_required",
    /// The org requires single sign-on of everyone but its owners.
    SsoRequired = "sso_required",
    InvalidCode = "invalid_code",
    /// Sign-in by email code on a Warden without a mail server.
    EmailCodesUnavailable = "email_codes_unavailable",
    /// An email sign-in code past its time.
    CodeExpired = "code_expired",
    /// An email sign-in code that opened a sign-in already.
    CodeUsed = "code_used",
    /// An email sign-in code whose tries are used up.
    TooManyAttempts = "too_many_attempts",
    InvalidLink = "invalid_link",
    /// A password-reset link past its 30 minutes.
    LinkExpired = "link_expired",
    /// A password-reset link that reset a password already.
    LinkUsed = "link_used",
    /// A reset link asked for (or sent by an admin) on a Warden without a
    /// mail server.
    EmailUnavailable = "email_unavailable",
    SetupComplete = "setup_complete",
    // Step-up and passwords.
    ReauthenticationRequired = "reauthentication_required",
    UseSecondFactor = "use_second_factor",
    WrongPassword = "wrong_password",
    WeakPassword = "weak_password",
    // Second factors.
    NoSecondFactor = "no_second_factor",
    AlreadyEnrolled = "already_enrolled",
    NoEnrolment = "no_enrolment",
    FactorNotAllowed = "factor_not_allowed",
    AuthenticatorNotAllowed = "authenticator_not_allowed",
    NothingToResend = "nothing_to_resend",
    AlreadyDone = "already_done",
    PasskeysUnavailable = "passkeys_unavailable",
    NoPasskey = "no_passkey",
    PasskeyRefused = "passkey_refused",
    PasskeyTaken = "passkey_taken",
    CeremonyExpired = "ceremony_expired",
    // Requests the browser did not mean.
    CsrfRefused = "csrf_refused",
    CrossSite = "cross_site",
    // Organizations, events and alerts.
    InvalidPolicy = "invalid_policy",
    Taken = "taken",
    // The vault.
    ReasonRequired = "reason_required",
    NotAReader = "not_a_reader",
    SecretShredded = "secret_shredded",
    IdempotencyKeyReused = "idempotency_key_reused",
    Disabled = "disabled",
    TooManyEvents = "too_many_events",
    EventNotFound = "event_not_found",
    TooManyEndpoints = "too_many_endpoints",
    EndpointInUse = "endpoint_in_use",
    // API keys.
    KeyRevoked = "key_revoked",
    TooManyKeys = "too_many_keys",
    InvalidKeySettings = "invalid_key_settings",
    KeyNotFound = "key_not_found",
    KeyExpired = "key_expired",
    KeyOwnerDisabled = "key_owner_disabled",
    IpNotAllowed = "ip_not_allowed",
    InsufficientScope = "insufficient_scope",
    RateLimited = "rate_limited",
    UsageExceeded = "usage_exceeded",
    ActorNotAllowed = "actor_not_allowed",
    InvalidTicket = "invalid_ticket",
    KeyNotAccepted = "key_not_accepted",
    PersonRequired = "person_required",
    // Single sign-on.
    /// An org keeps at most ten single sign-on connections.
    TooManySsoConnections = "too_many_sso_connections",
    /// Another single sign-on connection serves the email domain.
    DomainTaken = "domain_taken",
    /// An enabled single sign-on connection is disabled before removal.
    ConnectionEnabled = "connection_enabled",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// Every code is documented where a caller looks for it, and written
    /// as the snake case of its name.
    #[test]
    fn every_code_is_documented_in_the_api_reference() {
        let reference = include_str!("../../../docs/api.md");
        let undocumented: Vec<&str> = Code::ALL
            .iter()
            .map(|code| code.as_str())
            .filter(|code| !reference.contains(&format!("`{code}`")))
            .collect();
        assert!(
            undocumented.is_empty(),
            "codes missing from docs/api.md: {undocumented:?}"
        );
    }

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} twice");
            assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{text}");
            let camel: String = text
                .split('_')
                .map(|word| word[..1].to_uppercase() + &word[1..])
                .collect();
            assert_eq!(format!("{code:?}"), camel);
        }
    }
}
