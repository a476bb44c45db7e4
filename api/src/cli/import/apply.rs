//! Appending an import's events, and reverting an import.

use std::collections::{HashMap, HashSet};

use serde_json::json;
use warden_core::NewEvent;
use warden_core::auth::password::Scheme;
use warden_core::commands::account::{self, PasswordReason, PasswordSet, Status, UserCreated, UserRemoved};
use warden_core::commands::import::{self, ImportCompleted, ImportReverted, ImportStarted};
use warden_core::commands::org::{self, OrgCreated, OrgRemoved, SessionPolicy};
use warden_core::commands::session::{self, RevocationReason, SessionRevoked};
use warden_core::ledger::{AppendError, MAX_BATCH_EVENTS};
use warden_projections::projection::read;

use super::context;
use super::plan::{Report, plan, report_json};
use super::source::LegacyRow;
use crate::node::Node;

pub(super) async fn import(
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
                            reason: PasswordReason::Import,
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
pub(super) async fn append_users(node: &Node, users: Vec<Vec<NewEvent>>, report: &mut Report) -> Result<u64, String> {
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

pub(super) async fn revert_with(node: &Node, import_id: &str) -> Result<serde_json::Value, String> {
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
                    reason: RevocationReason::ImportReverted,
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
