//! Runs compiled steps against a provider: check, act, verify, with a journal record before and
//! after every change; manual gates; rollback of what the run did, and only that.
//!
//! Every step first reads live state. If it already holds, the step is recorded and skipped, so
//! running a step twice is harmless. Otherwise an `intent` is fsynced, the change is made, and the
//! step is verified by reading again before `done` is written. A step found with an intent and no
//! `done` (a crash, a lost answer) is re-checked before anything is sent again. A change whose
//! answer was lost is re-checked the same way, never blindly re-sent.

mod gate;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::Utc;

pub use gate::{GateWait, Operator, OperatorError};

use crate::journal::{Entry, FailureEffect, JournalError, RunDir, RunSummary, StepRecord, replay};
use crate::plan::{Action, OnFailure, Step};
use crate::provider::{NewApiUser, Provider, ProviderError, ServiceCredentials, UserUpdate};

/// How a run behaves.
#[derive(Debug)]
pub struct Options {
    /// How long a manual step may wait for a person.
    pub gate: GateWait,
    /// Plays the person at manual steps (sandbox only).
    pub operator: Option<Operator>,
    /// What a step that fails after its retries leads to.
    pub on_failure: OnFailure,
}

/// Where the executor reports progress (one line per event).
pub trait Progress {
    /// Shows a line.
    fn line(&self, text: &str);

    /// A step finished (done, already done, or undone).
    fn advance(&self) {}
}

/// What a live-state check found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    Holds,
    NotYet(String),
    Conflict(String),
}

/// Why a run stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The journal could not be written or read: the run stops at once, since it could not
    /// record what it does.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// How a run (or a resume) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every step holds and every verification passed.
    Finished,
    /// Waiting for a person at a manual step.
    Paused {
        /// The step.
        step: String,
        /// What the person must do.
        waiting_for: String,
    },
    /// A step failed.
    Failed {
        /// The step.
        step: String,
        /// Why.
        error: String,
        /// What rollback achieved.
        rollback: RollbackOutcome,
    },
}

/// How a rollback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// Everything the run did is undone.
    Complete,
    /// Rollback stopped short; the reason says what is left and why.
    Incomplete(String),
    /// Not attempted (`on_failure: pause`): the run stays resumable.
    NotAttempted,
}

/// How one rotation's steps ended.
enum RotationEnd {
    Done,
    Paused { step: String, waiting_for: String },
    Failed { step: String, error: String },
}

/// The step's result inside the loop.
enum StepResult {
    Holds,
    Paused(String),
    Failed {
        error: String,
        effect: FailureEffect,
    },
}

impl StepResult {
    /// A failure before anything was sent that changes state.
    fn failed_unchanged(error: impl Into<String>) -> Self {
        StepResult::Failed {
            error: error.into(),
            effect: FailureEffect::Unchanged,
        }
    }

    /// A failure after the change was made or attempted without a definite refusal.
    fn failed_maybe_changed(error: impl Into<String>) -> Self {
        StepResult::Failed {
            error: error.into(),
            effect: FailureEffect::MaybeChanged,
        }
    }
}

/// Runs steps of one run.
pub struct Executor<'a, P: Provider> {
    provider: &'a P,
    services: &'a BTreeMap<String, ServiceCredentials>,
    /// Rotations run concurrently and share the journal; an append is a short synchronous
    /// write, never held across an `.await`, so a std mutex is the right tool.
    run: Mutex<(&'a mut RunDir, RunSummary)>,
    options: &'a Options,
    progress: &'a (dyn Progress + Sync),
}

impl<'a, P: Provider> Executor<'a, P> {
    /// An executor for `run`.
    pub fn new(
        provider: &'a P,
        services: &'a BTreeMap<String, ServiceCredentials>,
        run: &'a mut RunDir,
        options: &'a Options,
        progress: &'a (dyn Progress + Sync),
    ) -> Result<Self, ExecError> {
        // The journal is read once; from then on each record is applied in memory as it is
        // appended, so no step re-reads the file.
        let summary = replay(&run.read()?.entries);
        Ok(Self {
            provider,
            services,
            run: Mutex::new((run, summary)),
            options,
            progress,
        })
    }

    fn lock_run(&self) -> MutexGuard<'_, (&'a mut RunDir, RunSummary)> {
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, entry: &Entry) -> Result<(), ExecError> {
        let mut run = self.lock_run();
        run.0.append(entry)?;
        run.1.apply(entry);
        Ok(())
    }

    fn run_id(&self) -> String {
        self.lock_run().0.id().to_owned()
    }

    fn summary(&self) -> RunSummary {
        self.lock_run().1.clone()
    }

    /// Runs (or resumes) every step not yet done: rotations concurrently, the steps of each in
    /// order. A failure stops the other rotations before their next step; then, by policy, the
    /// whole run is rolled back.
    pub async fn execute(&self) -> Result<RunOutcome, ExecError> {
        let mut rotations: BTreeMap<usize, Vec<Step>> = BTreeMap::new();
        for step in self.summary().steps {
            rotations.entry(step.rotation).or_default().push(step);
        }
        let stop = AtomicBool::new(false);
        let ends = futures_util::future::join_all(
            rotations.values().map(|steps| self.rotation(steps, &stop)),
        )
        .await;
        let mut paused = None;
        for end in ends {
            match end? {
                RotationEnd::Done => {}
                RotationEnd::Paused { step, waiting_for } => {
                    paused.get_or_insert(RunOutcome::Paused { step, waiting_for });
                }
                RotationEnd::Failed { step, error } => {
                    let rollback = if self.options.on_failure == OnFailure::Rollback {
                        self.rollback().await?
                    } else {
                        RollbackOutcome::NotAttempted
                    };
                    return Ok(RunOutcome::Failed {
                        step,
                        error,
                        rollback,
                    });
                }
            }
        }
        if let Some(paused) = paused {
            return Ok(paused);
        }
        self.append(&Entry::Finished)?;
        Ok(RunOutcome::Finished)
    }

    /// Runs one rotation's steps in order.
    async fn rotation(&self, steps: &[Step], stop: &AtomicBool) -> Result<RotationEnd, ExecError> {
        for step in steps {
            if stop.load(Ordering::SeqCst) {
                return Ok(RotationEnd::Done);
            }
            // Re-read before each step: what earlier steps recorded (such as a user this run
            // created) decides what later ones may do.
            let summary = self.summary();
            let record = summary.record(&step.id);
            if matches!(record, StepRecord::Applied | StepRecord::AlreadySatisfied) {
                continue;
            }
            // A step that failed after acting is as doubtful as one interrupted mid-way.
            let in_doubt = record == StepRecord::InDoubt
                || (record == StepRecord::Failed && summary.applied_order.contains(&step.id));
            match self.step(step, in_doubt, &summary).await? {
                StepResult::Holds => {}
                StepResult::Paused(waiting_for) => {
                    self.append(&Entry::Paused {
                        step: step.id.clone(),
                        waiting_for: waiting_for.clone(),
                    })?;
                    return Ok(RotationEnd::Paused {
                        step: step.id.clone(),
                        waiting_for,
                    });
                }
                StepResult::Failed { error, effect } => {
                    stop.store(true, Ordering::SeqCst);
                    self.progress.line(&format!("  ✗ {}: {error}", step.id));
                    self.append(&Entry::Failed {
                        step: step.id.clone(),
                        error: error.clone(),
                        effect,
                    })?;
                    return Ok(RotationEnd::Failed {
                        step: step.id.clone(),
                        error,
                    });
                }
            }
        }
        Ok(RotationEnd::Done)
    }

    async fn step(
        &self,
        step: &Step,
        in_doubt: bool,
        summary: &RunSummary,
    ) -> Result<StepResult, ExecError> {
        let check = match self.check(&step.action, summary).await {
            Ok(check) => check,
            Err(error) => return Ok(StepResult::failed_unchanged(error.to_string())),
        };
        match check {
            Check::Holds => {
                // An intent with no `done` whose change now holds: this run applied it.
                let applied = in_doubt;
                self.append(&Entry::Done {
                    step: step.id.clone(),
                    applied,
                })?;
                let note = match (&step.action, applied) {
                    (Action::Verify { .. }, _) => "verified",
                    (_, true) => "done (confirmed after an interruption)",
                    (_, false) => "already done",
                };
                self.progress.line(&format!("  ✓ {}: {note}", step.id));
                self.progress.advance();
                Ok(StepResult::Holds)
            }
            Check::Conflict(reason) => Ok(StepResult::failed_unchanged(reason)),
            Check::NotYet(_) => {
                if let Some(reason) = Self::refuse_unsafe_delete(&step.action, summary) {
                    return Ok(StepResult::failed_unchanged(reason));
                }
                if !in_doubt {
                    self.append(&Entry::Intent {
                        step: step.id.clone(),
                    })?;
                }
                self.progress
                    .line(&format!("  → {}: {}", step.id, step.action.describe()));
                match self.apply(&step.action, summary).await {
                    Ok(None) => {}
                    Ok(Some(waiting_for)) => return Ok(StepResult::Paused(waiting_for)),
                    // A person may have acted however the wait ended; an API refusal means
                    // nothing was applied (a lost answer is not an error here).
                    Err(error) if step.mode() == crate::plan::Mode::Manual => {
                        return Ok(StepResult::failed_maybe_changed(error));
                    }
                    Err(error) => return Ok(StepResult::failed_unchanged(error)),
                }
                match self.check(&step.action, summary).await {
                    Ok(Check::Holds) => {
                        self.append(&Entry::Done {
                            step: step.id.clone(),
                            applied: true,
                        })?;
                        self.progress.line(&format!("  ✓ {}", step.id));
                        self.progress.advance();
                        Ok(StepResult::Holds)
                    }
                    Ok(Check::NotYet(why) | Check::Conflict(why)) => {
                        Ok(StepResult::failed_maybe_changed(format!(
                            "the change did not take effect: {why}"
                        )))
                    }
                    Err(error) => Ok(StepResult::failed_maybe_changed(error.to_string())),
                }
            }
        }
    }

    /// A user is deleted only if the plan retires it, or this run created it.
    /// Deletes only a user the journal shows this run created: its creating step was applied,
    /// or interrupted mid-request after the check that found no such user.
    fn refuse_unsafe_delete(action: &Action, summary: &RunSummary) -> Option<String> {
        let Action::DeleteUser { user } = action else {
            return None;
        };
        let creator = summary.steps.iter().find(|s| matches!(&s.action, Action::CreateUser { user: u, .. } if u.eq_ignore_ascii_case(user)))?;
        let why = match summary.record(&creator.id) {
            StepRecord::Applied | StepRecord::InDoubt => return None,
            StepRecord::AlreadySatisfied => "it existed when the run reached",
            _ => "the run could not confirm creating it at",
        };
        Some(format!(
            "`{user}` was not created by this run ({why} `{}`), so it is not deleted",
            creator.id
        ))
    }

    /// Performs an action. `Ok(Some(..))` means paused at a manual gate.
    async fn apply(&self, action: &Action, summary: &RunSummary) -> Result<Option<String>, String> {
        let result = match action {
            Action::CreateUser {
                user,
                first_name,
                last_name,
                roles,
            } => {
                let new = NewApiUser {
                    userid: user.clone(),
                    email: user.clone(),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    roles: roles.clone(),
                    reason: Some(
                        "created by relinker to hold LaunchPoint services during a rotation".into(),
                    ),
                };
                self.provider.invite_api_user(&new).await
            }
            Action::AddRoles { user, roles } => {
                self.provider.add_roles(user, roles).await.map(drop)
            }
            Action::RemoveRoles { user, roles } => {
                self.provider.remove_roles(user, roles).await.map(drop)
            }
            Action::UpdateUser { user, change, .. } => {
                self.provider.update_user(user, change).await
            }
            Action::DeleteUser { user } => self.provider.delete_user(user).await,
            Action::ExpireUser { user } => {
                let change = UserUpdate {
                    expires_at: Some(Utc::now()),
                    ..UserUpdate::default()
                };
                self.provider.update_user(user, &change).await
            }
            Action::Verify { .. } => Ok(()),
            Action::LinkService { service, to, .. } => {
                return self.gate(service, to, summary).await;
            }
        };
        match result {
            Ok(()) => Ok(None),
            // The answer was lost: the caller re-checks before deciding anything.
            Err(error) if error.is_outcome_unknown() => {
                self.progress
                    .line(&format!("    answer lost ({error}); re-reading live state"));
                Ok(None)
            }
            Err(error) => Err(error.to_string()),
        }
    }

    async fn gate(
        &self,
        service: &str,
        to: &str,
        summary: &RunSummary,
    ) -> Result<Option<String>, String> {
        let instructions = self.provider.relink_action(service, to);
        self.progress
            .line(&format!("    manual: {}", instructions.summary));
        if let Some(operator) = &self.options.operator {
            operator
                .link(service, to)
                .await
                .map_err(|e| e.to_string())?;
            self.progress.line("    (the sandbox operator did it)");
        } else {
            for line in &instructions.steps {
                self.progress.line(&format!("      - {line}"));
            }
        }
        let action = Action::LinkService {
            service: service.to_owned(),
            from: String::new(),
            to: to.to_owned(),
        };
        let deadline = self.options.gate.deadline(self.options.operator.is_some());
        // A person at a terminal can press Enter to have the step checked at once.
        let mut enter = (self.options.gate == GateWait::Forever && self.options.operator.is_none())
            .then(|| {
                self.progress.line(
                    "    waiting; press Enter to check again now (it is also checked every 2 s)",
                );
                tokio::io::BufReader::new(tokio::io::stdin())
            });
        loop {
            match self.check(&action, summary).await {
                Ok(Check::Holds) => return Ok(None),
                Ok(Check::Conflict(why)) => return Err(why),
                Ok(Check::NotYet(_)) => {}
                Err(error) => return Err(error.to_string()),
            }
            if deadline.is_none_or(|d| tokio::time::Instant::now() >= d) {
                return Ok(Some(instructions.summary));
            }
            match enter.as_mut() {
                Some(stdin) => {
                    let mut line = String::new();
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => {}
                        _ = tokio::io::AsyncBufReadExt::read_line(stdin, &mut line) => {}
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    async fn check(&self, action: &Action, summary: &RunSummary) -> Result<Check, ProviderError> {
        Ok(match action {
            Action::CreateUser { user, .. } => match self.provider.user(user).await? {
                Some(existing) if existing.api_only => Check::Holds,
                Some(_) => Check::Conflict(format!("`{user}` exists and is not API-only")),
                None if self.provider.invitation(user).await?.is_some() => {
                    Check::Conflict(format!("`{user}` is a pending invitation"))
                }
                None => Check::NotYet(format!("`{user}` does not exist")),
            },
            Action::AddRoles { user, roles } => match self.provider.user_roles(user).await? {
                Some(held) if roles.iter().all(|r| held.contains(r)) => Check::Holds,
                Some(_) => Check::NotYet(format!("`{user}` lacks some roles")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Action::RemoveRoles { user, roles } => match self.provider.user_roles(user).await? {
                Some(held) if roles.iter().any(|r| held.contains(r)) => {
                    Check::NotYet(format!("`{user}` still holds some of the roles"))
                }
                // A user that is gone holds nothing: there is nothing left to take back.
                Some(_) | None => Check::Holds,
            },
            Action::LinkService { service, to, .. } => {
                let credentials = self.credentials(service)?;
                let link = self.provider.linked_user(credentials).await?;
                if link.userid.eq_ignore_ascii_case(to) {
                    Check::Holds
                } else {
                    Check::NotYet(format!("`{service}` is linked to `{}`", link.userid))
                }
            }
            Action::UpdateUser { user, change, .. } => match self.provider.user(user).await? {
                Some(record) => {
                    let matches = change
                        .email
                        .as_ref()
                        .is_none_or(|e| e.eq_ignore_ascii_case(&record.email))
                        && change
                            .first_name
                            .as_ref()
                            .is_none_or(|f| *f == record.first_name)
                        && change
                            .last_name
                            .as_ref()
                            .is_none_or(|l| *l == record.last_name)
                        && change.expires_at.is_none_or(|at| {
                            record
                                .expires_at
                                .is_some_and(|r| (r - at).num_seconds().abs() < 1)
                        });
                    if matches {
                        Check::Holds
                    } else {
                        Check::NotYet(format!("`{user}` differs"))
                    }
                }
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Action::Verify {
                services,
                user,
                roles,
            } => self.verify(services, user, roles, summary).await?,
            Action::DeleteUser { user } => match self.provider.user(user).await? {
                Some(_) => Check::NotYet(format!("`{user}` exists")),
                None => Check::Holds,
            },
            Action::ExpireUser { user } => match self.provider.user(user).await? {
                Some(record) if record.expires_at.is_some_and(|at| at <= Utc::now()) => {
                    Check::Holds
                }
                Some(_) => Check::NotYet(format!("`{user}` has not expired")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
        })
    }

    /// The promise: each service mints a token with the very credentials it had at the start,
    /// its scope names `user`, and `user` holds exactly the original roles.
    async fn verify(
        &self,
        services: &[String],
        user: &str,
        roles: &[crate::provider::RolePair],
        summary: &RunSummary,
    ) -> Result<Check, ProviderError> {
        for service in services {
            let credentials = self.credentials(service)?;
            if summary.credentials.get(service) != Some(&credentials.fingerprint()) {
                return Ok(Check::Conflict(format!(
                    "the credentials of `{service}` are not the ones the run started with"
                )));
            }
            let link = self.provider.linked_user(credentials).await?;
            if !link.userid.eq_ignore_ascii_case(user) {
                return Ok(Check::Conflict(format!(
                    "`{service}` is linked to `{}`, not `{user}`",
                    link.userid
                )));
            }
        }
        let held = self.provider.user_roles(user).await?.unwrap_or_default();
        let mut wanted = roles.to_vec();
        wanted.sort();
        if held != wanted {
            return Ok(Check::Conflict(format!(
                "`{user}` holds {} role/workspace pair(s), not the original {}",
                held.len(),
                wanted.len()
            )));
        }
        Ok(Check::Holds)
    }

    fn credentials(&self, service: &str) -> Result<&ServiceCredentials, ProviderError> {
        self.services
            .get(service)
            .ok_or_else(|| ProviderError::Config(format!("no credentials for service `{service}`")))
    }

    /// Undoes what the run did, newest first, and only that.
    pub async fn rollback(&self) -> Result<RollbackOutcome, ExecError> {
        let summary = self.summary();
        let mut order: Vec<String> = summary.applied_order.clone();
        for doubtful in &summary.undo_in_doubt {
            if !order.contains(doubtful) {
                order.push(doubtful.clone());
            }
        }
        self.progress.line("rolling back");
        for step_id in order.iter().rev() {
            let Some(step) = summary.steps.iter().find(|s| &s.id == step_id) else {
                continue;
            };
            if matches!(
                step.action,
                Action::DeleteUser { .. } | Action::ExpireUser { .. }
            ) {
                let reason = format!(
                    "step `{step_id}` is irreversible and already ran; rollback stops before it, leaving earlier steps in place"
                );
                self.append(&Entry::RollbackIncomplete {
                    reason: reason.clone(),
                })?;
                return Ok(RollbackOutcome::Incomplete(reason));
            }
            let Some(compensation) = step.action.compensation() else {
                // Nothing to undo: a verification changes nothing.
                continue;
            };
            if let Some(reason) = Self::refuse_unsafe_delete(&compensation, &summary) {
                self.append(&Entry::RollbackIncomplete {
                    reason: reason.clone(),
                })?;
                return Ok(RollbackOutcome::Incomplete(reason));
            }
            self.append(&Entry::UndoIntent {
                step: step_id.clone(),
            })?;
            let undo = Step {
                id: format!("undo-{step_id}"),
                rotation: step.rotation,
                action: compensation,
                readiness: crate::plan::Readiness::Pending,
            };
            match self.undo(&undo, &summary).await {
                Ok(None) => {
                    self.append(&Entry::Undone {
                        step: step_id.clone(),
                    })?;
                    self.progress.line(&format!("  ↺ {step_id}: undone"));
                }
                Ok(Some(waiting_for)) => {
                    let reason = format!(
                        "waiting for a person to {waiting_for}; run `relinker rollback {}` again once it is done",
                        self.run_id()
                    );
                    self.append(&Entry::RollbackIncomplete {
                        reason: reason.clone(),
                    })?;
                    return Ok(RollbackOutcome::Incomplete(reason));
                }
                Err(error) => {
                    let reason = format!("undoing `{step_id}` failed: {error}");
                    self.append(&Entry::RollbackIncomplete {
                        reason: reason.clone(),
                    })?;
                    return Ok(RollbackOutcome::Incomplete(reason));
                }
            }
        }
        self.append(&Entry::RolledBack)?;
        Ok(RollbackOutcome::Complete)
    }

    async fn undo(&self, undo: &Step, summary: &RunSummary) -> Result<Option<String>, String> {
        match self
            .check(&undo.action, summary)
            .await
            .map_err(|e| e.to_string())?
        {
            Check::Holds => return Ok(None),
            Check::Conflict(why) => return Err(why),
            Check::NotYet(_) => {}
        }
        self.progress
            .line(&format!("  → {}: {}", undo.id, undo.action.describe()));
        if let Some(waiting) = self.apply(&undo.action, summary).await? {
            return Ok(Some(waiting));
        }
        match self
            .check(&undo.action, summary)
            .await
            .map_err(|e| e.to_string())?
        {
            Check::Holds => Ok(None),
            Check::NotYet(why) | Check::Conflict(why) => {
                Err(format!("the undo did not take effect: {why}"))
            }
        }
    }
}

/// The default poll interval at a manual gate.
pub(crate) const POLL: Duration = Duration::from_secs(2);
