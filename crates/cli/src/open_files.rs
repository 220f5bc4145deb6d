//! The open-file limit. Every delivery in flight holds a socket, and so does every
//! client connection; with `max_in_flight` at 1024, the soft limit many systems start
//! a process with (1024) would make a burst of deliveries fail to connect. The hard
//! limit is what the administrator allows, so the soft one is raised to it, as Go's
//! runtime and most servers do.

use rustix::process::{getrlimit, setrlimit, Resource};

/// Raises the soft limit on open files to the hard limit; returns the soft limit now
/// in force (`u64::MAX`: unlimited).
pub fn raise_to_hard_limit() -> u64 {
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(
                "could not raise the open-file limit to the hard limit ({e}); a burst of deliveries may fail to connect: raise it with `ulimit -n` before starting depesha, or `LimitNOFILE=` in its systemd unit"
            );
        }
    }
    current_limit()
}

/// The soft limit on open files now in force (`u64::MAX`: unlimited).
pub fn current_limit() -> u64 {
    // `None` means unlimited.
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Files kept back from client connections for the store, the listener, logs and
/// the runtime's own handles.
const RESERVED_FILES: u64 = 64;

/// Fewest client connections a default allows, even under a limit too tight for
/// `max_in_flight`: a server nobody can reach would be worse than deliveries that
/// sometimes fail to connect (and are retried).
const MIN_CONNECTIONS: u64 = 64;

/// Most client connections a default allows: each may hold a read buffer of up to
/// twice `max_header_bytes`, so an unlimited file limit must not mean unlimited memory.
const MAX_DEFAULT_CONNECTIONS: u64 = 16_384;

/// The default `max_connections`: what the open-file limit leaves once every
/// delivery in flight has its socket and the reserve its files, so that clients
/// holding connections can never make a delivery (or the store) fail to open a file.
pub fn connection_budget(open_files: u64, max_in_flight: usize) -> usize {
    let budget = open_files
        .saturating_sub(max_in_flight as u64)
        .saturating_sub(RESERVED_FILES)
        .clamp(MIN_CONNECTIONS, MAX_DEFAULT_CONNECTIONS);
    usize::try_from(budget).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_budget_is_what_deliveries_and_the_reserve_leave() {
        assert_eq!(connection_budget(65_536, 1024), 16_384);
        assert_eq!(connection_budget(4096, 1024), 4096 - 1024 - 64);
        assert_eq!(connection_budget(1024, 1024), MIN_CONNECTIONS as usize);
        assert_eq!(connection_budget(u64::MAX, 1024), 16_384);
    }
}
