//! Connection limits: how long a client may take to send a request's
//! headers (and how long an idle keep-alive connection is kept), and how
//! many connections are served at once. Without them, clients that send
//! nothing, or trickle a header line now and then, hold a file descriptor
//! each until the process has none left.

use std::time::Duration;

use super::{ConfigError, FileSettings, Settings, invalid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionsConfig {
    /// `header_read_timeout_seconds` (default 10).
    pub header_read_timeout: Duration,
    /// `max_connections` (default: see [`default_max_connections`]).
    pub max_connections: usize,
}

/// File descriptors kept for everything but client connections: the
/// database pool, the bus, the audit index, the log, webhook deliveries.
const RESERVED_DESCRIPTORS: u64 = 512;

pub(super) fn connections_config(settings: &Settings, file: &FileSettings) -> Result<ConnectionsConfig, ConfigError> {
    let header_read_timeout_seconds = settings
        .header_read_timeout_seconds
        .or(file.header_read_timeout_seconds)
        .unwrap_or(10);
    if !(1..=300).contains(&header_read_timeout_seconds) {
        return Err(invalid("header_read_timeout_seconds", "must be 1 to 300"));
    }
    let max_connections = match settings.max_connections.or(file.max_connections) {
        Some(count) if (1..=1_000_000).contains(&count) => count,
        Some(_) => return Err(invalid("max_connections", "must be 1 to 1000000")),
        None => default_max_connections(open_files_limit()),
    };
    Ok(ConnectionsConfig {
        header_read_timeout: Duration::from_secs(header_read_timeout_seconds),
        max_connections,
    })
}

/// What the soft file-descriptor limit leaves for connections after
/// [`RESERVED_DESCRIPTORS`], at least 64 and at most 16,384. Raise the
/// limit (systemd `LimitNOFILE`) to serve more.
pub fn default_max_connections(open_files_limit: Option<u64>) -> usize {
    let limit = open_files_limit.unwrap_or(1024);
    let room = limit.saturating_sub(RESERVED_DESCRIPTORS).clamp(64, 16_384);
    usize::try_from(room).unwrap_or(16_384)
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits`
/// (Linux); `None` elsewhere.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_leaves_room_for_everything_else() {
        assert_eq!(default_max_connections(Some(1024)), 512);
        assert_eq!(default_max_connections(Some(65_536)), 16_384);
        assert_eq!(default_max_connections(Some(256)), 64);
        assert_eq!(default_max_connections(None), 512);
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|limit| limit > 0));
        }
    }
}
