//! Secret values: client secrets and access tokens.
//!
//! A [`Secret`] prints as `[redacted]` through both `Debug` and `Display`, so a secret that
//! slips into a log line, an error or a rendered plan shows nothing. The clear text is reachable
//! only through [`Secret::expose`], which is called where a request is built and nowhere else.
//! What relinker records about a secret is its [`Fingerprint`]: enough to prove that a
//! credential did not change, useless to anyone who reads the journal.

use std::fmt::{self, Write as _};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A secret string whose `Debug` and `Display` never show the value.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The clear text; call it only where a request is built.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The SHA-256 fingerprint of the value.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.expose().as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

/// `sha256:` followed by the lowercase hex SHA-256 digest of some bytes.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut text = String::with_capacity(7 + 64);
        text.push_str("sha256:");
        for byte in digest {
            let _ = write!(text, "{byte:02x}");
        }
        Self(text)
    }

    /// The fingerprint as text, `sha256:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }

    #[test]
    fn fingerprint_is_pinned_sha256() {
        // sha256("abc") from FIPS 180-2, appendix B.1.
        assert_eq!(
            Secret::new("abc").fingerprint().as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
