//! Typed names of the things the engine and the store pass around: whose a thing is,
//! and which one it is.
//!
//! Everything Depesha keeps belongs to one user, so a message, a queue or a
//! flow-control key is only named by a pair: the user and the thing's own name. Two
//! bare strings in a tuple say neither which is which nor what the second one names;
//! these types say both, so that a queue's name cannot be handed where a message id
//! is expected. They name things in memory and in the store's traits only: the domain
//! structs (`Message.user`) and the stored records keep their plain strings.
//!
//! The derived order is field order, user first: the order of the store's indexes.

use std::borrow::Borrow;
use std::fmt;

/// Declares a newtype over `String` with the conversions every id needs.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// The user a thing belongs to (the subject of the token that made it).
    UserId
);

string_id!(
    /// A message's id (`msg_…`), unique within its user.
    MessageId
);

/// One message of one user: how the dispatcher and the prepared deliveries tell
/// messages apart.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    pub user: UserId,
    pub id: MessageId,
}

impl MessageRef {
    pub fn new(user: impl Into<UserId>, id: impl Into<MessageId>) -> Self {
        MessageRef {
            user: user.into(),
            id: id.into(),
        }
    }
}

/// One queue of one user, by its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueRef {
    pub user: UserId,
    pub name: String,
}

impl QueueRef {
    pub fn new(user: impl Into<UserId>, name: impl Into<String>) -> Self {
        QueueRef {
            user: user.into(),
            name: name.into(),
        }
    }
}

/// One flow-control key of one user (the key is the name the publisher chose).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowKeyRef {
    pub user: UserId,
    pub key: String,
}

impl FlowKeyRef {
    pub fn new(user: impl Into<UserId>, key: impl Into<String>) -> Self {
        FlowKeyRef {
            user: user.into(),
            key: key.into(),
        }
    }
}

/// One schedule of one user, by its id (`scd_…` or the id the user chose).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScheduleRef {
    pub user: UserId,
    pub id: String,
}

impl ScheduleRef {
    pub fn new(user: impl Into<UserId>, id: impl Into<String>) -> Self {
        ScheduleRef {
            user: user.into(),
            id: id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_shows_and_compares_as_its_string() {
        let id = MessageId::from("msg_a");
        assert_eq!(id.to_string(), "msg_a");
        assert_eq!(id.as_str(), "msg_a");
        assert_eq!(id, "msg_a");
        assert_eq!(UserId::from("u".to_string()).into_string(), "u");
    }

    #[test]
    fn pairs_order_by_user_first_like_the_store_indexes() {
        let mut refs = [
            QueueRef::new("b", "a"),
            QueueRef::new("a", "q2"),
            QueueRef::new("a", "q10"),
        ];
        refs.sort();
        let names: Vec<_> = refs
            .iter()
            .map(|r| format!("{}/{}", r.user, r.name))
            .collect();
        assert_eq!(names, ["a/q10", "a/q2", "b/a"]);
        assert!(MessageRef::new("a", "z") < MessageRef::new("b", "a"));
    }

    #[test]
    fn a_map_keyed_by_id_is_looked_up_by_str() {
        let users: std::collections::HashSet<UserId> = [UserId::from("u")].into();
        assert!(users.contains("u"));
        assert!(!users.contains("v"));
    }
}
