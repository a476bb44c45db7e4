//! The one place where the typed rejections of `warden_core::auth`'s
//! decisions become HTTP answers: status, code and message.

use axum::http::StatusCode;
use warden_core::auth::api_key::manage;
use warden_core::auth::role_grants::GrantRefusal;
use warden_core::auth::sign_in::{MethodNotAllowed, password};
use warden_core::auth::{enrolment, password_change, recovery, second_factor, step_up, users};
use warden_core::commands::api_key::VerifyOutcome;

use super::{ApiError, Code};

impl From<MethodNotAllowed> for ApiError {
    fn from(refused: MethodNotAllowed) -> Self {
        let code = match refused {
            MethodNotAllowed::ByPolicy(_) => Code::MethodNotAllowed,
            MethodNotAllowed::SsoRequired => Code::SsoRequired,
        };
        ApiError::forbidden_code(code, refused.message())
    }
}

impl From<password::Rejection> for ApiError {
    fn from(rejection: password::Rejection) -> Self {
        match rejection {
            password::Rejection::InvalidCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                Code::InvalidCredentials,
                "the email or password is wrong",
            ),
            password::Rejection::Disabled => {
                ApiError::forbidden_code(Code::AccountDisabled, "this account is disabled")
            }
            password::Rejection::MethodNotAllowed(refused) => refused.into(),
        }
    }
}

impl From<step_up::Rejection> for ApiError {
    fn from(rejection: step_up::Rejection) -> Self {
        match rejection {
            step_up::Rejection::ReauthenticationRequired {
                with_second_factor: true,
            } => ApiError::forbidden_code(
                Code::ReauthenticationRequired,
                "this action needs a recent second factor: verify one (POST /api/v1/mfa/verify) and try again",
            ),
            step_up::Rejection::ReauthenticationRequired {
                with_second_factor: false,
            } => ApiError::forbidden_code(
                Code::ReauthenticationRequired,
                "this action needs a recent sign-in: confirm your password (POST /api/v1/session/reauthenticate) and try again",
            ),
            step_up::Rejection::UseSecondFactor => ApiError::new(
                StatusCode::CONFLICT,
                Code::UseSecondFactor,
                "this account has a second factor: re-authenticate with it (POST /api/v1/mfa/verify)",
            ),
            step_up::Rejection::WrongPassword => ApiError::forbidden_code(Code::WrongPassword, "the password is wrong"),
            step_up::Rejection::NotAPerson => ApiError::forbidden_code(
                Code::PersonRequired,
                "this needs a person's recent strong authentication: an API key cannot do it (sign in and confirm it's you)",
            ),
        }
    }
}

impl From<second_factor::Rejection> for ApiError {
    fn from(rejection: second_factor::Rejection) -> Self {
        match rejection {
            second_factor::Rejection::InvalidCode => ApiError::new(
                StatusCode::UNAUTHORIZED,
                Code::InvalidCode,
                "the code is wrong, expired or already used",
            ),
            second_factor::Rejection::NoSecondFactor => ApiError::new(
                StatusCode::CONFLICT,
                Code::NoSecondFactor,
                "this account has no second factor set up",
            ),
            second_factor::Rejection::EnrolmentRequired => crate::web::session::enrolment_required(),
        }
    }
}

impl From<users::Rejection> for ApiError {
    fn from(rejection: users::Rejection) -> Self {
        match rejection {
            users::Rejection::Grant(GrantRefusal::NotAManager) => {
                ApiError::forbidden("only owners and admins manage users")
            }
            users::Rejection::Grant(GrantRefusal::OwnerOnly(role)) => ApiError::forbidden(format!(
                "only an owner may grant, take away or change the {} role or act on its holders",
                role.as_str()
            )),
            users::Rejection::StepUp(step_up) => step_up.into(),
            users::Rejection::OwnAccount => {
                ApiError::forbidden("you cannot change your own role or status; ask another owner or admin")
            }
            users::Rejection::Invited => ApiError::new(
                StatusCode::CONFLICT,
                Code::Invited,
                "an invited user becomes active by accepting the invitation",
            ),
            users::Rejection::UnsettableStatus => ApiError::bad_request("status must be active or disabled"),
            users::Rejection::NoSecondFactor => ApiError::new(
                StatusCode::CONFLICT,
                Code::NoSecondFactor,
                "the user has no second factor to reset",
            ),
            users::Rejection::NoSuchSession => ApiError::new(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                "the user has no such session (it may have ended already)",
            ),
            users::Rejection::Inactive => ApiError::new(
                StatusCode::CONFLICT,
                Code::AccountDisabled,
                "the user is disabled: enable them before recovering their account",
            ),
        }
    }
}

/// A one-time link (a password reset, an address verification) that
/// does nothing.
impl From<recovery::Refused> for ApiError {
    fn from(refused: recovery::Refused) -> Self {
        match refused {
            recovery::Refused::Expired => {
                ApiError::forbidden_code(Code::LinkExpired, "this link has expired; ask for a new one")
            }
            recovery::Refused::Used => ApiError::forbidden_code(
                Code::LinkUsed,
                "this link was used already; ask for a new one if you need to",
            ),
            recovery::Refused::Unknown | recovery::Refused::Replaced | recovery::Refused::Inactive => {
                ApiError::forbidden_code(Code::InvalidLink, "this link is not valid; ask for a new one")
            }
            recovery::Refused::Taken => ApiError::new(
                StatusCode::CONFLICT,
                Code::Taken,
                "another account signs in with this address; nothing was changed",
            ),
        }
    }
}

impl From<users::InvalidLink> for ApiError {
    fn from(users::InvalidLink: users::InvalidLink) -> Self {
        ApiError::forbidden_code(Code::InvalidLink, "the invitation is invalid, used or expired")
    }
}

impl From<password_change::Rejection> for ApiError {
    fn from(rejection: password_change::Rejection) -> Self {
        match rejection {
            password_change::Rejection::WrongPassword => {
                ApiError::forbidden_code(Code::WrongPassword, "the password is wrong")
            }
            password_change::Rejection::Unchanged => {
                ApiError::unprocessable(Code::WeakPassword, "the new password must differ from the current one")
            }
        }
    }
}

impl From<enrolment::Rejection> for ApiError {
    fn from(rejection: enrolment::Rejection) -> Self {
        match rejection {
            enrolment::Rejection::FactorNotAllowed(factors) => ApiError::forbidden_code(
                Code::FactorNotAllowed,
                format!(
                    "your organization counts only these second factors here: {}",
                    factors
                        .iter()
                        .map(|factor| factor.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            enrolment::Rejection::StepUp(step_up) => step_up.into(),
            enrolment::Rejection::AlreadyEnrolled => ApiError::new(
                StatusCode::CONFLICT,
                Code::AlreadyEnrolled,
                "an authenticator is already set up; remove it first to set up another",
            ),
            enrolment::Rejection::NoEnrolment => ApiError::new(
                StatusCode::CONFLICT,
                Code::NoEnrolment,
                "no authenticator is being set up; start again",
            ),
            enrolment::Rejection::InvalidCode => second_factor::Rejection::InvalidCode.into(),
        }
    }
}

impl From<manage::Rejection> for ApiError {
    fn from(rejection: manage::Rejection) -> Self {
        match rejection {
            manage::Rejection::NotFound => ApiError::not_found(),
            manage::Rejection::Revoked => ApiError::new(
                StatusCode::CONFLICT,
                Code::KeyRevoked,
                "this key is revoked: it cannot change or rotate; create a new one",
            ),
            manage::Rejection::TooManyKeys => ApiError::new(
                StatusCode::CONFLICT,
                Code::TooManyKeys,
                format!(
                    "an org has at most {} keys; revoked keys count too",
                    manage::MAX_KEYS_PER_ORG
                ),
            ),
            manage::Rejection::Invalid { field, message } => {
                ApiError::unprocessable(Code::InvalidKeySettings, format!("{field}: {message}"))
            }
        }
    }
}

/// A key refused for a request made with it (forward authentication,
/// Warden's own API); `None` for `valid`.
pub fn key_refusal(outcome: VerifyOutcome) -> Option<ApiError> {
    let unauthorized = |code, message: &str| ApiError::new(StatusCode::UNAUTHORIZED, code, message);
    Some(match outcome {
        VerifyOutcome::Valid => return None,
        VerifyOutcome::NotFound => unauthorized(Code::KeyNotFound, "the API key is not valid"),
        VerifyOutcome::Revoked => unauthorized(Code::KeyRevoked, "the API key is revoked"),
        VerifyOutcome::Expired => unauthorized(Code::KeyExpired, "the API key has expired"),
        VerifyOutcome::DisabledOwner => unauthorized(Code::KeyOwnerDisabled, "the API key's owner is disabled"),
        VerifyOutcome::IpNotAllowed => {
            ApiError::forbidden_code(Code::IpNotAllowed, "the API key is not allowed from this address")
        }
        VerifyOutcome::InsufficientScope => {
            ApiError::forbidden_code(Code::InsufficientScope, "the API key lacks a scope this request needs")
        }
        VerifyOutcome::RateLimited => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            Code::RateLimited,
            "the API key's rate limit is spent for now; see Retry-After",
        ),
        VerifyOutcome::UsageExceeded => ApiError::forbidden_code(Code::UsageExceeded, "the API key has no uses left"),
        VerifyOutcome::ActorNotAllowed => ApiError::forbidden_code(
            Code::ActorNotAllowed,
            "a vendor key acts for an active user of its org: name them in X-Actor-User-Id",
        ),
        VerifyOutcome::InvalidTicket => ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::InvalidTicket,
            "a vendor key's request names its ticket in X-Ticket-Reference, matching the key's ticket pattern",
        ),
    })
}
