//! What a recipient receives: the alert, its triggering events, and links
//! to both in the console. One source for the webhook's JSON body and the
//! email's plain-text and HTML parts.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warden_core::Event;
use warden_core::commands::catalogue;
use warden_core::event::timestamp;
use warden_core::export::Names;
use warden_projections::deliveries::AlertDeliveries;

/// The console page of an alert.
pub fn alert_url(console: &str, alert: &str) -> String {
    format!("{}/alerts/{alert}", console.trim_end_matches('/'))
}

/// The audit console's page of an event.
pub fn event_url(console: &str, seq: u64) -> String {
    format!("{}/audit/events/{seq}", console.trim_end_matches('/'))
}

/// An alert's group as people read it: `actor.ip = 203.0.113.7, …`, or
/// `-` for a rule without `group_by`.
pub fn group_text(group: &BTreeMap<String, String>) -> String {
    if group.is_empty() {
        return "-".into();
    }
    group
        .iter()
        .map(|(field, value)| format!("{field} = {value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The webhook body, in the Standard Webhooks shape (`type`, `timestamp`,
/// `data`). Each triggering event is as stored, hash and signature
/// included, so a receiver can verify it against Warden's audit keys,
/// beside its sentence (`summary`, names as `names` knows them).
pub fn webhook_body(alert: &AlertDeliveries, events: &[Event], console: &str, names: Names<'_>) -> Value {
    let fired = &alert.fired;
    json!({
        "type": "alert.fired",
        "timestamp": alert.at,
        "data": {
            "alert": fired.alert,
            "rule": fired.rule,
            "rule_version": fired.rule_version,
            "name": fired.name,
            "severity": fired.severity,
            "org": fired.org,
            "group": fired.group,
            "seqs": fired.seqs,
            "fired_seq": alert.seq,
            "url": alert_url(console, &fired.alert),
            "events": events.iter().map(|event| json!({
                "url": event_url(console, event.seq),
                "summary": catalogue::sentence(event).plain(names),
                "event": event,
            })).collect::<Vec<_>>(),
        }
    })
}

/// An email: its subject, plain-text body and HTML body.
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The alert's email: each triggering event as its sentence, names as
/// `names` knows them.
pub fn email(alert: &AlertDeliveries, events: &[Event], console: &str, names: Names<'_>) -> Email {
    let fired = &alert.fired;
    let subject = format!("[Warden] {} alert: {}", fired.severity, one_line(&fired.name));
    let url = alert_url(console, &fired.alert);
    let group = group_text(&fired.group);
    let mut text = format!(
        "{name}\n\nSeverity: {severity}\nFired: {at}\nGroup: {group}\nAlert: {url}\n\nTriggering events:\n",
        name = one_line(&fired.name),
        severity = fired.severity,
        at = alert.at,
        group = one_line(&group),
    );
    let mut rows = String::new();
    for event in events {
        let line = EventLine::of(event, names);
        text.push_str(&format!(
            "- {at}: {summary} ({outcome}; #{seq} {kind}: {link})\n",
            seq = event.seq,
            kind = line.kind,
            at = line.at,
            summary = line.summary,
            outcome = line.outcome,
            link = event_url(console, event.seq),
        ));
        rows.push_str(&format!(
            "<tr><td>{at}</td><td>{summary}</td><td>{outcome}</td><td><a href=\"{link}\">#{seq}</a> {kind}</td></tr>\n",
            link = escape(&event_url(console, event.seq)),
            seq = event.seq,
            kind = escape(&line.kind),
            at = escape(&line.at),
            summary = escape(&line.summary),
            outcome = line.outcome,
        ));
    }
    text.push_str("\nEach event is signed and chained: the audit console shows its proof.\n");
    let checkpoints = checkpoint_documents(events);
    let mut checkpoint_html = String::new();
    for document in &checkpoints {
        text.push_str(&format!(
            "\nSigned checkpoint of the audit log. Keep it where Warden's operators cannot change it; saved as a file, \
             `warden verify --checkpoint FILE` checks the log against it:\n\n{document}\n"
        ));
        checkpoint_html.push_str(&format!(
            "<h2>Signed checkpoint of the audit log</h2>\n<p>Keep it where Warden's operators cannot change it; saved as a \
             file, <code>warden verify --checkpoint FILE</code> checks the log against it:</p>\n<pre>{}</pre>\n",
            escape(document)
        ));
    }
    let html = format!(
        "<!doctype html>\n<html><body>\n<h1>{name}</h1>\n<p>Severity: <strong>{severity}</strong><br>Fired: {at}<br>Group: {group}</p>\n\
         <p><a href=\"{url}\">Open the alert in Warden</a></p>\n<h2>Triggering events</h2>\n\
         <table>\n<tr><th>At (UTC)</th><th>What happened</th><th>Outcome</th><th>Event</th></tr>\n{rows}</table>\n\
         <p>Each event is signed and chained: the audit console shows its proof.</p>\n{checkpoint_html}</body></html>\n",
        name = escape(&fired.name),
        severity = escape(&fired.severity),
        at = escape(&alert.at),
        group = escape(&group),
        url = escape(&url),
    );
    Email { subject, text, html }
}

/// The published checkpoints among the events, each as its document's
/// JSON (the event's `data`, exactly as signed).
fn checkpoint_documents(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.kind == warden_core::commands::checkpoint::LEDGER_CHECKPOINTED)
        .map(|event| event.data.to_string())
        .collect()
}

/// The tampering alarm's email ([`super::alarm`]).
pub fn alarm_email(rule_name: &str, violation: &str, detected_at: &str, node: &str) -> Email {
    let subject = format!("[Warden] critical alert: {}", one_line(rule_name));
    let text = format!(
        "{name}\n\nThe event log of Warden failed verification on {node} at {at}:\n\n    {violation}\n\n\
         An event was altered, removed or inserted outside Warden. The node stopped its read models and\n\
         this alarm was sent without writing to the log. Run `warden verify` against the database and\n\
         follow the tampering playbook (docs/security/incident-response.md).\n",
        name = one_line(rule_name),
        node = one_line(node),
        at = one_line(detected_at),
        violation = one_line(violation),
    );
    let html = format!(
        "<!doctype html>\n<html><body>\n<h1>{name}</h1>\n<p>The event log of Warden failed verification on {node} at {at}:</p>\n\
         <pre>{violation}</pre>\n<p>An event was altered, removed or inserted outside Warden. The node stopped its read models \
         and this alarm was sent without writing to the log. Run <code>warden verify</code> against the database and follow \
         the tampering playbook.</p>\n</body></html>\n",
        name = escape(rule_name),
        node = escape(node),
        at = escape(detected_at),
        violation = escape(violation),
    );
    Email { subject, text, html }
}

struct EventLine {
    kind: String,
    at: String,
    summary: String,
    outcome: &'static str,
}

impl EventLine {
    fn of(event: &Event, names: Names<'_>) -> Self {
        EventLine {
            kind: one_line(&event.kind),
            at: timestamp::format(&event.at),
            summary: one_line(&catalogue::sentence(event).plain(names)),
            outcome: event.outcome.as_str(),
        }
    }
}

/// Text of an event or a rule as one line (no header or line injection).
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_lines_are_one() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(one_line("a\r\nBcc: x"), "a  Bcc: x");
    }

    #[test]
    fn a_group_reads_as_its_fields_or_a_dash() {
        assert_eq!(group_text(&BTreeMap::new()), "-");
        let group = BTreeMap::from([
            ("subject".to_string(), "user:1".to_string()),
            ("actor.ip".to_string(), "203.0.113.7".to_string()),
        ]);
        assert_eq!(group_text(&group), "actor.ip = 203.0.113.7, subject = user:1");
    }
}
