//! `relinker rollback RUN_ID [--dry-run]`: undo what a run did, newest first, and only that.

use anyhow::{Context, anyhow};
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{GateArgs, Lines, StateArgs, executor, journal_failure, run_plan, say};
use super::target;
use crate::executor::RollbackOutcome;
use crate::journal::{RunDir, replay};
use crate::plan::OnFailure;

/// Options of `relinker rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The run to undo.
    #[arg(value_name = "RUN_ID")]
    run_id: String,
    /// List what would be undone; change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
}

/// Rolls a run back.
pub async fn run(args: &RollbackArgs) -> Result<Outcome, Failure> {
    let mut run = RunDir::open(&args.state.state_dir, &args.run_id).map_err(journal_failure)?;
    let summary = replay(&run.read().or_failed()?.entries);
    if args.dry_run {
        say(&format!(
            "run {} ({}): rollback would undo, newest first:",
            args.run_id,
            summary.status()
        ));
        for id in summary.applied_order.iter().rev() {
            if let Some(step) = summary.steps.iter().find(|s| &s.id == id) {
                let undo = step
                    .action
                    .compensation()
                    .map_or_else(|| "nothing to undo".to_owned(), |c| c.describe());
                say(&format!("  {id}: {undo}"));
            }
        }
        return Ok(Outcome::Success);
    }
    if summary.sandbox {
        return Err(anyhow!(
            "run {} ran on an embedded sandbox, which ended with its process",
            args.run_id
        ))
        .or_invalid_input();
    }
    let plan = run_plan(&run, &summary)?;
    let target = target::connect(&plan, false).await?;
    // A rollback that fails stops and says so; there is nothing further to undo it with.
    let options = args
        .gate
        .options(&target.base_url, false, OnFailure::Pause)
        .await?;
    let progress = Lines::new(summary.applied_order.len());
    let outcome = executor(&target, &mut run, &options, &progress)?
        .rollback()
        .await
        .context("rollback stopped")
        .or_failed()?;
    match outcome {
        RollbackOutcome::Complete => {
            say(&format!("run {} rolled back.", args.run_id));
            Ok(Outcome::Success)
        }
        RollbackOutcome::Incomplete(reason) => {
            Err(anyhow!("rollback incomplete: {reason}")).or_failed()
        }
        RollbackOutcome::NotAttempted => Err(anyhow!("rollback was not attempted")).or_failed(),
    }
}
