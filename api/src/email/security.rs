//! Security emails (decision 0028): the notices an append calls for, added
//! to that same append (`flows::commit`), so a user is told about a change
//! to their account if and only if the change is committed. Which events
//! call for one, and the org's switches, are
//! `warden_core::auth::security_email`.

use chrono::{DateTime, Utc};
use warden_core::NewEvent;
use warden_core::auth::security_email::{self, Notice};
use warden_core::commands::Context;
use warden_core::commands::account::Status;
use warden_core::commands::api_key::KeyCreated;
use warden_core::commands::mfa::{FactorsReset, PasskeyRegistered, PasskeyRemoved};
use warden_core::commands::session::DeviceFirstSeen;
use warden_core::event::now_micros;
use warden_projections::accounts::User;
use warden_projections::projection::read;

use super::{Message, Recipient, queue};
use crate::state::AppState;

/// The `email.queued` events the notices of `events` call for: nothing
/// without a mail server, for a user who is not active, or where the
/// user's org turned that notice off. A notice that cannot be composed
/// (the key service is down) is logged and left out: it must not stop the
/// change it reports.
pub async fn notices(state: &AppState, events: &[NewEvent]) -> Vec<NewEvent> {
    if !state.email_codes.available {
        return Vec::new();
    }
    let mut queued = Vec::new();
    for event in events {
        let Some((notice, user)) = security_email::notice(event) else {
            continue;
        };
        let Some(user) = recipient(state, notice, &user) else {
            continue;
        };
        let details = details(notice, event);
        let context = Context {
            actor: event.actor.clone(),
            request_id: event.request_id.clone(),
        };
        let message = Message::Security {
            notice,
            details: &details,
        };
        let to = Recipient {
            address: &user.email,
            user: Some(&user.id),
            org: Some(&user.org),
        };
        match queue(state, &context, to, message).await {
            Ok((_, email)) => queued.push(email),
            Err(error) => {
                tracing::error!(message = %error.message, ?notice, "a security email was not queued");
            }
        }
    }
    queued
}

/// The user to tell, if they get this notice: active, of an org that
/// sends it, and, for a new device, not signing in for the first time.
fn recipient(state: &AppState, notice: Notice, id: &str) -> Option<User> {
    let accounts = read(&state.models.accounts);
    let user = accounts.user(id).filter(|user| user.status == Status::Active)?;
    let org = accounts.org(&user.org)?;
    if !org.security_emails.sends(notice) {
        return None;
    }
    if notice == Notice::NewDevice && !read(&state.models.sessions).knows_any_device(id) {
        return None;
    }
    Some(user.clone())
}

/// The lines that say what happened: the device and network of a sign-in,
/// the factor, the key; and when.
fn details(notice: Notice, event: &NewEvent) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    match notice {
        Notice::NewDevice => {
            if let Ok(seen) = serde_json::from_value::<DeviceFirstSeen>(event.data.clone()) {
                lines.push(("Device", format!("{} on {}", seen.device.browser, seen.device.os)));
                if let Some(ip) = seen.ip {
                    lines.push(("Network address", ip));
                }
            }
        }
        Notice::FactorAdded | Notice::FactorRemoved => lines.push(("Second factor", factor(event))),
        Notice::KeyCreated => {
            if let Ok(created) = serde_json::from_value::<KeyCreated>(event.data.clone()) {
                lines.push(("Key", created.settings.name));
            }
        }
        Notice::EmailChanged => {
            if let Some(new) = event.data.get("new").and_then(|new| new.as_str()) {
                lines.push(("New address", new.to_string()));
            }
        }
        Notice::PasswordChanged => {}
    }
    lines.push(("When", when(now_micros())));
    lines
}

/// The factor an event names, in words.
fn factor(event: &NewEvent) -> String {
    if let Ok(registered) = serde_json::from_value::<PasskeyRegistered>(event.data.clone()) {
        return format!("the passkey “{}”", registered.name);
    }
    if let Ok(removed) = serde_json::from_value::<PasskeyRemoved>(event.data.clone()) {
        return format!("the passkey “{}”", removed.name);
    }
    if let Ok(reset) = serde_json::from_value::<FactorsReset>(event.data.clone()) {
        let by = if reset.os_user.is_some() {
            "the operator"
        } else {
            "an administrator"
        };
        return format!("every second factor, removed by {by} (reason: {})", reset.reason);
    }
    "the authenticator app".into()
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}
