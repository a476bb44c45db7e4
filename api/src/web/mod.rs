//! The browser-facing mechanics: who the client is, the session cookie,
//! the session of a request, step-up, CSRF protection, the record of refusals.

pub mod access;
pub mod client;
pub mod cookie;
pub mod csrf;
pub mod headers;
pub mod json;
pub mod limits;
pub mod session;
pub mod step_up;

pub use client::Client;
pub use session::{AnySession, CurrentSession, Enrolling, SignedIn};
pub use step_up::Recent;
