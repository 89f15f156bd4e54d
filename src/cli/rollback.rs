//! `relinker rollback RUN_ID [--dry-run]`: undo what a run did, newest first, and only that.
//! The dry run lists exactly the undo plan the real rollback works through.

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::notice::{self, About, NotifyArgs};
use super::run::{
    Direction, GateArgs, Played, RetryArgs, StateArgs, execute, journal_failure, rolled_back,
    run_plan, say,
};
use super::target;
use super::trust::{self, RunnerArgs};
use crate::executor::{RunOutcome, UndoPlan, undo_plan};
use crate::ids::RunId;
use crate::journal::{Run, RunState, RunSummary};
use crate::plan::OnFailure;
use crate::provider::Performer;

/// Options of `relinker rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run to undo.
    #[command(flatten)]
    run: super::which::OneRun,
    /// List what would be undone; change nothing.
    #[arg(long)]
    dry_run: bool,
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

/// Rolls a run back, or lists what that would undo.
pub async fn run(args: &RollbackArgs) -> Result<Outcome, Failure> {
    // The runner configuration declares the secret stores the state store's and the webhook's
    // references may name: it is read before them (and again for each run, as it is held to).
    args.runner.runner()?;
    let state = args.state.existing()?;
    let id = &args.run.resolve(&state)?;
    let summary = state.summary(id).map_err(journal_failure)?;
    let plan = undo_plan(&summary);
    if args.dry_run {
        return Ok(dry_run(id, &summary, &plan));
    }
    if summary.state() == RunState::RolledBack {
        say(&format!("run {id} is already rolled back."));
        return Ok(Outcome::Success);
    }
    if let Some(refusal) = plan.refusal(id, &summary) {
        return Err(anyhow!(refusal)).or_failed();
    }
    let mut run = Run::open(&state, id).map_err(journal_failure)?;
    if run.summary().sandbox() {
        return Err(anyhow!(
            "run {id} ran on an embedded sandbox, which ended with its process"
        ))
        .or_invalid_input();
    }
    let runner = args.runner.runner()?;
    let named = runner.as_ref().map_or(&[][..], |r| r.instances());
    let plan = run_plan(&run, named)?;
    trust::admit_run(runner.as_ref(), &run, &plan)?;
    let webhook = notice::for_plan(args.notify.webhook()?.as_ref(), &plan, false)?;
    let fingerprinter = super::run::run_fingerprinter(&run);
    let target = target::connect(&plan, false, args.retry.policy(), &fingerprinter).await?;
    // A rollback that fails stops and says so; there is nothing further to undo it with.
    let options = args
        .gate
        .options(&target, Played::ByAPerson, OnFailure::Pause, &args.retry)
        .await?;
    let reason = "a person asked for it with `relinker rollback`".to_owned();
    let outcome = execute(
        &target,
        &mut run,
        &options,
        Direction::Back { reason },
        None,
    )
    .await?;
    let RunOutcome::RolledBack(rollback) = &outcome else {
        return Err(anyhow!("rollback ended unexpectedly: {outcome:?}")).or_failed();
    };
    let exit = rolled_back(id, rollback, false, summary.steps());
    let (plan, instance) = (summary.plan(), target.base_url.as_str());
    let about = About {
        run: id,
        plan,
        instance,
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

fn dry_run(id: &RunId, summary: &RunSummary, plan: &UndoPlan) -> Outcome {
    if let Some(refusal) = plan.refusal(id, summary) {
        say(&format!("{refusal}."));
        return Outcome::Success;
    }
    if summary.state() == RunState::RolledBack {
        say(&format!(
            "run {id} is already rolled back; rollback would do nothing."
        ));
        return Outcome::Success;
    }
    say(&format!(
        "run {id} ({}): rollback would undo, newest first (each is checked against live state first and skipped if it already holds):",
        summary.state().word()
    ));
    if plan.undo.is_empty() {
        say("  nothing: no step changed anything yet");
    }
    for undo in &plan.undo {
        let who = if undo.action.performer() == Performer::Person {
            " (manual: a person does it in the UI)"
        } else {
            ""
        };
        say(&format!("  {}: {}{who}", undo.step, undo.action.describe()));
    }
    for kept in &plan.kept {
        say(&format!(
            "  rotations[{}] is past its pivot (`{}` passed): kept, not rolled back",
            kept.rotation, kept.pivot
        ));
    }
    for left in &plan.left {
        say(&format!(
            "  `{}` stays: run {} made it and was abandoned; it was there when this run started",
            left.identity, left.left_by
        ));
    }
    say(&format!("To roll back: relinker rollback {id}"));
    Outcome::Success
}
