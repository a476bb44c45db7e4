//! `warden keys list` and `warden keys rotate`.

use std::process::ExitCode;

use clap::Subcommand;
use warden_core::Actor;
use warden_core::keys::signing;
use warden_projections::projection::read;

use super::say;
use crate::config::Config;
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys announced in the chain.
    List,
    /// Create a new signing key and announce it in the chain; running
    /// nodes switch to it within a second.
    Rotate,
}

pub async fn run(config: &Config, command: KeysCommand) -> Result<ExitCode, String> {
    match command {
        KeysCommand::List => {
            let models = super::read_models(config).await?;
            let keys = read(&models.signing_keys).clone();
            let current = keys.current().map(|key| key.key_id.clone());
            for key in keys.all() {
                let marker = if Some(&key.key_id) == current.as_ref() {
                    "current"
                } else {
                    ""
                };
                say(format!(
                    "{}\t{}\tseq {}\t{}\t{}",
                    key.key_id, key.public_key, key.added_seq, key.added_at, marker
                ));
            }
        }
        KeysCommand::Rotate => {
            let node = Node::start(config).await.map_err(|e| e.to_string())?;
            let request_id = uuid::Uuid::now_v7().to_string();
            let key_id = signing::rotate(&node.ledger, &node.kms, Actor::system(), &request_id)
                .await
                .map_err(|e| e.to_string())?;
            say(format!("rotated: new signing key {key_id}"));
            node.stop().await;
        }
    }
    Ok(ExitCode::SUCCESS)
}
