//! Bearer-token authentication (spec §2.1). Every `/v2` route needs a token, in the
//! `Authorization: Bearer` header or the `qstash_token` query parameter (for webhook
//! senders that cannot set headers). Tokens are compared in constant time, against
//! every configured user, so the time taken says nothing about which bytes matched.

use subtle::ConstantTimeEq;

use crate::config::UserConfig;
use crate::error::ApiError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
}

/// Finds the user a request belongs to.
pub fn authenticate(
    users: &[UserConfig],
    authorization: Option<&str>,
    query: Option<&str>,
) -> Result<User, ApiError> {
    let token = authorization
        .and_then(|h| {
            let (scheme, rest) = h.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| rest.trim().to_string())
        })
        .or_else(|| query_token(query));
    let Some(token) = token else {
        return Err(ApiError::Unauthorized(
            "missing token: send Authorization: Bearer <QSTASH_TOKEN> (or ?qstash_token=<token>)",
        ));
    };
    let mut found: Option<&UserConfig> = None;
    for user in users {
        // No early exit: every token is compared.
        if bool::from(user.token.as_bytes().ct_eq(token.as_bytes())) {
            found = Some(user);
        }
    }
    found
        .map(|u| User { id: u.id.clone() })
        .ok_or(ApiError::Unauthorized(
            "invalid token: it matches no user of this server",
        ))
}

fn query_token(query: Option<&str>) -> Option<String> {
    crate::query::pairs(query?)
        .into_iter()
        .find(|(k, _)| k == "qstash_token")
        .map(|(_, v)| v)
}
