//! Deciding and sealing one group-commit batch, with no I/O.
//!
//! Under the append lock a store reads the head, the current versions of
//! the batch's subjects and which of its claims are taken; [`SealInput::seal`]
//! then accepts or refuses each request (a command's events, all or none),
//! assigns `seq`, `subject_version`, `id`, `at`, chains and signs.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::signer::ActiveKey;
use super::{AppendError, Head};
use crate::chain::{self, Envelope, SIGNING_KEY_ADDED};
use crate::event::{Event, NewEvent, UniqueClaim, now_micros};

pub struct SealInput<'a> {
    pub requests: &'a [Vec<NewEvent>],
    pub key: &'a ActiveKey,
}

#[derive(Debug, Default)]
pub struct SealedBatch {
    /// Per request, in order: its sealed events or why it was refused.
    pub results: Vec<Result<Vec<Event>, AppendError>>,
    /// The new version of every subject that received events.
    pub versions: Vec<(String, u64)>,
    /// Claims made, with the `seq` of the event that made them.
    pub claims: Vec<(UniqueClaim, u64)>,
    /// Claims released, to delete before `claims` are inserted.
    pub released: Vec<UniqueClaim>,
}

impl SealedBatch {
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.results.iter().filter_map(|result| result.as_ref().ok()).flatten()
    }

    pub fn events_mut(&mut self) -> impl Iterator<Item = &mut Event> {
        self.results
            .iter_mut()
            .filter_map(|result| result.as_mut().ok())
            .flatten()
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.events().last().map(|event| event.seq)
    }
}

impl SealInput<'_> {
    /// Every subject the batch touches, once.
    pub fn subjects(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.requests
            .iter()
            .flatten()
            .filter(|event| seen.insert(event.subject.as_str()))
            .map(|event| event.subject.clone())
            .collect()
    }

    pub fn claims(&self) -> Vec<UniqueClaim> {
        let mut claims: Vec<UniqueClaim> = self
            .requests
            .iter()
            .flatten()
            .flat_map(|event| event.claims.iter().cloned())
            .collect();
        claims.sort();
        claims.dedup();
        claims
    }

    /// Decides, chains and signs the batch.
    pub fn seal(&self, head: Head, versions: &HashMap<String, u64>, taken: &HashSet<UniqueClaim>) -> SealedBatch {
        let mut batch = self.seal_unsigned(head, versions, taken);
        let mut events: Vec<&mut Event> = batch.events_mut().collect();
        self.sign(&mut events);
        batch
    }

    /// Decides and chains the batch, leaving the signatures to [`Self::sign`]
    /// (so a store can sign one part while it sends another).
    pub fn seal_unsigned(
        &self,
        head: Head,
        versions: &HashMap<String, u64>,
        taken: &HashSet<UniqueClaim>,
    ) -> SealedBatch {
        let mut versions = versions.clone();
        let mut taken = taken.clone();
        let mut next_seq = head.seq + 1;
        let mut prev = head.hash;
        let mut batch = SealedBatch::default();
        let mut touched: BTreeSet<String> = BTreeSet::new();

        for request in self.requests {
            if let Err(refusal) = self.admissible(request, next_seq, &versions, &taken) {
                batch.results.push(Err(refusal));
                continue;
            }
            // Sealed whole before anything is taken: an event that cannot be
            // hashed refuses its request, never enters the chain.
            let mut sealed = Vec::with_capacity(request.len());
            let mut request_versions: HashMap<&str, u64> = HashMap::new();
            let mut request_prev = prev;
            let outcome = request.iter().enumerate().try_for_each(|(offset, new)| {
                let version = request_versions
                    .get(new.subject.as_str())
                    .copied()
                    .unwrap_or_else(|| versions.get(&new.subject).copied().unwrap_or(0))
                    + 1;
                request_versions.insert(&new.subject, version);
                let event = self.seal_one(new, next_seq + offset as u64, version, request_prev)?;
                request_prev = event.hash;
                sealed.push(event);
                Ok::<(), AppendError>(())
            });
            if let Err(refusal) = outcome {
                batch.results.push(Err(refusal));
                continue;
            }
            for (new, event) in request.iter().zip(&sealed) {
                versions.insert(new.subject.clone(), event.subject_version);
                touched.insert(new.subject.clone());
                for claim in &new.releases {
                    taken.remove(claim);
                    let made_here = batch.claims.len();
                    batch.claims.retain(|(made, _)| made != claim);
                    if batch.claims.len() == made_here {
                        batch.released.push(claim.clone());
                    }
                }
                for claim in &new.claims {
                    taken.insert(claim.clone());
                    batch.claims.push((claim.clone(), event.seq));
                }
            }
            prev = request_prev;
            next_seq += sealed.len() as u64;
            batch.results.push(Ok(sealed));
        }
        batch.versions = touched
            .into_iter()
            .filter_map(|subject| versions.get(&subject).map(|v| (subject, *v)))
            .collect();
        batch
    }

    /// A request is admitted whole or refused whole.
    fn admissible(
        &self,
        request: &[NewEvent],
        first_seq: u64,
        versions: &HashMap<String, u64>,
        taken: &HashSet<UniqueClaim>,
    ) -> Result<(), AppendError> {
        let mut local_versions: HashMap<&str, u64> = HashMap::new();
        let mut local_claims: HashSet<&UniqueClaim> = HashSet::new();
        let mut local_released: HashSet<&UniqueClaim> = HashSet::new();
        for (offset, event) in request.iter().enumerate() {
            let current = local_versions
                .get(event.subject.as_str())
                .copied()
                .unwrap_or_else(|| versions.get(&event.subject).copied().unwrap_or(0));
            if let Some(expected) = event.expected_version
                && expected != current
            {
                return Err(AppendError::Conflict {
                    subject: event.subject.clone(),
                    expected,
                    actual: current,
                });
            }
            local_versions.insert(&event.subject, current + 1);
            for claim in &event.releases {
                local_claims.remove(claim);
                local_released.insert(claim);
            }
            for claim in &event.claims {
                let free = !taken.contains(claim) || local_released.remove(claim);
                if !free || !local_claims.insert(claim) {
                    return Err(AppendError::ClaimTaken {
                        namespace: claim.namespace.clone(),
                        value: claim.value.clone(),
                    });
                }
            }
            if first_seq + offset as u64 == 1 && !self.is_own_genesis(event) {
                return Err(AppendError::Invalid(format!(
                    "the first event of a ledger must be {SIGNING_KEY_ADDED} announcing the signing key"
                )));
            }
        }
        Ok(())
    }

    fn is_own_genesis(&self, event: &NewEvent) -> bool {
        event.kind == SIGNING_KEY_ADDED
            && event.data.get("key_id").and_then(|v| v.as_str()) == Some(self.key.key_id.as_str())
    }

    /// One event, chained after `prev`. Its data was made canonical when
    /// the append was accepted (`ledger::validate`); what can still fail is
    /// a seq or subject version past 2^53 - 1, which no canonical form
    /// holds: the request is refused, never sealed with a made-up hash.
    fn seal_one(
        &self,
        new: &NewEvent,
        seq: u64,
        subject_version: u64,
        prev: chain::Digest,
    ) -> Result<Event, AppendError> {
        let mut event = Event {
            seq,
            id: uuid::Uuid::now_v7(),
            at: now_micros(),
            kind: new.kind.clone(),
            subject: new.subject.clone(),
            subject_version,
            actor: new.actor.clone(),
            request_id: new.request_id.clone(),
            outcome: new.outcome,
            data: new.data.clone(),
            prev,
            hash: chain::Digest::ZERO,
            key_id: self.key.key_id.clone(),
            sig: chain::Signature([0; 64]),
        };
        event.hash = Envelope::of(&event)
            .hash()
            .map_err(|error| AppendError::Invalid(format!("the event cannot be sealed: {error}")))?;
        Ok(event)
    }

    /// Signs sealed events; hashes chain one after the other, but
    /// signatures are independent, so long runs use two threads.
    pub fn sign(&self, events: &mut [&mut Event]) {
        let key = &self.key.secret;
        let sign = |events: &mut [&mut Event]| {
            for event in events {
                event.sig = chain::sign(key, &event.hash);
            }
        };
        if events.len() < PARALLEL_SIGN_FROM {
            sign(events);
            return;
        }
        let half = events.len() / 2;
        let (first, second) = events.split_at_mut(half);
        std::thread::scope(|scope| {
            scope.spawn(|| sign(first));
            sign(second);
        });
    }
}

/// Batches at least this long are signed on two threads.
const PARALLEL_SIGN_FROM: usize = 32;

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::chain::{ChainVerifier, LEDGER_SUBJECT, signing_key_added_data};
    use crate::event::Actor;

    fn key() -> ActiveKey {
        let secret = SigningKey::from_bytes(&[9; 32]);
        ActiveKey {
            key_id: chain::key_id(&secret.verifying_key()),
            secret,
        }
    }

    fn genesis(key: &ActiveKey) -> Vec<NewEvent> {
        vec![
            NewEvent::new(SIGNING_KEY_ADDED, LEDGER_SUBJECT, Actor::system())
                .expect_version(0)
                .data(signing_key_added_data(&key.public())),
        ]
    }

    fn thing(subject: &str) -> NewEvent {
        NewEvent::new("app.thing.done", subject, Actor::system()).data(json!({}))
    }

    /// Seals `requests` on an empty ledger after the genesis request.
    fn seal(requests: Vec<Vec<NewEvent>>) -> SealedBatch {
        let key = key();
        let mut all = vec![genesis(&key)];
        all.extend(requests);
        SealInput {
            requests: &all,
            key: &key,
        }
        .seal(Head::EMPTY, &HashMap::new(), &HashSet::new())
    }

    #[test]
    fn requests_of_one_batch_are_decided_in_order() {
        let batch = seal(vec![
            vec![thing("a").expect_version(0)],
            vec![thing("a").expect_version(0)],
            vec![thing("a").expect_version(1)],
            vec![thing("b").claim("email", "x@example.org")],
            vec![thing("c").claim("email", "x@example.org")],
            vec![thing("d").claim("slug", "s"), thing("e").claim("slug", "s")],
        ]);
        let outcome: Vec<&str> = batch
            .results
            .iter()
            .map(|result| match result {
                Ok(_) => "ok",
                Err(AppendError::Conflict { .. }) => "conflict",
                Err(AppendError::ClaimTaken { .. }) => "taken",
                Err(_) => "other",
            })
            .collect();
        assert_eq!(outcome, ["ok", "ok", "conflict", "ok", "ok", "taken", "taken"]);
        assert_eq!(
            batch.versions,
            vec![("a".into(), 2), ("b".into(), 1), ("ledger".into(), 1)]
        );
        assert_eq!(batch.claims.len(), 1);
        let events: Vec<Event> = batch.events().cloned().collect();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
        ChainVerifier::new().check_all(&events, 1).unwrap();
    }

    /// A seq past 2^53 - 1 has no canonical form: the request that would
    /// reach it is refused whole (its claims not taken, its subjects not
    /// moved), never sealed with a made-up hash.
    #[test]
    fn a_request_that_cannot_be_hashed_is_refused_whole() {
        let key = key();
        let requests = vec![
            vec![thing("a").claim("email", "a@example.org")],
            vec![thing("b").claim("email", "b@example.org"), thing("c")],
        ];
        let head = Head {
            seq: crate::chain::canonical::MAX_SAFE_INTEGER as u64 - 2,
            hash: chain::Digest::ZERO,
        };
        let batch = SealInput {
            requests: &requests,
            key: &key,
        }
        .seal(head, &HashMap::new(), &HashSet::new());
        assert!(batch.results[0].is_ok());
        assert!(
            matches!(&batch.results[1], Err(AppendError::Invalid(message)) if message.contains("cannot be sealed")),
            "{:?}",
            batch.results[1]
        );
        assert_eq!(batch.versions, vec![("a".into(), 1)]);
        assert_eq!(batch.claims.len(), 1);
        let events: Vec<&Event> = batch.events().collect();
        assert_eq!(events.len(), 1);
        assert_ne!(events[0].hash, chain::Digest::ZERO);
    }

    #[test]
    fn an_empty_ledger_starts_only_with_the_signers_own_genesis() {
        let key = key();
        let stranger = SigningKey::from_bytes(&[8; 32]);
        let other_genesis = vec![
            NewEvent::new(SIGNING_KEY_ADDED, LEDGER_SUBJECT, Actor::system())
                .data(signing_key_added_data(&stranger.verifying_key())),
        ];
        for first in [vec![thing("a")], other_genesis] {
            let requests = vec![first];
            let batch = SealInput {
                requests: &requests,
                key: &key,
            }
            .seal(Head::EMPTY, &HashMap::new(), &HashSet::new());
            assert!(matches!(batch.results[0], Err(AppendError::Invalid(_))));
            assert_eq!(batch.last_seq(), None);
        }
    }
}
