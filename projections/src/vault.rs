//! The vault's secrets by org and name: their versions (sealed), readers,
//! state and last access, from the `secret.*` events.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use warden_core::Event;
use warden_core::auth::vault::{LastAccess, Secret, Version};
use warden_core::commands::payload;
use warden_core::commands::secret::{
    self, Accessed, ReadersChanged, ReadsCounted, RolledBack, SecretCreated, Shredded, VersionAdded,
};

use crate::Projection;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Vault {
    /// By org, then name.
    secrets: BTreeMap<String, BTreeMap<String, Arc<Secret>>>,
}

impl Vault {
    pub fn get(&self, org: &str, name: &str) -> Option<&Arc<Secret>> {
        self.secrets.get(org)?.get(name)
    }

    /// The org's secrets (shredded ones too), by name.
    pub fn of_org(&self, org: &str) -> impl Iterator<Item = &Arc<Secret>> {
        self.secrets.get(org).into_iter().flat_map(BTreeMap::values)
    }

    fn update(&mut self, org: &str, name: &str, change: impl FnOnce(&mut Secret)) {
        if let Some(secret) = self.secrets.get_mut(org).and_then(|secrets| secrets.get_mut(name)) {
            change(Arc::make_mut(secret));
        }
    }
}

/// The reader as the flow names it: `user:<id>`, or `api_key:<id>` for a
/// service or vendor key.
fn reader_of(event: &Event) -> String {
    let kind = match event.actor.kind {
        warden_core::event::ActorKind::User => "user",
        _ => "api_key",
    };
    format!("{kind}:{}", event.actor.id.as_deref().unwrap_or("unknown"))
}

impl Projection for Vault {
    const NAME: &'static str = warden_core::commands::catalogue::readers::VAULT;
    // 2: a secret created again after a shred keeps only its new versions.
    const VERSION: u32 = 2;
    const NEW_KINDS_ONLY: bool = true;

    fn apply(&mut self, event: &Event) {
        let version = |number, value| Version {
            number,
            value,
            added_at: event.at,
            added_by: event.actor.id.clone(),
        };
        match event.kind.as_str() {
            secret::SECRET_CREATED => {
                let Some(created) = payload::<SecretCreated>(event) else {
                    return;
                };
                // Created again after a shred: a new life, with its own
                // versions only (the earlier ones were sealed under the
                // destroyed key; their numbers are not reused).
                let secrets = self.secrets.entry(created.org.clone()).or_default();
                let versions = vec![version(created.version, created.value)];
                secrets.insert(
                    created.name.clone(),
                    Arc::new(Secret {
                        org: created.org,
                        name: created.name,
                        description: created.description,
                        readers: created.readers,
                        versions,
                        current: created.version,
                        shredded: false,
                        subject_version: event.subject_version,
                        created_at: event.at,
                        last_access: None,
                        reads: 0,
                        read_by: Default::default(),
                    }),
                );
            }
            secret::SECRET_VERSION_ADDED => {
                if let Some(added) = payload::<VersionAdded>(event) {
                    self.update(&added.org, &added.name, |secret| {
                        secret.versions.push(version(added.version, added.value));
                        secret.current = added.version;
                        secret.subject_version = event.subject_version;
                    });
                }
            }
            secret::SECRET_ROLLED_BACK => {
                if let Some(rolled) = payload::<RolledBack>(event) {
                    self.update(&rolled.org, &rolled.name, |secret| {
                        secret.current = rolled.version;
                        secret.subject_version = event.subject_version;
                    });
                }
            }
            secret::SECRET_READERS_CHANGED => {
                if let Some(changed) = payload::<ReadersChanged>(event) {
                    self.update(&changed.org, &changed.name, |secret| {
                        secret.readers = changed.readers;
                        secret.subject_version = event.subject_version;
                    });
                }
            }
            secret::SECRET_SHREDDED => {
                if let Some(shredded) = payload::<Shredded>(event) {
                    self.update(&shredded.org, &shredded.name, |secret| {
                        secret.shredded = true;
                        secret.subject_version = event.subject_version;
                    });
                }
            }
            secret::SECRET_ACCESSED => {
                if let Some(accessed) = payload::<Accessed>(event) {
                    let reader = reader_of(event);
                    self.update(&accessed.org, &accessed.name, |secret| {
                        secret.reads += 1;
                        secret.read_by.insert(reader.clone());
                        secret.last_access = Some(LastAccess {
                            at: event.at,
                            reader,
                            version: accessed.version,
                        });
                    });
                }
            }
            secret::SECRET_READS_COUNTED => {
                if let Some(counted) = payload::<ReadsCounted>(event) {
                    self.update(&counted.org, &counted.name, |secret| {
                        secret.reads += counted.reads.iter().map(|reads| reads.count).sum::<u64>();
                    });
                }
            }
            _ => {}
        }
    }
}
