//! The name of the PostgreSQL schema Depesha keeps its tables in.

use crate::error::MigrateError;

/// The schema used when none is configured.
pub const DEFAULT_SCHEMA: &str = "depesha";

/// A schema name that is safe to write into SQL as it is: PostgreSQL cannot take an
/// identifier as a query parameter, so the name is checked once here (lowercase ASCII
/// letters, digits and `_`, not starting with a digit, at most 63 bytes, PostgreSQL's
/// identifier limit) and every statement can then quote it without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaName(String);

impl SchemaName {
    pub fn new(name: &str) -> Result<SchemaName, MigrateError> {
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
        let all_allowed = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if starts_well && all_allowed && name.len() <= 63 {
            Ok(SchemaName(name.to_string()))
        } else {
            Err(MigrateError::SchemaName(name.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier.
    pub fn quoted(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// The key of the advisory lock that serializes migration runs on this schema.
    /// It must be the same in every node and every release, so it is computed here
    /// (64-bit FNV-1a of a fixed prefix and the name) rather than by std's hasher,
    /// whose output may change between Rust releases. Two schemas in one database get
    /// different keys, so their migrations do not wait for each other.
    pub fn migration_lock_key(&self) -> i64 {
        const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let hash = b"depesha-migrations:"
            .iter()
            .chain(self.0.as_bytes())
            .fold(OFFSET_BASIS, |hash, byte| {
                (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
            });
        // pg_advisory_lock takes a bigint: the same 64 bits, read as signed.
        i64::from_ne_bytes(hash.to_ne_bytes())
    }
}

impl Default for SchemaName {
    fn default() -> Self {
        SchemaName(DEFAULT_SCHEMA.to_string())
    }
}

impl std::fmt::Display for SchemaName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lowercase_names_are_accepted() {
        for name in ["depesha", "_x", "depesha_test_42", &"a".repeat(63)] {
            assert!(SchemaName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_that_would_need_escaping_or_be_cut_are_refused() {
        for name in ["", "Depesha", "1x", "a-b", "a\"b", "a b", &"a".repeat(64)] {
            assert!(SchemaName::new(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn the_lock_key_is_fixed_and_differs_between_schemas() {
        let depesha = SchemaName::default().migration_lock_key();
        // Pinned: a different key in a new release would let an old and a new node
        // migrate the same schema at once.
        assert_eq!(depesha, PINNED_DEPESHA_KEY);
        let other = SchemaName::new("depesha2").map(|s| s.migration_lock_key());
        assert!(other.is_ok_and(|k| k != depesha));
    }

    // FNV-1a 64 of "depesha-migrations:depesha", computed apart from this code.
    const PINNED_DEPESHA_KEY: i64 = -8_826_388_909_777_486_419;
}
