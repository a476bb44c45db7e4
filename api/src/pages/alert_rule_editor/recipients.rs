//! The recipients the rule editor offers by name: the org's webhook
//! endpoints by description and address, and its owners, admins and
//! auditors by address; anything else the rule names stays as typed.

use warden_core::commands::account::Role;
use warden_projections::projection::read;

use super::EditorPage;
use crate::flows::alert_delivery;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// A recipient the form offers: its field's name, what it is called,
/// whether it is ticked.
pub struct Choice {
    pub name: String,
    pub label: String,
    pub checked: bool,
}

impl EditorPage {
    /// The recipients offered: the org's webhook endpoints, and its
    /// owners, admins and auditors by address; the form's ticked.
    pub(super) fn choices(&mut self, state: &AppState, current: &CurrentSession) {
        let org = &current.user.org;
        self.webhooks = alert_delivery::endpoints(state, org)
            .into_iter()
            .map(|endpoint| Choice {
                checked: self.form.webhooks.contains(&endpoint.id),
                name: format!("webhook:{}", endpoint.id),
                label: match endpoint.description.is_empty() {
                    true => endpoint.url,
                    false => format!("{} ({})", endpoint.description, endpoint.url),
                },
            })
            .collect();
        let accounts = read(&state.models.accounts);
        let people: Vec<(String, Role)> = accounts
            .members(org)
            .into_iter()
            .filter(|user| user.role != Role::Member)
            .map(|user| (user.email.clone(), user.role))
            .collect();
        drop(accounts);
        let is_person = |address: &str| people.iter().any(|(email, _)| email.eq_ignore_ascii_case(address));
        self.other_emails = self
            .form
            .emails
            .iter()
            .filter(|address| !is_person(address))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        self.people = people
            .iter()
            .map(|(email, role)| Choice {
                checked: self
                    .form
                    .emails
                    .iter()
                    .any(|address| address.eq_ignore_ascii_case(email)),
                name: format!("email:{email}"),
                label: format!("{email} ({})", role.as_str()),
            })
            .collect();
    }
}
