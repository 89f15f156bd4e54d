//! Secret values: client secrets and access tokens.
//!
//! A [`Secret`] prints as `[redacted]` through both `Debug` and `Display`, so a secret that
//! slips into a log line, an error or a rendered plan shows nothing. The clear text is reachable
//! only through [`Secret::expose`], which is called where a request is built and nowhere else.
//! What relinker records about a credential is its [`CredentialFingerprint`]: enough to prove
//! that a credential did not change, and costly to guess from. A [`Fingerprint`] is a plain
//! SHA-256 digest, for what is no secret (plan files, snapshots of live state).
//!
//! # Why credential fingerprints are slow and salted
//!
//! Saved plans travel as CI artifacts and journals sit in shared state stores, and a
//! dotdigital or Movius password is often chosen by a person: an unsalted SHA-256 of it falls
//! to a dictionary in seconds. A key the runner holds would stop that, but nothing is shared by
//! every machine that plans and applies (the planning job of a pull request has no state
//! store), so the key would have to travel with the saved plan, which gives it away. Instead a
//! credential fingerprint is argon2id (memory-hard, OWASP's parameters) over the credential,
//! with a random salt for each saved plan and each run, written beside the hash in PHC form
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). The salt is public: what it buys is that every
//! guess costs the full derivation, for one saved plan at a time. The same credential gives
//! the same fingerprint within one [`Fingerprinter`] (one saved plan and the apply of it, one
//! run and its resumes), which is all relinker compares.
//!
//! Older saved plans and journals hold `sha256:` credential fingerprints; they are read and
//! compared the old way ([`Fingerprinter::legacy`]), and the commands that do so warn.

use std::fmt::{self, Write as _};

use base64ct::{Base64Unpadded, Encoding as _};
use secrecy::zeroize::Zeroizing;
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

/// `sha256:` followed by the lowercase hex SHA-256 digest of some bytes that are no secret.
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

/// Salt length in bytes: 128 bits, so no two saved plans or runs share one.
const SALT_LEN: usize = 16;
/// Hash length in bytes.
const HASH_LEN: usize = 32;
/// argon2id's costs, OWASP's first recommended set: 19 MiB of memory, 2 passes, 1 lane (some
/// tens of milliseconds on one core, paid at most once per credential per command).
const COSTS: Costs = Costs {
    memory_kib: 19 * 1024,
    passes: 2,
    lanes: 1,
};
/// The most a stored fingerprint may ask for: saved plans and journals come from outside, and
/// must not make relinker spend gigabytes or minutes deriving one.
const MAX_COSTS: Costs = Costs {
    memory_kib: 256 * 1024,
    passes: 16,
    lanes: 4,
};
/// The PHC prefix of argon2id version 1.3 (`0x13`, written `v=19`).
const ARGON2ID: &str = "$argon2id$v=19$";
/// The prefix of the unsalted fingerprints older relinkers wrote.
const LEGACY: &str = "sha256:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Costs {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl Costs {
    /// Reads `m=…,t=…,p=…`, within [`MAX_COSTS`].
    fn parse(text: &str) -> Option<Self> {
        let mut costs = [None; 3];
        for part in text.split(',') {
            let (name, value) = part.split_once('=')?;
            let slot = match name {
                "m" => 0,
                "t" => 1,
                "p" => 2,
                _ => return None,
            };
            if costs[slot].replace(value.parse::<u32>().ok()?).is_some() {
                return None;
            }
        }
        let [Some(memory_kib), Some(passes), Some(lanes)] = costs else {
            return None;
        };
        let costs = Self {
            memory_kib,
            passes,
            lanes,
        };
        let within = memory_kib <= MAX_COSTS.memory_kib
            && (1..=MAX_COSTS.passes).contains(&passes)
            && (1..=MAX_COSTS.lanes).contains(&lanes);
        (within && costs.argon2().is_some()).then_some(costs)
    }

    fn argon2(self) -> Option<argon2::Argon2<'static>> {
        let params =
            argon2::Params::new(self.memory_kib, self.passes, self.lanes, Some(HASH_LEN)).ok()?;
        Some(argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

impl fmt::Display for Costs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "m={},t={},p={}",
            self.memory_kib, self.passes, self.lanes
        )
    }
}

/// How the credential fingerprints of one saved plan, or of one run, are derived: argon2id
/// with one salt (see the module's documentation), or, for what older relinkers wrote,
/// unsalted SHA-256. Serialized as its PHC prefix, `$argon2id$v=19$m=…,t=…,p=…$salt`, or
/// `sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprinter(Derivation);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Derivation {
    Argon2id { costs: Costs, salt: [u8; SALT_LEN] },
    LegacySha256,
}

impl Fingerprinter {
    /// A fingerprinter with a new random salt: for a new saved plan or a new run.
    pub fn fresh() -> Self {
        Self(Derivation::Argon2id {
            costs: COSTS,
            salt: rand::random(),
        })
    }

    /// Unsalted SHA-256, as older relinkers fingerprinted: only to compare with what they wrote.
    pub fn legacy() -> Self {
        Self(Derivation::LegacySha256)
    }

    /// Whether this is the unsalted SHA-256 of older relinkers.
    pub fn is_legacy(&self) -> bool {
        self.0 == Derivation::LegacySha256
    }

    /// The fingerprinter that made `fingerprint`, if it is one relinker reads (within
    /// reasonable costs).
    pub fn of(fingerprint: &CredentialFingerprint) -> Option<Self> {
        if fingerprint.is_legacy() {
            return Some(Self::legacy());
        }
        let rest = fingerprint.0.strip_prefix(ARGON2ID)?;
        let (costs, rest) = rest.split_once('$')?;
        let (salt, hash) = rest.split_once('$')?;
        (decode::<HASH_LEN>(hash).is_some())
            .then(|| Self::parse(&format!("{ARGON2ID}{costs}${salt}")))
            .flatten()
    }

    /// The first of `fingerprints` relinker reads, as its fingerprinter: a run's, on resume.
    pub fn of_any<'a>(
        fingerprints: impl IntoIterator<Item = &'a CredentialFingerprint>,
    ) -> Option<Self> {
        fingerprints.into_iter().find_map(Self::of)
    }

    /// Reads the text [`Fingerprinter`]'s `Display` writes.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "sha256" {
            return Some(Self::legacy());
        }
        let (costs, salt) = text.strip_prefix(ARGON2ID)?.split_once('$')?;
        Some(Self(Derivation::Argon2id {
            costs: Costs::parse(costs)?,
            salt: decode::<SALT_LEN>(salt)?,
        }))
    }

    /// The fingerprint of a credential given as its parts (a username and a password, a
    /// client id and a secret), joined by NUL bytes as older relinkers joined them.
    pub fn fingerprint(&self, parts: &[&[u8]]) -> CredentialFingerprint {
        // The joined parts hold the secret in clear: wiped when dropped, as secrecy wipes the
        // secret itself.
        let input = Zeroizing::new(parts.join(&0u8));
        self.derive(&input)
    }

    fn derive(&self, input: &[u8]) -> CredentialFingerprint {
        match &self.0 {
            Derivation::LegacySha256 => CredentialFingerprint(Fingerprint::of(input).0),
            Derivation::Argon2id { costs, salt } => {
                let mut hash = [0u8; HASH_LEN];
                let derived = costs.argon2().is_some_and(|argon2| {
                    argon2.hash_password_into(input, salt, &mut hash).is_ok()
                });
                if derived {
                    CredentialFingerprint(format!(
                        "{ARGON2ID}{costs}${}${}",
                        Base64Unpadded::encode_string(salt),
                        Base64Unpadded::encode_string(&hash)
                    ))
                } else {
                    // Unreachable with costs that parsed (only an allocation failure is left):
                    // fail closed, with a fingerprint nothing else equals, so an unprovable
                    // credential reads as changed rather than as unchanged.
                    tracing::error!("a credential fingerprint could not be derived");
                    CredentialFingerprint(format!(
                        "underivable:{}",
                        Base64Unpadded::encode_string(&rand::random::<[u8; SALT_LEN]>())
                    ))
                }
            }
        }
    }
}

impl fmt::Display for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Derivation::LegacySha256 => f.write_str("sha256"),
            Derivation::Argon2id { costs, salt } => write!(
                f,
                "{ARGON2ID}{costs}${}",
                Base64Unpadded::encode_string(salt)
            ),
        }
    }
}

impl serde::Serialize for Fingerprinter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprinter {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "`{text}` is not a credential fingerprint derivation relinker reads"
            ))
        })
    }
}

/// Exactly `N` bytes of unpadded standard Base64, as PHC strings carry them.
fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    let decoded = Base64Unpadded::decode(text, &mut out).ok()?;
    (decoded.len() == N).then_some(out)
}

/// What relinker records of a credential: a PHC string of argon2id (`$argon2id$v=19$…`), or,
/// written by older relinkers, `sha256:` and a hex digest. See the module's documentation.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CredentialFingerprint(String);

impl CredentialFingerprint {
    /// The fingerprint as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an older relinker wrote it: unsalted SHA-256.
    pub fn is_legacy(&self) -> bool {
        self.0.starts_with(LEGACY)
    }

    /// Whether the credential given as `parts` is the one fingerprinted, derived again the way
    /// this fingerprint was (its salt and costs, or the old SHA-256).
    pub fn matches(&self, parts: &[&[u8]]) -> bool {
        Fingerprinter::of(self).is_some_and(|f| f.fingerprint(parts) == *self)
    }
}

impl fmt::Display for CredentialFingerprint {
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
            Fingerprint::of(b"abc").as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn credential_fingerprints_are_pinned_argon2id() {
        // Pinned so a change of derivation is a decision, never an accident: it would make
        // every saved plan stale and every paused run's credentials look changed. The hash is
        // the reference implementation's (libargon2, through Python's argon2-cffi).
        let fingerprinter =
            Fingerprinter::parse("$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw").unwrap();
        let print = fingerprinter.fingerprint(&[b"apiuser-x@apiconnector.com", b"Summer2024!"]);
        assert_eq!(
            print.as_str(),
            "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$NjYqLW6OJUYVA9OAATFdKMD25KGjEB2L87Buy8lr6rQ"
        );
        assert!(print.matches(&[b"apiuser-x@apiconnector.com", b"Summer2024!"]));
        assert!(!print.matches(&[b"apiuser-x@apiconnector.com", b"Summer2025!"]));
        assert_eq!(Fingerprinter::of(&print), Some(fingerprinter.clone()));
        assert_eq!(
            Fingerprinter::parse(&fingerprinter.to_string()),
            Some(fingerprinter)
        );
    }

    #[test]
    fn the_same_credential_differs_between_fingerprinters_and_not_within_one() {
        let credential: &[&[u8]] = &[b"user", b"password1"];
        let one = Fingerprinter::fresh();
        let other = Fingerprinter::fresh();
        assert_eq!(one.fingerprint(credential), one.fingerprint(credential));
        assert_ne!(one.fingerprint(credential), other.fingerprint(credential));
        let print = one.fingerprint(credential);
        assert!(
            !print.as_str().contains(
                Fingerprint::of(b"user\0password1")
                    .as_str()
                    .trim_start_matches("sha256:")
            )
        );
    }

    #[test]
    fn what_older_relinkers_wrote_is_compared_the_old_way() {
        let old = Fingerprinter::legacy().fingerprint(&[b"abc"]);
        assert_eq!(old.as_str(), Fingerprint::of(b"abc").as_str());
        assert!(old.is_legacy());
        assert!(old.matches(&[b"abc"]));
        assert!(!old.matches(&[b"abd"]));
        // Client id, NUL, secret: the bytes older relinkers hashed.
        assert_eq!(
            Fingerprinter::legacy().fingerprint(&[b"id", b"secret"]),
            CredentialFingerprint(Fingerprint::of(b"id\0secret").as_str().to_owned())
        );
    }

    #[test]
    fn stored_derivations_outside_reasonable_costs_are_not_read() {
        for text in [
            "$argon2id$v=19$m=4194304,t=2,p=1$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=19$m=19456,t=100,p=1$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=19$m=19456,t=2,p=64$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=19$m=19456,t=2$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=19$m=19456,t=2,p=1,p=1$AAECAwQFBgcICQoLDA0ODw",
            "$argon2id$v=19$m=19456,t=2,p=1$AAEC",
            "$argon2i$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw",
            "md5",
        ] {
            assert_eq!(Fingerprinter::parse(text), None, "{text}");
        }
        let forged = CredentialFingerprint(
            "$argon2id$v=19$m=4194304,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$AAAA".into(),
        );
        assert!(!forged.matches(&[b"x"]));
    }
}
