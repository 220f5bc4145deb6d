//! Fair shares of delivery capacity: no destination and no user may hold more than
//! its share of the requests on the wire.
//!
//! `max_in_flight` bounds the requests on the wire over all users. Without shares, one
//! destination that accepts connections and never answers fills every slot with
//! requests that wait for their timeout (up to `max_timeout`), and every other
//! destination, of every user, waits behind it. So each request also needs a slot of
//! its *destination* (scheme, host and port: what a connection goes to) and of its
//! *user*, each bounded by a setting.
//!
//! A delivery that finds its destination's or its user's slots taken does not wait
//! for one: it gives its started slot back and the dispatcher parks its key on that
//! *lane* (in memory, a bounded number per lane; beyond that the message is deferred
//! in the store). When a request of the lane ends, its slot is given back here and the
//! dispatcher hears of it (`Event::Freed`), and starts the lane's next parked key.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use depesha_core::refs::UserId;
use tokio::sync::mpsc;

use crate::dispatcher::Event;

/// What a request holds a slot of, besides the global limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// A destination: `scheme://host:port`.
    Destination(String),
    /// A user (tenant).
    User(UserId),
}

/// The destination lane of a request's URL: what its connection goes to.
pub(crate) fn destination_of(url: &reqwest::Url) -> Lane {
    let host = url.host_str().unwrap_or("");
    let port = url.port_or_known_default().unwrap_or(0);
    Lane::Destination(format!("{}://{host}:{port}", url.scheme()))
}

/// Slots taken per lane, and the limits.
pub(crate) struct Shares {
    per_destination: usize,
    per_user: usize,
    state: Mutex<State>,
    events: mpsc::UnboundedSender<Event>,
}

#[derive(Default)]
struct State {
    taken: HashMap<Lane, usize>,
    /// Lanes the dispatcher has keys parked on: only their slots given back are
    /// announced, so that a delivery to a lane nobody waits for costs no event.
    watched: HashSet<Lane>,
}

impl Shares {
    pub(crate) fn new(
        per_destination: usize,
        per_user: usize,
        events: mpsc::UnboundedSender<Event>,
    ) -> Arc<Shares> {
        Arc::new(Shares {
            per_destination: per_destination.max(1),
            per_user: per_user.max(1),
            state: Mutex::new(State::default()),
            events,
        })
    }

    /// Slots of `lane`.
    pub(crate) fn limit(&self, lane: &Lane) -> usize {
        match lane {
            Lane::Destination(_) => self.per_destination,
            Lane::User(_) => self.per_user,
        }
    }

    /// Takes a slot of `user` and of `destination`, or names the lane that has none.
    pub(crate) fn try_take(
        self: &Arc<Self>,
        user: &str,
        destination: Lane,
    ) -> Result<SharePermit, Lane> {
        let lanes = [Lane::User(user.into()), destination];
        let mut state = self.lock();
        let taken = &mut state.taken;
        for lane in &lanes {
            if taken.get(lane).copied().unwrap_or(0) >= self.limit(lane) {
                return Err(lane.clone());
            }
        }
        for lane in &lanes {
            *taken.entry(lane.clone()).or_insert(0) += 1;
        }
        Ok(SharePermit {
            shares: self.clone(),
            lanes: lanes.to_vec(),
        })
    }

    /// Whether `lane` has a free slot now.
    pub(crate) fn has_room(&self, lane: &Lane) -> bool {
        self.lock().taken.get(lane).copied().unwrap_or(0) < self.limit(lane)
    }

    /// Before the dispatcher parks a key on `lane`: `false` when the lane has a free
    /// slot again (the key goes at once), else `true`, and from now on every slot of
    /// the lane given back is announced. Both in one lock: a slot given back between
    /// the refusal and the park is either seen here or announced.
    pub(crate) fn watch_if_full(&self, lane: &Lane) -> bool {
        let mut state = self.lock();
        if state.taken.get(lane).copied().unwrap_or(0) < self.limit(lane) {
            return false;
        }
        state.watched.insert(lane.clone());
        true
    }

    /// The dispatcher has no key parked on `lane` any more.
    pub(crate) fn unwatch(&self, lane: &Lane) {
        self.lock().watched.remove(lane);
    }

    /// Slots taken on `lane`.
    #[cfg(test)]
    pub(crate) fn taken(&self, lane: &Lane) -> usize {
        self.lock().taken.get(lane).copied().unwrap_or(0)
    }

    fn give_back(&self, lanes: &[Lane]) {
        let watched: Vec<Lane> = {
            let mut state = self.lock();
            for lane in lanes {
                if let Some(n) = state.taken.get_mut(lane) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        state.taken.remove(lane); // a lane costs memory only while in use
                    }
                }
            }
            lanes
                .iter()
                .filter(|lane| state.watched.contains(*lane))
                .cloned()
                .collect()
        };
        // After the count went down, so that the dispatcher sees the room.
        if !watched.is_empty() {
            let _ = self.events.send(Event::Freed(watched));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain counters: a panic elsewhere while holding the lock leaves them usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A request's slots of its user and its destination, given back when dropped.
pub(crate) struct SharePermit {
    shares: Arc<Shares>,
    lanes: Vec<Lane>,
}

impl Drop for SharePermit {
    fn drop(&mut self) {
        self.shares.give_back(&self.lanes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(s: &str) -> Lane {
        Lane::Destination(s.to_string())
    }

    #[test]
    fn a_destination_holds_at_most_its_share_and_gets_it_back() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let shares = Shares::new(2, 10, tx);
        let a = shares.try_take("u", dest("http://a:80"));
        let b = shares.try_take("u", dest("http://a:80"));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(
            shares.try_take("u", dest("http://a:80")).err(),
            Some(dest("http://a:80"))
        );
        assert!(
            shares.try_take("u", dest("http://b:80")).is_ok(),
            "another destination still has room"
        );
        drop(b);
        assert!(
            rx.try_recv().is_err(),
            "nobody waits for the lane: no event"
        );
        assert!(
            !shares.watch_if_full(&dest("http://a:80")),
            "it has room again"
        );
        let _b = shares.try_take("u", dest("http://a:80"));
        assert!(shares.watch_if_full(&dest("http://a:80")));
        drop(a);
        assert!(shares.has_room(&dest("http://a:80")));
        assert!(matches!(rx.try_recv(), Ok(Event::Freed(_))));
    }

    #[test]
    fn a_user_holds_at_most_its_share_over_all_destinations() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let shares = Shares::new(10, 2, tx);
        let _a = shares.try_take("u", dest("http://a:80"));
        let _b = shares.try_take("u", dest("http://b:80"));
        assert_eq!(
            shares.try_take("u", dest("http://c:80")).err(),
            Some(Lane::User("u".into()))
        );
        let other = shares.try_take("v", dest("http://c:80"));
        assert!(other.is_ok(), "another user still has room");
        assert_eq!(shares.taken(&dest("http://c:80")), 1);
    }

    #[test]
    fn a_refused_request_takes_no_slot_of_the_lane_that_had_room() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let shares = Shares::new(1, 10, tx);
        let _held = shares.try_take("u", dest("http://a:80"));
        assert!(shares.try_take("u", dest("http://a:80")).is_err());
        assert_eq!(shares.taken(&Lane::User("u".into())), 1);
    }

    #[test]
    fn destinations_are_scheme_host_and_port() {
        let url = |s: &str| reqwest::Url::parse(s).expect("valid url");
        assert_eq!(
            destination_of(&url("https://Shop.example/api/x?y=1")),
            dest("https://shop.example:443")
        );
        assert_eq!(
            destination_of(&url("http://127.0.0.1:3000/a")),
            dest("http://127.0.0.1:3000")
        );
        assert_ne!(
            destination_of(&url("http://h/a")),
            destination_of(&url("https://h/a"))
        );
    }
}
