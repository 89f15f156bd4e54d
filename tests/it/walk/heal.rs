//! The end of every walk: faults cleared, secrets back, and a person who puts back what they
//! broke and does what the run asks. The run must then end, done or rolled back, within a few
//! rounds (invariant 8).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Failure;
use super::invariants::{self, Invariant, Violation};
use super::moves::{Gate, Move, View};
use super::walker::Walker;
use super::world::{Procedure, SecretChange};

/// Rounds a cooperative person gets to finish a run.
const HEAL_ROUNDS: usize = 8;

impl Walker {
    /// Faults cleared, secrets back, and a person who does what the run asks (and puts back
    /// what they broke): the run must end, done or rolled back, within a few rounds.
    pub(super) async fn heal(&mut self) -> Result<(), Failure> {
        self.log
            .push("  -- heal: faults cleared, secrets restored, a cooperative person --".into());
        self.play(Move::ClearFaults).await?;
        self.play(Move::Secret(SecretChange::Restore)).await?;
        if !self.live() {
            let ended = self.latest().is_some_and(|r| !r.abandoned);
            if ended {
                return Ok(());
            }
            self.play(Move::Apply {
                gate: Gate::Zero,
                operator: false,
            })
            .await?;
        }
        self.repair().await?;
        for _ in 0..HEAL_ROUNDS {
            if !self.live() {
                return Ok(());
            }
            let view = View {
                status: self.status.as_ref(),
                live: true,
            };
            let undo = view.rolling_back();
            // Asked to switch an integration back to an old user a person deleted, the
            // cooperative person does what the instruction says then: gives the rollback up.
            let world = self.site.facts().await;
            let switch_back = self
                .status
                .as_ref()
                .and_then(|s| s["waiting"].as_array())
                .into_iter()
                .flatten()
                .any(|w| {
                    w["waiting_for"]
                        .as_str()
                        .is_some_and(|f| f.contains(" switches `"))
                });
            if undo && switch_back && world.get("old").is_some_and(|old| old == "absent") {
                return self.play(Move::Abandon).await;
            }
            let waiting: Vec<String> = self
                .status
                .as_ref()
                .and_then(|s| s["waiting"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|w| w["step"].as_str().map(str::to_owned))
                .collect();
            for step in waiting {
                if self.site.model(&step).is_some_and(|m| m.by_person) {
                    self.play(Move::Person {
                        step: step.clone(),
                        undo,
                    })
                    .await?;
                }
                // The healer attests only what holds: a step it could not bring about waits.
                // A step is known by attestation as `status` says; an undo, as its wait says
                // (an undo may be known otherwise than its step: a Movius add is checked, its
                // undo attested).
                let status = self.status.as_ref();
                let attested = status
                    .and_then(|s| s["steps"].as_array())
                    .into_iter()
                    .flatten()
                    .any(|s| s["id"] == step.as_str() && s["verification"] == "attested")
                    || status
                        .and_then(|s| s["waiting"].as_array())
                        .into_iter()
                        .flatten()
                        .any(|w| {
                            w["step"] == step.as_str()
                                && w["waiting_for"]
                                    .as_str()
                                    .is_some_and(|f| f.contains("nothing can observe it"))
                        });
                let world = self.site.facts().await;
                if attested && self.untrue(&step, undo, &world).is_empty() {
                    self.play(Move::Attest {
                        step,
                        by: "the healer",
                    })
                    .await?;
                }
            }
            if self.site.spec.procedure == Procedure::MarketoRename {
                self.play(Move::TimePasses).await?;
            }
            let next = if self.word().contains("roll") {
                Move::Rollback {
                    gate: Gate::Zero,
                    operator: false,
                }
            } else {
                Move::Resume {
                    gate: Gate::Zero,
                    operator: false,
                }
            };
            self.play(next).await?;
        }
        if !self.live() {
            return Ok(());
        }
        let status = self.status.clone().unwrap_or(Value::Null);
        // A person deleted the user the integrations were left on: nobody can bring it back,
        // so the run can end in neither state, and must say so rather than "rolled back".
        let world = self.site.facts().await;
        if status["status"] == "rollback incomplete"
            && world.get("old").is_some_and(|old| old == "absent")
            && status["rollback_incomplete"]
                .as_str()
                .is_some_and(|reason| reason.contains("is refused now"))
        {
            return Ok(());
        }
        Err(self.fail(
            Violation::new(
                Invariant::Converges,
                format!(
                    "after {HEAL_ROUNDS} rounds the run is still {} with steps [{}], waiting for [{}]",
                    status["status"].as_str().unwrap_or("?"),
                    invariants::steps_line(&status),
                    status["waiting"].as_array().into_iter().flatten().filter_map(|w| w["waiting_for"].as_str()).collect::<Vec<_>>().join("; ")
                ),
            ),
            "",
        ))
    }

    /// The person puts back what they changed behind the run's back, where a step's effect
    /// (or its undo) brings a tainted fact back where the journal says it is.
    pub(super) async fn repair(&mut self) -> Result<(), Failure> {
        let (Some(run), Some(status)) = (self.latest(), self.status.as_ref()) else {
            return Ok(());
        };
        let allowed = invariants::allowed(&self.site, status, &run.original);
        let world = self.site.facts().await;
        let mut fixes: BTreeMap<&'static str, Move> = BTreeMap::new();
        for fact in &self.exempt() {
            let Some(values) = allowed.get(fact) else {
                continue;
            };
            if world.get(fact).is_some_and(|v| values.contains(v)) {
                continue;
            }
            'steps: for model in self.site.steps().iter().filter(|m| m.by_person) {
                for change in model.changes.iter().filter(|c| c.fact == *fact) {
                    for (undo, value) in [(false, change.after[0]), (true, change.before)] {
                        if values.contains(value) {
                            fixes.insert(
                                fact,
                                Move::Person {
                                    step: model.id.to_owned(),
                                    undo,
                                },
                            );
                            break 'steps;
                        }
                    }
                }
            }
        }
        for fix in fixes.into_values() {
            self.play(fix).await?;
        }
        Ok(())
    }
}
