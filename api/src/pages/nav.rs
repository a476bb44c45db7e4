//! The console's navigation: three groups (Account · Administration ·
//! Compliance), each link shown only to the roles its page admits, and the
//! page being shown marked for the eye and for screen readers
//! (`aria-current="page"`).

use warden_core::commands::account::Role;

use crate::web::session::CurrentSession;

/// The places the navigation links to; a page names the one it belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    /// The home page.
    Home,
    Sessions,
    Password,
    Address,
    TwoFactor,
    TimeZone,
    Users,
    MfaPolicy,
    Keys,
    Secrets,
    Audit,
    Alerts,
    AlertRules,
    Sso,
    /// A page outside the navigation (a prompt, a one-time secret).
    Elsewhere,
}

pub struct Link {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

pub struct Group {
    pub id: &'static str,
    pub label: &'static str,
    pub links: Vec<Link>,
}

/// What the navigation shows, and the session's CSRF token for the page's
/// own forms.
pub struct Nav {
    pub csrf_token: String,
    pub user_email: String,
    pub role: &'static str,
    pub manages_users: bool,
    pub reads_audit: bool,
    pub groups: Vec<Group>,
}

/// One link: its place, address, label, group and who sees it.
struct Entry {
    place: Place,
    href: &'static str,
    label: &'static str,
    group: &'static str,
    sees: fn(Role) -> bool,
}

const fn entry(
    place: Place,
    href: &'static str,
    label: &'static str,
    group: &'static str,
    sees: fn(Role) -> bool,
) -> Entry {
    Entry {
        place,
        href,
        label,
        group,
        sees,
    }
}

/// Every link, in the order shown.
const LINKS: [Entry; 14] = [
    entry(Place::Home, "/", "Home", "overview", |_| true),
    entry(Place::Sessions, "/settings/sessions", "Sessions", "account", |_| true),
    entry(Place::Password, "/settings/password", "Password", "account", |_| true),
    entry(Place::Address, "/settings/email", "Address", "account", |_| true),
    entry(Place::TwoFactor, "/settings/mfa", "Two-factor", "account", |_| true),
    entry(Place::TimeZone, "/settings/time-zone", "Time zone", "account", |_| true),
    entry(
        Place::Users,
        "/admin/users",
        "Users",
        "administration",
        Role::manages_users,
    ),
    entry(
        Place::MfaPolicy,
        "/admin/mfa-policy",
        "Two-factor policy",
        "administration",
        Role::manages_users,
    ),
    entry(
        Place::Sso,
        "/admin/sso",
        "Single sign-on",
        "administration",
        Role::manages_users,
    ),
    entry(Place::Keys, "/keys", "API keys", "administration", org_reader),
    entry(Place::Secrets, "/secrets", "Secrets", "administration", org_reader),
    entry(
        Place::Audit,
        "/audit",
        "Audit trail",
        "compliance",
        Role::reads_audit_trail,
    ),
    entry(Place::Alerts, "/alerts", "Alerts", "compliance", org_reader),
    entry(
        Place::AlertRules,
        "/alert-rules",
        "Alert rules",
        "compliance",
        Role::manages_users,
    ),
];

const GROUPS: [(&str, &str); 4] = [
    ("overview", "Overview"),
    ("account", "Account"),
    ("administration", "Administration"),
    ("compliance", "Compliance"),
];

fn org_reader(role: Role) -> bool {
    role.manages_users() || role.reads_audit_trail()
}

/// Whether `role` may open the pages of `place` (as the navigation
/// shows them): what a link elsewhere on a page asks before it links.
pub fn sees(place: Place, role: Role) -> bool {
    LINKS.iter().any(|entry| entry.place == place && (entry.sees)(role))
}

impl Nav {
    /// The navigation of `current`'s role, with `here` marked.
    pub fn of(current: &CurrentSession, here: Place) -> Self {
        let role = current.user.role;
        let groups = GROUPS
            .into_iter()
            .map(|(id, label)| Group {
                id,
                label,
                links: LINKS
                    .iter()
                    .filter(|entry| entry.group == id && (entry.sees)(role))
                    .map(|entry| Link {
                        href: entry.href,
                        label: entry.label,
                        current: entry.place == here,
                    })
                    .collect(),
            })
            .filter(|group| !group.links.is_empty())
            .collect();
        Nav {
            csrf_token: current.csrf_token(),
            user_email: current.user.email.clone(),
            role: role.as_str(),
            manages_users: role.manages_users(),
            reads_audit: role.reads_audit_trail(),
            groups,
        }
    }

    /// The same navigation with another CSRF token (the page of a session
    /// just issued).
    pub fn with_csrf_token(mut self, token: String) -> Self {
        self.csrf_token = token;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(role: Role) -> Vec<(&'static str, Vec<&'static str>)> {
        GROUPS
            .into_iter()
            .map(|(id, label)| {
                let links = LINKS
                    .iter()
                    .filter(|entry| entry.group == id && (entry.sees)(role))
                    .map(|entry| entry.label)
                    .collect();
                (label, links)
            })
            .filter(|(_, links): &(_, Vec<_>)| !links.is_empty())
            .collect()
    }

    #[test]
    fn each_role_sees_the_links_of_the_pages_it_may_open() {
        type Groups = &'static [(&'static str, &'static [&'static str])];
        let cases: [(Role, Groups); 4] = [
            (
                Role::Owner,
                &[
                    ("Overview", &["Home"]),
                    (
                        "Account",
                        &["Sessions", "Password", "Address", "Two-factor", "Time zone"],
                    ),
                    (
                        "Administration",
                        &["Users", "Two-factor policy", "Single sign-on", "API keys", "Secrets"],
                    ),
                    ("Compliance", &["Audit trail", "Alerts", "Alert rules"]),
                ],
            ),
            (
                Role::Admin,
                &[
                    ("Overview", &["Home"]),
                    (
                        "Account",
                        &["Sessions", "Password", "Address", "Two-factor", "Time zone"],
                    ),
                    (
                        "Administration",
                        &["Users", "Two-factor policy", "Single sign-on", "API keys", "Secrets"],
                    ),
                    ("Compliance", &["Alerts", "Alert rules"]),
                ],
            ),
            (
                Role::Auditor,
                &[
                    ("Overview", &["Home"]),
                    (
                        "Account",
                        &["Sessions", "Password", "Address", "Two-factor", "Time zone"],
                    ),
                    ("Administration", &["API keys", "Secrets"]),
                    ("Compliance", &["Audit trail", "Alerts"]),
                ],
            ),
            (
                Role::Member,
                &[
                    ("Overview", &["Home"]),
                    (
                        "Account",
                        &["Sessions", "Password", "Address", "Two-factor", "Time zone"],
                    ),
                ],
            ),
        ];
        for (role, expected) in cases {
            let got = labels(role);
            let expected: Vec<(&str, Vec<&str>)> =
                expected.iter().map(|(group, links)| (*group, links.to_vec())).collect();
            assert_eq!(got, expected, "{role:?}");
        }
    }
}
