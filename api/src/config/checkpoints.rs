//! Published checkpoints (decision 0020): how often, and the directory
//! each is also written to.

use std::path::PathBuf;

use chrono::Duration;
use warden_core::commands::checkpoint::Schedule;

use super::{ConfigError, FileSettings, Settings, invalid};

#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// `audit_checkpoint_every_events` (default 10,000) and
    /// `audit_checkpoint_every_seconds` (default 3,600).
    pub schedule: Schedule,
    /// `audit_checkpoint_dir`: where each is also written (none by
    /// default).
    pub dir: Option<PathBuf>,
}

pub(super) fn checkpoint_config(settings: &Settings, file: &FileSettings) -> Result<CheckpointConfig, ConfigError> {
    let every_events = settings
        .audit_checkpoint_every_events
        .or(file.audit_checkpoint_every_events)
        .unwrap_or(10_000);
    if !(1..=100_000_000).contains(&every_events) {
        return Err(invalid("audit_checkpoint_every_events", "must be 1 to 100000000"));
    }
    let every_seconds = settings
        .audit_checkpoint_every_seconds
        .or(file.audit_checkpoint_every_seconds)
        .unwrap_or(3600);
    if !(1..=7 * 86_400).contains(&every_seconds) {
        return Err(invalid(
            "audit_checkpoint_every_seconds",
            "must be 1 to 604800 (a week)",
        ));
    }
    let dir = settings
        .audit_checkpoint_dir
        .clone()
        .or(file.audit_checkpoint_dir.clone())
        .filter(|dir| !dir.as_os_str().is_empty());
    Ok(CheckpointConfig {
        schedule: Schedule {
            every_events,
            every: Duration::seconds(every_seconds as i64),
        },
        dir,
    })
}
