//! Single sign-on: an org's connections to identity providers
//! ([`connections`], their [`settings`]).

pub mod connections;
pub mod settings;
