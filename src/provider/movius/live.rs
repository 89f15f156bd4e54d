//! What relinker can know of Movius when a plan is made: only what the plan's check commands
//! say. For each integration with a check command, whether it authenticates with its current
//! credential and with its rotation's new one. Reads only (a check command must not change
//! anything); without check commands the snapshot is empty, and the plan says so.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::ServiceName;
pub use crate::provider::command::Checked;
use crate::secret::Fingerprint;

/// The snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was read.
    pub observed_at: Option<DateTime<Utc>>,
    /// What each integration's check command said.
    pub services: BTreeMap<ServiceName, Checked>,
    /// Why a check command could not tell (throttled, timed out), one line each: what the plan
    /// then knows nothing of. Not a decision: left out of the fingerprint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undecided: Vec<String>,
}

impl Snapshot {
    /// SHA-256 over the canonical JSON of everything a decision depends on.
    pub fn fingerprint(&self) -> Fingerprint {
        let decisive = serde_json::json!({ "services": self.services });
        Fingerprint::of(decisive.to_string().as_bytes())
    }

    /// What differs between an earlier snapshot (`self`) and `now`, in words.
    pub fn differences(&self, now: &Snapshot) -> Vec<String> {
        let services: BTreeSet<&ServiceName> =
            self.services.keys().chain(now.services.keys()).collect();
        services
            .into_iter()
            .filter(|s| self.services.get(*s) != now.services.get(*s))
            .map(|s| format!("what the check command of `{s}` says"))
            .collect()
    }
}
