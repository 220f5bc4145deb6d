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
    // `None` means unlimited.
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}
