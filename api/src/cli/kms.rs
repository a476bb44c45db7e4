//! `warden kms status` and `warden kms rotate`: moving every wrapped key
//! to the configured KMS key (`docs/operations/kms.md`).

use std::process::ExitCode;

use clap::Subcommand;
use warden_core::Actor;
use warden_core::commands::Context;
use warden_core::keys::rotation::{Progress, rotate_kek};

use super::say;
use crate::config::Config;
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum KmsCommand {
    /// Show the KMS key new keys are wrapped with, and how many keys are
    /// still wrapped by another.
    Status,
    /// Wrap every data key and signing key again under the configured KMS
    /// key (kms_provider, kms_key_file / kms_aws_key_id), keeping the old
    /// one in kms_retired_key_files (local) until this has finished. Safe to
    /// stop at any point and run again.
    Rotate {
        /// Data keys read and re-wrapped per batch.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
    },
}

pub async fn run(config: &Config, command: KmsCommand) -> Result<ExitCode, String> {
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = match command {
        KmsCommand::Status => status(&node).await,
        KmsCommand::Rotate { batch_size } => rotate(&node, batch_size as usize).await,
    };
    node.stop().await;
    result
}

async fn status(node: &Node) -> Result<ExitCode, String> {
    let store = node.ledger.store();
    let current = node.kms.current_ref();
    let data_keys = store
        .count_data_keys_not_wrapped_by(current)
        .await
        .map_err(|e| e.to_string())?;
    let signing_keys = store
        .signing_keys_not_wrapped_by(current)
        .await
        .map_err(|e| e.to_string())?
        .len();
    say(format!("current KMS key: {current}"));
    for retired in node.kms.refs().iter().skip(1) {
        say(format!("retired KMS key (unwraps only): {retired}"));
    }
    say(format!(
        "not yet under the current key: {data_keys} data keys, {signing_keys} signing keys"
    ));
    Ok(ExitCode::SUCCESS)
}

async fn rotate(node: &Node, batch_size: usize) -> Result<ExitCode, String> {
    let mut actor = Actor::system();
    actor.id = Some("warden-kms".into());
    let context = Context {
        actor,
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    say(format!("wrapping every key under {}", node.kms.current_ref()));
    let finished = rotate_kek(&node.ledger, &node.kms, &context, batch_size, |progress: Progress| {
        say(format!("  {} of {} data keys", progress.data_keys, progress.of));
    })
    .await
    .map_err(|e| e.to_string())?;
    say(format!(
        "done: {} data keys and {} signing keys wrapped again, {} shredded or changed meanwhile, {} remaining",
        finished.data_keys, finished.signing_keys, finished.skipped, finished.remaining
    ));
    if finished.remaining > 0 {
        say(
            "some node still wraps new keys with an old KMS key: configure every node with the new key, then run this again",
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
