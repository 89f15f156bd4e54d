//! Tamper evidence for what the state store keeps. A run's journal is a chain: each record
//! carries a link, the digest of the record before it (the first one's, of the run's id), so a
//! record edited, dropped, moved or slipped in breaks the chain at that record. The plan kept
//! with the run is checked against the digest its first record holds.
//!
//! Anyone who can write the store can also recompute plain digests. With a state key
//! (`RELINKER_STATE_KEY`) the links are HMAC-SHA256 under that key, and attestations carry one
//! too: whoever can write the tables but lacks the key cannot forge a run or a person's word.
//! With a key, a record without a keyed link is refused, so a run cannot be downgraded to
//! plain digests. Runs written before records were linked are read with a warning, and only
//! without a key.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::JournalError;
use super::entry::{Attestation, Record};
use crate::ids::RunId;
use crate::secret::Secret;

/// What a plain link starts with.
const PLAIN: &str = "sha256:";
/// What a keyed link starts with.
const KEYED: &str = "hmac-sha256:";

/// The key a store's links are made with, if it has one.
#[derive(Clone, Default)]
pub struct StateKey(Option<Secret>);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "StateKey(set)"
        } else {
            "StateKey(none)"
        })
    }
}

impl StateKey {
    /// No key: links are plain digests.
    pub fn none() -> Self {
        Self(None)
    }

    /// Links keyed with `key`.
    pub fn new(key: Secret) -> Self {
        Self(Some(key))
    }

    /// Whether there is a key.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The link to `bytes`: their HMAC under the key, or their digest.
    fn link(&self, bytes: &[u8]) -> Result<String, JournalError> {
        Ok(match &self.0 {
            Some(key) => {
                // HMAC takes a key of any length; the error is there for other MACs.
                let mut mac = Hmac::<Sha256>::new_from_slice(key.expose().as_bytes())
                    .map_err(|_| JournalError::StateKey)?;
                mac.update(bytes);
                format!("{KEYED}{}", hex(&mac.finalize().into_bytes()))
            }
            None => format!("{PLAIN}{}", hex(&Sha256::digest(bytes))),
        })
    }

    /// The link the first record of run `id` carries.
    pub(super) fn anchor(&self, id: &RunId) -> Result<String, JournalError> {
        self.link(format!("relinker run {id}").as_bytes())
    }

    /// The link a record following `previous` carries.
    pub(super) fn after(&self, previous: &Record) -> Result<String, JournalError> {
        self.link(canonical(previous)?.as_bytes())
    }

    /// An attestation's seal under the key, if there is one: over the attestation without it.
    pub(super) fn seal(&self, attestation: &Attestation) -> Result<Option<String>, JournalError> {
        if self.0.is_none() {
            return Ok(None);
        }
        let mut unsealed = attestation.clone();
        unsealed.seal = None;
        let text = serde_json::to_string(&unsealed).map_err(|e| JournalError::Corrupt {
            place: "an attestation".into(),
            line: 0,
            reason: e.to_string(),
        })?;
        Ok(Some(self.link(text.as_bytes())?))
    }

    /// Whether an attestation is one this key sealed; without a key every attestation is
    /// taken as it is.
    pub fn sealed(&self, attestation: &Attestation) -> bool {
        match (&self.0, &attestation.seal) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(seal)) => self.seal(attestation).ok().flatten().as_ref() == Some(seal),
        }
    }
}

/// How a journal's chain read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chained {
    /// Every record linked to the one before it.
    Linked,
    /// Written before records were linked: read as it is, with a warning.
    Unlinked,
}

/// Checks that `records`, read from `place`, are run `id`'s chain under `key`.
pub(super) fn verify(
    key: &StateKey,
    id: &RunId,
    place: &str,
    records: &[Record],
) -> Result<Chained, JournalError> {
    let broken = |index: usize, reason: String| JournalError::Tampered {
        run_id: id.clone(),
        place: place.to_owned(),
        record: index + 1,
        reason,
    };
    if records.iter().all(|r| r.prev.is_none()) {
        if key.is_set() {
            return Err(broken(
                0,
                "its records carry no links, and with a state key every record must: a run written before records were linked is resumed without RELINKER_STATE_KEY".into(),
            ));
        }
        return Ok(Chained::Unlinked);
    }
    let mut expected = key.anchor(id)?;
    for (index, record) in records.iter().enumerate() {
        match &record.prev {
            Some(link) if *link == expected => {}
            Some(link) if key.is_set() != link.starts_with(KEYED) => {
                return Err(broken(
                    index,
                    if key.is_set() {
                        "it is not linked with the state key (RELINKER_STATE_KEY)".into()
                    } else {
                        "it is linked with a state key: set RELINKER_STATE_KEY to the key the run was written with".into()
                    },
                ));
            }
            Some(_) => {
                return Err(broken(
                    index,
                    "its link does not match the record before it: a record was edited, removed or added".into(),
                ));
            }
            None => {
                return Err(broken(
                    index,
                    "it carries no link where every record must".into(),
                ));
            }
        }
        expected = key.after(record)?;
    }
    Ok(Chained::Linked)
}

/// A record as it is linked: its JSON, as relinker writes it.
fn canonical(record: &Record) -> Result<String, JournalError> {
    serde_json::to_string(record).map_err(|e| JournalError::Corrupt {
        place: "a record".into(),
        line: 0,
        reason: e.to_string(),
    })
}

/// Lower-case hexadecimal, as every digest relinker stores is written.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut text, b| {
        let _ = write!(text, "{b:02x}");
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;
    use crate::journal::Entry;

    fn run(key: &StateKey, n: usize) -> Vec<Record> {
        let id = RunId::parse("r1").unwrap();
        let mut records: Vec<Record> = Vec::new();
        for i in 0..n {
            let prev = match records.last() {
                None => key.anchor(&id).unwrap(),
                Some(last) => key.after(last).unwrap(),
            };
            records.push(Record {
                at: None,
                prev: Some(prev),
                entry: Entry::Intent {
                    step: StepId::new(format!("s{i}")),
                },
            });
        }
        records
    }

    #[test]
    fn a_chain_verifies_and_any_edit_breaks_it_at_that_record() {
        let id = RunId::parse("r1").unwrap();
        for key in [StateKey::none(), StateKey::new(Secret::new("k3y"))] {
            let records = run(&key, 4);
            assert_eq!(verify(&key, &id, "p", &records).unwrap(), Chained::Linked);
            let mut edited = records.clone();
            edited[1].entry = Entry::Intent {
                step: StepId::new("forged"),
            };
            let error = verify(&key, &id, "p", &edited).unwrap_err().to_string();
            assert!(error.contains("record 3"), "{error}");
            let mut dropped = records.clone();
            dropped.remove(2);
            let error = verify(&key, &id, "p", &dropped).unwrap_err().to_string();
            assert!(error.contains("record 3"), "{error}");
            let other = RunId::parse("r2").unwrap();
            assert!(
                verify(&key, &other, "p", &records).is_err(),
                "moved to another run"
            );
        }
    }

    #[test]
    fn without_the_key_a_keyed_chain_cannot_be_rebuilt_and_plain_links_are_refused_with_it() {
        let id = RunId::parse("r1").unwrap();
        let key = StateKey::new(Secret::new("k3y"));
        let plain = run(&StateKey::none(), 3);
        assert!(verify(&key, &id, "p", &plain).is_err());
        let keyed = run(&key, 3);
        assert!(verify(&StateKey::new(Secret::new("other")), &id, "p", &keyed).is_err());
        assert!(verify(&StateKey::none(), &id, "p", &keyed).is_err());
        let mut unlinked = plain.clone();
        for record in &mut unlinked {
            record.prev = None;
        }
        assert_eq!(
            verify(&StateKey::none(), &id, "p", &unlinked).unwrap(),
            Chained::Unlinked
        );
        assert!(verify(&key, &id, "p", &unlinked).is_err(), "no downgrade");
    }
}
