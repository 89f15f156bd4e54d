//! Facts read when they matter, not once. An irreversible step (deleting a user, retiring one)
//! rests on what its rotation proved before it: the new credential works, every integration
//! uses it, the old one is refused. A person may undo any of that between the proof and the
//! step (re-enable the old user, switch an integration back), so the proofs are read again, in
//! one look, right before the step is asked for or made, again before a person's doing it is
//! accepted, and once more before a run says it is done. A proof the run saw through the API
//! since it last waited for a person needs no second reading: nothing was waited on in
//! between.
//!
//! A proof that no longer holds sends the rotation back to the step that established the fact:
//! the earliest step before it whose effect the rotation keeps and that no longer holds. That
//! step and every later one are reopened (journaled), and are done again. What cannot be told
//! now (a check command that cannot check) pauses the run at the irreversible step: it is not
//! made on a guess.

use std::sync::atomic::Ordering;
use tokio::time::Instant;

use super::Executor;
use super::error::{ExecError, StepError};
use super::event::Event;
use super::forward::retry_delay;
use crate::ids::UserId;
use crate::journal::{Entry, StepState, Waiting};
use crate::provider::{Check, Op, Step, Verification};

/// What reading a rotation's proofs again found.
pub(super) enum Guard {
    /// Every proof holds now.
    Holds,
    /// A fact no longer holds: the rotation goes back to this index of its steps (reopened).
    Reopen(usize),
    /// It cannot be told now; the run pauses at this step.
    Undecided(Waiting),
}

/// Which of a rotation's earlier facts a guard reads again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RestsOn<'a> {
    /// What it proved: before an irreversible step, and before the run says it is done.
    Proofs,
    /// What it made that these users need (a service cannot be linked to a temporary user
    /// someone deleted while the run waited): before a person is asked to act on it. What
    /// cannot be read now is left to the person's step itself, which reads live state anyway.
    WhatItMade(&'a [&'a UserId]),
}

impl Executor<'_> {
    /// Reads again every fact of `steps` before index `at` (`rests_on` says which) that the
    /// run has not seen since it last waited for a person, and reopens the rotation from what
    /// no longer holds.
    pub(super) async fn guard(
        &self,
        steps: &[Step],
        at: usize,
        rests_on: RestsOn<'_>,
    ) -> Result<Guard, ExecError> {
        let before = &steps[..at.min(steps.len())];
        let stale: Vec<&Step> = before
            .iter()
            .filter(|s| match rests_on {
                RestsOn::Proofs => s.action.proves(),
                RestsOn::WhatItMade(needed) => {
                    s.action.creates() && s.action.users().iter().any(|u| needed.contains(u))
                }
            })
            .filter(|s| self.is_done(s) && !self.is_fresh(s))
            .collect();
        let mut broken = None;
        for proof in stale {
            match self.check_patiently(proof, &proof.action, false).await {
                Ok(Check::Holds) => self.observed(proof),
                Ok(Check::CannotTell(_)) | Err(_) if matches!(rests_on, RestsOn::WhatItMade(_)) => {
                }
                Ok(Check::CannotTell(reason)) => {
                    return self.guard_undecided(steps, at, &reason);
                }
                Err(error) => return self.guard_undecided(steps, at, &error.to_string()),
                Ok(
                    Check::NotYet(reason) | Check::Conflict(reason) | Check::NeedsPerson(reason),
                ) => {
                    broken = Some((proof, reason));
                    break;
                }
            }
        }
        let Some((proof, reason)) = broken else {
            return Ok(Guard::Holds);
        };
        let upto = before
            .iter()
            .position(|s| s.id == proof.id)
            .unwrap_or(before.len());
        let (from, reason) = self
            .established(before, upto)
            .await
            .unwrap_or((upto, reason));
        let step = before
            .get(from)
            .map_or_else(|| proof.id.clone(), |s| s.id.clone());
        self.append(Entry::Reopened {
            step: step.clone(),
            reason: reason.clone(),
        })?;
        self.progress.event(Event::Reopened {
            step: &step,
            reason: &reason,
        });
        Ok(Guard::Reopen(from))
    }

    /// The earliest step before `upto` whose effect the rotation keeps and that no longer
    /// holds, with what live state shows instead. Attested steps cannot be read again: a
    /// person's word stands until it is asked for again.
    async fn established(&self, steps: &[Step], upto: usize) -> Option<(usize, String)> {
        for (index, step) in steps[..upto].iter().enumerate() {
            if !self.is_done(step)
                || step.verification() == Verification::Attested
                || superseded(steps, index)
            {
                continue;
            }
            if let Ok(
                Check::NotYet(reason) | Check::Conflict(reason) | Check::NeedsPerson(reason),
            ) = self.check(step, &step.action, false).await
            {
                return Some((index, reason));
            }
        }
        None
    }

    /// Pauses at the irreversible step `steps[at]` (or, at the end, the rotation's last step):
    /// what it rests on cannot be told now.
    fn guard_undecided(&self, steps: &[Step], at: usize, reason: &str) -> Result<Guard, ExecError> {
        let Some(step) = steps.get(at).or_else(|| steps.last()) else {
            return Ok(Guard::Holds);
        };
        let reason = format!(
            "what `{}` rests on cannot be read again now: {reason}",
            step.id
        );
        Ok(Guard::Undecided(self.undecided(step, reason, false)?))
    }

    /// Records a pause at a step whose check cannot tell now (nothing is asked of a person,
    /// nothing was sent for it): `resume` asks again.
    pub(super) fn undecided(
        &self,
        step: &Step,
        reason: String,
        undo: bool,
    ) -> Result<Waiting, ExecError> {
        let id = step.id.clone();
        self.progress.event(Event::Undecided {
            step: &id,
            reason: &reason,
        });
        self.append(if undo {
            Entry::UndoPaused {
                step: id.clone(),
                waiting_for: reason.clone(),
                cannot_tell: true,
            }
        } else {
            Entry::Paused {
                step: id.clone(),
                waiting_for: reason.clone(),
                cannot_tell: true,
            }
        })?;
        let since = self.summary().waiting(&id).and_then(|w| w.since);
        Ok(Waiting {
            step: id,
            waiting_for: reason,
            since,
            cannot_tell: true,
        })
    }

    /// Asks whether `op` holds, giving a check that cannot tell (a check command that cannot
    /// check, a secret that cannot be read at the moment) the change budget to come round,
    /// with backoff. Its last answer stands.
    pub(super) async fn check_patiently(
        &self,
        step: &Step,
        op: &Op,
        undo: bool,
    ) -> Result<Check, StepError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let check = self.check(step, op, undo).await?;
            let Check::CannotTell(reason) = &check else {
                return Ok(check);
            };
            let wait = retry_delay(attempt);
            if started.elapsed() + wait > self.options.change_budget {
                return Ok(check);
            }
            self.progress.event(Event::CannotTellYet {
                step: &step.id,
                reason,
                wait,
            });
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A person is about to be waited for: what the run saw until now may change.
    pub(super) fn person_waited(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The run saw `step` hold just now, through the API.
    pub(super) fn observed(&self, step: &Step) {
        let epoch = self.epoch.load(Ordering::SeqCst);
        crate::sync::lock(&self.seen).insert(step.id.clone(), epoch);
    }

    /// Whether the run saw `step` hold since it last waited for a person.
    fn is_fresh(&self, step: &Step) -> bool {
        let epoch = self.epoch.load(Ordering::SeqCst);
        crate::sync::lock(&self.seen).get(&step.id) == Some(&epoch)
    }

    fn is_done(&self, step: &Step) -> bool {
        matches!(self.record(&step.id), StepState::Done(_))
    }
}

/// Whether a later step of the rotation undoes the effect of `steps[index]` on purpose (a
/// service linked to a temporary user, then linked back): that effect is not one the rotation
/// keeps, so it is not read again.
fn superseded(steps: &[Step], index: usize) -> bool {
    let Some(compensation) = steps[index].action.compensation() else {
        return false;
    };
    steps[index + 1..].iter().any(|s| s.action == compensation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ServiceName, StepId, UserId};
    use crate::provider::{Readiness, marketo};

    fn user(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    fn link(id: &str, from: &str, to: &str) -> Step {
        Step {
            id: StepId::new(id),
            rotation: 0,
            action: Op::Marketo(marketo::Op::LinkService {
                service: ServiceName::new("sync"),
                from: user(from),
                to: user(to),
            }),
            readiness: Readiness::Pending,
        }
    }

    #[test]
    fn a_link_to_a_temporary_user_is_superseded_by_the_link_back() {
        let steps = [
            link("to-temp", "u@x.io", "t@x.io"),
            link("back", "t@x.io", "u@x.io"),
        ];
        assert!(superseded(&steps, 0));
        assert!(!superseded(&steps, 1));
    }
}
