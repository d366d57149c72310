//! A certificate pinned by its SHA-256 fingerprint (`fingerprint=` in a
//! notification URL): what appliances use for a self-signed certificate,
//! which no authority vouches for. Written as `openssl x509 -fingerprint
//! -sha256` prints it (`AB:CD:...`), or as 64 hex digits, either case.

use std::fmt;

/// The SHA-256 of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Reads `AB:CD:...` or `abcd...` (a `sha256:` or `SHA256=` prefix is
    /// allowed, as `openssl` prints one); `None` unless it is 32 bytes.
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        let digits: String = ["sha256 fingerprint=", "sha256=", "sha256:"]
            .iter()
            .find_map(|prefix| lower.strip_prefix(prefix))
            .unwrap_or(&lower)
            .chars()
            .filter(|c| *c != ':')
            .collect();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Fingerprint(bytes))
    }

    /// The fingerprint of a DER certificate.
    pub fn of(certificate_der: &[u8]) -> Fingerprint {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, certificate_der);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// Whether `certificate_der` is the pinned certificate.
    pub fn matches(&self, certificate_der: &[u8]) -> bool {
        Fingerprint::of(certificate_der) == *self
    }
}

impl fmt::Display for Fingerprint {
    /// `AB:CD:...`, as `openssl` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02X}")).collect();
        f.write_str(&hex.join(":"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_openssl_prints_and_bare_hex_alike() {
        let der = b"not really a certificate";
        let pin = Fingerprint::of(der);
        let printed = format!("sha256 Fingerprint={pin}");
        assert_eq!(Fingerprint::parse(&printed), Some(pin));
        let bare = pin.to_string().replace(':', "").to_lowercase();
        assert_eq!(Fingerprint::parse(&bare), Some(pin));
        assert!(pin.matches(der));
        assert!(!pin.matches(b"another certificate"));
        assert_eq!(Fingerprint::parse("AB:CD"), None);
        assert_eq!(Fingerprint::parse(&"zz".repeat(32)), None);
    }
}
