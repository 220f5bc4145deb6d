//! The test database, for the tests of every crate that uses this one: where it is,
//! and the line a test prints when there is none.

use std::io::Write;

/// The variable that names the test database; `.ci/run` sets it.
pub const VARIABLE: &str = "DEPESHA_TEST_DATABASE_URL";

/// The test database's URL; or None, having said on stderr that `test` is skipped.
/// Written to stderr directly, not with `eprintln!`: the test harness swallows that
/// from a passing test, and a skipped test must not look like one that ran.
pub fn url_or_skip(test: &str) -> Option<String> {
    match std::env::var(VARIABLE) {
        Ok(url) => Some(url),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: set {VARIABLE} \
                 (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
            );
            None
        }
    }
}
