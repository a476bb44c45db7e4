//! The alert rule editor's form against a real `warden serve`: a template
//! opens filled in, kinds are suggested from the catalogue, recipients are
//! picked by name, the form saves the rule the API then serves, refusals
//! point at their field and keep what was typed, a rule the form cannot
//! show opens as JSON, and only owners and admins of the org change rules.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use warden_tests::audit::{page_signed_in, signed_in, text, two_orgs};
use warden_tests::peers::SmtpSink;
use warden_tests::web::{Forms, field, location};

/// The `value` of the input `id` of a page.
fn value_of(html: &str, id: &str) -> String {
    let input = html.split(&format!("id=\"{id}\"")).nth(1).unwrap();
    let input = input.split('>').next().unwrap();
    input
        .split(" value=\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .unwrap_or_default()
}

fn checked(html: &str, id: &str) -> bool {
    let input = html.split(&format!("id=\"{id}\"")).nth(1).unwrap();
    input.split('>').next().unwrap().contains(" checked")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_is_made_with_the_form_and_the_json_stays_one_click_away() {
    // Nothing fires: the endpoints are never posted to (a loopback address
    // will do), but email recipients need a mail server configured.
    let smtp = SmtpSink::start().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let instance = two_orgs(&[
        ("WARDEN_ALERT_WEBHOOK_PRIVATE_ADDRESSES", "true"),
        ("WARDEN_SMTP_URL", smtp_url.as_str()),
        ("WARDEN_SMTP_TLS", "none"),
        ("WARDEN_SMTP_FROM", "Warden <warden@acme.test>"),
    ])
    .await;
    let server = &instance.server;
    let forms = Forms::new(server);
    let mut admin = signed_in(server, "admin@acme.test").await;
    let created = admin
        .post(
            "/api/v1/webhook-endpoints",
            json!({"url": "http://127.0.0.1:9/hook", "description": "SOC <pager>"}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let endpoint = created.body["id"].as_str().unwrap().to_string();
    let mut globex = signed_in(server, "admin@globex.test").await;
    let theirs = globex
        .post("/api/v1/webhook-endpoints", json!({"url": "http://127.0.0.1:9/globex"}))
        .await;
    let theirs = theirs.body["id"].as_str().unwrap().to_string();
    let owner = page_signed_in(&forms, "owner@acme.test").await;

    // Templates by their titles and what they catch.
    let (status, html) = forms.html("/alert-rules", &owner).await;
    assert_eq!(status, 200);
    let templates = text(
        html.split("id=\"rule-templates\"")
            .nth(1)
            .unwrap()
            .split("</ul>")
            .next()
            .unwrap(),
    );
    assert!(
        templates.contains("Failed sign-ins on one account: 5 failed sign-ins on the same account"),
        "{templates}"
    );
    assert!(!templates.contains("failed_sign_ins_per_account"), "{templates}");

    // A template opens in the form, filled in; kinds come from the
    // catalogue.
    let (_, html) = forms
        .html("/alert-rules/new?template=failed_sign_ins_per_account", &owner)
        .await;
    assert_eq!(value_of(&html, "rule-name"), "Failed sign-ins on one account");
    assert!(checked(&html, "condition-event_count"));
    assert_eq!(value_of(&html, "kind-1"), "login.failed");
    assert_eq!(value_of(&html, "group-by-1"), "subject");
    assert_eq!(
        (
            value_of(&html, "rule-threshold"),
            value_of(&html, "rule-window"),
            value_of(&html, "rule-suppress")
        ),
        ("5".into(), "5".into(), "15".into())
    );
    for kind in ["login.failed", "mfa.*", "user.search_saved", "alert_rule.*"] {
        assert!(html.contains(&format!("<option value=\"{kind}\">")), "{kind}");
    }
    assert!(
        html.contains("<details id=\"rule-json\">"),
        "the JSON one click away, closed"
    );
    // Recipients by name: the endpoint by its description, the org's
    // owners, admins and auditors by address, never a member or Globex's.
    assert!(
        html.contains("Webhook: SOC &#60;pager&#62; (http://127.0.0.1:9/hook)"),
        "{html}"
    );
    assert!(html.contains(&format!("name=\"webhook:{endpoint}\"")));
    assert!(html.contains("auditor@acme.test (auditor)"));
    assert!(!html.contains("member@acme.test"));
    assert!(!html.contains("globex"));
    let csrf = field(&html, "csrf_token");

    let form = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = [
            ("csrf_token", csrf.as_str()),
            ("editor", "form"),
            ("name", "Sign-in storm"),
            ("description", "Many refusals from one address."),
            ("severity", "high"),
            ("condition", "event_count"),
            ("kind_1", "login.failed"),
            ("kind_2", "mfa.failed"),
            ("kind_3", ""),
            ("where_1_field", "data.reason"),
            ("where_1_test", "in"),
            ("where_1_value", "wrong_password, unknown_account"),
            ("where_2_field", ""),
            ("where_2_test", "equals"),
            ("where_2_value", ""),
            ("group_by_1", "actor.ip"),
            ("group_by_2", ""),
            ("threshold", "3"),
            ("window_minutes", "10"),
            ("field", ""),
            ("suppress_minutes", "30"),
            ("email:auditor@acme.test", "on"),
            ("other_emails", "soc@example.org"),
            ("hours", "24"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        fields.push((format!("webhook:{endpoint}"), "on".into()));
        for (name, value) in extra {
            fields.retain(|(known, _)| known != name);
            fields.push((name.to_string(), value.to_string()));
        }
        fields
    };
    let post = |path: &'static str, cookie: String, fields: Vec<(String, String)>| {
        let forms = &forms;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            forms.post(path, Some(&cookie), &fields).await
        }
    };

    // Tried first: the page keeps the form and says what it would fire.
    let tried = post("/alert-rules/preview", owner.clone(), form(&[])).await;
    assert_eq!(tried.status(), 200);
    let html = tried.text().await.unwrap();
    assert!(html.contains("id=\"preview-summary\""), "{html}");
    assert_eq!(value_of(&html, "rule-name"), "Sign-in storm");

    // Refused: the field is pointed at, what was typed is kept.
    for (change, status, invalid, message) in [
        (
            ("threshold", "many"),
            400,
            "rule-threshold",
            "the threshold is a whole number",
        ),
        (("kind_1", ""), 400, "kind-1", "name at least one kind"),
        (("kind_2", ""), 400, "kind-1", "name at least one kind"),
        (("window_minutes", "100000"), 400, "", "window"),
        (
            ("condition", "whenever"),
            400,
            "condition-match",
            "choose what fires the rule",
        ),
    ] {
        let mut fields = form(&[change]);
        if change.0 == "kind_1" || change.0 == "kind_2" {
            fields.retain(|(name, _)| name != "kind_1" && name != "kind_2");
        }
        let refused = post("/alert-rules", owner.clone(), fields).await;
        assert_eq!(refused.status(), status, "{change:?}");
        let html = refused.text().await.unwrap();
        assert!(html.contains(message), "{change:?}: {html}");
        assert!(html.contains("<nav class=\"side\""));
        assert_eq!(value_of(&html, "rule-name"), "Sign-in storm", "{change:?}");
        if !invalid.is_empty() {
            let input = html.split(&format!("id=\"{invalid}\"")).nth(1).unwrap();
            assert!(
                input.split('>').next().unwrap().contains("aria-invalid=\"true\""),
                "{change:?}"
            );
        }
    }
    // Another org's endpoint, ticked by a forged form: refused, not saved.
    let forged = post(
        "/alert-rules",
        owner.clone(),
        form(&[(&format!("webhook:{theirs}"), "on")]),
    )
    .await;
    assert_eq!(forged.status(), 400);
    assert!(forged.text().await.unwrap().contains("recipients"));
    // No CSRF token; an auditor; a member.
    let mut no_token = form(&[]);
    no_token.retain(|(name, _)| name != "csrf_token");
    assert_eq!(post("/alert-rules", owner.clone(), no_token).await.status(), 403);
    for email in ["auditor@acme.test", "member@acme.test"] {
        let cookie = page_signed_in(&forms, email).await;
        let (_, html) = forms.html("/settings/time-zone", &cookie).await;
        let token = field(&html, "csrf_token");
        let refused = post("/alert-rules", cookie, form(&[("csrf_token", &token)])).await;
        assert_eq!(refused.status(), 403, "{email}");
    }
    assert_eq!(admin.get("/api/v1/alert-rules").await.body["rules"], json!([]));

    // Saved from the form: the API serves the rule it describes.
    let saved = post("/alert-rules", owner.clone(), form(&[])).await;
    if saved.status() != 303 {
        let page = saved.text().await.unwrap();
        panic!("{}", text(page.split("<main").nth(1).unwrap_or(&page)));
    }
    let rule_path = location(&saved).split('?').next().unwrap().to_string();
    let id = rule_path.rsplit('/').next().unwrap().to_string();
    let rule = admin.get(&format!("/api/v1/alert-rules/{id}")).await.body;
    let spec: Value = [
        "name",
        "description",
        "severity",
        "condition",
        "suppress_seconds",
        "recipients",
    ]
    .iter()
    .map(|key| (key.to_string(), rule[*key].clone()))
    .collect::<serde_json::Map<_, _>>()
    .into();
    assert_eq!(
        spec,
        json!({"name": "Sign-in storm", "description": "Many refusals from one address.", "severity": "high",
               "condition": {"type": "event_count",
                             "select": {"kinds": ["login.failed", "mfa.failed"],
                                        "where": [{"field": "data.reason", "in": ["wrong_password", "unknown_account"]}]},
                             "group_by": ["actor.ip"], "window_seconds": 600, "threshold": 3},
               "suppress_seconds": 1800,
               "recipients": [{"webhook": endpoint}, {"email": "auditor@acme.test"}, {"email": "soc@example.org"}]})
    );
    // And opens in the form as saved.
    let (_, html) = forms.html(&rule_path, &owner).await;
    assert_eq!(value_of(&html, "kind-2"), "mfa.failed");
    assert!(html.contains(&format!("name=\"webhook:{endpoint}\" value=\"on\" checked")));
    assert!(html.contains("name=\"email:auditor@acme.test\" value=\"on\" checked"));
    assert!(html.contains(">soc@example.org</textarea>"));

    // A sequence is not the form's: the page says so and opens the JSON,
    // which saves as before.
    let sequence = json!({"name": "Reset then role", "severity": "critical",
        "condition": {"type": "temporal_ordered", "group_by": ["data.user"], "window_seconds": 3600,
                      "steps": [{"kinds": ["mfa.reset"]}, {"kinds": ["user.role_changed"]}]}});
    let created = admin.post("/api/v1/alert-rules", sequence.clone()).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let sequence_id = created.body["id"].as_str().unwrap().to_string();
    let (_, html) = forms.html(&format!("/alert-rules/{sequence_id}"), &owner).await;
    assert!(
        html.contains("the form cannot show it, as it is a sequence of steps"),
        "{html}"
    );
    assert!(html.contains("<details id=\"rule-json\" open>"));
    assert!(!html.contains("id=\"rule-form\""));
    let mut changed = sequence;
    changed["severity"] = json!("high");
    let saved = forms
        .post(
            &format!("/alert-rules/{sequence_id}"),
            Some(&owner),
            &[
                ("csrf_token", &csrf),
                ("editor", "json"),
                ("rule", &changed.to_string()),
            ],
        )
        .await;
    assert_eq!(saved.status(), 303);
    let rule = admin.get(&format!("/api/v1/alert-rules/{sequence_id}")).await.body;
    assert_eq!(rule["severity"], "high");
    // Broken JSON: refused, kept, the JSON open.
    let refused = forms
        .post(
            &format!("/alert-rules/{sequence_id}"),
            Some(&owner),
            &[("csrf_token", &csrf), ("editor", "json"), ("rule", "{\"name\": <b>")],
        )
        .await;
    assert_eq!(refused.status(), 400);
    let html = refused.text().await.unwrap();
    assert!(html.contains("rule: not JSON"));
    assert!(html.contains("<details id=\"rule-json\" open>"));
    assert!(html.contains("{&#34;name&#34;: &#60;b&#62;</textarea>"), "{html}");
}
