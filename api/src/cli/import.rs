//! `warden import`: brings users, orgs and password hashes over from an
//! existing PostgreSQL table (a legacy `organization_users` / `org_users`),
//! as one batch of events under an import id. `--dry-run` only reports;
//! `--revert ID` undoes an import with compensating events. The column
//! mapping and the report are documented in `docs/guides/import.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;

use clap::Args;
use futures::StreamExt;
use serde_json::json;
use sqlx::{Connection, Row};
use warden_core::auth::password::Scheme;
use warden_core::commands::Context;
use warden_core::commands::account::{
    self, PasswordSet, Role, Status, UserCreated, UserRemoved, normalize_email, valid_email,
};
use warden_core::commands::import::{self, ImportCompleted, ImportReverted, ImportStarted};
use warden_core::commands::org::{self, OrgCreated, OrgRemoved, SessionPolicy, valid_slug};
use warden_core::commands::session::{self, SessionRevoked};
use warden_core::ledger::{AppendError, MAX_BATCH_EVENTS};
use warden_core::{Actor, NewEvent};
use warden_projections::accounts::Accounts;
use warden_projections::projection::read;

use super::say;
use crate::config::Config;
use crate::node::Node;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// PostgreSQL URL of the database holding the legacy table.
    #[arg(
        long,
        env = "WARDEN_IMPORT_SOURCE",
        hide_env_values = true,
        required_unless_present = "revert"
    )]
    source: Option<String>,
    /// The legacy table (`schema.table` allowed).
    #[arg(long, default_value = "organization_users")]
    table: String,
    /// Map a Warden field to a column: `email=user_email`. Fields: id,
    /// email, display_name, org, role, password_hash, active.
    #[arg(long = "column", value_name = "FIELD=COLUMN")]
    columns: Vec<String>,
    /// Report what would be imported; append nothing.
    #[arg(long)]
    dry_run: bool,
    /// Let users join orgs that exist in Warden already (matched by slug);
    /// without it such rows are skipped. Legacy owners join as admins.
    #[arg(long)]
    into_existing: bool,
    /// Undo the import with this id (compensating events; nothing deleted).
    #[arg(long, value_name = "IMPORT_ID", conflicts_with_all = ["source", "dry_run"])]
    revert: Option<String>,
}

const FIELDS: [&str; 7] = ["id", "email", "display_name", "org", "role", "password_hash", "active"];

/// The default column of each field; `active` has none (everyone active).
fn default_column(field: &str) -> Option<&'static str> {
    match field {
        "id" => Some("id"),
        "email" => Some("email"),
        "display_name" => Some("name"),
        "org" => Some("organization"),
        "role" => Some("role"),
        "password_hash" => Some("password_hash"),
        _ => None,
    }
}

fn identifier(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').count() <= 2
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn mapping(args: &ImportArgs) -> Result<BTreeMap<&'static str, String>, String> {
    let mut columns: BTreeMap<&'static str, String> = FIELDS
        .iter()
        .filter_map(|field| default_column(field).map(|column| (*field, column.to_string())))
        .collect();
    for given in &args.columns {
        let (field, column) = given
            .split_once('=')
            .ok_or_else(|| format!("--column {given:?}: expected FIELD=COLUMN"))?;
        let field = FIELDS.iter().find(|known| **known == field).ok_or_else(|| {
            format!(
                "--column {given:?}: unknown field {field:?} (fields: {})",
                FIELDS.join(", ")
            )
        })?;
        if !identifier(column) {
            return Err(format!("--column {given:?}: {column:?} is not a plain column name"));
        }
        columns.insert(field, column.to_string());
    }
    if !identifier(&args.table) {
        return Err(format!("--table {:?} is not a plain table name", args.table));
    }
    Ok(columns)
}

/// One row of the legacy table, as text.
struct LegacyRow {
    row: u64,
    values: HashMap<&'static str, Option<String>>,
}

impl LegacyRow {
    fn get(&self, field: &str) -> Option<&str> {
        self.values
            .get(field)
            .and_then(|value| value.as_deref())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

struct Planned {
    legacy_id: Option<String>,
    email: String,
    display_name: String,
    org_slug: String,
    role: Role,
    active: bool,
    hash: String,
}

struct PlannedOrg {
    name: String,
    slug: String,
    /// Already in Warden: its id.
    existing: Option<String>,
}

#[derive(Default)]
struct Report {
    rows: u64,
    schemes: BTreeMap<&'static str, u64>,
    roles: BTreeMap<&'static str, u64>,
    roles_defaulted: BTreeMap<String, u64>,
    owners_demoted: u64,
    skipped: BTreeMap<&'static str, u64>,
    examples: Vec<serde_json::Value>,
}

impl Report {
    fn skip(&mut self, row: &LegacyRow, reason: &'static str) {
        *self.skipped.entry(reason).or_default() += 1;
        if self.examples.len() < 100 {
            self.examples
                .push(json!({ "row": row.row, "id": row.get("id"), "reason": reason }));
        }
    }
}

/// `Acme Corp.` → `acme-corp`.
fn slugify(name: &str) -> String {
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

fn legacy_role(text: Option<&str>, report: &mut Report) -> Role {
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

fn truthy(text: Option<&str>) -> bool {
    !matches!(
        text.map(str::to_lowercase).as_deref(),
        Some("false" | "f" | "0" | "no" | "n" | "inactive" | "disabled")
    )
}

async fn read_rows(
    source: &str,
    table: &str,
    columns: &BTreeMap<&'static str, String>,
) -> Result<Vec<LegacyRow>, String> {
    let mut connection = sqlx::PgConnection::connect(source)
        .await
        .map_err(|error| format!("source database: {error}"))?;
    let fields: Vec<&'static str> = columns.keys().copied().collect();
    let select = fields
        .iter()
        .map(|field| format!("\"{}\"::text", columns[field]))
        .collect::<Vec<_>>()
        .join(", ");
    let quoted_table = table
        .split('.')
        .map(|part| format!("\"{part}\""))
        .collect::<Vec<_>>()
        .join(".");
    let order = if fields.contains(&"id") {
        format!(" ORDER BY \"{}\"", columns["id"])
    } else {
        String::new()
    };
    let query = format!("SELECT {select} FROM {quoted_table}{order}");
    let mut rows = Vec::new();
    let mut stream = sqlx::query(sqlx::AssertSqlSafe(query)).fetch(&mut connection);
    let mut number = 0;
    while let Some(row) = stream.next().await {
        let row = row.map_err(|error| format!("reading {table}: {error}"))?;
        number += 1;
        let mut values = HashMap::new();
        for (index, field) in fields.iter().enumerate() {
            let value: Option<String> = row
                .try_get(index)
                .map_err(|error| format!("reading {table}: {error}"))?;
            values.insert(*field, value);
        }
        rows.push(LegacyRow { row: number, values });
    }
    Ok(rows)
}

fn plan(rows: &[LegacyRow], accounts: &Accounts, into_existing: bool) -> (Vec<Planned>, Vec<PlannedOrg>, Report) {
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

fn report_json(report: &Report, users: usize, orgs: &[PlannedOrg], import_id: Option<&str>) -> serde_json::Value {
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

pub async fn run(config: &Config, args: ImportArgs) -> Result<ExitCode, String> {
    if let Some(id) = &args.revert {
        return revert(config, id).await;
    }
    let columns = mapping(&args)?;
    let source = args.source.clone().ok_or("--source is required")?;
    let rows = read_rows(&source, &args.table, &columns).await?;
    if args.dry_run {
        let models = super::read_models(config).await?;
        let accounts = read(&models.accounts).clone();
        let (users, orgs, report) = plan(&rows, &accounts, args.into_existing);
        say(report_json(&report, users.len(), &orgs, None));
        return Ok(ExitCode::SUCCESS);
    }
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = import(&node, &args.table, &rows, args.into_existing).await;
    node.stop().await;
    let report = result?;
    say(report);
    Ok(ExitCode::SUCCESS)
}

fn context(import_id: &str) -> Context {
    let mut actor = Actor::system();
    actor.id = Some("warden-import".into());
    Context {
        actor,
        request_id: import_id.to_string(),
    }
}

async fn import(
    node: &Node,
    table: &str,
    rows: &[LegacyRow],
    into_existing: bool,
) -> Result<serde_json::Value, String> {
    let accounts = read(&node.models.accounts).clone();
    let (users, orgs, mut report) = plan(rows, &accounts, into_existing);
    let import_id = uuid::Uuid::now_v7().to_string();
    let context = context(&import_id);
    let failed = |error: AppendError| format!("append: {error}");
    node.ledger
        .append_one(import::started(
            &context,
            &import_id,
            &ImportStarted {
                source: table.to_string(),
                rows: report.rows,
                planned_users: users.len() as u64,
                planned_orgs: orgs.iter().filter(|org| org.existing.is_none()).count() as u64,
            },
        ))
        .await
        .map_err(failed)?;
    let mut org_ids: HashMap<String, String> = HashMap::new();
    let mut new_orgs = Vec::new();
    for planned in &orgs {
        let id = planned
            .existing
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        if planned.existing.is_none() {
            new_orgs.push(org::create(
                &context,
                &id,
                &OrgCreated {
                    name: planned.name.clone(),
                    slug: planned.slug.clone(),
                    session_policy: SessionPolicy::default(),
                    import_id: Some(import_id.clone()),
                },
            ));
        }
        org_ids.insert(planned.slug.clone(), id);
    }
    let org_count = new_orgs.len() as u64;
    for chunk in new_orgs.chunks(MAX_BATCH_EVENTS) {
        node.ledger.append(chunk.to_vec()).await.map_err(failed)?;
    }
    // Users, 500 at a time: their data keys made and stored in one
    // transaction, their hashes sealed, then their events as one command.
    let mut imported = 0u64;
    for chunk in users.chunks(500) {
        let ids: Vec<String> = chunk.iter().map(|_| uuid::Uuid::now_v7().to_string()).collect();
        let items: Vec<(String, &String)> = ids
            .iter()
            .zip(chunk)
            .map(|(id, planned)| (account::user_subject(id), &planned.hash))
            .collect();
        let sealed = node
            .data_keys
            .seal_new(&items)
            .await
            .map_err(|error| format!("sealing password hashes: {error}"))?;
        let pending: Vec<Vec<NewEvent>> = ids
            .iter()
            .zip(chunk)
            .zip(sealed)
            .map(|((id, planned), sealed)| {
                vec![
                    account::create(
                        &context,
                        id,
                        &UserCreated {
                            org: org_ids.get(&planned.org_slug).cloned().unwrap_or_default(),
                            email: planned.email.clone(),
                            display_name: planned.display_name.clone(),
                            role: planned.role,
                            status: if planned.active {
                                Status::Active
                            } else {
                                Status::Disabled
                            },
                            invitation: None,
                            import_id: Some(import_id.clone()),
                            legacy_id: planned.legacy_id.clone(),
                        },
                    ),
                    account::set_password(
                        &context,
                        id,
                        Some(1),
                        &PasswordSet {
                            hash: sealed,
                            scheme: Scheme::name(&planned.hash).to_string(),
                            reason: "import".into(),
                        },
                    ),
                ]
            })
            .collect();
        imported += append_users(node, pending, &mut report).await?;
    }
    node.ledger
        .append_one(import::completed(
            &context,
            &import_id,
            &ImportCompleted {
                users: imported,
                orgs: org_count,
                skipped: report.skipped.values().sum(),
            },
        ))
        .await
        .map_err(failed)?;
    let mut answer = report_json(&report, imported as usize, &orgs, Some(&import_id));
    answer["users"] = json!(imported);
    Ok(answer)
}

/// Appends users' events as one command; when an email was claimed
/// meanwhile (someone signed up), falls back to one command per user and
/// reports the ones taken.
async fn append_users(node: &Node, users: Vec<Vec<NewEvent>>, report: &mut Report) -> Result<u64, String> {
    if users.is_empty() {
        return Ok(0);
    }
    let count = users.len() as u64;
    let batch: Vec<NewEvent> = users.iter().flatten().cloned().collect();
    match node.ledger.append(batch).await {
        Ok(_) => Ok(count),
        Err(AppendError::ClaimTaken { .. }) => {
            let mut appended = 0;
            for user in users {
                match node.ledger.append(user).await {
                    Ok(_) => appended += 1,
                    Err(AppendError::ClaimTaken { .. }) => {
                        *report.skipped.entry("already_in_warden").or_default() += 1;
                    }
                    Err(error) => return Err(format!("append: {error}")),
                }
            }
            Ok(appended)
        }
        Err(error) => Err(format!("append: {error}")),
    }
}

async fn revert(config: &Config, import_id: &str) -> Result<ExitCode, String> {
    let node = Node::start(config).await.map_err(|e| e.to_string())?;
    let result = revert_with(&node, import_id).await;
    node.stop().await;
    say(result?);
    Ok(ExitCode::SUCCESS)
}

async fn revert_with(node: &Node, import_id: &str) -> Result<serde_json::Value, String> {
    let accounts = read(&node.models.accounts).clone();
    let Some(state) = accounts.import(import_id) else {
        return Err(format!("no import {import_id} in this log"));
    };
    if state.reverted {
        return Err(format!("import {import_id} is already reverted"));
    }
    let context = context(import_id);
    let users = accounts.imported_users(import_id);
    let sessions = read(&node.models.sessions).clone();
    let mut removed = 0u64;
    let mut batch: Vec<NewEvent> = Vec::new();
    for user in &users {
        for session in sessions.of_user(&user.id) {
            batch.push(session::revoke(
                &context,
                &session.id,
                &SessionRevoked {
                    user: user.id.clone(),
                    reason: "import_reverted".into(),
                },
            ));
        }
        batch.push(account::remove(
            &context,
            &user.id,
            user.version,
            &UserRemoved {
                email: user.email.clone(),
                reason: "import_reverted".into(),
                import_id: Some(import_id.to_string()),
            },
        ));
        removed += 1;
        if batch.len() >= 1000 {
            node.ledger
                .append(std::mem::take(&mut batch))
                .await
                .map_err(|e| format!("append: {e}"))?;
        }
    }
    // Orgs the import created, unless someone else joined them since.
    let importing: HashSet<&str> = users.iter().map(|user| user.id.as_str()).collect();
    let mut orgs = 0u64;
    for org in accounts.imported_orgs(import_id) {
        let others = accounts
            .members(&org.id)
            .iter()
            .any(|user| !importing.contains(user.id.as_str()));
        if others {
            continue;
        }
        batch.push(org::remove(
            &context,
            &org.id,
            org.version,
            &OrgRemoved {
                slug: org.slug.clone(),
                reason: "import_reverted".into(),
                import_id: Some(import_id.to_string()),
            },
        ));
        orgs += 1;
    }
    batch.push(import::reverted(
        &context,
        import_id,
        &ImportReverted { users: removed, orgs },
    ));
    for chunk in batch.chunks(1000) {
        node.ledger
            .append(chunk.to_vec())
            .await
            .map_err(|e| format!("append: {e}"))?;
    }
    // The legacy hashes of removed users are erased for good: their data
    // keys are shredded (the events stay, unreadable where sealed).
    for user in &users {
        node.data_keys
            .shred(&account::user_subject(&user.id))
            .await
            .map_err(|error| format!("shredding a data key: {error}"))?;
    }
    Ok(json!({ "import_id": import_id, "reverted_users": removed, "reverted_orgs": orgs }))
}
