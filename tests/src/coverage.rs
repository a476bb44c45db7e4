//! The walk of every state-changing route (`tests/coverage_api.rs`,
//! `tests/coverage_pages.rs`): each step must succeed and append at least
//! one event to the log, and the walk must cover every route.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use warden_core::ledger::LedgerStore;
use warden_core::ledger::sqlite::SqliteStore;

use crate::web::{Answer, Instance};

pub struct Walk {
    store: Arc<dyn LedgerStore>,
    pub covered: BTreeSet<&'static str>,
}

impl Walk {
    pub async fn open(instance: &Instance) -> Walk {
        let store = SqliteStore::open_existing(&instance.env.data_dir.join("ledger.sqlite"))
            .await
            .unwrap();
        Walk {
            store: Arc::new(store),
            covered: BTreeSet::new(),
        }
    }

    pub async fn head(&self) -> u64 {
        self.store.head().await.unwrap().seq
    }

    /// Asserts that `operation` succeeded and appended at least one event.
    pub async fn appended(&mut self, operation: &'static str, before: u64, status: u16, body: &Value) {
        assert!((200..300).contains(&status), "{operation}: {status} {body:?}");
        let after = self.head().await;
        assert!(after > before, "{operation} appended no event");
        self.covered.insert(operation);
    }

    pub async fn answered(&mut self, operation: &'static str, before: u64, answer: &Answer) {
        self.appended(operation, before, answer.status.as_u16(), &answer.body)
            .await;
    }

    /// Asserts that a page's form post succeeded (a page, or a redirect
    /// elsewhere than to sign in or to confirm it's you) and appended.
    pub async fn posted(&mut self, route: &'static str, before: u64, response: &reqwest::Response) {
        let status = response.status();
        let to = response.headers().get("location").map_or("", |to| to.to_str().unwrap());
        assert!(status.is_success() || status.is_redirection(), "{route}: {status}");
        assert!(
            !to.starts_with("/sign-in?next=") && !to.starts_with("/settings/reauthenticate"),
            "{route}: {status} to {to}"
        );
        assert!(self.head().await > before, "{route} appended no event");
        self.covered.insert(route);
    }

    /// Asserts that the walk covered exactly `expected`, give or take the
    /// names in `exempt` (what changes nothing, with its reason where it is
    /// declared); `what` names them in the failure.
    pub fn assert_covers(&self, expected: &BTreeSet<String>, exempt: &[&str], what: &str) {
        let mut walked: BTreeSet<String> = self.covered.iter().map(|name| name.to_string()).collect();
        walked.extend(exempt.iter().map(|name| name.to_string()));
        let missing: Vec<_> = expected.difference(&walked).collect();
        assert!(missing.is_empty(), "{what} this walk does not cover: {missing:?}");
        let unknown: Vec<_> = walked.difference(expected).collect();
        assert!(
            unknown.is_empty(),
            "walked {what} the server no longer has: {unknown:?}"
        );
    }
}
