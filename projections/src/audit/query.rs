//! Audit searches: filters over the envelope, words of the data, the
//! order, and a cursor.

use std::net::{IpAddr, Ipv6Addr};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, Term};
use thiserror::Error;
use warden_core::{ActorKind, Outcome};

use super::schema::{Fields, ip_key};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum QueryError {
    #[error("kind pattern {0:?}: use a kind (`login.failed`), a prefix (`login.*`) or `*`")]
    Kind(String),
    #[error("ip {0:?}: use an address (`192.0.2.7`) or a network (`192.0.2.0/24`)")]
    Ip(String),
    #[error("text {0:?} has no word to search for")]
    Text(String),
}

/// `login.failed` (that kind), `login.*` (every kind under `login`), `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KindPattern {
    Exact(String),
    Prefix(String),
    Any,
}

impl KindPattern {
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let word = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
        };
        let dotted = |text: &str| text.len() <= 128 && text.split('.').all(word);
        if text == "*" {
            Ok(KindPattern::Any)
        } else if let Some(prefix) = text.strip_suffix(".*")
            && dotted(prefix)
        {
            Ok(KindPattern::Prefix(prefix.to_string()))
        } else if dotted(text) {
            Ok(KindPattern::Exact(text.to_string()))
        } else {
            Err(QueryError::Kind(text.to_string()))
        }
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self {
            KindPattern::Exact(exact) => kind == exact,
            KindPattern::Prefix(prefix) => kind
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            KindPattern::Any => true,
        }
    }
}

/// One address, or a network in CIDR notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    pub first: Ipv6Addr,
    pub last: Ipv6Addr,
}

impl IpRange {
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let bad = || QueryError::Ip(text.to_string());
        let (address, prefix) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits.parse::<u32>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| bad())?;
        let bits = match (address, prefix) {
            (_, None) => 128,
            (IpAddr::V4(_), Some(bits)) if bits <= 32 => 96 + bits,
            (IpAddr::V6(_), Some(bits)) if bits <= 128 => bits,
            _ => return Err(bad()),
        };
        let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
        let base = u128::from(ip_key(address)) & mask;
        Ok(IpRange {
            first: Ipv6Addr::from(base),
            last: Ipv6Addr::from(base | !mask),
        })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        (self.first..=self.last).contains(&ip_key(ip))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

/// A search of one org's trail (or the whole instance's, `org: None`, for
/// the operator). Every filter given must match; `kinds` match if any does.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub org: Option<String>,
    pub kinds: Vec<KindPattern>,
    /// An actor id, or the email of a user actor.
    pub actor: Option<String>,
    pub actor_kind: Option<ActorKind>,
    pub subject: Option<String>,
    pub user: Option<String>,
    pub session: Option<String>,
    pub outcome: Option<Outcome>,
    pub ip: Option<IpRange>,
    pub request_id: Option<String>,
    /// The ticket a vendor acted under.
    pub ticket: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
    /// Words that must all appear in the event's data.
    pub text: Option<String>,
    /// Only events with a seq in this range (for exports of a range).
    pub seqs: Option<(u64, u64)>,
}

impl AuditQuery {
    pub(super) fn build(&self, index: &Index, fields: &Fields) -> Result<Box<dyn Query>, QueryError> {
        let mut must: Vec<Box<dyn Query>> = Vec::new();
        let term = |field: Field, value: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        let any_of = |queries: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            Box::new(BooleanQuery::new(
                queries.into_iter().map(|query| (Occur::Should, query)).collect(),
            ))
        };
        if let Some(org) = &self.org {
            must.push(term(fields.org, org));
        }
        if !self.kinds.contains(&KindPattern::Any) && !self.kinds.is_empty() {
            let kinds = self
                .kinds
                .iter()
                .map(|kind| match kind {
                    KindPattern::Exact(kind) => term(fields.kind, kind),
                    KindPattern::Prefix(prefix) => term(fields.kind_prefix, prefix),
                    KindPattern::Any => Box::new(AllQuery),
                })
                .collect();
            must.push(any_of(kinds));
        }
        if let Some(actor) = &self.actor {
            must.push(any_of(vec![
                term(fields.actor_id, actor),
                term(fields.actor_display, &actor.to_lowercase()),
            ]));
        }
        if let Some(kind) = self.actor_kind {
            must.push(term(fields.actor_kind, kind.as_str()));
        }
        let exact = [
            (fields.subject, &self.subject),
            (fields.user, &self.user),
            (fields.session, &self.session),
            (fields.request_id, &self.request_id),
            (fields.ticket, &self.ticket),
        ];
        for (field, value) in exact {
            if let Some(value) = value {
                must.push(term(field, value));
            }
        }
        if let Some(outcome) = self.outcome {
            must.push(term(fields.outcome, outcome.as_str()));
        }
        if let Some(range) = self.ip {
            must.push(Box::new(RangeQuery::new(
                Bound::Included(Term::from_field_ip_addr(fields.ip, range.first)),
                Bound::Included(Term::from_field_ip_addr(fields.ip, range.last)),
            )));
        }
        if self.from.is_some() || self.until.is_some() {
            let micros = |at: &DateTime<Utc>| Term::from_field_i64(fields.at_us, at.timestamp_micros());
            must.push(Box::new(RangeQuery::new(
                self.from
                    .as_ref()
                    .map_or(Bound::Unbounded, |at| Bound::Included(micros(at))),
                self.until
                    .as_ref()
                    .map_or(Bound::Unbounded, |at| Bound::Excluded(micros(at))),
            )));
        }
        if let Some((first, last)) = self.seqs {
            must.push(seq_range(fields.seq, Bound::Included(first), Bound::Included(last)));
        }
        if let Some(text) = &self.text {
            let mut analyzer = index
                .tokenizer_for_field(fields.text)
                .map_err(|_| QueryError::Text(text.clone()))?;
            let words = words(&mut analyzer, text);
            if words.is_empty() {
                return Err(QueryError::Text(text.clone()));
            }
            for word in words {
                must.push(term(fields.text, &word));
            }
        }
        Ok(match must.len() {
            0 => Box::new(AllQuery),
            _ => Box::new(BooleanQuery::new(
                must.into_iter().map(|query| (Occur::Must, query)).collect(),
            )),
        })
    }
}

pub(super) fn seq_range(field: Field, from: Bound<u64>, to: Bound<u64>) -> Box<dyn Query> {
    let term = |seq: u64| Term::from_field_u64(field, seq);
    Box::new(RangeQuery::new(from.map(term), to.map(term)))
}

/// The words of a text, as the index cut them.
pub fn words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while let Some(token) = stream.next() {
        if !words.contains(&token.text) {
            words.push(token.text.clone());
        }
    }
    words
}

/// One page of results: seqs in the asked order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub seqs: Vec<u64>,
    /// Every event the filters match, on every page.
    pub total: usize,
    /// The cursor of the next page, when there is one.
    pub next: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_patterns() {
        assert_eq!(KindPattern::parse("login.*"), Ok(KindPattern::Prefix("login".into())));
        assert_eq!(
            KindPattern::parse("mfa.totp.enrolled"),
            Ok(KindPattern::Exact("mfa.totp.enrolled".into()))
        );
        assert_eq!(KindPattern::parse("*"), Ok(KindPattern::Any));
        for bad in ["", "login.", "Login.failed", "login.*.x", "login*", "a..b", ".*"] {
            assert!(KindPattern::parse(bad).is_err(), "{bad}");
        }
        let prefix = KindPattern::Prefix("mfa".into());
        assert!(prefix.matches("mfa.totp.enrolled"));
        assert!(!prefix.matches("mfa"));
        assert!(!prefix.matches("mfaz.x"));
    }

    #[test]
    fn ip_ranges() {
        let network = IpRange::parse("192.0.2.0/24").unwrap();
        assert!(network.contains("192.0.2.255".parse().unwrap()));
        assert!(!network.contains("192.0.3.0".parse().unwrap()));
        let one = IpRange::parse("2001:db8::7").unwrap();
        assert!(one.contains("2001:db8::7".parse().unwrap()));
        assert!(!one.contains("2001:db8::8".parse().unwrap()));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("203.0.113.9".parse().unwrap())
        );
        for bad in ["192.0.2.0/33", "2001:db8::/129", "example.org", "10.0.0.1/x"] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }
}
