//! Compilation: a validated plan plus a live snapshot becomes ordered steps, warnings and
//! conflicts. Each provider's procedures decide what its rotations compile to; the rules every
//! plan obeys (its deletion budget) are checked here, once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::live::LiveState;
use super::step::{Reversibility, Step};
use super::{dotdigital, marketo, movius};
use chrono::{DateTime, Utc};

use crate::ids::{RunId, ServiceName, UserId};
use crate::plan::{Plan, Spec};

/// What earlier runs on the instance left that a new plan must know: the users they made and
/// left in place when a person gave them up (abandoned), each with the run that made it (a
/// plan that would create one of them takes it over as its own, instead of keeping it as
/// someone else's user); and the relinks they asked people for, with when (a link read from
/// before such an ask may not show what the person did). Kept by the state store; a command
/// without one knows of none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    users: BTreeMap<UserId, RunId>,
    relinks: BTreeMap<ServiceName, RelinkAsked>,
}

/// The latest relink of a service a run asked a person for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelinkAsked {
    /// The run that asked.
    pub run: RunId,
    /// Until when its ask stood (when a person gave the run up): the person may have done it
    /// any time until then.
    pub until: DateTime<Utc>,
    /// The user it asked to move the service away from: what a link read from before the ask
    /// may still show though the person did as asked.
    pub away_from: UserId,
}

impl Leftovers {
    /// The abandoned run that left `user`, if one did.
    pub fn left_by(&self, user: &UserId) -> Option<&RunId> {
        self.users.get(user)
    }

    /// Records that `run` left `user` in place.
    pub fn leave(&mut self, user: UserId, run: RunId) {
        self.users.insert(user, run);
    }

    /// Forgets what was left of `user` (a later run touched it).
    pub fn forget(&mut self, user: &UserId) {
        self.users.remove(user);
    }

    /// The latest relink of `service` any run asked a person for, if one did.
    pub fn relink_asked(&self, service: &ServiceName) -> Option<&RelinkAsked> {
        self.relinks.get(service)
    }

    /// Records that `run` asked a person to relink `service` away from `away_from`, an ask
    /// that stood until `until`; the latest counts.
    pub fn ask(
        &mut self,
        service: ServiceName,
        run: RunId,
        until: DateTime<Utc>,
        away_from: UserId,
    ) {
        if self
            .relinks
            .get(&service)
            .is_none_or(|known| known.until < until)
        {
            let ask = RelinkAsked {
                run,
                until,
                away_from,
            };
            self.relinks.insert(service, ask);
        }
    }
}

/// Something that stops the plan from running as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The rotation it concerns, if one.
    pub rotation: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(rotation) = self.rotation {
            write!(f, "rotations[{rotation}]: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The compiled plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compiled {
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Things a reviewer should know that do not stop the plan.
    pub warnings: Vec<String>,
    /// Things that stop it.
    pub conflicts: Vec<Conflict>,
}

impl Compiled {
    /// Whether any step has work to do.
    pub fn has_changes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.readiness.has_work() && s.reversibility() != Reversibility::ReadOnly)
    }
}

/// Compiles `plan` against `live` with its provider's procedures; what abandoned runs left
/// (`leftovers`) is the run's to take over.
pub fn compile(plan: &Plan, live: &LiveState, leftovers: &Leftovers) -> Compiled {
    let mut compiled = match (&plan.spec, live) {
        (Spec::Marketo(spec), LiveState::Marketo(snapshot)) => {
            marketo::compile(spec, snapshot, leftovers)
        }
        (Spec::Dotdigital(spec), LiveState::Dotdigital(snapshot)) => {
            dotdigital::compile(spec, snapshot)
        }
        (Spec::Movius(spec), LiveState::Movius(snapshot)) => movius::compile(spec, snapshot),
        // A snapshot of another platform than the plan's: nothing can be planned from it.
        (Spec::Marketo(_), LiveState::Dotdigital(_) | LiveState::Movius(_))
        | (Spec::Dotdigital(_), LiveState::Marketo(_) | LiveState::Movius(_))
        | (Spec::Movius(_), LiveState::Marketo(_) | LiveState::Dotdigital(_)) => Compiled {
            steps: Vec::new(),
            warnings: Vec::new(),
            conflicts: vec![Conflict {
                rotation: None,
                message: format!(
                    "live state was read from another platform than the plan's ({})",
                    plan.provider()
                ),
            }],
        },
    };
    let deletions = compiled
        .steps
        .iter()
        .filter(|s| s.readiness.has_work() && s.action.deletes())
        .count();
    if deletions > plan.policy.max_deletions as usize {
        compiled.conflicts.push(Conflict {
            rotation: None,
            message: format!(
                "the plan would delete {deletions} users, more than `policy.max_deletions` ({})",
                plan.policy.max_deletions
            ),
        });
    }
    compiled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_ask_to_relink_a_service_is_the_one_kept() {
        let service = ServiceName::new("crm-sync");
        let at = |secs| DateTime::from_timestamp(secs, 0).unwrap();
        let mut left = Leftovers::default();
        left.ask(
            service.clone(),
            RunId::parse("later").unwrap(),
            at(200),
            UserId::from_platform("b@x"),
        );
        left.ask(
            service.clone(),
            RunId::parse("earlier").unwrap(),
            at(100),
            UserId::from_platform("a@x"),
        );
        let kept = left.relink_asked(&service).unwrap();
        assert_eq!((kept.run.as_str(), kept.until), ("later", at(200)));
        assert_eq!(kept.away_from.as_str(), "b@x");
        assert!(left.relink_asked(&ServiceName::new("other")).is_none());
    }
    use crate::plan::ProviderKind;
    use crate::provider::live::empty;

    fn plan(kind: ProviderKind) -> Plan {
        crate::plan::parse(
            crate::plan::example(kind),
            kind.name(),
            std::path::Path::new("plans/examples"),
        )
        .unwrap()
    }

    #[test]
    fn a_plan_compiles_against_its_own_platform_only() {
        let foreign = |kind: ProviderKind| Conflict {
            rotation: None,
            message: format!("live state was read from another platform than the plan's ({kind})"),
        };
        for planned in ProviderKind::ALL {
            let plan = plan(planned);
            for read in ProviderKind::ALL {
                let compiled = compile(&plan, &empty(read), &Leftovers::default());
                if read == planned {
                    assert!(!compiled.conflicts.contains(&foreign(planned)), "{planned}");
                } else {
                    assert_eq!(
                        compiled.conflicts,
                        [foreign(planned)],
                        "{planned} on {read}"
                    );
                    assert!(compiled.steps.is_empty());
                }
            }
        }
    }
}
