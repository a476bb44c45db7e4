//! Sign-in codes sent by email (decision 0028): their format, the keyed
//! hash that is all Warden keeps of one, and the two decisions of the
//! flow, [`start`] (may a code be sent to this address now?) and
//! [`finish`] (does this code open a sign-in?).
//!
//! A code is bound to the address it was sent to and to its own id: the
//! hash covers both, so a code sent to one address is wrong for any other,
//! and a code is checked only against the newest one sent to the address
//! (a new code replaces the one before). Each code allows
//! [`Policy::max_attempts`] tries and [`Policy::ttl`] of time, and opens
//! one sign-in. Unknown addresses are treated exactly as known ones (a code
//! is "issued", never sent): the answers and the limits tell nobody which
//! addresses have accounts.
//!
//! Nothing here does I/O or reads a clock; [`generate`] draws randomness.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use zeroize::Zeroizing;

use crate::auth::tokens::constant_time_eq;

/// How codes look (`email_code_format`, `email_code_length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 6 to 8 decimal digits: easy on a phone's keypad.
    Digits(u8),
    /// 6 to 10 of Crockford's base32 (`0-9 a-z` without `i l o u`): 5
    /// bits a character, read back forgivingly.
    Crockford(u8),
}

impl Format {
    /// Eight digits: with 3 tries a code and 3 codes an hour, one address
    /// under constant attack falls with a chance of 1 in 11 million an
    /// hour (six digits: 1 in 110,000, about 8 % in a year).
    pub const DEFAULT: Format = Format::Digits(8);

    /// The format named in configuration, if it is one Warden accepts.
    pub fn parse(kind: &str, length: u8) -> Option<Format> {
        match kind {
            "digits" if (6..=8).contains(&length) => Some(Format::Digits(length)),
            "crockford" if (6..=10).contains(&length) => Some(Format::Crockford(length)),
            _ => None,
        }
    }

    fn length(self) -> usize {
        match self {
            Format::Digits(length) | Format::Crockford(length) => usize::from(length),
        }
    }

    /// The number of codes there are: what a guess has against it.
    pub fn space(self) -> f64 {
        match self {
            Format::Digits(length) => 10f64.powi(i32::from(length)),
            Format::Crockford(length) => 32f64.powi(i32::from(length)),
        }
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// A fresh code, uniformly drawn (rejection sampling: no digit is likelier
/// than another).
pub fn generate(format: Format) -> Zeroizing<String> {
    let mut code = Zeroizing::new(String::with_capacity(format.length()));
    while code.len() < format.length() {
        for &byte in crate::keys::random_bytes::<16>().iter() {
            let next = match format {
                // 250 = 25 × 10: bytes from 250 up would favour 0 to 5.
                Format::Digits(_) if byte < 250 => Some(char::from(b'0' + byte % 10)),
                Format::Digits(_) => None,
                Format::Crockford(_) => Some(char::from(CROCKFORD[usize::from(byte & 31)])),
            };
            if let Some(next) = next.filter(|_| code.len() < format.length()) {
                code.push(next);
            }
        }
    }
    code
}

/// The code as typed, in its canonical form: spaces and dashes dropped,
/// case ignored, and for Crockford `o`, `i`, `l` read as `0`, `1`, `1`;
/// `None` when it cannot be a code of `format`.
pub fn normalize(format: Format, typed: &str) -> Option<Zeroizing<String>> {
    let mut code = Zeroizing::new(String::with_capacity(format.length()));
    for c in typed.chars().filter(|c| !c.is_whitespace() && *c != '-') {
        let c = c.to_ascii_lowercase();
        let c = match (format, c) {
            (Format::Digits(_), '0'..='9') => c,
            (Format::Crockford(_), 'o') => '0',
            (Format::Crockford(_), 'i' | 'l') => '1',
            (Format::Crockford(_), c) if CROCKFORD.contains(&(c as u8)) && c.is_ascii() => c,
            _ => return None,
        };
        if code.len() == format.length() {
            return None;
        }
        code.push(c);
    }
    (code.len() == format.length()).then_some(code)
}

/// The hash kept of a code: keyed (the flow's key comes from a data key,
/// so the log alone cannot be searched for codes) and bound to the
/// address (`address_ref`, itself a keyed hash of the address) and to the
/// code's id.
pub fn hash(key: &[u8; 32], code_id: &str, address_ref: &str, code: &str) -> String {
    let mut hasher = blake3::Hasher::new_keyed(key);
    for part in ["warden/email-code/v1", code_id, address_ref, code] {
        hasher.update(&(part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// The limits of the flow (`email_code_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long a code is valid (10 minutes).
    pub ttl: Duration,
    /// Tries a code allows (3).
    pub max_attempts: u32,
    /// Codes one address may be sent in an hour (3).
    pub per_address_hour: usize,
    /// Codes one client network may ask for in an hour, all addresses
    /// together (20).
    pub per_client_hour: usize,
}

impl Policy {
    pub const DEFAULT: Policy = Policy {
        ttl: Duration::from_secs(600),
        max_attempts: 3,
        per_address_hour: 3,
        per_client_hour: 20,
    };
}

/// The window of the hourly limits (here and in `recovery`).
pub const HOUR: TimeDelta = TimeDelta::hours(1);

/// A code as the read model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub id: String,
    pub hash: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Wrong tries so far.
    pub attempts: u32,
    pub used: bool,
}

/// May a code be sent now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Yes: it is valid until `expires_at`.
    Issue { expires_at: DateTime<Utc> },
    /// No: the address or the client asked too often; ask again after
    /// this long (the `Retry-After`).
    Limited { retry_after: Duration },
}

/// Whether a code may be issued to an address that was sent `to_address`
/// (its codes, any order) for a client network that asked at `by_client`.
pub fn start(to_address: &[Issued], by_client: &[DateTime<Utc>], now: DateTime<Utc>, policy: &Policy) -> Start {
    let address = to_address.iter().map(|issued| issued.issued_at);
    let waits = [
        wait(address, policy.per_address_hour, now),
        wait(by_client.iter().copied(), policy.per_client_hour, now),
    ];
    match waits.into_iter().flatten().max() {
        Some(retry_after) => Start::Limited { retry_after },
        None => Start::Issue {
            expires_at: now + TimeDelta::from_std(policy.ttl).unwrap_or(HOUR),
        },
    }
}

/// How long until fewer than `limit` of `times` lie within the last hour,
/// if `limit` are there now (a sliding window: the oldest leaves first).
/// Also the limits of reset-link requests (`recovery::request`).
pub fn wait(times: impl Iterator<Item = DateTime<Utc>>, limit: usize, now: DateTime<Utc>) -> Option<Duration> {
    // Times ahead of this node's clock (another node's) count too.
    let mut recent: Vec<DateTime<Utc>> = times.filter(|at| now - *at < HOUR).collect();
    if recent.len() < limit {
        return None;
    }
    recent.sort_unstable();
    let frees_at = recent[recent.len() - limit] + HOUR;
    let wait = (frees_at - now).to_std().unwrap_or_default();
    // Whole seconds, at least one (a `Retry-After` of 0 invites a retry
    // that is refused again).
    Some(Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(Duration::from_secs(1)))
}

/// Why a code was refused: shown to the person (it helps them and tells
/// an attacker nothing the address's owner would not be told).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No code was sent to this address.
    NoCode,
    /// Not the code; this many tries are left on it.
    Wrong { attempts_left: u32 },
    /// The code's tries are used up: ask for a new one.
    TooManyAttempts,
    /// The code is past its time: ask for a new one.
    Expired,
    /// The code opened a sign-in already.
    Used,
}

/// Does the presented code open a sign-in?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Yes: the code `code` is used up by it.
    Accepted { code: String },
    /// No; `code` names the code the try counts against, if any.
    Refused { reason: Refused, code: Option<String> },
}

/// Checks a code presented for an address against the newest code sent to
/// it (`newest`); `presented` is the hash of the typed code computed for
/// that code's id (or `None` when the typed text cannot be a code: a try
/// all the same).
pub fn finish(newest: Option<&Issued>, presented: Option<&str>, now: DateTime<Utc>, policy: &Policy) -> Finish {
    let Some(code) = newest else {
        return Finish::Refused {
            reason: Refused::NoCode,
            code: None,
        };
    };
    let refused = |reason| Finish::Refused {
        reason,
        code: Some(code.id.clone()),
    };
    if code.used {
        return refused(Refused::Used);
    }
    if code.attempts >= policy.max_attempts {
        return refused(Refused::TooManyAttempts);
    }
    if now >= code.expires_at {
        return refused(Refused::Expired);
    }
    if presented.is_some_and(|presented| constant_time_eq(presented, &code.hash)) {
        return Finish::Accepted { code: code.id.clone() };
    }
    match policy.max_attempts - code.attempts - 1 {
        0 => refused(Refused::TooManyAttempts),
        attempts_left => refused(Refused::Wrong { attempts_left }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    fn issued(id: &str, minutes: i64, attempts: u32, used: bool) -> Issued {
        Issued {
            id: id.into(),
            hash: hash(&KEY, id, "ref", "12345678"),
            issued_at: at(minutes),
            expires_at: at(minutes + 10),
            attempts,
            used,
        }
    }

    #[test]
    fn codes_are_drawn_in_their_format_and_read_back_forgivingly() {
        for format in [Format::Digits(6), Format::Digits(8), Format::Crockford(8)] {
            let code = generate(format);
            assert_eq!(code.len(), format.length());
            assert_eq!(
                normalize(format, &code).as_deref().map(String::as_str),
                Some(code.as_str())
            );
        }
        let digits = Format::Digits(8);
        for (typed, read) in [
            ("12345678", Some("12345678")),
            (" 1234 5678 ", Some("12345678")),
            ("1234-5678", Some("12345678")),
            ("1234567", None),
            ("123456789", None),
            ("1234567a", None),
            ("１２３４５６７８", None),
        ] {
            assert_eq!(
                normalize(digits, typed).as_deref().map(String::as_str),
                read,
                "{typed:?}"
            );
        }
        let crockford = Format::Crockford(8);
        assert_eq!(
            normalize(crockford, "AbCd-OIL9").as_deref().map(String::as_str),
            Some("abcd0119")
        );
        assert_eq!(normalize(crockford, "abcdu123"), None, "u is not in the alphabet");
        assert_eq!(Format::parse("digits", 8), Some(Format::DEFAULT));
        for (kind, length) in [("digits", 5), ("digits", 9), ("crockford", 11), ("words", 8)] {
            assert_eq!(Format::parse(kind, length), None, "{kind} {length}");
        }
    }

    #[test]
    fn digits_are_uniform() {
        let mut counts = [0u32; 10];
        for _ in 0..2_000 {
            for digit in generate(Format::Digits(8)).bytes() {
                counts[usize::from(digit - b'0')] += 1;
            }
        }
        // 16,000 digits: 1,600 each; ±200 is over 5 standard deviations.
        assert!(counts.iter().all(|count| (1_400..=1_800).contains(count)), "{counts:?}");
    }

    #[test]
    fn a_hash_binds_the_code_to_its_address_and_id() {
        let base = hash(&KEY, "c1", "ref", "12345678");
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(&KEY, "c1", "ref", "12345678"));
        for other in [
            hash(&KEY, "c2", "ref", "12345678"),
            hash(&KEY, "c1", "other", "12345678"),
            hash(&KEY, "c1", "ref", "12345679"),
            hash(&[8; 32], "c1", "ref", "12345678"),
            // Lengths are part of the input: parts cannot slide.
            hash(&KEY, "c1r", "ef", "12345678"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn starts_are_limited_per_address_and_per_client() {
        let policy = Policy::DEFAULT;
        let now = at(50);
        let three = [
            issued("a", 0, 0, false),
            issued("b", 10, 0, false),
            issued("c", 20, 0, false),
        ];
        let clients: Vec<DateTime<Utc>> = (0..20).map(|minute| at(minute * 2)).collect();
        // (codes sent to the address, times the client asked, expected)
        type Case<'a> = (&'a [Issued], &'a [DateTime<Utc>], Start);
        let cases: &[Case] = &[
            (&[], &[], Start::Issue { expires_at: at(60) }),
            (&three[..2], &[], Start::Issue { expires_at: at(60) }),
            // The fourth in an hour waits for the first to leave the window.
            (
                &three,
                &[],
                Start::Limited {
                    retry_after: Duration::from_secs(600),
                },
            ),
            // Codes older than an hour do not count.
            (
                &[issued("old", -61, 0, false), three[1].clone(), three[2].clone()],
                &[],
                Start::Issue { expires_at: at(60) },
            ),
            // The client's 21st in an hour: its first frees at minute 60.
            (
                &[],
                &clients,
                Start::Limited {
                    retry_after: Duration::from_secs(600),
                },
            ),
            (&[], &clients[1..], Start::Issue { expires_at: at(60) }),
            // Both limits: the longer wait.
            (
                &three,
                &clients,
                Start::Limited {
                    retry_after: Duration::from_secs(600),
                },
            ),
        ];
        for (address, client, expected) in cases {
            assert_eq!(
                start(address, client, now, &policy),
                *expected,
                "{} {}",
                address.len(),
                client.len()
            );
        }
        // A wait is whole seconds, at least one.
        let just = [
            issued("a", 0, 0, false),
            issued("b", 1, 0, false),
            issued("c", 2, 0, false),
        ];
        let now = at(60) - chrono::Duration::milliseconds(1);
        assert_eq!(
            start(&just, &[], now, &policy),
            Start::Limited {
                retry_after: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn a_code_opens_one_sign_in_within_its_time_and_tries() {
        let policy = Policy::DEFAULT;
        let right = hash(&KEY, "c", "ref", "12345678");
        let wrong = hash(&KEY, "c", "ref", "87654321");
        let fresh = issued("c", 0, 0, false);
        let refused = |reason| Finish::Refused {
            reason,
            code: Some("c".into()),
        };
        let cases: &[(Option<&Issued>, Option<&str>, i64, Finish)] = &[
            (Some(&fresh), Some(&right), 5, Finish::Accepted { code: "c".into() }),
            (
                Some(&fresh),
                Some(&wrong),
                5,
                refused(Refused::Wrong { attempts_left: 2 }),
            ),
            // Text that cannot be a code is a try too.
            (Some(&fresh), None, 5, refused(Refused::Wrong { attempts_left: 2 })),
            (
                Some(&issued("c", 0, 1, false)),
                Some(&wrong),
                5,
                refused(Refused::Wrong { attempts_left: 1 }),
            ),
            // The third wrong try uses the code up.
            (
                Some(&issued("c", 0, 2, false)),
                Some(&wrong),
                5,
                refused(Refused::TooManyAttempts),
            ),
            // Once used up, even the right code is refused.
            (
                Some(&issued("c", 0, 3, false)),
                Some(&right),
                5,
                refused(Refused::TooManyAttempts),
            ),
            (Some(&fresh), Some(&right), 10, refused(Refused::Expired)),
            (Some(&fresh), Some(&right), 9, Finish::Accepted { code: "c".into() }),
            (Some(&issued("c", 0, 0, true)), Some(&right), 5, refused(Refused::Used)),
            (
                None,
                Some(&right),
                5,
                Finish::Refused {
                    reason: Refused::NoCode,
                    code: None,
                },
            ),
        ];
        for (newest, presented, minute, expected) in cases {
            assert_eq!(
                finish(*newest, *presented, at(*minute), &policy),
                *expected,
                "{newest:?} {minute}"
            );
        }
    }
}
