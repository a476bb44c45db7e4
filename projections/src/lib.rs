//! Warden's read models. Each is a plain state machine, `apply(&mut self,
//! &Event)`: deterministic, no I/O, testable with a list of events. The
//! [`runner`] feeds them in `seq` order from the bus, checks the chain as it
//! goes, repairs gaps from the log and saves snapshots.
//!
//! Every read model is listed once, in [`ReadModels`].

pub mod accounts;
pub mod alerts;
pub mod api_keys;
pub mod audit;
pub mod checkpoints;
pub mod deliveries;
pub mod email_changes;
pub mod email_codes;
pub mod key_usage;
pub mod links;
pub mod mfa;
pub mod names;
pub mod outbox;
pub mod password_resets;
pub mod projection;
pub mod retention;
pub mod runner;
pub mod sessions;
pub mod signing_keys;
pub mod sso;
pub mod throttle;
pub mod vault;

pub use projection::{Projection, Shared};
pub use runner::{Positions, Runner, RunnerError};

use std::sync::Arc;

use projection::{Slot, SlotOf};

/// All read models of a node.
#[derive(Clone, Default)]
pub struct ReadModels {
    pub signing_keys: Shared<signing_keys::SigningKeys>,
    pub accounts: Shared<accounts::Accounts>,
    pub sessions: Shared<sessions::Sessions>,
    pub login_throttle: Shared<throttle::LoginThrottle>,
    pub mfa: Shared<mfa::Mfa>,
    pub retention: Shared<retention::Retention>,
    pub alerts: Shared<alerts::Alerts>,
    pub deliveries: Shared<deliveries::Deliveries>,
    pub checkpoints: Shared<checkpoints::Checkpoints>,
    pub api_keys: Shared<api_keys::ApiKeys>,
    pub key_usage: Shared<key_usage::KeyUsage>,
    pub vault: Shared<vault::Vault>,
    pub email_codes: Shared<email_codes::EmailCodes>,
    pub outbox: Shared<outbox::Outbox>,
    pub password_resets: Shared<password_resets::PasswordResets>,
    pub email_changes: Shared<email_changes::EmailChanges>,
    pub sso: Shared<sso::Sso>,
}

impl ReadModels {
    /// The names of their snapshots, and the chain verifier's: what a node
    /// restores from.
    pub fn snapshot_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.slots().iter().map(|slot| slot.name().to_string()).collect();
        names.push(projection::CHAIN_SNAPSHOT.to_string());
        names
    }

    /// The one list of projections the runner feeds.
    pub(crate) fn slots(&self) -> Vec<Box<dyn Slot>> {
        vec![
            Box::new(SlotOf::new(Arc::clone(&self.signing_keys))),
            Box::new(SlotOf::new(Arc::clone(&self.accounts))),
            Box::new(SlotOf::new(Arc::clone(&self.sessions))),
            Box::new(SlotOf::new(Arc::clone(&self.login_throttle))),
            Box::new(SlotOf::new(Arc::clone(&self.mfa))),
            Box::new(SlotOf::new(Arc::clone(&self.retention))),
            Box::new(SlotOf::new(Arc::clone(&self.alerts))),
            Box::new(SlotOf::new(Arc::clone(&self.deliveries))),
            Box::new(SlotOf::new(Arc::clone(&self.checkpoints))),
            Box::new(SlotOf::new(Arc::clone(&self.api_keys))),
            Box::new(SlotOf::new(Arc::clone(&self.key_usage))),
            Box::new(SlotOf::new(Arc::clone(&self.vault))),
            Box::new(SlotOf::new(Arc::clone(&self.email_codes))),
            Box::new(SlotOf::new(Arc::clone(&self.outbox))),
            Box::new(SlotOf::new(Arc::clone(&self.password_resets))),
            Box::new(SlotOf::new(Arc::clone(&self.email_changes))),
            Box::new(SlotOf::new(Arc::clone(&self.sso))),
        ]
    }
}
