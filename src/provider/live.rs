//! The live state a plan was compiled from, whichever platform it lives on: what a saved plan
//! pins, and what `apply` compares with the state now.

use serde::{Deserialize, Serialize};

use super::op::Op;
use super::{dotdigital, marketo, movius};
use crate::plan::ProviderKind;
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
    /// The platform it was read from.
    pub fn provider(&self) -> ProviderKind {
        match self {
            LiveState::Marketo(_) => ProviderKind::Marketo,
            LiveState::Dotdigital(_) => ProviderKind::Dotdigital,
            LiveState::Movius(_) => ProviderKind::Movius,
        }
    }

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
            (LiveState::Marketo(_), LiveState::Dotdigital(_) | LiveState::Movius(_))
            | (LiveState::Dotdigital(_), LiveState::Marketo(_) | LiveState::Movius(_))
            | (LiveState::Movius(_), LiveState::Marketo(_) | LiveState::Dotdigital(_)) => {
                vec!["it was read from another platform".into()]
            }
        }
    }

    /// Details of an operation a person reviewing the plan wants (role names, say).
    pub fn details(&self, op: &Op) -> Option<String> {
        match self {
            LiveState::Marketo(snapshot) => match op {
                Op::Marketo(op) => snapshot.details(op),
                Op::Dotdigital(_) | Op::Movius(_) => None,
            },
            // Their steps name everything a reviewer needs.
            LiveState::Dotdigital(_) | LiveState::Movius(_) => None,
        }
    }
}

/// An empty snapshot of `kind`'s platform, for tests that walk every platform.
#[cfg(test)]
pub(crate) fn empty(kind: ProviderKind) -> LiveState {
    match kind {
        ProviderKind::Marketo => LiveState::Marketo(marketo::Snapshot::default()),
        ProviderKind::Dotdigital => LiveState::Dotdigital(dotdigital::Snapshot::default()),
        ProviderKind::Movius => LiveState::Movius(movius::Snapshot::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platforms_snapshot_is_saved_under_its_name_and_read_back() {
        for kind in ProviderKind::ALL {
            let live = empty(kind);
            assert_eq!(live.provider(), kind);
            let value = serde_json::to_value(&live).unwrap();
            assert_eq!(value["provider"], kind.name());
            let back: LiveState = serde_json::from_value(value).unwrap();
            assert_eq!(back, live);
            assert!(live.differences(&back).is_empty());
        }
    }

    #[test]
    fn a_snapshot_differs_from_every_other_platforms() {
        for then in ProviderKind::ALL {
            for now in ProviderKind::ALL.into_iter().filter(|now| *now != then) {
                assert_eq!(
                    empty(then).differences(&empty(now)),
                    ["it was read from another platform"],
                    "{then} then, {now} now"
                );
            }
        }
    }
}
