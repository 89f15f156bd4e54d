//! What dotdigital says, when a plan is made, of each credential the plan names: every
//! integration's current credential, and each rotation's new one if its references can be read
//! yet (a new API user usually does not exist when the plan is written); and what each
//! integration's check command says of both, which only it can tell (dotdigital does not know
//! which credential an integration holds). Reads only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::Access;
use crate::ids::{ServiceName, UserId};
use crate::provider::command::Checked;
use crate::secret::{CredentialFingerprint, Fingerprint};

/// What was seen of one credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seen {
    /// Its references cannot be read yet.
    Unresolved {
        /// Why.
        reason: String,
    },
    /// dotdigital's answer for it.
    Checked {
        /// Its username.
        username: UserId,
        /// The fingerprint of username and password (salted for the saved plan): proves which
        /// credential was checked.
        credential: CredentialFingerprint,
        /// What dotdigital said.
        access: Access,
    },
}

impl Seen {
    /// The account it authenticates to, if it does.
    pub fn account(&self) -> Option<u64> {
        match self {
            Seen::Checked {
                access: Access::Account(account),
                ..
            } => Some(account.id),
            _ => None,
        }
    }

    /// Its username, if it could be read.
    pub fn username(&self) -> Option<&UserId> {
        match self {
            Seen::Checked { username, .. } => Some(username),
            Seen::Unresolved { .. } => None,
        }
    }
}

/// The snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was read.
    pub observed_at: Option<DateTime<Utc>>,
    /// Each integration's current credential.
    pub services: BTreeMap<ServiceName, Seen>,
    /// Each rotation's new credential, by rotation index.
    pub new: BTreeMap<usize, Seen>,
    /// What each integration's check command said of its current credential and of its
    /// rotation's new one: an integration found on the new one was switched before this run,
    /// and one on neither is somewhere the plan does not know.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub integrations: BTreeMap<ServiceName, Checked>,
    /// Why a check command could not tell (throttled, timed out), one line each. Not a
    /// decision: left out of the fingerprint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<String>,
}

impl Snapshot {
    /// SHA-256 over the canonical JSON of everything a decision depends on.
    pub fn fingerprint(&self) -> Fingerprint {
        let decisive = if self.integrations.is_empty() {
            // As before integrations were checked at plan time: a plan saved then still
            // matches the same live state.
            serde_json::json!({ "services": self.services, "new": self.new })
        } else {
            serde_json::json!({
                "services": self.services,
                "new": self.new,
                "integrations": self.integrations,
            })
        };
        Fingerprint::of(decisive.to_string().as_bytes())
    }

    /// What differs between an earlier snapshot (`self`) and `now`, in words.
    pub fn differences(&self, now: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (service, then) in &self.services {
            if now.services.get(service) != Some(then) {
                out.push(format!("what dotdigital says of `{service}`'s credential"));
            }
        }
        for (rotation, then) in &self.new {
            if now.new.get(rotation) != Some(then) {
                out.push(format!(
                    "what dotdigital says of rotations[{rotation}]'s new credential"
                ));
            }
        }
        for (service, then) in &self.integrations {
            if now.integrations.get(service) != Some(then) {
                out.push(format!("what the check command of `{service}` says"));
            }
        }
        for rotation in now.new.keys().filter(|r| !self.new.contains_key(*r)) {
            out.push(format!("rotations[{rotation}]'s new credential"));
        }
        if out.is_empty() && self.fingerprint() != now.fingerprint() {
            out.push("a credential the plan depends on".into());
        }
        out
    }
}
