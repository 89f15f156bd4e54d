//! What `apply`, `resume`, `rollback` and `abandon` share: the state directory, gate and retry
//! flags, turning journal errors into exit codes, and turning a run's outcome into a message
//! that names the next command and an exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::progress::Lines;
use super::target::Target;
use crate::executor::{ExecError, Executor, GateWait, Options, RollbackOutcome, RunOutcome};
use crate::ids::RunId;
use crate::journal::{JournalError, Run, StateKey, StateStore, Waiting};
use crate::limits::parse_duration;
use crate::plan::{NamedInstance, OnFailure, Plan};
use crate::provider::{Person, Step, Verification};
use crate::rehearsal::Operator;
use crate::retry::RetryPolicy;
use crate::secret::{CredentialFingerprint, Fingerprinter};

/// Where runs are kept.
#[derive(Debug, Args)]
pub struct StateArgs {
    /// Directory for run journals and locks.
    #[arg(
        long,
        env = "RELINKER_STATE_DIR",
        hide_env_values = true,
        default_value = ".relinker",
        value_name = "DIR"
    )]
    pub(crate) state_dir: PathBuf,
    /// A PostgreSQL database for runs, journals and locks, shared by every runner (see
    /// docs/state.md): `postgres://user@host:port/database`, or a reference to it such as
    /// `${env:NAME}` or `${file:PATH}` to keep its password off the command line. Takes the
    /// place of --state-dir.
    #[arg(
        long,
        env = "RELINKER_STATE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub(crate) state: Option<String>,
    /// With --state: give up on the database after this long on any one call, connecting
    /// included (exit 1, nothing half-written).
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = duration,
        default_value = "20s",
        env = "RELINKER_STATE_WAIT"
    )]
    pub(crate) state_wait: Duration,
    /// A secret the runners share, as a reference (`${env:NAME}` or `${file:PATH}`): run
    /// records are linked with HMAC under it and attestations sealed with it, so whoever can
    /// write the state store but lacks the key cannot forge a run (docs/security.md).
    #[arg(
        long,
        env = "RELINKER_STATE_KEY",
        hide_env_values = true,
        value_name = "REFERENCE"
    )]
    pub(crate) state_key: Option<String>,
}

impl StateArgs {
    /// The state store, a directory created if missing (for commands that start runs).
    pub(crate) fn create(&self) -> Result<StateStore, Failure> {
        let store = match self.database()? {
            Some(url) => StateStore::postgres(url.expose(), self.state_wait),
            None => StateStore::local(&self.state_dir),
        }
        .map_err(journal_failure)?;
        Ok(store.with_key(self.key()?))
    }

    /// The state store, which must exist: a typo in a directory must not look like "no runs".
    pub(crate) fn existing(&self) -> Result<StateStore, Failure> {
        let store = match self.database()? {
            Some(url) => StateStore::postgres(url.expose(), self.state_wait),
            None => StateStore::local_existing(&self.state_dir),
        }
        .map_err(journal_failure)?;
        Ok(store.with_key(self.key()?))
    }

    /// The state key, read from its reference; a key written out on a command line or in a
    /// variable would be in every process listing and shell history, so only a reference is
    /// taken.
    fn key(&self) -> Result<StateKey, Failure> {
        let Some(given) = self.state_key.as_deref() else {
            return Ok(StateKey::none());
        };
        let Some(reference) = crate::plan::SecretRef::parse(given) else {
            return Err(anyhow!(
                "--state-key (RELINKER_STATE_KEY) takes a reference to the key (`${{env:NAME}}`, `${{file:PATH}}`, or `${{store:STORE/PATH#KEY}}` with a runner configuration), never the key itself"
            ))
            .or_invalid_input();
        };
        let key = reference
            .resolve(Path::new("."))
            .map_err(|e| anyhow!("--state-key: {e}"))
            .or_invalid_input()?;
        Ok(StateKey::new(key))
    }

    /// The database URL, read from its reference when it is one.
    fn database(&self) -> Result<Option<crate::secret::Secret>, Failure> {
        self.state.as_deref().map(database_url).transpose()
    }

    /// The PostgreSQL store `given` names (a URL or a reference to one), for commands that
    /// take one as an argument of their own.
    pub(crate) fn database_only(given: &str, wait: Duration) -> Result<StateStore, Failure> {
        StateStore::postgres(database_url(given)?.expose(), wait).map_err(journal_failure)
    }
}

/// A database URL, read from its reference when it is one; refused when it is not a
/// PostgreSQL URL (the message never repeats it: it may hold a password).
fn database_url(given: &str) -> Result<crate::secret::Secret, Failure> {
    let url = match crate::plan::SecretRef::parse(given) {
        Some(reference) => reference
            .resolve(Path::new("."))
            .map_err(|e| anyhow!("--state: {e}"))
            .or_invalid_input()?,
        None if crate::plan::SecretRef::looks_like_reference(given) => {
            return Err(anyhow!(
                "--state: `{given}` is not a reference; write `${{env:NAME}}`, `${{file:PATH}}` or `${{store:STORE/PATH#KEY}}`"
            ))
            .or_invalid_input();
        }
        None => crate::secret::Secret::new(given),
    };
    let text = url.expose();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(anyhow!(
            "--state takes a PostgreSQL URL (postgres://user@host:port/database) or a reference to one; for a directory, use --state-dir"
        ))
        .or_invalid_input();
    }
    Ok(url)
}

/// How long to keep trying an instance that does not answer or answers with errors.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Give up on a call to the instance after this long (connection refused, DNS failure,
    /// 5xx, rate limits), waiting between attempts with backoff. A call refused for the rate
    /// limit (606) always gets one full rate window more.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "60s", env = "RELINKER_GIVE_UP_AFTER")]
    pub(crate) give_up_after: Duration,
}

impl RetryArgs {
    /// The client's retry policy.
    pub(crate) fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            give_up_after: self.give_up_after,
            ..RetryPolicy::default()
        }
    }
}

pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 0, 90s, 30m or 2h"))
}

/// How manual steps are handled.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// How long to wait for a person at a manual step: `0` records the pause and exits 4 at
    /// once; `30m` waits that long. Default: wait on a terminal, pause otherwise.
    #[arg(long, value_name = "DURATION", value_parser = gate_wait)]
    pub(crate) gate_wait: Option<GateWait>,
    /// Play the person at manual steps through the sandbox's control API (sandbox only).
    #[arg(long)]
    pub(crate) sandbox_operator: bool,
}

fn gate_wait(text: &str) -> Result<GateWait, String> {
    let wait = duration(text)?;
    Ok(if wait.is_zero() {
        GateWait::Pause
    } else {
        GateWait::For(wait)
    })
}

/// Who plays the person at manual steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Played {
    /// A real person in the platform's UI.
    ByAPerson,
    /// The sandbox operator, through the sandbox's control API.
    BySandbox,
}

impl GateArgs {
    /// Executor options for a run against `target`.
    pub(crate) async fn options(
        &self,
        target: &Target,
        played: Played,
        on_failure: OnFailure,
        retry: &RetryArgs,
    ) -> Result<Options, Failure> {
        let person: Option<Box<dyn Person>> =
            if self.sandbox_operator || played == Played::BySandbox {
                Some(Box::new(
                    Operator::connect(&target.base_url, target.secrets.clone())
                        .await
                        .or_invalid_input()?,
                ))
            } else {
                None
            };
        let gate = self.gate_wait.unwrap_or(if std::io::stdin().is_terminal() {
            GateWait::Forever
        } else {
            GateWait::Pause
        });
        Ok(Options {
            gate,
            person,
            console: Some(Box::new(super::console::Terminal)),
            on_failure,
            change_budget: retry.give_up_after,
        })
    }
}

/// Runs the executor on `run` and reports each step as it goes; `label`, when several runs go
/// at once, starts each of its lines with the run's id.
pub(crate) async fn execute(
    target: &Target,
    run: &mut Run,
    options: &Options,
    direction: Direction,
    label: Option<&RunId>,
) -> Result<RunOutcome, Failure> {
    let summary = run.summary();
    let progress = match label {
        Some(run_id) => Lines::labelled(run_id),
        None => Lines::new(summary.steps().len(), summary.complete_steps()),
    };
    let run_id = run.id().clone();
    let next = match direction {
        Direction::AsJournaled => "resume",
        Direction::Back { .. } => "rollback",
    };
    let executor = Executor::new(target.platform.as_ref(), run, options, &progress);
    let going = async {
        match direction {
            Direction::AsJournaled => executor.execute().await,
            Direction::Back { reason } => match executor.decide_rollback(&reason) {
                Ok(()) => executor.rollback().await.map(RunOutcome::RolledBack),
                Err(error) => Err(error),
            },
        }
    };
    // Ctrl-C, or the SIGTERM a Kubernetes deadline or eviction sends, stops the run where it
    // is, as a crash would, which the write-ahead journal makes safe (a record is written whole
    // before a change is sent), and says how to go on.
    tokio::select! {
        outcome = going => outcome.map_err(|error| exec_failure(error, &run_id, next)),
        stopped = stop_signal() => {
            let (outcome, how) = match stopped {
                Stop::Interrupt => (Outcome::Interrupted, "interrupted"),
                Stop::Terminate => (Outcome::Terminated, "stopped by SIGTERM"),
            };
            Err(Failure {
                outcome,
                error: anyhow!(
                    "run {run_id} {how}; nothing is lost: `relinker {next} {run_id}` goes on from where it stopped"
                ),
            })
        }
    }
}

/// Which signal asked the process to stop.
enum Stop {
    /// SIGINT: Ctrl-C at a terminal.
    Interrupt,
    /// SIGTERM: a deadline, an eviction, a service manager stopping the job.
    Terminate,
}

/// Completes when the process is asked to stop, saying how. A platform without SIGTERM (or
/// where it cannot be watched) waits for Ctrl-C alone.
async fn stop_signal() -> Stop {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => Stop::Interrupt,
                _ = terminate.recv() => Stop::Terminate,
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Stop::Interrupt
}

/// Which way `execute` takes a run.
pub(crate) enum Direction {
    /// Where its journal says it is going (apply, resume).
    AsJournaled,
    /// Back, because a person asked (rollback).
    Back {
        /// Why, for the journal.
        reason: String,
    },
}

/// A run that stopped because its journal could not be written (the state store went away,
/// the disk failed) is where its last record says: the message names the command that goes on.
fn exec_failure(error: ExecError, run_id: &RunId, next: &str) -> Failure {
    match error {
        // A lost lock says itself who holds the run now and what to run.
        ExecError::Journal(error @ JournalError::LockLost { .. }) => journal_failure(error),
        ExecError::Unavailable { step, error } => Failure {
            outcome: Outcome::Failed,
            error: anyhow::anyhow!(
                "run {run_id} stopped at step `{step}`: {error}\n  nothing was marked failed or rolled back: the platform did not answer, or only said \"not now\", until the retry budget (--give-up-after) was spent, which says nothing about the step; once it answers, `relinker {next} {run_id}` goes on from there"
            ),
        },
        ExecError::CredentialRefused { step, error } => Failure {
            outcome: Outcome::Failed,
            error: anyhow::anyhow!(
                "run {run_id} stopped at step `{step}`: {error}\n  nothing was marked failed or rolled back: a refused credential says nothing about the step, and undoing would need it too. Check the value the plan's reference for it gives (relinker never resets a credential; if a person reset it in the platform, the integrations using it need the new one), then `relinker {next} {run_id}` goes on from there"
            ),
        },
        ExecError::Journal(error) => {
            let mut failure = journal_failure(error);
            failure.error = failure.error.context(format!(
                "run {run_id} stopped: nothing after its last record was done; once the state store answers again, `relinker {next} {run_id}` goes on from there"
            ));
            failure
        }
    }
}

pub(crate) use super::output::say;

/// The plan a run applied, read back from its directory (relative references resolve against
/// the folder the plan file was in when the run started).
///
/// A plan that names a runner's instance (`named`) is read with it; the instance must still be
/// the one the run started against, or the run would go on somewhere else than it began.
pub(crate) fn run_plan(run: &Run, named: &[NamedInstance]) -> Result<Plan, Failure> {
    let bytes = run.plan_bytes().map_err(journal_failure)?;
    let started = run.summary().started();
    let plan_dir = started
        .map(|s| PathBuf::from(&s.plan_dir))
        .unwrap_or_default();
    let plan = crate::plan::parse_with(
        &String::from_utf8_lossy(&bytes),
        &run.plan_label(),
        Path::new(&plan_dir),
        named,
    )
    .map_err(|e| anyhow!("{e}"))
    .or_invalid_input()?;
    if let (Some(started), Some(now)) = (started, plan.base_url())
        && !started.sandbox
        && started.instance.trim_end_matches('/') != now.trim_end_matches('/')
    {
        return Err(anyhow!(
            "run {} started against `{}`, and its plan now reaches `{now}` (the runner configuration's instance changed): it goes on only where it began",
            run.id(),
            started.instance
        ))
        .or_invalid_input();
    }
    Ok(plan)
}

/// How a run that goes on (resumed, rolled back) fingerprints its credentials: as at its
/// start, with the salt its journal recorded, so that unchanged credentials compare equal. A
/// run started by an older relinker recorded unsalted SHA-256: compared the old way, with a
/// warning.
pub(crate) fn run_fingerprinter(run: &Run) -> Fingerprinter {
    let recorded: Vec<&CredentialFingerprint> = run
        .summary()
        .started()
        .map(|s| s.credentials.values().collect())
        .unwrap_or_default();
    if recorded.iter().any(|f| f.is_legacy()) {
        super::output::warn(&format!(
            "warning: run {} recorded its credentials as unsalted SHA-256 fingerprints (an older relinker started it): they are compared the old way",
            run.id()
        ));
    }
    Fingerprinter::of_any(recorded).unwrap_or_else(Fingerprinter::fresh)
}

/// Maps journal errors to exit codes: another process or an unsettled run holds the users (3);
/// a state directory or run id that is wrong (2); anything else (1).
pub(crate) fn journal_failure(error: JournalError) -> Failure {
    let outcome = match &error {
        JournalError::Locked(_) | JournalError::Claimed { .. } => Outcome::Locked,
        JournalError::StateDir { .. }
        | JournalError::UnsafeState { .. }
        | JournalError::StateUrl { .. }
        | JournalError::Tampered { .. }
        | JournalError::StateKey
        | JournalError::SchemaNewer { .. }
        | JournalError::MigrationEdited { .. }
        | JournalError::FormatNewer { .. }
        | JournalError::NoSuchRun { .. }
        | JournalError::AmbiguousRun { .. }
        | JournalError::NoRuns { .. }
        | JournalError::RunExists { .. }
        | JournalError::NeverStarted { .. } => Outcome::InvalidInput,
        JournalError::Io { .. }
        | JournalError::Corrupt { .. }
        | JournalError::Database { .. }
        | JournalError::Unreachable { .. }
        | JournalError::LockLost { .. }
        | JournalError::Detached => Outcome::Failed,
    };
    Failure {
        outcome,
        error: anyhow!(error),
    }
}

/// What a person is waited for, and how to confirm what nothing can observe.
fn waiting_lines(run_id: &RunId, waiting: &[Waiting], steps: &[Step], undo: bool) {
    let (mut attested, mut undecided) = (Vec::new(), Vec::new());
    for wait in waiting {
        say(&format!("  - {}: {}", wait.step, wait.waiting_for));
        let step = steps.iter().find(|s| s.id == wait.step);
        let action = step.and_then(|s| {
            if undo {
                s.action.compensation()
            } else {
                Some(s.action.clone())
            }
        });
        match action {
            Some(a) if a.verification() == Verification::Attested => {
                attested.push(wait.step.as_str());
            }
            Some(a) if wait.cannot_tell && a.performer() == crate::provider::Performer::Person => {
                undecided.push(wait.step.as_str());
            }
            _ => {}
        }
    }
    if !attested.is_empty() {
        say(&format!(
            "Nothing can observe {}: once done, confirm each with `relinker attest {run_id} STEP --by NAME` (recorded as attested, not verified).",
            attested.join(", ")
        ));
    }
    if !undecided.is_empty() {
        say(&format!(
            "relinker cannot tell {} from live state now: once done, confirm each with `relinker attest {run_id} STEP --by NAME` (it counts while live state cannot tell, and never against what it shows).",
            undecided.join(", ")
        ));
    }
}

/// Reports how a run ended, names the next command, and gives the exit code.
pub(crate) fn finish(run_id: &RunId, outcome: &RunOutcome, steps: &[Step]) -> Outcome {
    match outcome {
        RunOutcome::Finished => {
            say(&format!("\nrun {run_id} done."));
            for line in promises(steps) {
                say(&format!("  ✓ {line}"));
            }
            Outcome::Success
        }
        RunOutcome::Paused { waiting } => {
            // A pause is a person's only where every step it waits at is a person's; a check
            // that cannot tell yet is waited for too, and named as it is.
            let by_person = waiting.iter().all(|w| {
                steps
                    .iter()
                    .any(|s| s.id == w.step && s.performer() == crate::provider::Performer::Person)
            });
            if by_person {
                say(&format!(
                    "\nrun {run_id} paused: waiting for a person to do {} in the platform's UI:",
                    plural(waiting.len(), "step")
                ));
            } else {
                say(&format!(
                    "\nrun {run_id} paused: waiting at {}:",
                    plural(waiting.len(), "step")
                ));
            }
            waiting_lines(run_id, waiting, steps, false);
            say(&format!("Once done: relinker resume {run_id}"));
            Outcome::Paused
        }
        RunOutcome::Failed {
            step,
            error,
            rollback,
        } => {
            super::output::warn(&format!("error: run {run_id} failed at `{step}`: {error}"));
            rolled_back(run_id, rollback, true, steps)
        }
        RunOutcome::RolledBack(rollback) => rolled_back(run_id, rollback, false, steps),
    }
}

/// Reports how a rollback ended.
pub(crate) fn rolled_back(
    run_id: &RunId,
    rollback: &RollbackOutcome,
    after_failure: bool,
    steps: &[Step],
) -> Outcome {
    let failed = |outcome| {
        if after_failure {
            Outcome::Failed
        } else {
            outcome
        }
    };
    match rollback {
        RollbackOutcome::Complete { kept } => {
            if after_failure {
                super::output::warn(
                    "everything the run changed was rolled back. Fix the cause, then apply the plan again.",
                );
            } else {
                say(&format!("run {run_id} rolled back."));
            }
            for kept in kept {
                say(&format!(
                    "rotations[{}] had passed its verification (`{}`) and is kept as it is.",
                    kept.rotation, kept.pivot
                ));
            }
            failed(Outcome::Success)
        }
        RollbackOutcome::Paused { waiting } => {
            say(&format!(
                "\nrun {run_id}: rollback waits for a person to do {} in the platform's UI:",
                plural(waiting.len(), "step")
            ));
            waiting_lines(run_id, waiting, steps, true);
            say(&format!("Once done: relinker rollback {run_id}"));
            Outcome::Paused
        }
        RollbackOutcome::Incomplete(reason) => {
            super::output::warn(&format!("rollback incomplete: {reason}"));
            super::output::warn(&format!(
                "fix the cause (see docs/runbook.md, \"When a rollback is incomplete\"), then run `relinker rollback {run_id}` again; `relinker status {run_id}` shows each step."
            ));
            Outcome::Failed
        }
        RollbackOutcome::NotAttempted => {
            super::output::warn(&format!(
                "the run is left as it is (policy `on_failure: pause`): fix the cause, then `relinker resume {run_id}`, or undo it with `relinker rollback {run_id}`."
            ));
            Outcome::Failed
        }
        RollbackOutcome::PastPivot => {
            super::output::warn(&format!(
                "this step comes after its rotation's verification, which passed: the rotation is proven and is not rolled back. Fix the cause, then `relinker resume {run_id}` finishes it."
            ));
            Outcome::Failed
        }
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The promise each proving step of a finished run kept, in words.
pub(crate) fn promises(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter(|step| step.action.proves())
        .map(|step| format!("{}: {}", step.id, step.action.promise()))
        .collect()
}
