//! Each user's second factors: their TOTP authenticator (confirmed or
//! being set up), the last TOTP step used, their passkeys, and their backup
//! codes with the positions already used. Secrets stay sealed here too; the API opens them
//! only to check a code.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::totp::TotpParams;
use warden_core::auth::webauthn::Passkey;
use warden_core::commands::mfa::{
    self, BackupCodesAcknowledged, BackupCodesGenerated, Factor, FactorsReset, PasskeyRegistered, PasskeyRemoved,
    PasskeyRenamed, TotpEnrolled, TotpEnrolmentStarted, Verified,
};
use warden_core::commands::{Prefix, payload, subject_id};
use warden_core::keys::Sealed;

use crate::Projection;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpFactor {
    pub enrolment: String,
    pub secret: Sealed<String>,
    pub params: TotpParams,
    pub started_at: DateTime<Utc>,
    /// Set once a first code confirmed it: only then is it a factor.
    pub enrolled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupCodes {
    pub set: String,
    pub hashes: Sealed<Vec<String>>,
    pub count: usize,
    pub used: BTreeSet<usize>,
    pub generated_at: DateTime<Utc>,
    pub acknowledged: bool,
}

impl BackupCodes {
    pub fn remaining(&self) -> usize {
        self.count.saturating_sub(self.used.len())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyFactor {
    /// The credential id, base64url.
    pub credential: String,
    pub name: String,
    pub passkey: Passkey,
    pub registered_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// One user's factors.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserFactors {
    /// The version of `mfa:<user>`: factor decisions are appended with it.
    pub version: u64,
    /// The confirmed authenticator.
    pub totp: Option<TotpFactor>,
    /// An authenticator being set up (not a factor yet).
    pub totp_pending: Option<TotpFactor>,
    /// The last TOTP time step accepted: no step at or before it is
    /// accepted again.
    pub last_totp_step: u64,
    pub backup_codes: Option<BackupCodes>,
    #[serde(default)]
    pub passkeys: Vec<PasskeyFactor>,
}

impl UserFactors {
    pub fn passkey(&self, credential: &str) -> Option<&PasskeyFactor> {
        self.passkeys.iter().find(|passkey| passkey.credential == credential)
    }

    /// The factors that can complete a sign-in now, in the order a prompt
    /// offers them. Backup codes count only beside a real factor: they are
    /// its recovery, not a factor of their own.
    pub fn second_factors(&self) -> Vec<Factor> {
        let mut factors = Vec::new();
        if !self.passkeys.is_empty() {
            factors.push(Factor::Passkey);
        }
        if self.totp.is_some() {
            factors.push(Factor::Totp);
        }
        if !factors.is_empty() && self.backup_codes.as_ref().is_some_and(|codes| codes.remaining() > 0) {
            factors.push(Factor::BackupCode);
        }
        factors
    }

    pub fn has_second_factor(&self) -> bool {
        self.totp.is_some() || !self.passkeys.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Mfa {
    users: HashMap<String, UserFactors>,
}

impl Mfa {
    pub fn of(&self, user: &str) -> Option<&UserFactors> {
        self.users.get(user)
    }

    /// The user's factors, empty (version 0) when they have none.
    pub fn factors(&self, user: &str) -> UserFactors {
        self.users.get(user).cloned().unwrap_or_default()
    }
}

impl Projection for Mfa {
    const NAME: &'static str = warden_core::commands::catalogue::readers::MFA;
    const VERSION: u32 = 2;

    fn apply(&mut self, event: &Event) {
        let Some(user) = subject_id(&event.subject, Prefix::Mfa) else {
            return;
        };
        let factors = self.users.entry(user.to_string()).or_default();
        factors.version = event.subject_version;
        match event.kind.as_str() {
            mfa::TOTP_ENROLMENT_STARTED => {
                if let Some(started) = payload::<TotpEnrolmentStarted>(event) {
                    factors.totp_pending = Some(TotpFactor {
                        enrolment: started.enrolment,
                        secret: started.secret,
                        params: started.params,
                        started_at: event.at,
                        enrolled_at: None,
                    });
                }
            }
            mfa::TOTP_ENROLLED => {
                let Some(enrolled) = payload::<TotpEnrolled>(event) else {
                    return;
                };
                if let Some(mut pending) = factors
                    .totp_pending
                    .take_if(|pending| pending.enrolment == enrolled.enrolment)
                {
                    pending.enrolled_at = Some(event.at);
                    factors.totp = Some(pending);
                    factors.last_totp_step = factors.last_totp_step.max(enrolled.step);
                }
            }
            mfa::TOTP_REMOVED => {
                factors.totp = None;
                factors.totp_pending = None;
            }
            mfa::BACKUP_CODES_GENERATED => {
                if let Some(generated) = payload::<BackupCodesGenerated>(event) {
                    factors.backup_codes = Some(BackupCodes {
                        set: generated.set,
                        hashes: generated.hashes,
                        count: generated.count,
                        used: BTreeSet::new(),
                        generated_at: event.at,
                        acknowledged: false,
                    });
                }
            }
            mfa::BACKUP_CODES_ACKNOWLEDGED => {
                if let Some(acknowledged) = payload::<BackupCodesAcknowledged>(event)
                    && let Some(codes) = factors.backup_codes.as_mut()
                    && codes.set == acknowledged.set
                {
                    codes.acknowledged = true;
                }
            }
            mfa::PASSKEY_REGISTERED => {
                if let Some(registered) = payload::<PasskeyRegistered>(event) {
                    factors.passkeys.push(PasskeyFactor {
                        credential: registered.credential,
                        name: registered.name,
                        passkey: registered.passkey,
                        registered_at: event.at,
                        last_used_at: None,
                    });
                }
            }
            mfa::PASSKEY_RENAMED => {
                if let Some(renamed) = payload::<PasskeyRenamed>(event)
                    && let Some(passkey) = factors
                        .passkeys
                        .iter_mut()
                        .find(|passkey| passkey.credential == renamed.credential)
                {
                    passkey.name = renamed.new;
                }
            }
            mfa::RESET if payload::<FactorsReset>(event).is_some() => {
                factors.totp = None;
                factors.totp_pending = None;
                factors.passkeys.clear();
                factors.backup_codes = None;
            }
            mfa::PASSKEY_REMOVED => {
                if let Some(removed) = payload::<PasskeyRemoved>(event) {
                    factors
                        .passkeys
                        .retain(|passkey| passkey.credential != removed.credential);
                }
            }
            mfa::VERIFIED => {
                let Some(verified) = payload::<Verified>(event) else {
                    return;
                };
                match verified.factor {
                    Factor::Totp => {
                        if let Some(step) = verified.step {
                            factors.last_totp_step = factors.last_totp_step.max(step);
                        }
                    }
                    Factor::Passkey => {
                        if let Some(passkey) = factors
                            .passkeys
                            .iter_mut()
                            .find(|passkey| Some(&passkey.credential) == verified.credential.as_ref())
                        {
                            passkey.last_used_at = Some(event.at);
                            if let Some(authentication) = &verified.authentication {
                                passkey.passkey.update_credential(authentication);
                            }
                        }
                    }
                    Factor::BackupCode => {
                        if let (Some(codes), Some(set), Some(index)) =
                            (factors.backup_codes.as_mut(), verified.set, verified.index)
                            && codes.set == set
                        {
                            codes.used.insert(index);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_core::event::{Actor, Outcome};

    fn event(seq: u64, kind: &str, version: u64, data: serde_json::Value) -> Event {
        Event {
            seq,
            id: uuid::Uuid::now_v7(),
            at: Utc::now(),
            kind: kind.into(),
            subject: "mfa:u1".into(),
            subject_version: version,
            actor: Actor::system(),
            request_id: "r".into(),
            outcome: Outcome::Success,
            data,
            prev: Default::default(),
            hash: Default::default(),
            key_id: String::new(),
            sig: warden_core::chain::Signature([0; 64]),
        }
    }

    fn sealed() -> serde_json::Value {
        serde_json::json!({"sealed": "v1", "subject": "user:u1", "key_id": "k", "nonce": "n", "ciphertext": "c"})
    }

    #[test]
    fn totp_counts_only_once_confirmed_and_steps_are_not_reused() {
        let mut mfa = Mfa::default();
        let started = serde_json::json!({"user": "u1", "enrolment": "e1", "secret": sealed(),
            "digits": 6, "period_seconds": 30, "algorithm": "SHA1"});
        mfa.apply(&event(1, mfa::TOTP_ENROLMENT_STARTED, 1, started));
        assert!(!mfa.factors("u1").has_second_factor());
        assert_eq!(mfa.factors("u1").version, 1);
        // A confirmation of another enrolment changes nothing.
        mfa.apply(&event(
            2,
            mfa::TOTP_ENROLLED,
            2,
            serde_json::json!({"user": "u1", "enrolment": "other", "step": 5}),
        ));
        assert!(!mfa.factors("u1").has_second_factor());
        mfa.apply(&event(
            3,
            mfa::TOTP_ENROLLED,
            3,
            serde_json::json!({"user": "u1", "enrolment": "e1", "step": 7}),
        ));
        let factors = mfa.factors("u1");
        assert!(factors.has_second_factor());
        assert_eq!(factors.last_totp_step, 7);
        assert_eq!(factors.second_factors(), vec![Factor::Totp]);
        mfa.apply(&event(
            4,
            mfa::VERIFIED,
            4,
            serde_json::json!({"user": "u1", "factor": "totp", "session": "s", "step": 9}),
        ));
        assert_eq!(mfa.factors("u1").last_totp_step, 9);
        mfa.apply(&event(
            5,
            mfa::TOTP_REMOVED,
            5,
            serde_json::json!({"user": "u1", "enrolment": "e1"}),
        ));
        assert!(!mfa.factors("u1").has_second_factor());
    }

    #[test]
    fn backup_codes_count_down_and_a_new_set_replaces_the_old() {
        let mut mfa = Mfa::default();
        let generated = |set: &str| serde_json::json!({"user": "u1", "set": set, "hashes": sealed(), "count": 10});
        mfa.apply(&event(1, mfa::BACKUP_CODES_GENERATED, 1, generated("b1")));
        let used = |set: &str, index: usize| serde_json::json!({"user": "u1", "factor": "backup_code", "session": "s", "set": set, "index": index});
        mfa.apply(&event(2, mfa::VERIFIED, 2, used("b1", 3)));
        mfa.apply(&event(3, mfa::VERIFIED, 3, used("b1", 3)));
        mfa.apply(&event(4, mfa::VERIFIED, 4, used("b1", 4)));
        assert_eq!(mfa.factors("u1").backup_codes.unwrap().remaining(), 8);
        // Backup codes alone are no second factor.
        assert!(mfa.factors("u1").second_factors().is_empty());
        mfa.apply(&event(5, mfa::BACKUP_CODES_GENERATED, 5, generated("b2")));
        mfa.apply(&event(6, mfa::VERIFIED, 6, used("b1", 5)));
        let codes = mfa.factors("u1").backup_codes.unwrap();
        assert_eq!(
            (codes.set.as_str(), codes.remaining(), codes.acknowledged),
            ("b2", 10, false)
        );
        mfa.apply(&event(
            7,
            mfa::BACKUP_CODES_ACKNOWLEDGED,
            7,
            serde_json::json!({"user": "u1", "set": "b2"}),
        ));
        assert!(mfa.factors("u1").backup_codes.unwrap().acknowledged);
    }
}
