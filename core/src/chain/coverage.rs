//! What a verification covered, and whether that is what the auditor was
//! promised (`warden verify --expect-from`, `--expect-head`).
//!
//! A chain proves the events it holds, not where it starts or ends: a file
//! with its first events cut off verifies, anchored on the `prev` of its
//! first event, and so does one with its last events cut off (audit-chain
//! §11). So every verdict names its first and last seq and hash and
//! whether it started at the genesis, and [`decide`] compares that with
//! what the auditor expected.

use super::Digest;

/// The span a verification checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The first event checked: its seq, and the `prev` it is anchored on
    /// (32 zero bytes at the genesis).
    pub first: (u64, Digest),
    /// The last event checked: its seq and hash.
    pub last: (u64, Digest),
}

impl Coverage {
    pub fn events(&self) -> u64 {
        self.last.0 - self.first.0 + 1
    }

    pub fn from_genesis(&self) -> bool {
        self.first.0 == 1
    }
}

/// What the auditor was promised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// The first seq (1: from the genesis).
    pub from: Option<u64>,
    /// An event the log must hold, with its hash (a head received earlier).
    pub head: Option<(u64, Digest)>,
}

/// Why a verified span is not the promised one; `seq` is the seq to name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq}: {reason}")]
pub struct Unexpected {
    pub seq: u64,
    pub reason: String,
}

/// Compares a verified span with the expectations. `hash_at` gives the
/// hash of an event inside the span (the verifier saw it).
pub fn decide(
    covered: Option<&Coverage>,
    expected: &Expected,
    hash_at: impl Fn(u64) -> Option<Digest>,
) -> Result<(), Unexpected> {
    let Some(covered) = covered else {
        return match (expected.from, expected.head) {
            (Some(from), _) => Err(Unexpected {
                seq: from,
                reason: "missing: nothing was verified (0 events)".into(),
            }),
            (None, Some((seq, _))) => Err(Unexpected {
                seq,
                reason: "missing: nothing was verified (0 events)".into(),
            }),
            (None, None) => Ok(()),
        };
    };
    if let Some(from) = expected.from
        && covered.first.0 != from
    {
        let reason = if covered.first.0 > from {
            format!(
                "missing: the events start at seq {}, the expected start is seq {from}: events before it were cut off",
                covered.first.0
            )
        } else {
            format!(
                "the events start at seq {}, before the expected start at seq {from}",
                covered.first.0
            )
        };
        return Err(Unexpected {
            seq: from.min(covered.first.0),
            reason,
        });
    }
    if let Some((seq, hash)) = expected.head {
        if seq > covered.last.0 {
            return Err(Unexpected {
                seq: covered.last.0 + 1,
                reason: format!(
                    "missing: the events stop at seq {}, the expected head is seq {seq}: events were cut from the end, or the log was rolled back",
                    covered.last.0
                ),
            });
        }
        if seq < covered.first.0 {
            return Err(Unexpected {
                seq,
                reason: format!(
                    "the expected head is before the verified events (seq {}..{}): it cannot be checked here",
                    covered.first.0, covered.last.0
                ),
            });
        }
        let found = hash_at(seq);
        if found != Some(hash) {
            return Err(Unexpected {
                seq,
                reason: format!(
                    "its hash is {}, not the expected {}: the log was rewritten or forked at or before it",
                    found.map(|hash| hash.to_hex()).unwrap_or_else(|| "unknown".into()),
                    hash.to_hex()
                ),
            });
        }
    }
    Ok(())
}

/// Parses `SEQ:HASH` (a head as `warden verify` prints it: seq, then 64
/// lower-case hex digits).
pub fn parse_head(text: &str) -> Option<(u64, Digest)> {
    let (seq, hash) = text.split_once(':')?;
    let seq: u64 = seq.parse().ok().filter(|seq| *seq > 0)?;
    Some((seq, Digest::from_hex(hash)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> Digest {
        Digest([n; 32])
    }

    /// Events 5..=9 with hash [seq; 32], anchored on hash [4; 32].
    fn span(first: u64, last: u64) -> Coverage {
        Coverage {
            first: (first, hash(first as u8 - 1)),
            last: (last, hash(last as u8)),
        }
    }

    #[test]
    fn expectations_table() {
        let seen = |seq: u64| Some(hash(seq as u8));
        let from = |from| Expected {
            from: Some(from),
            head: None,
        };
        let head = |seq: u64, h: u8| Expected {
            from: None,
            head: Some((seq, hash(h))),
        };
        // (covered, expected, the seq named on failure)
        let cases: Vec<(Option<Coverage>, Expected, Option<u64>)> = vec![
            (Some(span(5, 9)), Expected::default(), None),
            (None, Expected::default(), None),
            (Some(span(1, 9)), from(1), None),
            (Some(span(5, 9)), from(5), None),
            // Head-truncated: the genesis was promised.
            (Some(span(5, 9)), from(1), Some(1)),
            (Some(span(1, 9)), from(5), Some(1)),
            (Some(span(5, 9)), head(9, 9), None),
            // The log grew past the promised head: fine, if it holds it.
            (Some(span(5, 9)), head(7, 7), None),
            // Tail-truncated or rolled back.
            (Some(span(5, 9)), head(12, 12), Some(10)),
            // Rewritten.
            (Some(span(5, 9)), head(9, 1), Some(9)),
            (Some(span(5, 9)), head(3, 3), Some(3)),
            (None, from(1), Some(1)),
            (None, head(4, 4), Some(4)),
        ];
        for (covered, expected, named) in cases {
            let verdict = decide(covered.as_ref(), &expected, seen);
            assert_eq!(
                verdict.as_ref().err().map(|e| e.seq),
                named,
                "{covered:?} {expected:?}: {verdict:?}"
            );
        }
    }

    #[test]
    fn heads_parse_as_printed() {
        let text = format!("12:{}", hash(7).to_hex());
        assert_eq!(parse_head(&text), Some((12, hash(7))));
        for bad in [
            "12",
            "0:00",
            "x:00",
            &format!("12:{}", hash(0xab).to_hex().to_uppercase()),
            &format!("-1:{}", hash(7).to_hex()),
        ] {
            assert_eq!(parse_head(bad), None, "{bad}");
        }
    }
}
