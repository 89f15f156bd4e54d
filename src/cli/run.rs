//! What `apply`, `resume` and `rollback` share: the state directory, gate flags, user locks,
//! progress lines, and turning a run's outcome into a message and an exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::target::Target;
use crate::executor::{
    Executor, GateWait, Operator, Options, Progress, RollbackOutcome, RunOutcome,
};
use crate::journal::{JournalError, Lock};
use crate::journal::{RunDir, RunSummary};
use crate::plan::Plan;
use crate::plan::{Action, OnFailure, Step};
use crate::provider::marketo::MarketoClient;
use crate::provider::parse_duration;

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
    match parse_duration(text) {
        Some(wait) if wait.is_zero() => Ok(GateWait::Pause),
        Some(wait) => Ok(GateWait::For(wait)),
        None => Err(format!(
            "`{text}` is not a duration such as 0, 90s, 30m or 2h"
        )),
    }
}

impl GateArgs {
    /// Executor options for a run against `base_url`.
    pub(crate) async fn options(
        &self,
        base_url: &str,
        sandbox: bool,
        on_failure: OnFailure,
    ) -> Result<Options, Failure> {
        let operator = if self.sandbox_operator || sandbox {
            Some(Operator::connect(base_url).await.or_invalid_input()?)
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
            operator,
            on_failure,
        })
    }
}

/// Progress: a bar and lines above it on a terminal, plain lines otherwise (logs, CI, pipes).
pub(crate) struct Lines {
    bar: Option<indicatif::ProgressBar>,
}

impl Lines {
    /// Progress over `steps` steps.
    pub(crate) fn new(steps: usize) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(u64::try_from(steps).unwrap_or(u64::MAX));
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        });
        Self { bar }
    }
}

impl Progress for Lines {
    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
        }
    }

    fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The plan a run applied, read back from its directory (relative references resolve against
/// the folder the plan file was in when the run started).
pub(crate) fn run_plan(run: &RunDir, summary: &RunSummary) -> Result<Plan, Failure> {
    let bytes = run.plan_bytes().or_failed()?;
    crate::plan::parse(
        &String::from_utf8_lossy(&bytes),
        &format!("{}/plan.yaml", run.path().display()),
        Path::new(&summary.plan_dir),
    )
    .map_err(|e| anyhow!("{e}"))
    .or_invalid_input()
}

/// An executor for a run against a connected target.
pub(crate) fn executor<'a>(
    target: &'a Target,
    run: &'a mut RunDir,
    options: &'a Options,
    progress: &'a Lines,
) -> Result<Executor<'a, MarketoClient>, Failure> {
    Executor::new(
        &target.client,
        &target.credentials.services,
        run,
        options,
        progress,
    )
    .map_err(|e| anyhow!(e))
    .or_failed()
}

/// Prints a line on stdout; a closed pipe is not an error.
pub(crate) fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Locks every user a run touches, so a second run on the same user exits 3.
pub(crate) fn lock_users(
    state_dir: &Path,
    steps: &[Step],
    run_id: &str,
) -> Result<Vec<Lock>, Failure> {
    let dir = state_dir.join("locks");
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow!("cannot create `{}`: {e}", dir.display()))
        .or_failed()?;
    let mut users: Vec<String> = steps
        .iter()
        .flat_map(|s| users_of(&s.action))
        .map(str::to_lowercase)
        .collect();
    users.sort();
    users.dedup();
    users
        .iter()
        .map(|user| {
            let name = crate::secret::Fingerprint::of(user.as_bytes()).as_str()[7..23].to_owned();
            Lock::acquire(
                &dir.join(format!("user-{name}.lock")),
                &format!("user `{user}`"),
                run_id,
            )
            .map_err(|e| Failure {
                outcome: Outcome::Locked,
                error: anyhow!(e),
            })
        })
        .collect()
}

fn users_of(action: &Action) -> Vec<&str> {
    match action {
        Action::CreateUser { user, .. }
        | Action::AddRoles { user, .. }
        | Action::RemoveRoles { user, .. }
        | Action::UpdateUser { user, .. }
        | Action::DeleteUser { user }
        | Action::ExpireUser { user }
        | Action::Verify { user, .. } => vec![user],
        Action::LinkService { from, to, .. } => vec![from, to],
    }
}

/// Maps journal errors: a held lock is exit 3, everything else is exit 1 (or 2 for bad ids).
pub(crate) fn journal_failure(error: JournalError) -> Failure {
    let outcome = match &error {
        JournalError::Locked(_) => Outcome::Locked,
        JournalError::NoSuchRun { .. } | JournalError::RunExists { .. } => Outcome::InvalidInput,
        _ => Outcome::Failed,
    };
    Failure {
        outcome,
        error: anyhow!(error),
    }
}

/// Reports how a run ended and gives its exit code.
pub(crate) fn finish(run_id: &str, outcome: &RunOutcome, verified: &[String]) -> Outcome {
    match outcome {
        RunOutcome::Finished => {
            say(&format!("\nrun {run_id} done."));
            for line in verified {
                say(&format!("  ✓ {line}"));
            }
            Outcome::Success
        }
        RunOutcome::Paused { step, waiting_for } => {
            say(&format!(
                "\nrun {run_id} paused at `{step}`: waiting for a person to {waiting_for}."
            ));
            say(&format!("Once it is done: relinker resume {run_id}"));
            Outcome::Paused
        }
        RunOutcome::Failed {
            step,
            error,
            rollback,
        } => {
            eprintln!("error: run {run_id} failed at `{step}`: {error}");
            match rollback {
                RollbackOutcome::Complete => {
                    eprintln!("everything the run changed was rolled back.");
                }
                RollbackOutcome::Incomplete(reason) => {
                    eprintln!("rollback incomplete: {reason}");
                    eprintln!(
                        "see docs/runbook.md (\"When a rollback is incomplete\"); `relinker status {run_id}` shows each step."
                    );
                }
                RollbackOutcome::NotAttempted => {
                    eprintln!(
                        "the run is left as it is (policy `on_failure: pause`): fix the cause, then `relinker resume {run_id}`, or undo it with `relinker rollback {run_id}`."
                    );
                }
            }
            Outcome::Failed
        }
    }
}

/// The promise, in words, for each verification step of a finished run.
pub(crate) fn promises(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|step| match &step.action {
            Action::Verify { services, user, roles } => Some(format!(
                "{}: {} {} with unchanged credentials (sha256 fingerprints match) as `{user}`; `{user}` holds its {} original role/workspace pair(s)",
                step.id,
                services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
                if services.len() == 1 { "authenticates" } else { "authenticate" },
                roles.len()
            )),
            _ => None,
        })
        .collect()
}

/// A new run id: the plan name, the UTC time, and four random hex digits.
pub(crate) fn new_run_id(plan: &str) -> String {
    format!(
        "{plan}-{}-{:04x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        rand::random::<u16>()
    )
}

/// Checks a run id given on the command line.
pub(crate) fn check_run_id(id: &str) -> Result<(), Failure> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !id.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "run id `{id}` may only contain letters, digits, `.`, `_` and `-`"
        ))
        .or_invalid_input()
    }
}
