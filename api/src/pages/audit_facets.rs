//! Beside the audit trail's results: what the matches are made of (the
//! most frequent kinds, outcomes and actors, each a link that narrows the
//! search to it) and an "events over time" histogram, drawn on the server
//! as SVG, whose bars narrow the search to their span. No script.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use warden_core::commands::sentence::Ref;
use warden_core::event::timestamp;
use warden_projections::audit::facets::Facets;
use warden_projections::names::Names;

use super::when::Zone;
use crate::state::AppState;
use crate::web::session::CurrentSession;

/// Bars of the histogram.
pub(crate) const BARS: u32 = 24;
const WIDTH: u32 = 720;
const HEIGHT: u32 = 96;

/// One value of a facet.
pub(crate) struct Value {
    pub text: String,
    /// The id behind a name, on hover.
    pub title: Option<String>,
    pub href: String,
    pub count: u64,
    /// The search is narrowed to it already.
    pub current: bool,
}

pub(crate) struct Facet {
    pub label: &'static str,
    pub values: Vec<Value>,
}

pub(crate) struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub href: String,
    /// `2026-12-06 01:00 – 02:00 CET: 12 events`.
    pub label: String,
}

pub(crate) struct Histogram {
    pub width: u32,
    pub height: u32,
    pub bars: Vec<Bar>,
    /// The first and last times covered, as the viewer reads them.
    pub first: String,
    pub last: String,
}

/// The facets and histogram of `facets` for `viewer`; `link` makes the
/// page address of a set of filters.
pub(crate) fn view(
    state: &AppState,
    viewer: &CurrentSession,
    filters: &BTreeMap<String, String>,
    facets: &Facets,
    link: impl Fn(&BTreeMap<String, String>) -> String,
) -> (Vec<Facet>, Option<Histogram>) {
    let names = Names::new(&state.models, &viewer.user.org);
    let narrowed = |name: &str, value: &str| {
        let mut narrowed = filters.clone();
        narrowed.insert(name.to_string(), value.to_string());
        link(&narrowed)
    };
    let facet = |label: &'static str, name: &str, counts: &[warden_projections::audit::facets::Count]| Facet {
        label,
        values: counts
            .iter()
            .map(|count| {
                let (text, title) = match name {
                    "actor" => actor_name(&names, &count.value),
                    _ => (count.value.clone(), None),
                };
                Value {
                    text,
                    title,
                    href: narrowed(name, &count.value),
                    count: count.count,
                    current: filters.get(name).map(String::as_str) == Some(count.value.as_str()),
                }
            })
            .collect(),
    };
    let shown = vec![
        facet("Kinds", "kind", &facets.kinds),
        facet("Outcomes", "outcome", &facets.outcomes),
        facet("Actors", "actor", &facets.actors),
    ]
    .into_iter()
    .filter(|facet| !facet.values.is_empty())
    .collect();
    let zone = Zone::of(viewer.user.time_zone.as_deref());
    (
        shown,
        histogram(facets, &zone, |from, until| {
            let mut narrowed = filters.clone();
            narrowed.insert("from".into(), timestamp::format(&from));
            narrowed.insert("until".into(), timestamp::format(&until));
            link(&narrowed)
        }),
    )
}

/// An actor id by the name the viewer's org knows it by: a user's email,
/// a key's name.
fn actor_name(names: &Names<'_>, id: &str) -> (String, Option<String>) {
    names
        .name(&Ref::User(id.to_string()))
        .or_else(|| names.name(&Ref::ApiKey(id.to_string())))
        .map_or_else(|| (id.to_string(), None), |name| (name, Some(id.to_string())))
}

fn histogram(facets: &Facets, zone: &Zone, link: impl Fn(DateTime<Utc>, DateTime<Utc>) -> String) -> Option<Histogram> {
    let bars = &facets.histogram;
    let most = bars.iter().map(|bar| bar.count).max().filter(|most| *most > 0)?;
    let at = |micros: i64| DateTime::<Utc>::from_timestamp_micros(micros);
    let width = WIDTH / u32::try_from(bars.len()).unwrap_or(1).max(1);
    let drawn = bars
        .iter()
        .enumerate()
        .filter(|(_, bar)| bar.count > 0)
        .filter_map(|(index, bar)| {
            let (from, until) = (at(bar.from_us)?, at(bar.from_us + bar.span_us)?);
            // At least 2 px, so one event shows.
            let height = ((bar.count * u64::from(HEIGHT - 2)) / most) as u32 + 2;
            Some(Bar {
                x: u32::try_from(index).ok()? * width,
                y: HEIGHT - height,
                width: width.saturating_sub(2).max(1),
                height,
                href: link(from, until),
                label: format!(
                    "{} – {}: {} event{}",
                    zone.when(&from).local,
                    zone.when(&until).local,
                    bar.count,
                    if bar.count == 1 { "" } else { "s" }
                ),
            })
        })
        .collect();
    let (first, last) = (bars.first()?, bars.last()?);
    Some(Histogram {
        width: WIDTH,
        height: HEIGHT,
        bars: drawn,
        first: zone.when(&at(first.from_us)?).local,
        last: zone.when(&at(last.from_us + last.span_us)?).local,
    })
}
