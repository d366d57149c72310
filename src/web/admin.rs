//! The admin token that guards every endpoint that changes something.
//!
//! `ARCHIVIST_ADMIN_TOKEN` set: write endpoints exist and need
//! `Authorization: Bearer <token>`. Not set: they do not exist (404), so a
//! box left with defaults is read-only. [`authorize`] is the one check every
//! write endpoint calls; the token never reaches a log line or an answer.

use std::fmt;

use super::WebError;

/// Shortest token accepted: guessing 16 random characters over the network
/// is hopeless, guessing "admin" is not.
pub const MIN_TOKEN_LEN: usize = 16;

/// The configured admin token. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// Checks the token is long enough and sendable in a header.
    pub fn new(token: &str) -> Result<AdminToken, String> {
        let token = token.trim();
        if token.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "is shorter than {MIN_TOKEN_LEN} characters; use a long random value (e.g. `openssl rand -hex 24`)"
            ));
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces".into());
        }
        Ok(AdminToken(token.to_string()))
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Lets a request through to a write endpoint, or says why not: `NotFound`
/// when no token is configured (the endpoint does not exist), `Unauthorized`
/// when the header is missing or wrong.
pub fn authorize(token: Option<&AdminToken>, authorization: Option<&str>) -> Result<(), WebError> {
    let Some(token) = token else {
        return Err(WebError::NotFound);
    };
    let given = authorization
        .map(str::trim)
        .and_then(|value| {
            let (scheme, rest) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .unwrap_or("");
    if same_secret(given.as_bytes(), token.0.as_bytes()) {
        Ok(())
    } else {
        Err(WebError::Unauthorized)
    }
}

/// Compares in time that depends only on the expected secret's length, so
/// response times do not tell an attacker how much of a guess was right.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = given.len() ^ expected.len();
    for (i, byte) in expected.iter().enumerate() {
        let other = given.get(i).copied().unwrap_or(!byte);
        difference |= usize::from(other ^ byte);
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AdminToken {
        AdminToken::new("correct-horse-battery-staple").expect("valid token")
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(AdminToken::new("admin").is_err());
        assert!(AdminToken::new("a long token with spaces").is_err());
        assert!(!format!("{:?}", token()).contains("horse"));
    }

    #[test]
    fn only_the_right_bearer_passes() {
        let t = token();
        assert!(authorize(Some(&t), Some("Bearer correct-horse-battery-staple")).is_ok());
        assert!(authorize(Some(&t), Some("bearer  correct-horse-battery-staple ")).is_ok());
        for wrong in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer correct-horse-battery-stapl"),
            Some("Bearer correct-horse-battery-staplee"),
            Some("Basic correct-horse-battery-staple"),
        ] {
            assert!(matches!(
                authorize(Some(&t), wrong),
                Err(WebError::Unauthorized)
            ));
        }
        assert!(matches!(
            authorize(None, Some("Bearer anything-at-all-here")),
            Err(WebError::NotFound)
        ));
    }
}
