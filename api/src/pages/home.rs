//! The home page (decision 0033): what each person needs first. Everyone
//! sees their own account at a glance; owners and admins how the org is
//! run (sign-ins, users by second factor, open alerts, recent admin
//! actions); owners and auditors what compliance asks (alerts by
//! severity, exports and by whom, legal holds, integrity). The figures
//! come from the audit index's columns and the read models.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use warden_core::commands::sentence::Ref;
use warden_core::event::timestamp;
use warden_projections::alerts::AlertStatus;
use warden_projections::projection::read;

use super::audit::Row;
use super::integrity::{self, Integrity};
use super::named::{self, Named};
use super::nav::{Place, sees};
use super::when::{When, Zone};
use super::{Nav, PageSession, render};
use crate::flows::dashboard::{self, SignIns, Users, Window};
use crate::handlers::audit::encode;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// Admin actions and exports listed.
const LISTED: usize = 6;
/// The severities of alert rules, most severe first.
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];
/// The chart's size, in SVG units.
const CHART_WIDTH: u32 = 480;
const CHART_HEIGHT: u32 = 72;

struct You {
    second_factor: bool,
    sessions: usize,
    zone_chosen: bool,
}

/// One span of a sign-in chart: sign-ins at the bottom, refusals above.
struct Bar {
    x: u32,
    width: u32,
    ok_y: u32,
    ok_height: u32,
    failed_y: u32,
    failed_height: u32,
    label: String,
    href: Option<String>,
}

struct SignInWindow {
    id: &'static str,
    title: &'static str,
    succeeded: u64,
    failed: u64,
    /// The first span's start and the last's end, as the viewer reads them.
    first: String,
    last: String,
    bars: Vec<Bar>,
    /// The refusals of the window on the audit trail, for those who read it.
    failed_href: Option<String>,
}

struct Severity {
    name: &'static str,
    open: usize,
    acknowledged: usize,
    resolved: usize,
}

struct Hold {
    reason: String,
    placed: When,
    by: Option<Named>,
}

struct Operations {
    sign_ins: Vec<SignInWindow>,
    users: Users,
    /// Open and acknowledged alerts by severity (none when there are none).
    open_alerts: Vec<Severity>,
    actions: Vec<Row>,
    /// Why the index's part could not be read.
    error: Option<String>,
}

struct Compliance {
    /// The last 30 days' alerts by severity.
    alerts: Vec<Severity>,
    exports: u64,
    exporters: Vec<(Named, u64)>,
    latest_exports: Vec<Row>,
    holds: Vec<Hold>,
    integrity: Option<Integrity>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    nav: Nav,
    zone: String,
    you: You,
    operations: Option<Operations>,
    compliance: Option<Compliance>,
    chart_width: u32,
    chart_height: u32,
}

/// `GET /`: the home page of the signed-in person.
pub async fn show(State(state): State<AppState>, PageSession(current): PageSession) -> Response {
    let now = Utc::now();
    let role = current.user.role;
    let operations = async {
        match role.manages_users() {
            true => Some(operations(&state, &current, now).await),
            false => None,
        }
    };
    let compliance = async {
        match role.reads_audit_trail() {
            true => Some(compliance(&state, &current, now).await),
            false => None,
        }
    };
    let (operations, compliance) = tokio::join!(operations, compliance);
    let page = HomePage {
        nav: Nav::of(&current, Place::Home),
        zone: Zone::of(current.user.time_zone.as_deref()).name().to_string(),
        you: you(&state, &current, now),
        operations,
        compliance,
        chart_width: CHART_WIDTH,
        chart_height: CHART_HEIGHT,
    };
    render(StatusCode::OK, &page)
}

fn you(state: &AppState, current: &CurrentSession, now: DateTime<Utc>) -> You {
    You {
        second_factor: read(&state.models.mfa)
            .of(&current.user.id)
            .is_some_and(|factors| factors.has_second_factor()),
        sessions: read(&state.models.sessions).live_of_user(&current.user.id, now).len(),
        zone_chosen: current.user.time_zone.is_some(),
    }
}

/// The last 24 hours by hour, and the last 30 days by day (UTC days).
fn windows(now: DateTime<Utc>) -> [(&'static str, &'static str, Window); 2] {
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let day = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    [
        (
            "sign-ins-day",
            "Last 24 hours",
            Window {
                from: hour - TimeDelta::hours(23),
                span: TimeDelta::hours(1),
                spans: 24,
            },
        ),
        (
            "sign-ins-month",
            "Last 30 days (UTC days)",
            Window {
                from: day - TimeDelta::days(29),
                span: TimeDelta::days(1),
                spans: 30,
            },
        ),
    ]
}

/// The audit trail's page of `kind` between `from` and `until`.
fn audit_href(kind: &str, from: &DateTime<Utc>, until: &DateTime<Utc>) -> String {
    format!(
        "/audit?kind={}&from={}&until={}",
        encode(kind),
        encode(&timestamp::format(from)),
        encode(&timestamp::format(until))
    )
}

fn window_of(
    (id, title, window): (&'static str, &'static str, Window),
    counted: SignIns,
    zone: &Zone,
    linked: bool,
) -> SignInWindow {
    let spans = counted.succeeded.iter().zip(&counted.failed);
    let most = spans
        .clone()
        .map(|(ok, failed)| ok.count + failed.count)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = CHART_WIDTH / window.spans.max(1);
    let height = |count: u64| ((count * u64::from(CHART_HEIGHT)).div_ceil(most)) as u32;
    let hourly = window.span < TimeDelta::days(1);
    let bars = spans
        .enumerate()
        .map(|(n, (ok, failed))| {
            let from = window.from + window.span * n as i32;
            let until = from + window.span;
            // The stack's height first, so that two rounded parts never
            // overflow the chart.
            let total = height(ok.count + failed.count);
            let ok_height = height(ok.count).min(total);
            let failed_height = total - ok_height;
            let when = match hourly {
                true => format!("{} to {}", zone.short(&from), zone.clock(&until)),
                false => from.format("%b %-d").to_string(),
            };
            Bar {
                x: slot * n as u32,
                width: slot.saturating_sub(2).max(1),
                ok_y: CHART_HEIGHT - ok_height,
                ok_height,
                failed_y: CHART_HEIGHT - ok_height - failed_height,
                failed_height,
                label: format!("{when}: {} signed in, {} refused", ok.count, failed.count),
                href: linked.then(|| audit_href("login.*", &from, &until)),
            }
        })
        .collect();
    SignInWindow {
        id,
        title,
        succeeded: counted.succeeded.iter().map(|bar| bar.count).sum(),
        failed: counted.failed.iter().map(|bar| bar.count).sum(),
        first: match hourly {
            true => zone.short(&window.from),
            false => window.from.format("%b %-d").to_string(),
        },
        last: "now".into(),
        bars,
        failed_href: linked.then(|| audit_href("login.failed", &window.from, &window.until())),
    }
}

/// The org's alerts by severity: those `at` or after `since`, or all.
fn by_severity(state: &AppState, org: &str, since: Option<DateTime<Utc>>) -> Vec<Severity> {
    let since = since.map(|since| timestamp::format(&since));
    let alerts = read(&state.models.alerts);
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for alert in alerts.recent_of(org) {
        if since.as_deref().is_some_and(|since| alert.at.as_str() < since) {
            continue;
        }
        let Some(severity) = SEVERITIES.iter().find(|known| **known == alert.fired.severity) else {
            continue;
        };
        let count = counts.entry(*severity).or_default();
        match alert.status {
            AlertStatus::Open => count.0 += 1,
            AlertStatus::Acknowledged => count.1 += 1,
            AlertStatus::Resolved => count.2 += 1,
        }
    }
    SEVERITIES
        .iter()
        .filter_map(|name| {
            counts.get(name).map(|(open, acknowledged, resolved)| Severity {
                name,
                open: *open,
                acknowledged: *acknowledged,
                resolved: *resolved,
            })
        })
        .collect()
}

async fn operations(state: &AppState, current: &CurrentSession, now: DateTime<Utc>) -> Operations {
    let org = &current.user.org;
    let zone = Zone::of(current.user.time_zone.as_deref());
    let linked = sees(Place::Audit, current.user.role);
    let [day, month] = windows(now);
    let (day_counted, month_counted, actions) = tokio::join!(
        dashboard::sign_ins(state, org, day.2),
        dashboard::sign_ins(state, org, month.2),
        dashboard::admin_actions(state, org, LISTED),
    );
    let mut error = None;
    let mut sign_ins = Vec::new();
    for (window, counted) in [(day, day_counted), (month, month_counted)] {
        match counted {
            Ok(counted) => sign_ins.push(window_of(window, counted, &zone, linked)),
            Err(failed) => error = Some(failed.message),
        }
    }
    let actions = actions
        .inspect_err(|failed| error = Some(failed.message.clone()))
        .unwrap_or_default();
    Operations {
        sign_ins,
        users: dashboard::users(state, org),
        open_alerts: by_severity(state, org, None)
            .into_iter()
            .filter(|severity| severity.open + severity.acknowledged > 0)
            .collect(),
        actions: actions.iter().map(|event| Row::of(state, current, event)).collect(),
        error,
    }
}

async fn compliance(state: &AppState, current: &CurrentSession, now: DateTime<Utc>) -> Compliance {
    let org = &current.user.org;
    let since = now - TimeDelta::days(30);
    let zone = Zone::of(current.user.time_zone.as_deref());
    let (exports, integrity) = tokio::join!(
        dashboard::exports(state, org, since, LISTED),
        integrity::read_now(state, current),
    );
    let (exports, exporters, latest, error) = match exports {
        Ok((total, exporters, latest)) => (total, exporters, latest, None),
        Err(failed) => (0, Vec::new(), Vec::new(), Some(failed.message)),
    };
    let holds = read(&state.models.retention)
        .org_legal_holds(org)
        .map(|hold| Hold {
            reason: hold.reason.clone(),
            placed: DateTime::parse_from_rfc3339(&hold.placed_at)
                .map(|at| zone.when(&at.with_timezone(&Utc)))
                .unwrap_or_else(|_| When {
                    local: hold.placed_at.clone(),
                    utc: hold.placed_at.clone(),
                }),
            by: hold
                .placed_by
                .as_ref()
                .map(|user| named::reference(state, current, &Ref::User(user.clone()))),
        })
        .collect();
    Compliance {
        alerts: by_severity(state, org, Some(since)),
        exports,
        exporters: exporters
            .into_iter()
            .map(|count| (named::reference(state, current, &Ref::User(count.value)), count.count))
            .collect(),
        latest_exports: latest.iter().map(|event| Row::of(state, current, event)).collect(),
        holds,
        integrity,
        error,
    }
}

#[cfg(test)]
mod tests {
    use warden_projections::audit::facets::Bar as Counted;

    use super::*;

    #[test]
    fn bars_stack_within_the_chart_and_the_tallest_fills_it() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T14:35:00Z").unwrap().to_utc();
        let [day, month] = windows(now);
        assert_eq!(day.2.from.to_rfc3339(), "2026-12-05T15:00:00+00:00");
        assert_eq!(day.2.until().to_rfc3339(), "2026-12-06T15:00:00+00:00");
        assert_eq!(month.2.from.to_rfc3339(), "2026-11-07T00:00:00+00:00");
        assert_eq!(month.2.until().to_rfc3339(), "2026-12-07T00:00:00+00:00");
        let counted = |counts: &dyn Fn(i64) -> u64| -> Vec<Counted> {
            (0..24)
                .map(|n| Counted {
                    from_us: n,
                    span_us: 1,
                    count: counts(n),
                })
                .collect()
        };
        // 3 + 4 of a tallest 7: each part rounds up, the stack does not.
        let shown = window_of(
            day,
            SignIns {
                succeeded: counted(&|n| [3, 0, 1, 6][n as usize % 4]),
                failed: counted(&|n| [4, 0, 1, 1][n as usize % 4]),
            },
            &Zone::utc(),
            false,
        );
        assert_eq!((shown.succeeded, shown.failed), (60, 36));
        assert_eq!(shown.bars.len(), 24);
        for bar in &shown.bars {
            assert_eq!(bar.ok_y + bar.ok_height, CHART_HEIGHT, "{}", bar.label);
            assert_eq!(bar.failed_y + bar.failed_height, bar.ok_y, "{}", bar.label);
            assert!(bar.href.is_none());
        }
        assert_eq!(shown.bars[0].ok_height + shown.bars[0].failed_height, CHART_HEIGHT);
        assert_eq!(shown.bars[1].ok_height + shown.bars[1].failed_height, 0);
        assert_eq!(shown.bars[0].label, "Dec 5, 15:00 to 16:00: 3 signed in, 4 refused");
        assert!(shown.failed_href.is_none());
    }
}
