//! Checking a URL that Depesha will call: a destination, a callback, a URL-group
//! endpoint. It is parsed with the WHATWG URL parser — the one the delivery client
//! uses — so what is accepted here is exactly what will be sent, and the host the
//! destination policy judges is the host that will be connected to (`127.1`,
//! `2852039166` and `0x7f000001` are all 127.0.0.1 to both).
//!
//! The URL is stored as the client wrote it: the signature's `sub` claim is that text,
//! and receivers compare it with the URL they know.

use crate::error::quote;
use url::{Host, Url};

use crate::destination_policy::DestinationPolicy;
use crate::error::{InputError, InputResult};

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 8192;

/// Checks that `value` is a deliverable absolute http(s) URL that `policy` allows;
/// `what` names the header or field in errors. Returns the URL as given.
pub fn check_url(what: &str, value: &str, policy: &DestinationPolicy) -> InputResult<String> {
    let bad = |why: &str| {
        InputError::new(format!(
            "invalid {what} {}: {why}; expected an absolute http:// or https:// URL",
            quote(value)
        ))
    };
    if value.len() > MAX_URL_LEN {
        return Err(bad(&format!("longer than {MAX_URL_LEN} bytes")));
    }
    if !(value.starts_with("http://") || value.starts_with("https://")) {
        return Err(bad("it does not start with http:// or https://"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("spaces and control characters are not allowed"));
    }
    if has_bad_percent_escape(value) {
        return Err(bad(
            "a % must start an escape of two hex digits (write a literal % as %25)",
        ));
    }
    let url = Url::parse(value).map_err(|e| bad(&e.to_string()))?;
    match url.host() {
        None => return Err(bad("it has no host")),
        Some(Host::Domain(name)) if has_empty_label(name) => {
            return Err(bad("the host name has an empty label"))
        }
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err(bad("port 0 cannot be connected to"));
    }
    policy
        .check_url(&url)
        .map_err(|refusal| InputError::new(format!("{what}: {refusal}")))?;
    Ok(value.to_string())
}

/// `%` not followed by two hex digits: not a URL, whatever a lenient parser keeps.
fn has_bad_percent_escape(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

/// `..`, `a..b`, `.a`: names no resolver can look up (a single trailing dot is the
/// root and fine).
fn has_empty_label(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name.split('.').any(str::is_empty)
}
