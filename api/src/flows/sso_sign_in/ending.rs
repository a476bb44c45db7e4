//! How a flow that failed is recorded: the failure ends the flow (claims
//! it) unless the flow ended already, which makes this a replay.

use serde_json::Value;
use warden_core::auth::sso::flow::Flow;
use warden_core::commands::Context;
use warden_core::commands::sso::Connection;
use warden_core::commands::sso::sign_in::{self as events, Failed, Failure};

use super::{Ended, Tested};
use crate::error::ApiError;
use crate::flows::{commit, commit_race};
use crate::state::AppState;

/// Records a flow's failure.
pub(super) struct Ending<'a> {
    pub(super) state: &'a AppState,
    pub(super) context: &'a Context,
    pub(super) flow: &'a Flow,
    pub(super) name: String,
}

impl Ending<'_> {
    pub(super) async fn failed(
        &self,
        reason: Failure,
        detail: String,
        subject: Option<&str>,
    ) -> Result<Ended, ApiError> {
        let failed = Failed {
            flow: self.flow.id.clone(),
            connection: self.flow.connection.clone(),
            org: self.flow.org.clone(),
            name: self.name.clone(),
            test: self.flow.tester.is_some(),
            reason,
            detail,
            subject: subject.map(str::to_string),
        };
        let (reason, detail) = match commit_race(self.state, vec![events::failed(self.context, &failed)]).await? {
            Ok(_) => (reason, failed.detail),
            // The flow ended already: this is a replay. Recorded as one,
            // without ending anything.
            Err(_) => {
                let replayed = Failed {
                    reason: Failure::Replayed,
                    detail: "the provider's answer was used already (a replayed callback)".into(),
                    ..failed
                };
                commit(self.state, vec![events::failed(self.context, &replayed)]).await?;
                (Failure::Replayed, replayed.detail)
            }
        };
        Ok(Ended::Failed {
            name: Some(self.name.clone()),
            reason,
            detail,
        })
    }

    /// A test's failure shows what the provider said; a sign-in's only
    /// that it failed.
    pub(super) fn tested_or(&self, ended: Ended, connection: &Connection, claims: Value) -> Ended {
        match (&self.flow.tester, ended) {
            (Some(_), Ended::Failed { reason, detail, .. }) => Ended::Tested(Box::new(Tested {
                connection: connection.id.clone(),
                name: connection.settings.name.clone(),
                claims,
                outcome: Err(Failed {
                    flow: self.flow.id.clone(),
                    connection: connection.id.clone(),
                    org: connection.org.clone(),
                    name: connection.settings.name.clone(),
                    test: true,
                    reason,
                    detail,
                    subject: None,
                }),
            })),
            (_, ended) => ended,
        }
    }
}
