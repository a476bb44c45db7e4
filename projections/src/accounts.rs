//! Orgs, users and the setup state: who exists, their role and status,
//! their sealed password hash, and each subject's version for the next
//! command's optimistic concurrency.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::auth::mfa_policy::{Method, MfaPolicy};
use warden_core::auth::security_email::SecurityEmails;
use warden_core::commands::account::{
    self, EmailChanged, Invitation, PasswordSet, Role, RoleChanged, SearchRemoved, SearchSaved, Status, StatusChanged,
    TimeZoneChanged, UserCreated,
};
use warden_core::commands::import::{self as imports};
use warden_core::commands::org::{
    self, MfaPolicyChanged, OrgCreated, SecurityEmailsChanged, SessionPolicy, SessionPolicyChanged,
};
use warden_core::commands::setup::{self, LinkIssued};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::keys::Sealed;
use warden_core::{ActorKind, Event};

use crate::Projection;

mod members;
pub use members::{MemberFilter, MemberPage, Start};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub session_policy: SessionPolicy,
    #[serde(default)]
    pub mfa_policy: MfaPolicy,
    /// Which security emails the org's users get.
    #[serde(default)]
    pub security_emails: SecurityEmails,
    /// When the MFA policy last began to require a second factor (the
    /// enrolment grace counts from here, or from a later account creation).
    #[serde(default)]
    pub mfa_required_since: Option<DateTime<Utc>>,
    pub import_id: Option<String>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub status: Status,
    pub password: Option<Sealed<String>>,
    pub password_scheme: Option<String>,
    pub invitation: Option<Invitation>,
    pub import_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The user who created or invited the account (none for the first
    /// owner, an import or the operator).
    #[serde(default)]
    pub created_by: Option<String>,
    /// The time zone the user reads the console's times in (`None`:
    /// UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The user's saved searches of the audit trail, in the order saved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub saved_searches: Vec<SearchSaved>,
    /// The last change of role or status: sessions older than this get a
    /// new token on their next request.
    pub privileges_changed_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Setup {
    pub version: u64,
    pub link: Option<LinkIssued>,
    pub completed: bool,
}

/// An import batch, by its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Import {
    pub started_at: Option<DateTime<Utc>>,
    pub completed: bool,
    pub reverted: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Accounts {
    orgs: HashMap<String, Org>,
    users: HashMap<String, User>,
    by_email: HashMap<String, String>,
    /// Each org's users, by email: the console's list pages through it.
    #[serde(default)]
    by_org: HashMap<String, BTreeMap<String, String>>,
    /// Invited users, by their invitation token's hash.
    #[serde(default)]
    by_invitation: HashMap<String, String>,
    setup: Setup,
    imports: HashMap<String, Import>,
}

impl Accounts {
    pub fn org(&self, id: &str) -> Option<&Org> {
        self.orgs.get(id)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.by_email
            .get(&account::normalize_email(email))
            .and_then(|id| self.users.get(id))
    }

    /// Every user of every org, in no particular order.
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn user_by_invitation(&self, token_hash: &str) -> Option<&User> {
        self.by_invitation
            .get(token_hash)
            .and_then(|id| self.users.get(id))
            .filter(|user| user.status == Status::Invited)
    }

    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn org_by_slug(&self, slug: &str) -> Option<&Org> {
        self.orgs.values().find(|org| org.slug == slug)
    }

    pub fn import(&self, id: &str) -> Option<&Import> {
        self.imports.get(id)
    }

    /// The users an import created that are still there.
    pub fn imported_users(&self, import_id: &str) -> Vec<&User> {
        self.users
            .values()
            .filter(|user| user.import_id.as_deref() == Some(import_id))
            .collect()
    }

    /// The orgs an import created that are still there.
    pub fn imported_orgs(&self, import_id: &str) -> Vec<&Org> {
        self.orgs
            .values()
            .filter(|org| org.import_id.as_deref() == Some(import_id))
            .collect()
    }
}

impl Projection for Accounts {
    const NAME: &'static str = warden_core::commands::catalogue::readers::ACCOUNTS;
    const VERSION: u32 = 4;

    fn apply(&mut self, event: &Event) {
        if event.subject == setup::SETUP_SUBJECT {
            self.setup.version = event.subject_version;
            match event.kind.as_str() {
                setup::SETUP_LINK_ISSUED => self.setup.link = payload(event),
                setup::SETUP_COMPLETED => {
                    self.setup.completed = true;
                    self.setup.link = None;
                }
                _ => {}
            }
            return;
        }
        if let Some(id) = subject_id(&event.subject, Prefix::Import) {
            let import = self.imports.entry(id.to_string()).or_default();
            match event.kind.as_str() {
                imports::IMPORT_STARTED => import.started_at = Some(event.at),
                imports::IMPORT_COMPLETED => import.completed = true,
                imports::IMPORT_REVERTED => import.reverted = true,
                _ => {}
            }
            return;
        }
        if let Some(id) = subject_id(&event.subject, Prefix::Org) {
            self.apply_org(id, event);
        } else if let Some(id) = subject_id(&event.subject, Prefix::User) {
            self.apply_user(id, event);
        }
    }
}

impl Accounts {
    fn apply_org(&mut self, id: &str, event: &Event) {
        match event.kind.as_str() {
            org::ORG_CREATED => {
                if let Some(created) = payload::<OrgCreated>(event) {
                    self.orgs.insert(
                        id.to_string(),
                        Org {
                            id: id.to_string(),
                            name: created.name,
                            slug: created.slug,
                            session_policy: created.session_policy,
                            mfa_policy: MfaPolicy::default(),
                            security_emails: SecurityEmails::default(),
                            mfa_required_since: None,
                            import_id: created.import_id,
                            version: event.subject_version,
                            created_at: event.at,
                        },
                    );
                }
            }
            org::ORG_REMOVED => {
                self.orgs.remove(id);
                return;
            }
            org::ORG_SESSION_POLICY_CHANGED => {
                if let (Some(org), Some(change)) = (self.orgs.get_mut(id), payload::<SessionPolicyChanged>(event)) {
                    org.session_policy = change.new;
                }
            }
            org::ORG_SECURITY_EMAILS_CHANGED => {
                if let (Some(org), Some(change)) = (self.orgs.get_mut(id), payload::<SecurityEmailsChanged>(event)) {
                    org.security_emails = change.new;
                }
            }
            org::ORG_MFA_POLICY_CHANGED => {
                if let (Some(org), Some(change)) = (self.orgs.get_mut(id), payload::<MfaPolicyChanged>(event)) {
                    let requires = |policy: &MfaPolicy, method: &Method| policy.rule(*method).require_mfa;
                    let newly = Method::ALL
                        .iter()
                        .any(|method| requires(&change.new, method) && !requires(&change.old, method));
                    if newly {
                        org.mfa_required_since = Some(event.at);
                    } else if !Method::ALL.iter().any(|method| requires(&change.new, method)) {
                        org.mfa_required_since = None;
                    }
                    org.mfa_policy = change.new;
                }
            }
            _ => {}
        }
        if let Some(org) = self.orgs.get_mut(id) {
            org.version = event.subject_version;
        }
    }

    fn apply_user(&mut self, id: &str, event: &Event) {
        if event.kind == account::USER_CREATED {
            if let Some(created) = payload::<UserCreated>(event) {
                let email = account::normalize_email(&created.email);
                self.by_email.insert(email.clone(), id.to_string());
                self.by_org
                    .entry(created.org.clone())
                    .or_default()
                    .insert(email.clone(), id.to_string());
                if let Some(invitation) = &created.invitation {
                    self.by_invitation.insert(invitation.token_hash.clone(), id.to_string());
                }
                self.users.insert(
                    id.to_string(),
                    User {
                        id: id.to_string(),
                        org: created.org,
                        email,
                        display_name: created.display_name,
                        role: created.role,
                        status: created.status,
                        password: None,
                        password_scheme: None,
                        invitation: created.invitation,
                        import_id: created.import_id,
                        created_at: event.at,
                        created_by: (event.actor.kind == ActorKind::User)
                            .then(|| event.actor.id.clone())
                            .flatten(),
                        time_zone: None,
                        saved_searches: Vec::new(),
                        privileges_changed_at: event.at,
                        version: event.subject_version,
                    },
                );
            }
            return;
        }
        if event.kind == account::USER_REMOVED {
            if let Some(user) = self.users.remove(id) {
                self.by_email.remove(&user.email);
                if let Some(members) = self.by_org.get_mut(&user.org) {
                    members.remove(&user.email);
                }
                if let Some(invitation) = &user.invitation {
                    self.by_invitation.remove(&invitation.token_hash);
                }
            }
            return;
        }
        let Some(user) = self.users.get_mut(id) else {
            return;
        };
        user.version = event.subject_version;
        match event.kind.as_str() {
            account::USER_ROLE_CHANGED => {
                if let Some(change) = payload::<RoleChanged>(event) {
                    user.role = change.new;
                    user.privileges_changed_at = event.at;
                }
            }
            account::USER_DISABLED | account::USER_ENABLED | account::USER_INVITATION_ACCEPTED => {
                if let Some(change) = payload::<StatusChanged>(event) {
                    user.status = change.new;
                    user.privileges_changed_at = event.at;
                    if change.new != Status::Invited
                        && let Some(invitation) = user.invitation.take()
                    {
                        self.by_invitation.remove(&invitation.token_hash);
                    }
                }
            }
            account::USER_EMAIL_CHANGED => {
                if let Some(changed) = payload::<EmailChanged>(event) {
                    let new = account::normalize_email(&changed.new);
                    self.by_email.remove(&user.email);
                    self.by_email.insert(new.clone(), id.to_string());
                    if let Some(members) = self.by_org.get_mut(&user.org) {
                        members.remove(&user.email);
                        members.insert(new.clone(), id.to_string());
                    }
                    user.email = new;
                }
            }
            account::USER_TIME_ZONE_CHANGED => {
                if let Some(changed) = payload::<TimeZoneChanged>(event) {
                    user.time_zone = changed.new;
                }
            }
            account::USER_SEARCH_SAVED => {
                if let Some(saved) = payload::<SearchSaved>(event) {
                    user.saved_searches.push(saved);
                }
            }
            account::USER_SEARCH_REMOVED => {
                if let Some(removed) = payload::<SearchRemoved>(event) {
                    user.saved_searches.retain(|search| search.id != removed.id);
                }
            }
            account::PASSWORD_SET | account::PASSWORD_CHANGED | account::PASSWORD_REHASHED => {
                if let Some(set) = payload::<PasswordSet>(event) {
                    user.password = Some(set.hash);
                    user.password_scheme = Some(set.scheme);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_core::commands::account::{self, Role, Status};
    use warden_core::event::{Actor, NewEvent, now_micros};

    use super::*;

    fn created(accounts: &mut Accounts, seq: u64, org: &str, email: &str, name: &str, status: Status) {
        let data = serde_json::json!({
            "org": org, "email": email, "display_name": name, "role": "member", "status": status.as_str(),
        });
        let new = NewEvent::new(account::USER_CREATED, format!("user:u{seq}"), Actor::system()).data(data);
        accounts.apply(&Event::unsealed(seq, now_micros(), new));
    }

    fn emails(page: &MemberPage<'_>) -> Vec<String> {
        page.users.iter().map(|user| user.email.clone()).collect()
    }

    #[test]
    fn an_orgs_users_page_by_email_both_ways_and_by_filter() {
        let mut accounts = Accounts::default();
        for (seq, email) in ["e@x.test", "a@x.test", "d@x.test", "c@x.test", "b@x.test"]
            .iter()
            .enumerate()
        {
            let status = if *email == "d@x.test" {
                Status::Disabled
            } else {
                Status::Active
            };
            created(
                &mut accounts,
                seq as u64 + 1,
                "o-1",
                email,
                &email.to_uppercase(),
                status,
            );
        }
        created(&mut accounts, 9, "o-2", "a@y.test", "Other", Status::Active);
        let all = MemberFilter::default();
        assert_eq!(accounts.member_count("o-1"), 5);

        let first = accounts.members_page("o-1", &all, Start::First, 2);
        assert_eq!(emails(&first), ["a@x.test", "b@x.test"]);
        assert_eq!(
            (first.previous.as_deref(), first.next.as_deref()),
            (None, Some("b@x.test"))
        );
        let second = accounts.members_page("o-1", &all, Start::After("b@x.test"), 2);
        assert_eq!(emails(&second), ["c@x.test", "d@x.test"]);
        assert_eq!(second.previous.as_deref(), Some("c@x.test"));
        let last = accounts.members_page("o-1", &all, Start::After("d@x.test"), 2);
        assert_eq!((emails(&last), last.next), (vec!["e@x.test".to_string()], None));
        let back = accounts.members_page("o-1", &all, Start::Before("c@x.test"), 2);
        assert_eq!(emails(&back), ["a@x.test", "b@x.test"]);
        assert_eq!(
            (back.previous.as_deref(), back.next.as_deref()),
            (None, Some("b@x.test"))
        );
        let back = accounts.members_page("o-1", &all, Start::Before("e@x.test"), 2);
        assert_eq!(emails(&back), ["c@x.test", "d@x.test"]);
        assert_eq!(back.previous.as_deref(), Some("c@x.test"));

        let disabled = MemberFilter {
            status: Some(Status::Disabled),
            ..MemberFilter::default()
        };
        assert_eq!(
            emails(&accounts.members_page("o-1", &disabled, Start::First, 10)),
            ["d@x.test"]
        );
        let named = MemberFilter {
            text: "C@X".into(),
            role: Some(Role::Member),
            ..MemberFilter::default()
        };
        assert_eq!(
            emails(&accounts.members_page("o-1", &named, Start::First, 10)),
            ["c@x.test"]
        );
        // Another org's users are never on the page.
        assert_eq!(
            emails(&accounts.members_page("o-2", &all, Start::First, 10)),
            ["a@y.test"]
        );
        assert!(accounts.members_page("o-3", &all, Start::First, 10).users.is_empty());
    }
}
