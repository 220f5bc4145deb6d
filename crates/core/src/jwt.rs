//! The `Upstash-Signature` JWT sent with every delivery (spec §6).
//!
//! Receivers verify it with the official SDKs (jose in JS, PyJWT in Python), so
//! every detail below is observable:
//!
//! * compact JWS, HS256, protected header exactly `{"alg":"HS256","typ":"JWT"}`;
//! * the HMAC key is the signing key *string's* UTF-8 bytes, `sig_` prefix included;
//! * claims, in this order: `iss` = `"Upstash"`, `sub` = the URL the request is
//!   sent to, `exp` = `iat + 300`, `nbf` = `0` (upstream dropped `nbf = iat` to
//!   avoid clock-skew failures; PyJWT *requires* the claim, so it must be present),
//!   `iat`, `jti`, `body` = base64url **with** `=` padding of SHA-256 of the body;
//! * no `aud`: PyJWT rejects a token with an audience the caller did not ask for.
//!
//! The key order does not matter to receivers, but keeping upstream's order makes
//! our tokens byte-identical to the spec's test vector, which the tests check.
//!
//! [`verify`] is the receiving side, for our own tests and the crash-test receiver.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Token lifetime: `exp = iat + 300` (5 minutes).
pub const TOKEN_LIFETIME_SECS: u64 = 300;

/// `iss` claim; both SDKs reject any other issuer.
pub const ISSUER: &str = "Upstash";

/// The protected header, base64url-encoded once: it never changes.
/// `base64url({"alg":"HS256","typ":"JWT"})`.
const ENCODED_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Claims in upstream's order; serde_json writes struct fields in declaration
/// order and compactly, which makes the payload byte-identical to upstream's.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: &'a str,
    body: String,
}

/// Signs a delivery: returns the compact JWT for `Upstash-Signature`.
///
/// * `key`: the current signing key (`sig_…`), used whole as the HMAC key;
/// * `sub`: the exact URL being called (endpoint URL for URL groups, callback URL
///   for callbacks);
/// * `body`: the raw body bytes sent;
/// * `iat_secs`: now, unix seconds — must not run ahead of receivers' clocks, as
///   PyJWT rejects tokens issued in the future;
/// * `jti`: a unique token id, see `crate::ids::jwt_id`.
pub fn sign(key: &str, sub: &str, body: &[u8], iat_secs: u64, jti: &str) -> String {
    let claims = Claims {
        iss: ISSUER,
        sub,
        exp: iat_secs.saturating_add(TOKEN_LIFETIME_SECS),
        nbf: 0,
        iat: iat_secs,
        jti,
        body: body_hash(body),
    };
    // Serializing a struct of strings and integers cannot fail; should it ever,
    // an empty payload yields a token every receiver rejects rather than a panic.
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let signing_input = format!("{ENCODED_HEADER}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature =
        URL_SAFE_NO_PAD.encode(hmac(key, signing_input.as_bytes()).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// The `body` claim: base64url (RFC 4648 §5) of SHA-256 of `body`, with `=`
/// padding as upstream sends it (the SDKs strip padding before comparing).
pub fn body_hash(body: &[u8]) -> String {
    URL_SAFE.encode(Sha256::digest(body))
}

/// Checks a token's HS256 signature against `key` and returns its claims object.
///
/// Only the signature and the token's shape are checked (three base64url
/// segments, header with `"alg":"HS256"`, claims a JSON object); the comparison
/// is constant-time. Checking `iss`, `sub`, `exp`/`nbf` and `body` against the
/// request is left to the caller, who knows the URL, body and clock.
pub fn verify(key: &str, token: &str) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    hmac(key, signing_input.as_bytes())
        .verify_slice(&signature)
        .ok()?;

    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.is_object().then_some(claims)
}

/// An HMAC-SHA256 instance keyed with the key string's UTF-8 bytes, fed `data`.
fn hmac(key: &str, data: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed, short ones padded),
    // so `new_from_slice` cannot fail for `Hmac<Sha256>`.
    #[allow(clippy::expect_used)]
    let mut mac =
        HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(data);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
    const SUB: &str = "http://localhost:3000/api/webhook";
    const SPEC_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJVcHN0YXNoIiwic3ViIjoiaHR0cDovL2xvY2FsaG9zdDozMDAwL2FwaS93ZWJob29rIiwiZXhwIjoxNzAwMDAwMzAwLCJuYmYiOjAsImlhdCI6MTcwMDAwMDAwMCwianRpIjoiand0X3Rlc3QiLCJib2R5IjoiazZJNWNha1U1ZXJMOEtqU1VWVE5vd25Ed2NjdnU1a1UxSHhnODh0b0ZZZz0ifQ.tjKQycRnHmjqiEekJ0yKsRcdZRa00rDcwLPMNN7Abs4";

    #[test]
    fn spec_test_vector() {
        let token = sign(KEY, SUB, br#"{"hello":"world"}"#, 1_700_000_000, "jwt_test");
        assert_eq!(token, SPEC_TOKEN);
    }

    #[test]
    fn encoded_header_constant_matches_the_header() {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            ENCODED_HEADER
        );
    }

    #[test]
    fn body_hashes() {
        assert_eq!(
            body_hash(b""),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            body_hash(br#"{"hello":"world"}"#),
            "k6I5cakU5erL8KjSUVTNownDwccvu5kU1Hxg88toFYg="
        );
    }

    #[test]
    fn verify_returns_the_claims_in_order() {
        let claims = verify(KEY, SPEC_TOKEN);
        let expected = serde_json::json!({
            "iss": "Upstash",
            "sub": SUB,
            "exp": 1_700_000_300u64,
            "nbf": 0,
            "iat": 1_700_000_000u64,
            "jti": "jwt_test",
            "body": "k6I5cakU5erL8KjSUVTNownDwccvu5kU1Hxg88toFYg=",
        });
        assert_eq!(claims, Some(expected));
    }

    #[test]
    fn verify_rejects_wrong_key_and_tampering() {
        assert_eq!(verify("sig_other", SPEC_TOKEN), None);

        // Tampered payload, same signature.
        let forged_claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"Upstash","sub":"http://evil"}"#);
        let mut parts: Vec<&str> = SPEC_TOKEN.split('.').collect();
        parts[1] = &forged_claims;
        assert_eq!(verify(KEY, &parts.join(".")), None);

        // Structurally broken tokens.
        for bad in [
            "",
            ".",
            "..",
            "a.b.c",
            "a.b.c.d",
            &format!("{SPEC_TOKEN}.x"),
            &SPEC_TOKEN[..SPEC_TOKEN.len() - 1],
        ] {
            assert_eq!(verify(KEY, bad), None, "{bad:?}");
        }
    }

    #[test]
    fn verify_checks_the_algorithm() {
        // Correctly signed, but claiming another algorithm.
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"Upstash"}"#);
        let input = format!("{header}.{payload}");
        let sig = URL_SAFE_NO_PAD.encode(hmac(KEY, input.as_bytes()).finalize().into_bytes());
        assert_eq!(verify(KEY, &format!("{input}.{sig}")), None);
    }

    #[test]
    fn exp_saturates() {
        let token = sign(KEY, SUB, b"", u64::MAX, "jwt_x");
        let claims = verify(KEY, &token).unwrap_or_default();
        assert_eq!(claims["exp"], serde_json::json!(u64::MAX));
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            key in ".{0,80}", sub in ".{0,80}", body in proptest::collection::vec(any::<u8>(), 0..256),
            iat in 0u64..4_000_000_000, jti in "jwt_[a-z0-9]{0,26}",
        ) {
            let token = sign(&key, &sub, &body, iat, &jti);
            let claims = verify(&key, &token);
            prop_assert!(claims.is_some());
            let claims = claims.unwrap_or_default();
            prop_assert_eq!(claims["iss"].as_str(), Some("Upstash"));
            prop_assert_eq!(claims["sub"].as_str(), Some(sub.as_str()));
            prop_assert_eq!(claims["iat"].as_u64(), Some(iat));
            prop_assert_eq!(claims["exp"].as_u64(), Some(iat + 300));
            prop_assert_eq!(claims["nbf"].as_u64(), Some(0));
            prop_assert_eq!(claims["jti"].as_str(), Some(jti.as_str()));
            prop_assert_eq!(claims["body"].as_str().map(str::to_owned), Some(body_hash(&body)));
        }

        #[test]
        fn verify_never_panics(key in ".{0,40}", token in ".{0,200}") {
            let _ = verify(&key, &token);
        }
    }
}
