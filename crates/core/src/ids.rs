//! Identifier generation and validation.
//!
//! Generated ids keep upstream's recognisable prefixes (`msg_`, `scd_`, `jwt_`,
//! `sig_`; spec §2.3, §3.9) so logs and SDK output look familiar. The SDKs treat
//! ids as opaque strings but put them raw into URL paths
//! (`/v2/messages/{id}`), so every generated id uses only `[A-Za-z0-9_]`: nothing
//! that needs percent-encoding or that a router could mistake for a separator.
//!
//! Randomness comes from `rand`'s thread-local generator, a CSPRNG seeded by the
//! operating system, so ids are unguessable; signing keys, which are secrets, are
//! drawn straight from the OS generator.

use rand::rngs::OsRng;
use rand::{thread_rng, Rng};

/// Lower-case RFC 4648 base32 alphabet: 5 bits per character, no look-alike
/// upper/lower-case pairs, safe in URL paths and file names.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// When a message id made by [`message_id`] was created (ms), or `None` for any other
/// string (ids of other origins, typos).
pub fn message_id_time(id: &str) -> Option<u64> {
    let rest = id.strip_prefix("msg_")?;
    if rest.len() != RANDOM_ID_LEN {
        return None;
    }
    rest.bytes()
        .take(TIME_PREFIX_LEN)
        .try_fold(0u64, |time, c| {
            let digit = SORTED_BASE32.iter().position(|d| *d == c)?;
            Some((time << 5) | digit as u64)
        })
}

/// The same 32 characters in ASCII order, for the time part of message ids: then the
/// string order of ids is the order of their times.
const SORTED_BASE32: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// Bitcoin's base58 alphabet (no `0`, `O`, `I`, `l`), as upstream signing keys use.
const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// Random characters after the prefix of message, schedule and JWT ids:
/// 26 base32 characters = 130 random bits.
pub const RANDOM_ID_LEN: usize = 26;

/// Random characters after `sig_` in a signing key: 28, for 32 characters in all
/// like upstream (≈ 164 random bits). PyJWT ≥ 2.10 warns about HMAC keys shorter
/// than 32 bytes, so keys must not get shorter.
pub const SIGNING_KEY_RANDOM_LEN: usize = 28;

/// Longest accepted name of a URL group, queue or schedule id, in bytes (names are
/// ASCII, so also characters). Upstream documents the character set but no length;
/// 256 is generous for a name and keeps keys, paths and log lines bounded.
pub const MAX_NAME_LEN: usize = 256;

/// Characters of the time part of a message id: 10 base32 characters = 50 bits of
/// milliseconds, enough until the year 37 000.
pub const TIME_PREFIX_LEN: usize = 10;

/// A new message id for a message created at `now` (ms): `msg_` + the time in 10
/// base32 characters + 16 random ones (80 random bits).
///
/// Ids that sort by creation time keep the store's inserts at the end of its message
/// index instead of scattered over it: a group commit then rewrites a few pages at
/// the index's edge rather than one page per message, which is what bounds the
/// store's throughput (see BENCHMARKS.md). The SDKs treat ids as opaque.
pub fn message_id(now: u64) -> String {
    let mut id = String::with_capacity(4 + TIME_PREFIX_LEN + 16);
    id.push_str("msg_");
    for i in (0..TIME_PREFIX_LEN).rev() {
        let digit = (now >> (5 * i)) & 31;
        id.push(SORTED_BASE32[digit as usize] as char);
    }
    push_random(
        &mut id,
        BASE32,
        RANDOM_ID_LEN - TIME_PREFIX_LEN,
        &mut thread_rng(),
    );
    id
}

/// A new `jti` for an `Upstash-Signature` JWT: `jwt_` + 26 random characters.
pub fn jwt_id() -> String {
    random_id("jwt_")
}

/// A new schedule id (when the client sent no `Upstash-Schedule-Id`):
/// `scd_` + 26 random characters. Also a valid name for [`is_valid_name`].
pub fn schedule_id() -> String {
    random_id("scd_")
}

/// A new signing key: `sig_` + 28 random base58 characters, 32 characters in all
/// (spec §3.9). The whole string, prefix included, is the HMAC key.
pub fn signing_key() -> String {
    let mut key = String::with_capacity(4 + SIGNING_KEY_RANDOM_LEN);
    key.push_str("sig_");
    push_random(&mut key, BASE58, SIGNING_KEY_RANDOM_LEN, &mut OsRng);
    key
}

/// Whether `s` is an acceptable name for a URL group, queue or schedule id
/// (spec §1, §3.7, §3.8): 1 to [`MAX_NAME_LEN`] ASCII letters, digits, `-`, `_`
/// and `.`.
///
/// `.` and `..` alone are refused although they use only allowed characters:
/// HTTP clients resolve them as path segments (`/v2/queues/..` becomes `/v2/`),
/// so such a resource could never be addressed again.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn random_id(prefix: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + RANDOM_ID_LEN);
    id.push_str(prefix);
    push_random(&mut id, BASE32, RANDOM_ID_LEN, &mut thread_rng());
    id
}

/// Appends `count` characters drawn uniformly (no modulo bias) from `alphabet`.
fn push_random<R: Rng + ?Sized>(out: &mut String, alphabet: &[u8], count: usize, rng: &mut R) {
    for _ in 0..count {
        let index = rng.gen_range(0..alphabet.len());
        out.push(char::from(alphabet[index]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn assert_shape(id: &str, prefix: &str, alphabet: &[u8], len: usize) {
        let rest = id
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{id} lacks {prefix}"));
        assert_eq!(rest.len(), len, "{id}");
        assert!(rest.bytes().all(|b| alphabet.contains(&b)), "{id}");
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{id}"
        );
    }

    #[test]
    fn id_shapes() {
        assert_shape(&message_id(1_700_000_000_000), "msg_", BASE32, 26);
        assert_shape(&jwt_id(), "jwt_", BASE32, 26);
        assert_shape(&schedule_id(), "scd_", BASE32, 26);
        let key = signing_key();
        assert_shape(&key, "sig_", BASE58, 28);
        assert_eq!(key.len(), 32);
    }

    #[test]
    fn ids_are_unique() {
        let ids: HashSet<String> = (0..10_000).map(|_| message_id(42)).collect();
        assert_eq!(ids.len(), 10_000);
        let keys: HashSet<String> = (0..1_000).map(|_| signing_key()).collect();
        assert_eq!(keys.len(), 1_000);
    }

    #[test]
    fn every_alphabet_character_shows_up() {
        let seen: HashSet<u8> = (0..2_000)
            .flat_map(|_| jwt_id().into_bytes().into_iter().skip(4))
            .collect();
        assert_eq!(seen.len(), 32);
    }

    #[test]
    fn a_message_id_tells_when_it_was_made() {
        assert_eq!(
            message_id_time(&message_id(1_700_000_000_123)),
            Some(1_700_000_000_123)
        );
        assert_eq!(message_id_time("msg_x"), None);
        assert_eq!(message_id_time("scd_abc"), None);
        assert_eq!(message_id_time("msg_ABCDEFGHIJKLMNOPQRSTUVWXYZ"), None);
    }

    #[test]
    fn message_ids_sort_by_creation_time() {
        let times = [
            0,
            1,
            999,
            1_000,
            1_700_000_000_000,
            1_700_000_000_001,
            u64::MAX >> 14,
        ];
        let ids: Vec<String> = times.iter().map(|t| message_id(*t)).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn generated_schedule_ids_are_valid_names() {
        assert!(is_valid_name(&schedule_id()));
    }

    #[test]
    fn names() {
        for good in [
            "a",
            "my-queue",
            "my_queue.v2",
            "A-Z_0.9",
            "...",
            ".hidden",
            &"x".repeat(256),
        ] {
            assert!(is_valid_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "a%2F",
            "é",
            "a?b",
            "a#b",
            "a:b",
            &"x".repeat(257),
            "a\n",
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn valid_names_match_the_rule(s in any::<String>()) {
            let expected = !s.is_empty()
                && s.len() <= 256
                && s != "." && s != ".."
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            prop_assert_eq!(is_valid_name(&s), expected);
        }

        #[test]
        fn names_from_the_charset_are_valid(s in "[A-Za-z0-9_-][A-Za-z0-9._-]{0,255}") {
            prop_assert!(is_valid_name(&s));
        }
    }
}
