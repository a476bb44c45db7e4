//! The provider's answer to a confirmation (`auth::sso::step_up`): the
//! session that asked is elevated, with a new token, when it is the same
//! person, authenticated again just now. Nobody signs in; `sso.succeeded`
//! (`reauthenticated`) ends the flow beside `session.elevated`.

use chrono::Utc;
use warden_core::auth::SessionState;
use warden_core::auth::mfa_policy::{Method, upstream_mfa_counts};
use warden_core::auth::sso::flow::Confirming;
use warden_core::auth::sso::id_token::Identity;
use warden_core::auth::sso::step_up::{self as confirmation, Confirmation};
use warden_core::auth::step_up;
use warden_core::commands::account::Status;
use warden_core::commands::sso::Connection;
use warden_core::commands::sso::sign_in::{self as events, Failure, SignInResult, Succeeded};
use warden_core::event::now_micros;
use warden_projections::projection::read;

use super::Ended;
use super::ending::Ending;
use crate::error::ApiError;
use crate::flows::issued::{self, Drawn};
use crate::flows::{Lost, commit_race, read as state_of};
use crate::state::AppState;
use crate::web::Client;

/// Decides the confirmation and appends what it ends with.
pub(super) async fn confirmed(
    state: &AppState,
    client: &Client,
    end: &Ending<'_>,
    connection: &Connection,
    confirming: &Confirming,
    identity: &Identity,
) -> Result<Ended, ApiError> {
    let now = Utc::now();
    let session = read(&state.models.sessions)
        .get(&confirming.session)
        .filter(|session| session.user == confirming.user && session.pending.is_none() && session.valid_at(now, None))
        .cloned();
    let role = read(&state.models.accounts)
        .user(&confirming.user)
        .filter(|user| user.status == Status::Active)
        .map(|user| user.role);
    let rules = state_of::org_rules(state, &connection.org);
    let linked = read(&state.models.sso)
        .linked(&connection.id, &identity.subject)
        .map(str::to_string);
    let decided = confirmation::decide(&Confirmation {
        user: &confirming.user,
        session_live: session.is_some() && role.is_some(),
        linked: linked.as_deref(),
        auth_time: identity.auth_time,
        started_at: end.flow.started_at,
        upstream_mfa: upstream_mfa_counts(&rules.mfa, Method::Oidc, identity.upstream_mfa),
        has_second_factor: state_of::factors(state, &confirming.user).has_second_factor(),
    });
    let elevation = match decided {
        Ok(elevation) => elevation,
        Err((reason, detail)) => return end.failed(reason, detail, Some(&identity.subject)).await,
    };
    let (Some(session), Some(role)) = (session, role) else {
        // `decide` refuses an ended session first.
        let detail = "the session that asked to confirm ended meanwhile".to_string();
        return end.failed(Failure::SessionEnded, detail, Some(&identity.subject)).await;
    };
    let drawn = Drawn::for_session(session.id.clone());
    let session_state = SessionState {
        id: &session.id,
        user: &session.user,
        org: &session.org,
        assurance: &session.assurance,
        pending: session.pending.as_ref(),
        created_at: session.created_at,
        expires_at: session.expires_at,
    };
    let upstream_mfa = elevation.methods.iter().any(|method| method == "upstream_mfa");
    let elevated = step_up::elevate(
        &client.caller(),
        &session_state,
        elevation,
        &drawn.session.token_hash,
        state_of::session_policy(state, &session.org),
        now_micros(),
    );
    let succeeded = Succeeded {
        flow: end.flow.id.clone(),
        connection: connection.id.clone(),
        org: connection.org.clone(),
        name: connection.settings.name.clone(),
        test: false,
        result: SignInResult::Reauthenticated,
        user: Some(confirming.user.clone()),
        subject: identity.subject.clone(),
        email: identity.email.clone(),
        role,
        upstream_mfa,
        session: Some(session.id.clone()),
    };
    let appended = vec![elevated.event.clone(), events::succeeded(end.context, &succeeded)];
    match commit_race(state, appended).await? {
        Ok(sealed) => Ok(Ended::Confirmed {
            issued: Box::new(issued::elevated_session(&session.id, drawn.token, &sealed, elevated)?),
            next: end.flow.next.clone(),
        }),
        Err(Lost::Taken) => {
            let detail = "this confirmation ended already".to_string();
            end.failed(Failure::Replayed, detail, Some(&identity.subject)).await
        }
        Err(Lost::Conflict) => Err(ApiError::changed_meanwhile()),
    }
}
