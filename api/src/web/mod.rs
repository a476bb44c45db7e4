//! The browser-facing mechanics: who the client is, the session cookie,
//! the session of a request, who calls (a person or a key), step-up, CSRF
//! protection, the record of refusals.

pub mod access;
pub mod client;
pub mod cookie;
pub mod cors;
pub mod csrf;
pub mod headers;
pub mod json;
pub mod layers;
pub mod limits;
pub mod principal;
pub mod session;
pub mod step_up;

pub use client::Client;
pub use principal::{Access, Admitted, Principal};
pub use session::{AnySession, CurrentSession, Enrolling, SignedIn};
pub use step_up::Recent;
