//! Deciding what an import does with each row, and the report of it.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;
use warden_core::auth::password::Scheme;
use warden_core::commands::account::{Role, normalize_email, valid_email};
use warden_core::commands::org::valid_slug;
use warden_projections::accounts::Accounts;

use super::source::LegacyRow;

pub(super) struct Planned {
    pub(super) legacy_id: Option<String>,
    pub(super) email: String,
    pub(super) display_name: String,
    pub(super) org_slug: String,
    pub(super) role: Role,
    pub(super) active: bool,
    pub(super) hash: String,
}

pub(super) struct PlannedOrg {
    pub(super) name: String,
    pub(super) slug: String,
    /// Already in Warden: its id.
    pub(super) existing: Option<String>,
}

#[derive(Default)]
pub(super) struct Report {
    pub(super) rows: u64,
    pub(super) schemes: BTreeMap<&'static str, u64>,
    pub(super) roles: BTreeMap<&'static str, u64>,
    pub(super) roles_defaulted: BTreeMap<String, u64>,
    pub(super) owners_demoted: u64,
    pub(super) skipped: BTreeMap<&'static str, u64>,
    pub(super) examples: Vec<serde_json::Value>,
}

impl Report {
    pub(super) fn skip(&mut self, row: &LegacyRow, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
        if self.examples.len() < 100 {
            self.examples
                .push(json!({ "row": row.row, "id": row.get("id"), "reason": reason }));
        }
    }
}

/// `Acme Corp.` → `acme-corp`.
pub(super) fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    slug.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

pub(super) fn legacy_role(text: Option<&str>, report: &mut Report) -> Role {
    let role = match text.map(str::to_lowercase).as_deref() {
        Some("owner") => Role::Owner,
        Some("admin" | "administrator") => Role::Admin,
        Some("auditor" | "compliance") => Role::Auditor,
        Some("member" | "user") | None => Role::Member,
        Some(other) => {
            *report
                .roles_defaulted
                .entry(other.chars().take(40).collect())
                .or_default() += 1;
            Role::Member
        }
    };
    *report.roles.entry(role.as_str()).or_default() += 1;
    role
}

pub(super) fn truthy(text: Option<&str>) -> bool {
    !matches!(
        text.map(str::to_lowercase).as_deref(),
        Some("false" | "f" | "0" | "no" | "n" | "inactive" | "disabled")
    )
}

pub(super) fn plan(
    rows: &[LegacyRow],
    accounts: &Accounts,
    into_existing: bool,
) -> (Vec<Planned>, Vec<PlannedOrg>, Report) {
    let mut report = Report {
        rows: rows.len() as u64,
        ..Report::default()
    };
    let mut users = Vec::new();
    let mut orgs: BTreeMap<String, PlannedOrg> = BTreeMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    for row in rows {
        let Some(email) = row.get("email").map(normalize_email).filter(|email| valid_email(email)) else {
            report.skip(row, "invalid_email");
            continue;
        };
        if !seen.insert(email.clone()) {
            report.skip(row, "duplicate_email");
            continue;
        }
        if accounts.user_by_email(&email).is_some() {
            report.skip(row, "already_in_warden");
            continue;
        }
        let Some(hash) = row.get("password_hash") else {
            report.skip(row, "no_password_hash");
            continue;
        };
        if Scheme::of(hash).is_none() {
            report.skip(row, "unknown_hash_scheme");
            continue;
        }
        if !Scheme::within_bounds(hash) {
            report.skip(row, "hash_too_costly");
            continue;
        }
        let org_name = row.get("org").unwrap_or("Imported").to_string();
        let slug = slugify(&org_name);
        if !valid_slug(&slug) {
            report.skip(row, "invalid_org");
            continue;
        }
        let existing = accounts.org_by_slug(&slug).map(|org| org.id.clone());
        if existing.is_some() && !into_existing {
            report.skip(row, "existing_org");
            continue;
        }
        orgs.entry(slug.clone()).or_insert_with(|| PlannedOrg {
            name: org_name.chars().take(100).collect(),
            existing: existing.clone(),
            slug: slug.clone(),
        });
        *report.schemes.entry(Scheme::name(hash)).or_default() += 1;
        let display_name = row
            .get("display_name")
            .filter(|name| name.chars().count() <= 100 && !name.chars().any(char::is_control))
            .map(str::to_string)
            .unwrap_or_else(|| email.split('@').next().unwrap_or("user").to_string());
        let mut role = legacy_role(row.get("role"), &mut report);
        if existing.is_some() && role == Role::Owner {
            // Nobody becomes owner of an org that exists already by import.
            role = Role::Admin;
            report.owners_demoted += 1;
        }
        users.push(Planned {
            legacy_id: row.get("id").map(str::to_string),
            role,
            active: truthy(row.get("active")),
            email,
            display_name,
            org_slug: slug,
            hash: hash.to_string(),
        });
    }
    (users, orgs.into_values().collect(), report)
}

pub(super) fn report_json(
    report: &Report,
    users: usize,
    orgs: &[PlannedOrg],
    import_id: Option<&str>,
) -> serde_json::Value {
    json!({
        "import_id": import_id,
        "rows": report.rows,
        "users": users,
        "orgs_new": orgs.iter().filter(|org| org.existing.is_none()).count(),
        "orgs_existing": orgs.iter().filter(|org| org.existing.is_some()).count(),
        "schemes": report.schemes,
        "roles": report.roles,
        "roles_defaulted_to_member": report.roles_defaulted,
        "owners_joining_existing_orgs_as_admins": report.owners_demoted,
        "skipped": report.skipped.values().sum::<u64>(),
        "skipped_by_reason": report.skipped,
        "skipped_examples": report.examples,
    })
}
