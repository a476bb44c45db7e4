//! Authentication factors: how a claimed identity is checked. Each module
//! does the slow or effectful part (hashing, a ceremony) so that commands
//! receive its outcome as data.

pub mod backup_codes;
pub mod device;
pub mod mfa_policy;
pub mod password;
pub mod refusal_timing;
pub mod role_grants;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod webauthn;
