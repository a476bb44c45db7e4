//! Single sign-on: an org's connections to identity providers
//! ([`connections`], their [`settings`]), the checks of what a provider
//! asserts ([`id_token`]), and whose account it signs in ([`sign_in`]).

pub mod connections;
pub mod flow;
pub mod id_token;
pub mod settings;
pub mod sign_in;
pub mod step_up;
