//! Header maps as QStash shows them: `{"Header-Name": ["v1", "v2"]}` with names in Go's
//! canonical form (spec §2.3). The upstream server is written in Go, and SDK tests
//! compare names exactly, so `test-header` must read back as `Test-Header`.

use std::collections::BTreeMap;

/// Header name → values, names canonical, ordered by name so JSON output is stable.
pub type HeaderMap = BTreeMap<String, Vec<String>>;

/// Go's `http.CanonicalHeaderKey`: the first letter and every letter after a `-` are
/// upper-cased, the rest lower-cased. Names with characters Go would not touch (spaces,
/// non-token bytes) are returned unchanged, as Go does.
pub fn canonical_name(name: &str) -> String {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token) {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// Adds one value under the canonical form of `name`. Two spellings of one header
/// (`TEST-CASE`, `test-case`) end up as one key with two values (spec Appendix B).
pub fn append(map: &mut HeaderMap, name: &str, value: &str) {
    map.entry(canonical_name(name))
        .or_default()
        .push(value.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_matches_go() {
        assert_eq!(canonical_name("test-header"), "Test-Header");
        assert_eq!(canonical_name("CONTENT-TYPE"), "Content-Type");
        assert_eq!(
            canonical_name("bypass-tunnel-reminder"),
            "Bypass-Tunnel-Reminder"
        );
        assert_eq!(canonical_name("x-a1-b"), "X-A1-B");
        assert_eq!(canonical_name("bad header"), "bad header");
    }

    #[test]
    fn two_spellings_become_one_key() {
        let mut m = HeaderMap::new();
        append(&mut m, "TEST-CASE", "value-uppercase");
        append(&mut m, "test-case", "value-lowercase");
        assert_eq!(m["Test-Case"], vec!["value-uppercase", "value-lowercase"]);
    }
}
