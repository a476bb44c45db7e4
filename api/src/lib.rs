//! Warden's HTTP surface and command line: configuration, node assembly,
//! routes and handlers. The `warden` binary is `main.rs`.

pub mod cli;
pub mod config;
pub mod connections;
pub mod email;
pub mod error;
pub mod flows;
pub mod handlers;
pub mod node;
pub mod oidc;
pub mod pages;
pub mod request_id;
pub mod routes;
pub mod server;
pub mod state;
pub mod web;
