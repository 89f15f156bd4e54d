//! The live state a plan was compiled from, whichever platform it lives on: what a saved plan
//! pins, and what `apply` compares with the state now.

use serde::{Deserialize, Serialize};

use super::op::Op;
use super::{dotdigital, marketo, movius};
use crate::secret::Fingerprint;

/// A read-only snapshot of what a plan depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Adjacently tagged: an internally tagged enum would buffer the snapshot, and its maps keyed by
// number (role names by id) do not survive that buffering.
#[serde(tag = "provider", content = "snapshot", rename_all = "snake_case")]
pub enum LiveState {
    /// A Marketo instance.
    Marketo(marketo::Snapshot),
    /// A dotdigital account.
    Dotdigital(dotdigital::Snapshot),
    /// A Movius organization, as far as check commands tell.
    Movius(movius::Snapshot),
}

impl LiveState {
    /// SHA-256 over the canonical JSON of everything a decision depends on.
    pub fn fingerprint(&self) -> Fingerprint {
        match self {
            LiveState::Marketo(snapshot) => snapshot.fingerprint(),
            LiveState::Dotdigital(snapshot) => snapshot.fingerprint(),
            LiveState::Movius(snapshot) => snapshot.fingerprint(),
        }
    }

    /// What differs between an earlier snapshot (`self`) and `now`, in words.
    pub fn differences(&self, now: &LiveState) -> Vec<String> {
        match (self, now) {
            (LiveState::Marketo(then), LiveState::Marketo(now)) => then.differences(now),
            (LiveState::Dotdigital(then), LiveState::Dotdigital(now)) => then.differences(now),
            (LiveState::Movius(then), LiveState::Movius(now)) => then.differences(now),
            _ => vec!["it was read from another platform".into()],
        }
    }

    /// Details of an operation a person reviewing the plan wants (role names, say).
    pub fn details(&self, op: &Op) -> Option<String> {
        match (self, op) {
            (LiveState::Marketo(snapshot), Op::Marketo(op)) => snapshot.details(op),
            _ => None,
        }
    }
}
