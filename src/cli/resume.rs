//! `relinker resume RUN_ID | --all`: continue runs that stopped (crash, kill, pause, failure),
//! in the direction their journal says: forward, or on with a rollback already decided.

use anyhow::anyhow;
use clap::Args;
use futures_util::future::join_all;

use super::exit::{Failure, OrExit, Outcome};
use super::notice::{self, About, NotifyArgs};
use super::run::{
    Direction, GateArgs, Played, RetryArgs, StateArgs, execute, finish, journal_failure, run_plan,
    say,
};
use super::target::{self, Connections};
use super::trust::{self, RunnerArgs};
use crate::ids::RunId;
use crate::journal::{Run, RunState, StateStore};
use crate::notify::Webhook;

/// Options of `relinker resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to resume: its id, or any prefix that only it starts with.
    #[arg(
        value_name = "RUN_ID",
        add = super::which::run_ids(),
        required_unless_present_any = ["all", "last"],
        conflicts_with_all = ["all", "last"]
    )]
    run_id: Option<RunId>,
    /// Resume the run started last.
    #[arg(long, conflicts_with = "all")]
    last: bool,
    /// Resume every run that is not done, rolled back or abandoned.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// Resumes one run or all; the exit code is the worst of them. With `--all` the runs go on
/// concurrently, sharing one client per instance.
pub async fn run(args: &ResumeArgs) -> Result<Outcome, Failure> {
    // The runner configuration declares the secret stores the state store's and the webhook's
    // references may name: it is read before them (and again for each run, as it is held to).
    args.runner.runner()?;
    let state = args.state.existing()?;
    let webhook = args.notify.webhook()?;
    let ids = match &args.run_id {
        Some(given) => vec![super::which::find(&state, given)?],
        None if args.last => vec![state.last().map_err(journal_failure)?],
        None => state.run_ids().map_err(journal_failure)?,
    };
    let connections = Connections::default();
    let many = ids.len() > 1;
    let outcomes = join_all(
        ids.iter()
            .map(|id| resume_one(&state, id, args, &connections, many, webhook.as_ref())),
    )
    .await;
    let mut worst = Outcome::Success;
    for (id, outcome) in ids.iter().zip(outcomes) {
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(failure) if args.all => {
                super::output::warn(&format!("error: run {id}: {failure}"));
                failure.outcome
            }
            Err(failure) => return Err(failure),
        };
        worst = worst.max(outcome);
    }
    Ok(worst)
}

async fn resume_one(
    state: &StateStore,
    id: &RunId,
    args: &ResumeArgs,
    connections: &Connections,
    many: bool,
    webhook: Option<&Webhook>,
) -> Result<Outcome, Failure> {
    // Look before taking locks: a settled run needs nothing, and `--all` passes over it quietly,
    // as it does a rehearsal (its embedded sandbox ended with its process).
    let summary = state.summary(id).map_err(journal_failure)?;
    if args.all && summary.sandbox() {
        return Ok(Outcome::Success);
    }
    match summary.state() {
        settled @ (RunState::Done | RunState::RolledBack | RunState::Abandoned { .. }) => {
            if !args.all {
                say(&format!(
                    "run {id} is {}; there is nothing to resume.",
                    settled.word()
                ));
            }
            return Ok(Outcome::Success);
        }
        RunState::NeverStarted => {
            if !args.all {
                return Err(journal_failure(
                    crate::journal::JournalError::NeverStarted { run_id: id.clone() },
                ));
            }
            return Ok(Outcome::Success);
        }
        _ => {}
    }
    let mut run = match Run::open(state, id) {
        Ok(run) => run,
        // On a schedule, a run another runner works on is that runner's: left, not a failure.
        Err(crate::journal::JournalError::Locked(_)) if args.all => {
            say(&format!("run {id}: held by another runner; left for it"));
            return Ok(Outcome::Success);
        }
        Err(error) => return Err(journal_failure(error)),
    };
    if run.torn_tail() {
        say(&format!(
            "run {id}: the journal's last line was torn by a crash; it is ignored and that step re-checked"
        ));
    }
    let summary = run.summary().clone();
    if summary.sandbox() {
        return Err(anyhow!(
            "run {id} ran on an embedded sandbox, which ended with its process; it cannot be resumed (rehearse again with `relinker apply PLAN --sandbox`)"
        ))
        .or_invalid_input();
    }
    let state_now = summary.state();
    let going = if summary.rollback_decided() {
        "continuing its rollback"
    } else {
        "resuming"
    };
    say(&format!("run {id} ({}): {going}", state_now.word()));
    let runner = args.runner.runner()?;
    let named = runner.as_ref().map_or(&[][..], |r| r.instances());
    let plan = run_plan(&run, named)?;
    trust::admit_run(runner.as_ref(), &run, &plan)?;
    let webhook = notice::for_plan(webhook, &plan, false)?;
    let on_failure = summary.on_failure().unwrap_or(plan.policy.on_failure);
    let fingerprinter = super::run::run_fingerprinter(&run);
    let target = target::connect_shared(
        &plan,
        false,
        args.retry.policy(),
        connections,
        &fingerprinter,
    )
    .await?;
    let options = args
        .gate
        .options(&target, Played::ByAPerson, on_failure, &args.retry)
        .await?;
    let label = many.then_some(id);
    let outcome = execute(&target, &mut run, &options, Direction::AsJournaled, label).await?;
    let exit = finish(id, &outcome, summary.steps());
    let about = About {
        run: id,
        plan: summary.plan(),
        instance: &target.base_url,
    };
    notice::tell(
        webhook.as_ref(),
        &mut run,
        &about,
        &outcome,
        exit,
        args.notify.reminder(),
    )
    .await;
    Ok(exit)
}
