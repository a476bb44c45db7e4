//! When to try a failed delivery again: exponential backoff with full
//! jitter (a random wait between zero and `first · 2^(attempt-1)`, capped),
//! or the receiver's `Retry-After` when it asks for longer.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The longest wait between two attempts, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The wait after failed attempt `attempt` (1 for the first); `unit` is a
/// uniform random number in `[0, 1)`.
pub fn retry_wait(first: Duration, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
    let ceiling = first
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_WAIT);
    let jittered = ceiling.mul_f64(unit.clamp(0.0, 1.0));
    match retry_after {
        Some(asked) if asked > jittered => asked.min(MAX_WAIT),
        _ => jittered,
    }
}

/// A `Retry-After` header: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(5);

    #[test]
    fn the_ceiling_doubles_and_is_capped() {
        assert_eq!(retry_wait(FIRST, 1, None, 0.999_999), FIRST.mul_f64(0.999_999));
        assert_eq!(retry_wait(FIRST, 4, None, 0.5), Duration::from_secs(20));
        assert_eq!(retry_wait(FIRST, 30, None, 0.999_999), MAX_WAIT.mul_f64(0.999_999));
        assert_eq!(retry_wait(FIRST, u32::MAX, None, 1.0), MAX_WAIT);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        assert_eq!(retry_wait(FIRST, 3, None, 0.0), Duration::ZERO);
        assert_eq!(retry_wait(FIRST, 3, None, 0.25), Duration::from_secs(5));
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let asked = Some(Duration::from_secs(120));
        assert_eq!(retry_wait(FIRST, 1, asked, 0.5), Duration::from_secs(120));
        assert_eq!(
            retry_wait(FIRST, 10, Some(Duration::from_secs(1)), 0.5),
            Duration::from_secs(1280)
        );
        assert_eq!(retry_wait(FIRST, 1, Some(Duration::from_secs(86_400)), 0.5), MAX_WAIT);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
