//! Times as the viewer reads them: in the time zone they chose in their
//! settings (UTC until they choose one), the exact UTC time one hover
//! away. Exports and the API keep UTC. The zones are the IANA time zone
//! database compiled into Warden (or the system's, `/usr/share/zoneinfo`,
//! when it has one).

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use jiff::tz::TimeZone;
use warden_core::event::timestamp;

/// A time on a page.
pub(crate) struct When {
    /// In the viewer's zone: `2026-12-06 02:14:03 CET`.
    pub local: String,
    /// Exact, in UTC, as the log has it: `2026-12-06T01:14:03.123456Z`.
    pub utc: String,
}

/// The zone a page shows times in.
#[derive(Clone)]
pub(crate) struct Zone {
    name: String,
    zone: TimeZone,
}

impl Zone {
    /// The zone `name`, if the server knows it; UTC otherwise.
    pub(crate) fn of(name: Option<&str>) -> Self {
        name.and_then(|name| TimeZone::get(name).ok().map(|zone| (name, zone)))
            .map_or_else(Self::utc, |(name, zone)| Zone {
                name: name.to_string(),
                zone,
            })
    }

    pub(crate) fn utc() -> Self {
        Zone {
            name: "UTC".into(),
            zone: TimeZone::UTC,
        }
    }

    /// `UTC`, `Europe/Paris`: what a column header says times are in.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn when(&self, at: &DateTime<Utc>) -> When {
        When {
            local: self.formatted(at, "%Y-%m-%d %H:%M:%S %Z"),
            utc: timestamp::format(at),
        }
    }
}

impl Zone {
    fn formatted(&self, at: &DateTime<Utc>, format: &str) -> String {
        jiff::Timestamp::from_microsecond(at.timestamp_micros())
            .map(|instant| {
                instant
                    .to_zoned_datetime(self.zone.clone())
                    .strftime(format)
                    .to_string()
            })
            .unwrap_or_else(|_| timestamp::format(at))
    }

    /// `Dec 6, 14:00`: a chart's label.
    pub(crate) fn short(&self, at: &DateTime<Utc>) -> String {
        self.formatted(at, "%b %-d, %H:%M")
    }

    /// The day of `at` in the zone (`2026-12-06`), the exact UTC time
    /// on hover.
    pub(crate) fn day(&self, at: &DateTime<Utc>) -> When {
        When {
            local: self.formatted(at, "%Y-%m-%d"),
            utc: timestamp::format(at),
        }
    }

    /// `15:00`.
    pub(crate) fn clock(&self, at: &DateTime<Utc>) -> String {
        self.formatted(at, "%H:%M")
    }
}

/// The zones the server knows, sorted: what the settings offer.
pub(crate) fn zones() -> &'static [String] {
    static ZONES: OnceLock<Vec<String>> = OnceLock::new();
    ZONES.get_or_init(|| {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|name| name.as_str().to_string())
            // The canonical Area/Location names (and UTC), not the
            // legacy aliases (`US/Pacific`, `Etc/GMT+5`, `posixrules`).
            .filter(|name| {
                name == "UTC"
                    || name.split_once('/').is_some_and(|(area, _)| {
                        matches!(
                            area,
                            "Africa"
                                | "America"
                                | "Antarctica"
                                | "Asia"
                                | "Atlantic"
                                | "Australia"
                                | "Europe"
                                | "Indian"
                                | "Pacific"
                        )
                    })
            })
            .collect();
        names.sort();
        names.dedup();
        names
    })
}

/// Whether `name` is a zone the settings offer.
pub(crate) fn known(name: &str) -> bool {
    zones().binary_search_by(|zone| zone.as_str().cmp(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn a_time_reads_in_the_chosen_zone_with_utc_beside_it() {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 1, 14, 3).unwrap();
        let paris = Zone::of(Some("Europe/Paris"));
        assert_eq!(paris.name(), "Europe/Paris");
        let when = paris.when(&at);
        assert_eq!(when.local, "2026-12-06 02:14:03 CET");
        assert_eq!(when.utc, "2026-12-06T01:14:03.000000Z");
        // Summer time is the zone's, not a fixed offset.
        let july = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(paris.when(&july).local, "2026-07-01 14:00:00 CEST");
        assert_eq!(Zone::utc().when(&at).local, "2026-12-06 01:14:03 UTC");
    }

    #[test]
    fn an_unknown_zone_reads_as_utc_and_is_not_offered() {
        assert_eq!(Zone::of(Some("Mars/Olympus_Mons")).name(), "UTC");
        assert_eq!(Zone::of(None).name(), "UTC");
        assert!(!known("Mars/Olympus_Mons"));
        assert!(!known("US/Pacific"), "aliases are not offered");
        assert!(known("Europe/Paris") && known("America/New_York") && known("UTC"));
    }
}
