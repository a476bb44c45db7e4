//! Warden's domain core: the immutable, signed, hash-chained event log and
//! what it stands on.
//!
//! * [`event`]: the envelope of every event.
//! * [`chain`]: canonical encoding, hashing, signing, verification (no I/O).
//! * [`ledger`]: the log itself, on PostgreSQL or SQLite, with group commit.
//! * [`bus`]: fan-out of committed events (NATS JetStream or in-process)
//!   and the relay that feeds it.
//! * [`keys`]: the KMS, signing keys, and sealed (encrypted) event fields.
//! * [`auth`]: the slow or effectful parts of authentication (hashing,
//!   tokens, devices, throttling).
//! * [`commands`]: what Warden decides, as events, one module per aggregate.
//! * [`export`]: the export formats of events (JSON Lines, CSV).
//! * [`strict_json`]: JSON from outside, duplicate member names refused.

pub mod auth;
pub mod bus;
pub mod chain;
pub mod commands;
pub mod event;
pub mod export;
pub mod keys;
pub mod ledger;
pub mod net;
pub mod strict_json;

pub use event::{Actor, ActorKind, Event, NewEvent, Outcome};
