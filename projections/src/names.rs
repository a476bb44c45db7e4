//! The names people know things by, for the references of an event's
//! sentence (`warden_core::commands::sentence`): a user by their email
//! address (verified and unique, where a display name is only what someone
//! typed), an org, API key, alert rule or alert by its name, a webhook
//! endpoint by its description. Looked up in one org, the reader's, so
//! that no name crosses from another org; what is not found (removed, or
//! another org's) reads as its id.

use warden_core::commands::sentence::Ref;

use crate::ReadModels;
use crate::projection::read;

/// The names of one org's things.
pub struct Names<'a> {
    models: &'a ReadModels,
    org: &'a str,
}

impl<'a> Names<'a> {
    pub fn new(models: &'a ReadModels, org: &'a str) -> Self {
        Names { models, org }
    }

    /// The name `reference` is known by, if it is one of the org's.
    pub fn name(&self, reference: &Ref) -> Option<String> {
        let org = self.org;
        match reference {
            Ref::User(id) => read(&self.models.accounts)
                .user(id)
                .filter(|user| user.org == org)
                .map(|user| user.email.clone()),
            Ref::Org(id) => read(&self.models.accounts)
                .org(id)
                .filter(|found| found.id == org)
                .map(|found| found.name.clone()),
            Ref::ApiKey(id) => read(&self.models.api_keys)
                .get(id)
                .filter(|key| key.org == org)
                .map(|key| format!("API key \"{}\"", key.settings.name)),
            Ref::AlertRule(id) => read(&self.models.alerts).rule(org, id).and_then(|rule| {
                rule.spec
                    .get("name")
                    .and_then(|name| name.as_str())
                    .map(|name| format!("alert rule \"{name}\""))
            }),
            Ref::Alert(id) => read(&self.models.alerts)
                .alert(org, id)
                .map(|alert| format!("alert \"{}\"", alert.fired.name)),
            Ref::WebhookEndpoint(id) => read(&self.models.deliveries)
                .endpoint(org, id)
                .filter(|endpoint| !endpoint.description.is_empty())
                .map(|endpoint| format!("webhook \"{}\"", endpoint.description)),
            Ref::Secret(_) | Ref::Session(_) | Ref::Event(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warden_core::commands::account;
    use warden_core::event::{Actor, Event, NewEvent, now_micros};

    use super::*;
    use crate::projection::Projection;

    fn user(seq: u64, id: &str, org: &str, email: &str) -> Event {
        let data =
            json!({ "org": org, "email": email, "display_name": "Olive Owner", "role": "owner", "status": "active" });
        let new = NewEvent::new(account::USER_CREATED, format!("user:{id}"), Actor::system()).data(data);
        Event::unsealed(seq, now_micros(), new)
    }

    #[test]
    fn names_are_the_readers_orgs_only_and_users_go_by_their_address() {
        let models = ReadModels::default();
        {
            let mut accounts = models.accounts.write().unwrap();
            accounts.apply(&user(1, "u-1", "o-1", "olive@acme.test"));
            accounts.apply(&user(2, "u-2", "o-2", "gina@globex.test"));
        }
        let acme = Names::new(&models, "o-1");
        assert_eq!(acme.name(&Ref::User("u-1".into())).as_deref(), Some("olive@acme.test"));
        assert_eq!(acme.name(&Ref::User("u-2".into())), None, "another org's user");
        assert_eq!(acme.name(&Ref::User("u-9".into())), None);
        assert_eq!(Names::new(&models, "o-2").name(&Ref::User("u-1".into())), None);
        for nameless in [Ref::Session("s-1".into()), Ref::Secret("db".into()), Ref::Event(4)] {
            assert_eq!(acme.name(&nameless), None);
        }
    }
}
