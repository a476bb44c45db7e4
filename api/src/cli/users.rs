//! `warden users recover --email …`: the break-glass reset link, for an
//! operator whose org's only owner is locked out. It prints a one-time
//! link (30 minutes, like every reset link) and records
//! `password_reset.issued` with `actor.kind = system`, the operator's
//! reason and the operating-system user who ran it. The link is printed
//! once and kept nowhere: only its hash is in the log. With
//! `--second-factors` it also removes the user's second factors
//! (`mfa.reset`), for an owner who lost them too.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use warden_core::auth::users::{self, Factors, Member};
use warden_core::commands::Context;
use warden_core::{Actor, ActorKind};
use warden_projections::projection::read;

use super::say;
use crate::config::Config;
use crate::node::Node;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Print a one-time password-reset link for a user (break-glass).
    Recover(RecoverArgs),
}

#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The user's email address.
    #[arg(long)]
    email: String,
    /// Why (a ticket, "only owner locked out"); recorded in the event.
    #[arg(long)]
    reason: String,
    /// Also remove every second factor of the user (they lost them too),
    /// ending their sessions: `mfa.reset`.
    #[arg(long)]
    second_factors: bool,
}

pub async fn run(config: &Config, command: UsersCommand) -> Result<ExitCode, String> {
    let UsersCommand::Recover(args) = command;
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = recover(&node, config, &args).await;
    node.stop().await;
    let (link, seq) = result?;
    eprintln!(
        "warden: password_reset.issued recorded (seq {seq}); the link works once, for 30 minutes. \
         Using it signs the user out everywhere; it signs nobody in."
    );
    say(link);
    Ok(ExitCode::SUCCESS)
}

async fn recover(node: &Node, config: &Config, args: &RecoverArgs) -> Result<(String, u64), String> {
    let email = warden_core::commands::account::normalize_email(&args.email);
    let user = read(&node.models.accounts)
        .user_by_email(&email)
        .cloned()
        .ok_or_else(|| format!("no user has the address {email}"))?;
    let os_user = os_user();
    let (event, token) = crate::flows::recovery::for_operator(&user, &os_user, &args.reason)?;
    if args.second_factors {
        let (passkeys, version, totp, backup_codes) =
            crate::flows::recovery::factors_of(&read(&node.models.mfa).factors(&user.id));
        let factors = Factors {
            version,
            totp,
            passkeys: &passkeys,
            backup_codes,
        };
        let context = Context {
            actor: Actor::of_kind(ActorKind::System),
            request_id: event.request_id.clone(),
        };
        let reset = {
            let sessions = read(&node.models.sessions);
            let live: Vec<&str> = sessions
                .of_user(&user.id)
                .into_iter()
                .map(|session| session.id.as_str())
                .collect();
            let member = Member {
                id: &user.id,
                role: user.role,
                status: user.status,
                version: user.version,
                sessions: &live,
            };
            users::reset_second_factors_by_operator(&context, &member, &factors, args.reason.trim(), &os_user)
        };
        let reset = reset.map_err(|rejection| match rejection {
            users::Rejection::NoSecondFactor => "the user has no second factor to reset".to_string(),
            other => format!("refused: {other:?}"),
        })?;
        node.ledger.append(reset).await.map_err(|e| e.to_string())?;
        eprintln!("warden: mfa.reset recorded: every second factor of the user is removed");
    }
    let event = node.ledger.append_one(event).await.map_err(|e| e.to_string())?;
    if config.web.public_url.is_none() {
        eprintln!(
            "warden: public_url is not set: the link names the listen address ({}); \
             set public_url (WARDEN_PUBLIC_URL) to the address users reach Warden at",
            config.listen
        );
    }
    let link = crate::flows::recovery::link_url(&config.web.public_url(config.listen), &token);
    Ok((link, event.seq))
}

/// Who ran the command, as the operating system says (`USER`, or
/// `LOGNAME`): recorded, not trusted (an operator who can run this can
/// reach the database too; the record is for the audit trail).
fn os_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|value| !value.trim().is_empty()))
        .unwrap_or_else(|| "unknown".into())
}
