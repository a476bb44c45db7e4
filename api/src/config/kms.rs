//! The KMS (decision 0026, `docs/operations/kms.md`): which provider wraps
//! the data and signing keys, the keys only kept to unwrap during a
//! rotation, the cache of unwrapped data keys, and how old the chain's
//! signing key may grow.

use std::path::PathBuf;
use std::time::Duration;

use warden_core::keys::{AwsKmsSettings, DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL};

use super::{ConfigError, FileSettings, Settings, invalid, non_empty};

#[derive(Debug, Clone)]
pub struct KmsConfig {
    pub provider: KmsProvider,
    /// `kms_retired_key_files`: local master keys that only unwrap, until
    /// `warden kms rotate` has moved every key off them.
    pub retired_key_files: Vec<PathBuf>,
    /// `kms_data_key_cache_seconds` (default 300; 0 turns the cache off).
    pub data_key_cache_ttl: Duration,
    /// `kms_data_key_cache_entries` (default 100,000).
    pub data_key_cache_entries: usize,
    /// `signing_key_max_age_days`: the chain's signing key is rotated once
    /// it is this old (none: only by `warden keys rotate`).
    pub signing_key_max_age_days: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum KmsProvider {
    /// `kms_provider = "local"`: a master key file (`kms_key_file`).
    Local { key_file: PathBuf },
    /// `kms_provider = "aws"`: an AWS KMS key (`kms_aws_key_id`).
    Aws(AwsKmsSettings),
}

pub(super) fn kms_config(
    settings: &Settings,
    file: &FileSettings,
    data_dir: &std::path::Path,
) -> Result<KmsConfig, ConfigError> {
    let key_file = settings
        .kms_key_file
        .clone()
        .or(file.kms_key_file.clone())
        .unwrap_or_else(|| data_dir.join("master.key"));
    let aws_key_id = non_empty(settings.kms_aws_key_id.clone()).or(non_empty(file.kms_aws_key_id.clone()));
    let provider = match settings.kms_provider.clone().or(file.kms_provider.clone()).as_deref() {
        None | Some("local") => {
            if aws_key_id.is_some() {
                return Err(invalid("kms_aws_key_id", "is set but kms_provider is not aws"));
            }
            KmsProvider::Local { key_file }
        }
        Some("aws") => {
            let key_id = aws_key_id.ok_or_else(|| {
                invalid(
                    "kms_aws_key_id",
                    "kms_provider = aws needs the key's id, ARN or alias (alias/warden)",
                )
            })?;
            let timeout_seconds = settings.kms_timeout_seconds.or(file.kms_timeout_seconds).unwrap_or(10);
            if !(1..=120).contains(&timeout_seconds) {
                return Err(invalid("kms_timeout_seconds", "must be 1 to 120"));
            }
            let endpoint_url =
                non_empty(settings.kms_aws_endpoint_url.clone()).or(non_empty(file.kms_aws_endpoint_url.clone()));
            if let Some(url) = &endpoint_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(invalid("kms_aws_endpoint_url", "must be an http:// or https:// URL"));
            }
            KmsProvider::Aws(AwsKmsSettings {
                key_id,
                region: non_empty(settings.kms_aws_region.clone()).or(non_empty(file.kms_aws_region.clone())),
                endpoint_url,
                timeout: Duration::from_secs(timeout_seconds),
                max_attempts: 3,
            })
        }
        Some(other) => return Err(invalid("kms_provider", format!("{other:?} is neither local nor aws"))),
    };
    let retired_key_files = match non_empty(settings.kms_retired_key_files.clone()) {
        Some(list) => list.split(',').map(|path| PathBuf::from(path.trim())).collect(),
        None => file.kms_retired_key_files.clone(),
    };
    if retired_key_files.iter().any(|path| path.as_os_str().is_empty()) {
        return Err(invalid("kms_retired_key_files", "an empty path in the list"));
    }
    let cache_seconds = settings
        .kms_data_key_cache_seconds
        .or(file.kms_data_key_cache_seconds)
        .unwrap_or(DEFAULT_CACHE_TTL.as_secs());
    if cache_seconds > 86_400 {
        return Err(invalid("kms_data_key_cache_seconds", "must be 0 to 86400 (a day)"));
    }
    let data_key_cache_entries = settings
        .kms_data_key_cache_entries
        .or(file.kms_data_key_cache_entries)
        .unwrap_or(DEFAULT_CACHE_ENTRIES);
    if data_key_cache_entries > 10_000_000 {
        return Err(invalid("kms_data_key_cache_entries", "must be at most 10000000"));
    }
    let signing_key_max_age_days = settings
        .signing_key_max_age_days
        .or(file.signing_key_max_age_days)
        .filter(|days| *days > 0);
    if signing_key_max_age_days.is_some_and(|days| days > 3650) {
        return Err(invalid(
            "signing_key_max_age_days",
            "must be 1 to 3650 (0 or unset: never)",
        ));
    }
    Ok(KmsConfig {
        provider,
        retired_key_files,
        data_key_cache_ttl: Duration::from_secs(cache_seconds),
        data_key_cache_entries,
        signing_key_max_age_days,
    })
}
