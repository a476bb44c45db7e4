//! Request handlers, one module per resource.

pub mod alerts;
pub mod api_keys;
pub mod app_events;
pub mod audit;
pub mod audit_keys;
pub mod auth;
pub mod checkpoints;
pub mod health;
pub mod key_forward;
pub mod legal_holds;
pub mod mfa;
pub mod openapi;
pub mod org;
pub mod prometheus;
pub mod secrets;
pub mod sessions;
pub mod sso;
pub mod users;
pub mod webhook_endpoints;
