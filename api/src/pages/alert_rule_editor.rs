//! The alert rule editor: a form (what fires the rule, which kinds of
//! events with suggestions from the catalogue, tests on fields, the group,
//! threshold and window, recipients picked by name) with the rule's JSON
//! one click away for what the form cannot say, "try it on the last N
//! hours", and save. The form and the JSON post the same rule
//! (`warden_alerting::form`); the flows check it as the API does.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use warden_alerting::deliver::message::group_text;
use warden_alerting::form::{CONDITIONS, FIELDS, RuleForm, TESTS};
use warden_alerting::rule::RuleSpec;
use warden_core::commands::catalogue::KINDS;

use super::alerts::PageAlertReader;
use super::when::{When, Zone};
use super::{Nav, NoticeQuery, PageManager, Place, error_page, failed, render, see_other};
use crate::error::ApiError;
use crate::flows::alerts;
use crate::state::AppState;
use crate::web::Client;
use crate::web::session::CurrentSession;

mod recipients;
pub use recipients::Choice;

/// The severities, least to most.
const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

pub(crate) struct FiringRow {
    pub(crate) at: When,
    pub(crate) group: String,
    pub(crate) seqs: Vec<u64>,
}

#[derive(Template)]
#[template(path = "alert_rule.html")]
struct EditorPage {
    nav: Nav,
    /// `None`: a new rule.
    rule_id: Option<String>,
    /// The form's fields; why the form cannot show the rule, if it cannot.
    form: RuleForm,
    not_in_form: Option<&'static str>,
    /// The JSON is open (posted from it, or the form cannot show the rule).
    json_open: bool,
    rule_json: String,
    hours: u64,
    /// The field a refusal points at (`aria-invalid`).
    invalid: Option<&'static str>,
    webhooks: Vec<Choice>,
    people: Vec<Choice>,
    /// Addresses of the rule that are not the org's people.
    other_emails: String,
    /// The preview's result, once asked for, its times in `zone`.
    examined: Option<usize>,
    zone: String,
    firings: Vec<FiringRow>,
    error: Option<String>,
    notice: Option<String>,
}

impl EditorPage {
    fn severities(&self) -> &'static [&'static str] {
        &SEVERITIES
    }

    fn conditions(&self) -> [(&'static str, &'static str); 3] {
        [
            (CONDITIONS[0], "Every matching event"),
            (CONDITIONS[1], "A number of matching events within a window"),
            (CONDITIONS[2], "A number of different values within a window"),
        ]
    }

    fn tests(&self) -> [(&'static str, &'static str); 5] {
        [
            (TESTS[0], "is"),
            (TESTS[1], "is not"),
            (TESTS[2], "is one of (comma-separated)"),
            (TESTS[3], "starts with"),
            (TESTS[4], "exists (yes or no)"),
        ]
    }

    fn fields(&self) -> &'static [&'static str] {
        &FIELDS
    }

    /// The kinds the catalogue knows, and the families they make
    /// (`login.*`): the kind fields' suggestions.
    fn kinds(&self) -> &'static [String] {
        static KNOWN: OnceLock<Vec<String>> = OnceLock::new();
        KNOWN.get_or_init(|| {
            let mut known: Vec<String> = KINDS.iter().map(|kind| kind.to_string()).collect();
            for kind in KINDS {
                if let Some((family, _)) = kind.split_once('.') {
                    known.push(format!("{family}.*"));
                }
            }
            known.sort();
            known.dedup();
            known
        })
    }

    /// Whether a choice is the one the form holds.
    fn is(&self, held: &str, choice: &str) -> bool {
        held == choice
    }

    fn is_invalid(&self, field: &str) -> bool {
        self.invalid == Some(field)
    }
}

fn pretty(value: &Value) -> String {
    format!("{value:#}")
}

/// The editor of `rule` (its JSON), by `current`, with the form filled in
/// when it can show the rule.
fn editor(state: &AppState, current: &CurrentSession, rule_id: Option<String>, rule: &Value) -> EditorPage {
    let (form, not_in_form) = match serde_json::from_value::<RuleSpec>(rule.clone()) {
        Ok(spec) => match RuleForm::of(&spec) {
            Ok(form) => (form, None),
            Err(why) => (RuleForm::default(), Some(why)),
        },
        Err(_) => (RuleForm::default(), Some("it is not a rule yet")),
    };
    let mut page = EditorPage {
        nav: Nav::of(current, Place::AlertRules),
        rule_id,
        json_open: not_in_form.is_some(),
        not_in_form,
        rule_json: pretty(rule),
        hours: 24,
        invalid: None,
        webhooks: Vec::new(),
        people: Vec::new(),
        other_emails: String::new(),
        examined: None,
        zone: String::new(),
        firings: Vec::new(),
        error: None,
        notice: None,
        form,
    };
    page.choices(state, current);
    page
}

#[derive(Deserialize)]
pub struct NewQuery {
    template: Option<String>,
}

/// `GET /alert-rules/new?template=…`: the editor, empty or from a template.
pub async fn new(
    State(state): State<AppState>,
    PageManager(current): PageManager,
    Query(query): Query<NewQuery>,
) -> Response {
    let template = query.template.as_deref().and_then(|name| {
        warden_alerting::templates::all()
            .into_iter()
            .find(|template| template.name == name)
    });
    let rule = match template {
        Some(template) => match serde_json::to_value(&template.spec) {
            Ok(rule) => rule,
            Err(error) => {
                tracing::error!(%error, "a built-in template does not serialize");
                return error_page(&ApiError::internal("this template cannot be shown"));
            }
        },
        None => serde_json::json!({"name": "", "severity": "medium",
            "condition": {"type": "match", "select": {"kinds": ["login.failed"]}}, "recipients": []}),
    };
    render(StatusCode::OK, &editor(&state, &current, None, &rule))
}

/// `GET /alert-rules/{id}`: a rule, in the editor.
pub async fn show(
    State(state): State<AppState>,
    PageAlertReader(current): PageAlertReader,
    Path(id): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> Response {
    match alerts::rule(&state, &current.user.org, &id) {
        Ok(rule) => {
            let mut page = editor(&state, &current, Some(rule.id), &rule.spec);
            page.notice = super::notice(query.notice.as_deref());
            render(StatusCode::OK, &page)
        }
        Err(error) => error_page(&error),
    }
}

/// What was posted: from the form (`editor=form`) or as JSON (`rule`).
struct Posted {
    fields: BTreeMap<String, String>,
}

impl Posted {
    fn by_form(&self) -> bool {
        self.fields.get("editor").map(String::as_str) == Some("form")
    }

    fn hours(&self) -> Result<u64, ApiError> {
        match self.fields.get("hours").map(|hours| hours.trim()) {
            None | Some("") => Ok(24),
            Some(hours) => hours
                .parse()
                .map_err(|_| ApiError::bad_request("hours: a whole number from 1 to 168")),
        }
    }

    /// The rule, or why not (and the field to point at).
    fn rule(&self) -> Result<Value, (ApiError, Option<&'static str>)> {
        if self.by_form() {
            return RuleForm::from_fields(&self.fields)
                .to_spec()
                .map_err(|refused| (ApiError::bad_request(refused.message), Some(refused.field)));
        }
        let text = self.fields.get("rule").map_or("", String::as_str);
        serde_json::from_str(text)
            .map_err(|error| (ApiError::bad_request(format!("rule: not JSON: {error}")), Some("rule")))
    }

    /// The editor as posted, with `error`.
    fn refused(
        &self,
        state: &AppState,
        current: &CurrentSession,
        rule_id: Option<String>,
        error: &ApiError,
        invalid: Option<&'static str>,
    ) -> Response {
        let mut page = editor(state, current, rule_id, &Value::Null);
        match self.by_form() {
            true => {
                page.form = RuleForm::from_fields(&self.fields);
                page.not_in_form = None;
                page.json_open = false;
                page.rule_json = self.rule().map(|rule| pretty(&rule)).unwrap_or_default();
            }
            false => {
                page.json_open = true;
                page.rule_json = self.fields.get("rule").cloned().unwrap_or_default();
            }
        }
        page.choices(state, current);
        page.hours = self.hours().unwrap_or(24);
        page.invalid = invalid;
        page.error = Some(error.message.clone());
        failed(error, &page)
    }
}

/// `POST /alert-rules`: saves a new rule.
pub async fn create(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    save(&state, &client, &current, None, Posted { fields }).await
}

/// `POST /alert-rules/{id}`: saves a change.
pub async fn change(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Path(id): Path<String>,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    save(&state, &client, &current, Some(id), Posted { fields }).await
}

/// Saves the rule posted, new (`id` none) or changed; to its page, or the
/// editor again with why not.
async fn save(
    state: &AppState,
    client: &Client,
    current: &CurrentSession,
    id: Option<String>,
    posted: Posted,
) -> Response {
    let rule = match posted.rule() {
        Ok(rule) => rule,
        Err((error, field)) => return posted.refused(state, current, id, &error, field),
    };
    let saved = match &id {
        None => alerts::create(state, current, client, rule).await,
        Some(id) => alerts::change(state, current, client, id, rule).await,
    };
    match saved {
        Ok(rule) => see_other(&format!("/alert-rules/{}?notice=rule_saved", rule.id)),
        Err(error) => posted.refused(state, current, id, &error, None),
    }
}

/// `POST /alert-rules/preview`: the editor, with what the rule would have
/// fired over the last `hours` hours.
pub async fn preview(
    State(state): State<AppState>,
    client: Client,
    PageManager(current): PageManager,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    let posted = Posted { fields };
    let rule_id = posted.fields.get("rule_id").filter(|id| !id.is_empty()).cloned();
    let (rule, hours) = match posted
        .rule()
        .and_then(|rule| Ok((rule, posted.hours().map_err(|e| (e, Some("hours")))?)))
    {
        Ok(found) => found,
        Err((error, field)) => return posted.refused(&state, &current, rule_id, &error, field),
    };
    match alerts::preview(&state, &current, &client, rule.clone(), hours).await {
        Ok(preview) => {
            let zone = Zone::of(current.user.time_zone.as_deref());
            let mut page = editor(&state, &current, rule_id, &rule);
            page.zone = zone.name().to_string();
            if posted.by_form() {
                page.form = RuleForm::from_fields(&posted.fields);
                page.not_in_form = None;
                page.json_open = false;
                page.choices(&state, &current);
            } else {
                page.json_open = true;
                page.rule_json = posted.fields.get("rule").cloned().unwrap_or_default();
            }
            page.hours = hours;
            page.examined = Some(preview.examined);
            page.firings = preview
                .firings
                .into_iter()
                .map(|firing| FiringRow {
                    at: zone.when(&firing.at),
                    group: group_text(&firing.group),
                    seqs: firing.seqs,
                })
                .collect();
            render(StatusCode::OK, &page)
        }
        Err(error) => posted.refused(&state, &current, rule_id, &error, None),
    }
}
