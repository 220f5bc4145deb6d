//! Where a connection is in its request cycle, and so which deadline its reads are
//! under. hyper itself offers one timer (`header_read_timeout`), which also runs
//! while a kept-alive connection waits for its next request; keeping our own lets an
//! idle connection wait longer than a slow request head may take.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use tokio::time::Instant;

use crate::config::ConnectionLimits;

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head, which must be whole by `deadline`.
    Head { deadline: Instant },
    /// A request is being answered: its body has its own deadline
    /// (`DeadlineBody`) and the handler is not a client's to stall.
    Busy,
    /// The last answer is sent; the next request must start by `deadline`.
    Idle { deadline: Instant },
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The last read that waited: hyper reads an idle connection only when woken,
    /// so without a wake-up that read would wait under the old phase's deadline.
    waiting_read: Option<Waker>,
}

/// The phase of one connection, shared by its socket (which enforces the deadline)
/// and its service (which sees requests start and answers end).
#[derive(Debug)]
pub(crate) struct ConnectionPhase {
    state: Mutex<State>,
    header_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
}

impl ConnectionPhase {
    /// A new connection: its first request head is due within the header timeout.
    pub(crate) fn new(limits: &ConnectionLimits) -> Arc<ConnectionPhase> {
        Arc::new(ConnectionPhase {
            state: Mutex::new(State {
                phase: Phase::Head {
                    deadline: Instant::now() + limits.header_timeout,
                },
                waiting_read: None,
            }),
            header_timeout: limits.header_timeout,
            idle_timeout: limits.idle_timeout,
        })
    }

    /// When a read still waiting must give up, if ever. `waker` is woken when the
    /// connection goes idle, whose deadline the read must then be put under.
    pub(crate) fn read_deadline(&self, waker: &Waker) -> Option<Instant> {
        let mut state = self.lock();
        if !state
            .waiting_read
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            state.waiting_read = Some(waker.clone());
        }
        match state.phase {
            Phase::Head { deadline } | Phase::Idle { deadline } => Some(deadline),
            Phase::Busy => None,
        }
    }

    /// The deadline of a connection's first read.
    pub(crate) fn first_deadline(&self) -> Instant {
        match self.lock().phase {
            Phase::Head { deadline } | Phase::Idle { deadline } => deadline,
            Phase::Busy => Instant::now(),
        }
    }

    /// Bytes arrived: on an idle connection they begin the next request head.
    pub(crate) fn bytes_arrived(&self) {
        let mut state = self.lock();
        if let Phase::Idle { .. } = state.phase {
            state.phase = Phase::Head {
                deadline: Instant::now() + self.header_timeout,
            };
        }
    }

    /// A whole request head arrived and is being answered.
    pub(crate) fn request_started(&self) {
        self.lock().phase = Phase::Busy;
    }

    /// The answer's body is all handed over: the connection is idle.
    pub(crate) fn response_done(&self) {
        let waiting_read = {
            let mut state = self.lock();
            state.phase = Phase::Idle {
                deadline: Instant::now() + self.idle_timeout,
            };
            state.waiting_read.take()
        };
        if let Some(read) = waiting_read {
            read.wake();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding this lock; a poisoned one still holds a
        // valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
