//! Query strings, read by hand: listing filters repeat keys (`label=a&label=b`), and
//! publish must re-attach the destination's own query string minus Depesha's keys
//! (spec §2.4), which needs the raw pieces as well as the decoded ones.

use percent_encoding::percent_decode_str;

/// Decoded `(key, value)` pairs in order. `+` means space, as in forms.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Splits a publish's query string into the destination's own part (raw, to be
/// re-attached) and Depesha's config: `qstash_token` is dropped and lower-case
/// `upstash-*` keys become config headers (spec §4.3).
pub fn split_destination_query(query: &str) -> (String, Vec<(String, String)>) {
    let mut kept = Vec::new();
    let mut config = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let key = decode(k);
        if key == "qstash_token" {
            continue;
        }
        if key.starts_with("upstash-") {
            config.push((key, decode(v)));
            continue;
        }
        kept.push(piece);
    }
    (kept.join("&"), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_query_keeps_its_own_keys_and_gives_up_ours() {
        let (kept, config) =
            split_destination_query("foo=bar&qstash_token=t&upstash-retries=3&x=%2F");
        assert_eq!(kept, "foo=bar&x=%2F");
        assert_eq!(
            config,
            vec![("upstash-retries".to_string(), "3".to_string())]
        );
    }

    #[test]
    fn repeated_keys_stay_repeated() {
        assert_eq!(pairs("label=a&label=b+c").len(), 2);
        assert_eq!(pairs("label=a&label=b+c")[1].1, "b c");
    }
}
