//! Working hours, for a selector that matches only what happens outside
//! them (`"outside_hours"`): a secret read at 3 a.m. or on a Sunday.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::rule::RuleError;

/// The org's working hours: `start_hour` (inclusive) to `end_hour`
/// (exclusive), local time at a fixed offset from UTC (no daylight saving:
/// set the offset the org keeps most of the year, or widen the hours by
/// one), Monday to Friday unless `weekends` are working days too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkingHours {
    pub start_hour: u32,
    pub end_hour: u32,
    #[serde(default)]
    pub utc_offset_minutes: i32,
    #[serde(default)]
    pub weekends: bool,
}

impl WorkingHours {
    /// Whether `at` falls outside these hours.
    pub fn outside(&self, at: DateTime<Utc>) -> bool {
        let local = at + Duration::minutes(i64::from(self.utc_offset_minutes));
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        (weekend && !self.weekends) || local.hour() < self.start_hour || local.hour() >= self.end_hour
    }

    pub fn validate(&self, at: &str) -> Result<(), RuleError> {
        let invalid = |message: &str| RuleError {
            field: format!("{at}.outside_hours"),
            message: message.to_string(),
        };
        if self.start_hour >= self.end_hour || self.end_hour > 24 {
            return Err(invalid("start_hour before end_hour, both 0 to 24"));
        }
        if self.utc_offset_minutes.abs() > 14 * 60 {
            return Err(invalid("utc_offset_minutes: -840 to 840"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn outside_is_before_start_after_end_or_on_a_weekend() {
        let office = WorkingHours {
            start_hour: 8,
            end_hour: 18,
            utc_offset_minutes: 60,
            weekends: false,
        };
        // 2026-12-07 is a Monday.
        let utc = |day, hour, minute| Utc.with_ymd_and_hms(2026, 12, day, hour, minute, 0).unwrap();
        let cases = [
            (utc(7, 7, 0), false),   // 08:00 local: the first minute in
            (utc(7, 6, 59), true),   // 07:59 local
            (utc(7, 16, 59), false), // 17:59 local
            (utc(7, 17, 0), true),   // 18:00 local
            (utc(7, 23, 30), true),  // 00:30 Tuesday local
            (utc(12, 10, 0), true),  // Saturday
            (utc(13, 10, 0), true),  // Sunday
        ];
        for (at, outside) in cases {
            assert_eq!(office.outside(at), outside, "{at}");
        }
        let every_day = WorkingHours {
            weekends: true,
            ..office.clone()
        };
        assert!(!every_day.outside(utc(12, 10, 0)));
        assert!(office.validate("select").is_ok());
        for bad in [(18, 8, 0), (8, 25, 0), (8, 8, 0), (8, 18, 900)] {
            let hours = WorkingHours {
                start_hour: bad.0,
                end_hour: bad.1,
                utc_offset_minutes: bad.2,
                weekends: false,
            };
            assert!(hours.validate("select").is_err(), "{bad:?}");
        }
    }
}
