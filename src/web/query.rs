//! Query strings: `a=1&b=two%20words`, percent-decoded. A malformed escape is
//! the caller's 400; parameters an endpoint does not know are ignored (so a
//! cache-busting `?t=...` on the badge does no harm).

use super::WebError;

/// The decoded parameters of one request, in order.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(text: &str) -> Result<Query, WebError> {
        let mut pairs = Vec::new();
        for part in text.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode(key)?, decode(value)?));
        }
        Ok(Query(pairs))
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// A whole number between `min` and `max`, or `default` when absent.
    pub fn number(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, WebError> {
        match self.get(name) {
            None => Ok(default),
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| {
                    WebError::BadQuery(format!("{name} must be a whole number from {min} to {max}"))
                }),
        }
    }
}

fn decode(text: &str) -> Result<String, WebError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly: from_str_radix alone would also
                // take a sign ("%+1").
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| WebError::BadQuery("malformed %-escape in the query".into()))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| WebError::BadQuery("the query is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_takes_the_last_value() {
        let q = Query::parse("state=complete&x=a%20b+c&state=error&flag").expect("valid");
        assert_eq!(q.get("state"), Some("error"));
        assert_eq!(q.get("x"), Some("a b c"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("none"), None);
        assert!(Query::parse("a=%zz").is_err());
        assert!(Query::parse("a=%e2%28").is_err());
    }

    #[test]
    fn numbers_are_bounded() {
        let q = Query::parse("limit=50&offset=-1&big=99999999999999999999").expect("valid");
        assert_eq!(q.number("limit", 100, 1, 1000).ok(), Some(50));
        assert_eq!(q.number("missing", 100, 1, 1000).ok(), Some(100));
        assert!(q.number("offset", 0, 0, 10).is_err());
        assert!(q.number("big", 0, 0, u64::MAX).is_err());
    }

    /// Property tests over whatever a browser, a script or an attacker puts
    /// after the `?`. Inputs proptest found are kept as plain cases below.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn escaped(text: &str) -> String {
            text.bytes().map(|b| format!("%{b:02X}")).collect()
        }

        /// Every `%` of an accepted query starts an escape of two hex digits.
        fn escapes_are_well_formed(text: &str) -> bool {
            let bytes = text.as_bytes();
            bytes.iter().enumerate().all(|(i, b)| {
                *b != b'%'
                    || bytes
                        .get(i + 1..i + 3)
                        .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
            })
        }

        proptest! {
            // Found cases are kept as plain tests, not in a seeds file.
            #![proptest_config(ProptestConfig {
                cases: 1000,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_query_is_parsed_or_refused(text in "\\PC{0,64}|[%+&=0-9a-fA-Fg-z]{0,32}") {
                if let Ok(query) = Query::parse(&text) {
                    prop_assert!(escapes_are_well_formed(&text), "{text:?} accepted");
                    for name in ["limit", "offset", "state"] {
                        let _ = query.number(name, 0, 0, u64::MAX);
                    }
                }
            }

            #[test]
            fn escaped_pairs_come_back_unchanged(key in "\\PC{1,16}", value in "\\PC{0,32}") {
                let query = Query::parse(&format!("{}={}", escaped(&key), escaped(&value)))
                    .expect("escaped text is valid");
                prop_assert_eq!(query.get(&key), Some(value.as_str()));
            }
        }

        #[test]
        fn found_cases_stay_fixed() {
            // u8::from_str_radix takes a sign: "%+1" was read as byte 1.
            assert!(Query::parse("a=%+1").is_err());
            assert!(Query::parse("a=%-1").is_err());
            assert!(Query::parse("a=%1").is_err());
        }
    }
}
