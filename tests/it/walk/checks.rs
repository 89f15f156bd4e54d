//! The checks after every command (docs/testing.md names each invariant): the exit code, the
//! output's secrets and claims, the journal's replay, the world against what the journal
//! explains; and what a person did behind the run's back, which the journal cannot explain.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

use super::Failure;
use super::invariants::{self, Claim, Invariant, Violation};
use super::walker::{Walker, code, excerpt};
use super::world::Facts;
use crate::harness::{Ran, flat};

/// Going forward, a step is not yet due while a step before it is not held, leaving out the
/// steps of its own phase (a person does those in one sitting, in any order); a verification
/// is the proof of every step before it, so for it none are left out, though a step of its
/// sitting that a person attested holds by their word (issue 24, item 4).
fn not_yet_due(status: &Value, step: &str, attested: impl Fn(&str) -> bool) -> bool {
    let steps = status["steps"].as_array().map_or(&[][..], Vec::as_slice);
    let waiting: Vec<&str> = status["waiting"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["step"].as_str())
        .collect();
    let proof = step.ends_with("-verify");
    steps
        .iter()
        .take_while(|s| s["id"] != step)
        .filter(|s| proof || !waiting.contains(&s["id"].as_str().unwrap_or_default()))
        .any(|s| {
            let id = s["id"].as_str().unwrap_or_default();
            // A step asked for in this sitting and attested holds by a person's word: the
            // proof after it, asked for in the same sitting, is due (one sitting, in order).
            let held = matches!(
                s["state"].as_str(),
                Some("applied" | "already_satisfied" | "skipped")
            ) || (waiting.contains(&id) && attested(id));
            !held
        })
}

impl Walker {
    /// The checks after every command.
    pub(super) async fn checked(&mut self, ran: &Ran, killed: bool) -> Result<(), Failure> {
        let text = ran.text();
        let fail = |this: &Self, v: Violation| this.fail(v, &text);
        self.judge(invariants::exit_code(ran.code, killed), &text)?;
        self.judge(invariants::no_secrets(&self.site, &text), &text)?;
        self.judge(invariants::rolled_back_for_now(&text), &text)?;
        self.status = self.replay().await.map_err(|v| fail(self, v))?;
        self.forget_answered_asks(&text);
        let world = self.site.facts().await;
        if !killed {
            let ids: Vec<String> = self.runs.iter().map(|r| r.id.clone()).collect();
            let target = self.latest().map(|r| r.id.clone());
            for claim in invariants::claims(&self.site, &text, &ids, target.as_deref()) {
                let judged = self.claim(&claim, &world);
                self.judge(judged, &text)?;
            }
        }
        let state = self.word();
        let ending = matches!(state.as_str(), "done" | "rolled back");
        // A run that ended can move on (a rollback of a rotation without a pivot): its end is
        // then what it says now.
        if let Some(run) = self.runs.last_mut()
            && run.ended.as_ref().is_some_and(|(end, _)| *end != state)
        {
            run.ended = None;
        }
        if let Some(run) = self.latest()
            && ending
        {
            let (id, original) = (run.id.clone(), run.original.clone());
            match run.ended.clone() {
                None => {
                    let claim = if state == "done" {
                        Claim::Done(id)
                    } else {
                        Claim::RolledBack(id)
                    };
                    let judged = self.claim(&claim, &world).map_err(|v| {
                        let message = format!("status says `{state}`: {}", v.message);
                        Violation::new(v.invariant, message)
                    });
                    self.judge(judged, &text)?;
                    let expected = if state == "done" {
                        invariants::planned(&self.site, &original)
                    } else {
                        original
                    };
                    if let Some(run) = self.runs.last_mut() {
                        run.ended = Some((state.clone(), expected));
                    }
                    self.moved_since_end = false;
                }
                // Nothing relinker does may change the world of a run that has ended.
                Some((end, expected)) if !self.moved_since_end => {
                    let wrong =
                        invariants::differences(&self.site, &world, &expected, &self.exempt());
                    if !wrong.is_empty() {
                        let message = format!(
                            "run {id} ended `{end}`, no person moved since, and now {}",
                            wrong.join("; ")
                        );
                        self.judge(Err(Violation::new(Invariant::Explained, message)), &text)?;
                    }
                }
                Some(_) => {}
            }
        }
        if self.live()
            && let (Some(original), Some(status)) = (
                self.latest().map(|r| r.original.clone()),
                self.status.clone(),
            )
        {
            self.untaint(&status, &original, &world);
            let judged =
                invariants::explained(&self.site, &status, &original, &world, &self.exempt());
            self.judge(judged, &text)?;
        }
        if let Some(status) = &self.status {
            let judged = invariants::wording(status, &text);
            self.judge(judged, &text)?;
        }
        Ok(())
    }

    /// Invariant 3: every run's journal replays; answers the latest run's status.
    pub(super) async fn replay(&self) -> Result<Option<Value>, Violation> {
        if self.runs.is_empty() {
            return Ok(None);
        }
        let ran = self
            .site
            .relinker(&["status", "--format", "json"])
            .run()
            .await;
        let all: Value = serde_json::from_str(&ran.stdout).map_err(|e| {
            Violation::new(
                Invariant::Replays,
                format!(
                    "`status --format json` exit {}: {e}: {}",
                    code(ran.code),
                    excerpt(&ran.text())
                ),
            )
        })?;
        if ran.code != Some(0) {
            return Err(Violation::new(
                Invariant::Replays,
                format!("`status --format json` exit {}", code(ran.code)),
            ));
        }
        let mut latest = None;
        for run in &self.runs {
            let found = all
                .as_array()
                .and_then(|runs| runs.iter().find(|r| r["run_id"] == run.id.as_str()));
            match found {
                Some(status) => latest = Some(status.clone()),
                None => {
                    return Err(Violation::new(
                        Invariant::Replays,
                        format!("run {} is missing from `status`", run.id),
                    ));
                }
            }
        }
        Ok(latest)
    }

    /// Invariant 2: a claim agrees with live state.
    pub(super) fn claim(&self, claim: &Claim, world: &Facts) -> Result<(), Violation> {
        let run = |id: &str| self.runs.iter().find(|r| r.id == id);
        let tainted_for = |id: &str| {
            if self.latest().is_some_and(|r| r.id == id) {
                self.exempt()
            } else {
                BTreeSet::new()
            }
        };
        let (what, expected, tainted) = match claim {
            // An ended run's end state is held against the world by the check after every
            // command while no person moves; once one has, "run X is done" speaks of the run.
            Claim::Done(id) | Claim::RolledBack(id)
                if run(id).is_some_and(|r| r.ended.is_some()) =>
            {
                return Ok(());
            }
            Claim::Done(id) => {
                let Some(run) = run(id) else { return Ok(()) };
                (
                    format!("run {id} done"),
                    invariants::planned(&self.site, &run.original),
                    tainted_for(id),
                )
            }
            Claim::RolledBack(id) => {
                let Some(run) = run(id) else { return Ok(()) };
                (
                    format!("run {id} rolled back"),
                    run.original.clone(),
                    tainted_for(id),
                )
            }
            // Planning claims what it can observe, and warns of the rest.
            Claim::NothingToChange => {
                let expected = invariants::planned(&self.site, &self.initial);
                let all = expected.keys().copied().collect();
                ("nothing to change".into(), expected, all)
            }
            Claim::Verified => (
                "✓ r0-verify".into(),
                invariants::verified(&self.site),
                self.exempt(),
            ),
            // Said of the world as relinker sees it: held to what relinker can observe.
            Claim::Says {
                phrase,
                fact,
                value,
            } => (
                (*phrase).to_owned(),
                Facts::from([(*fact, (*value).to_owned())]),
                BTreeSet::from([*fact]),
            ),
        };
        let wrong = invariants::differences(&self.site, world, &expected, &tainted);
        if wrong.is_empty() {
            Ok(())
        } else {
            Err(Violation::new(
                Invariant::Claim,
                format!("the output says `{what}` but {}", wrong.join("; ")),
            ))
        }
    }

    /// Facts the journal cannot be held to: changed behind the run's back, or attested falsely.
    pub(super) fn exempt(&self) -> BTreeSet<&'static str> {
        let mut exempt = self.tainted.clone();
        exempt.extend(self.lies.keys());
        exempt
    }

    /// A fact back where the journal says (or where an attestation said) is held to it again.
    pub(super) fn untaint(&mut self, status: &Value, original: &Facts, world: &Facts) {
        let allowed = invariants::allowed(&self.site, status, original);
        self.tainted.retain(|fact| {
            !allowed
                .get(fact)
                .is_some_and(|a| world.get(fact).is_some_and(|v| a.contains(v)))
        });
        self.lies
            .retain(|fact, said| !world.get(fact).is_some_and(|v| said.contains(v)));
    }

    /// After a person's move: a fact it took where the journal does not say is tainted.
    pub(super) async fn retaint(&mut self, before: &Facts) {
        let after = self.site.facts().await;
        if &after != before {
            self.moved_since_end = true;
        }
        // A person who undoes what they attested makes the attestation untrue after the fact.
        let undo = self.word().contains("roll");
        for (fact, (said_undo, want)) in &self.said {
            if *said_undo == undo && !after.get(fact).is_some_and(|v| want.contains(v)) {
                self.lies.insert(fact, want.clone());
            }
        }
        if !self.live() {
            return;
        }
        let (Some(original), Some(status)) = (
            self.latest().map(|r| r.original.clone()),
            self.status.clone(),
        ) else {
            return;
        };
        let allowed = invariants::allowed(&self.site, &status, &original);
        for (fact, value) in &after {
            let ok = allowed.get(fact).is_none_or(|a| a.contains(value));
            if before.get(fact) != Some(value) && !ok {
                self.tainted.insert(fact);
            }
        }
        self.untaint(&status, &original, &after);
    }

    /// A step the run went back to ("↩ STEP: no longer holds …; the run goes back to it") and
    /// every later step of its rotation are asked for anew: an attestation answers one ask, so
    /// the next one is not a second word on the same ask.
    fn forget_answered_asks(&mut self, text: &str) {
        let (Some(id), Some(status)) = (self.latest().map(|r| r.id.clone()), &self.status) else {
            return;
        };
        let order: Vec<&str> = status["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["id"].as_str())
            .collect();
        for line in text
            .lines()
            .filter(|l| l.contains("the run goes back to it"))
        {
            let Some(from) = line
                .trim_start()
                .strip_prefix("↩ ")
                .and_then(|rest| rest.split(':').next())
            else {
                continue;
            };
            let rotation = from.split('-').next().unwrap_or_default();
            let asked_anew: Vec<&str> = order
                .iter()
                .skip_while(|step| **step != from)
                .filter(|step| step.split('-').next() == Some(rotation))
                .copied()
                .collect();
            self.attestations.retain(|(run, step, undo)| {
                *run != id || *undo || !asked_anew.contains(&step.as_str())
            });
        }
    }

    /// `attest`, then invariant 6: accepted only for a step that is due and attested, once.
    pub(super) async fn attest(
        &mut self,
        label: &str,
        step: &str,
        by: &str,
    ) -> Result<(), Failure> {
        let Some(id) = self.latest().map(|r| r.id.clone()) else {
            return Ok(());
        };
        let before = self.status.clone().unwrap_or(Value::Null);
        let ran = self
            .command(
                &format!("{label} [{id}]"),
                &["attest", &id, step, "--by", by],
            )
            .await?;
        // Recorded, not merely answered: "already done; nothing to record" is exit 0 too.
        let text = ran.text();
        let recorded = ran.code == Some(0) && flat(&text).starts_with("recorded");
        if recorded {
            let undo = before["status"].as_str().unwrap_or("").contains("roll");
            let shown = before["steps"]
                .as_array()
                .and_then(|steps| steps.iter().find(|s| s["id"] == step))
                .cloned()
                .unwrap_or(Value::Null);
            let waited = before["waiting"]
                .as_array()
                .is_some_and(|w| w.iter().any(|w| w["step"] == step));
            let state = shown["state"].as_str().unwrap_or("(no such step)");
            let announced = matches!(
                state,
                "in_doubt" | "waiting_for_person" | "undo_in_doubt" | "undo_waiting_for_person"
            );
            let run_over = matches!(
                before["status"].as_str(),
                Some("done" | "rolled back" | "abandoned")
            );
            // `status` shows how the step itself is known; an undo is known its own way. A
            // person's word may stand in for a check that could not tell at its last look.
            let cannot_tell = before["waiting"].as_array().is_some_and(|w| {
                w.iter()
                    .any(|w| w["step"] == step && w["cannot_tell"] == true)
            });
            let observed = !undo && shown["verification"] != "attested" && !cannot_tell;
            let early = !undo
                && not_yet_due(&before, step, |earlier| {
                    self.attestations
                        .contains(&(id.clone(), earlier.to_owned(), false))
                });
            if run_over || !(waited || announced) || observed || early {
                let violation = Violation::new(
                    Invariant::Attest,
                    format!(
                        "`attest {id} {step}` was recorded, but the step is {state} ({} verification) while run {id} is {} waiting for [{}]",
                        shown["verification"].as_str().unwrap_or("no"),
                        before["status"].as_str().unwrap_or("?"),
                        before["waiting"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|w| w["step"].as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                self.judge(Err(violation), &text)?;
            }
            if !self
                .attestations
                .insert((id.clone(), step.to_owned(), undo))
            {
                let violation = Violation::new(
                    Invariant::Attest,
                    format!("`{step}` was attested before, and a second attestation was recorded"),
                );
                self.judge(Err(violation), &text)?;
            }
            self.attested(step, undo).await;
        }
        self.checked(&ran, false).await
    }

    /// An accepted attestation of what did not happen: the facts it speaks of are a person's
    /// word against the world.
    pub(super) async fn attested(&mut self, step: &str, undo: bool) {
        let world = self.site.facts().await;
        for (fact, want) in self.spoken(step, undo) {
            self.said.insert(fact, (undo, want));
        }
        let untrue = self.untrue(step, undo, &world);
        if !untrue.is_empty() {
            let facts: Vec<&str> = untrue.iter().map(|(fact, _)| *fact).collect();
            let n = self.log.len();
            let _ = write!(self.log[n - 1], " (untrue: {})", facts.join(", "));
        }
        self.lies.extend(untrue);
    }

    /// The facts an attestation of `step` (of its undo) speaks of that the world does not
    /// show, each with the values it would have to have.
    pub(super) fn untrue(
        &self,
        step: &str,
        undo: bool,
        world: &Facts,
    ) -> Vec<(&'static str, Vec<String>)> {
        self.spoken(step, undo)
            .into_iter()
            .filter(|(fact, want)| !world.get(fact).is_some_and(|v| want.contains(v)))
            .collect()
    }

    /// The facts an attestation of `step` (of its undo) speaks of, each with the values it
    /// says the fact has.
    fn spoken(&self, step: &str, undo: bool) -> Vec<(&'static str, Vec<String>)> {
        let Some(model) = self.site.model(step) else {
            return Vec::new();
        };
        let facts: Vec<(&'static str, Vec<String>)> = if model.changes.is_empty() {
            self.site
                .verified()
                .iter()
                .map(|(f, v)| (*f, vec![(*v).to_owned()]))
                .collect()
        } else {
            model
                .changes
                .iter()
                .map(|c| {
                    let want = if undo {
                        vec![c.before.to_owned()]
                    } else {
                        c.after.iter().map(|v| (*v).to_owned()).collect()
                    };
                    (c.fact, want)
                })
                .collect()
        };
        facts
    }
}
