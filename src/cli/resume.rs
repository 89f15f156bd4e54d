//! `relinker resume RUN_ID | --all`: continue runs that stopped (crash, kill, pause, failure).

use anyhow::{Context, anyhow};
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{
    GateArgs, Lines, StateArgs, executor, finish, journal_failure, lock_users, promises, run_plan,
    say,
};
use super::target;
use crate::journal::{self, RunDir, replay};

/// Options of `relinker resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run to resume.
    #[arg(
        value_name = "RUN_ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    run_id: Option<String>,
    /// Resume every run that has not finished or been rolled back.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
}

/// Resumes one run or all; the exit code is the worst of them.
pub async fn run(args: &ResumeArgs) -> Result<Outcome, Failure> {
    let ids = match &args.run_id {
        Some(id) => vec![id.clone()],
        None => journal::list_runs(&args.state.state_dir).or_failed()?,
    };
    let mut worst = Outcome::Success;
    for id in ids {
        let outcome = match resume_one(&id, args).await {
            Ok(outcome) => outcome,
            Err(failure) if args.all => {
                eprintln!("error: run {id}: {failure}");
                failure.outcome
            }
            Err(failure) => return Err(failure),
        };
        worst = worst.max(outcome);
    }
    Ok(worst)
}

async fn resume_one(id: &str, args: &ResumeArgs) -> Result<Outcome, Failure> {
    let mut run = RunDir::open(&args.state.state_dir, id).map_err(journal_failure)?;
    let contents = run.read().or_failed()?;
    if contents.torn_tail {
        say(&format!(
            "run {id}: the journal's last line was torn by a crash; it is ignored and that step re-checked"
        ));
    }
    let summary = replay(&contents.entries);
    if summary.finished || summary.rolled_back {
        if !args.all {
            say(&format!("run {id} is already {}.", summary.status()));
        }
        return Ok(Outcome::Success);
    }
    if summary.sandbox {
        return Err(anyhow!("run {id} ran on an embedded sandbox, which ended with its process; it cannot be resumed")).or_invalid_input();
    }
    say(&format!("run {id} ({}): resuming", summary.status()));
    let plan = run_plan(&run, &summary)?;
    let _user_locks = lock_users(&args.state.state_dir, &summary.steps, id)?;
    let target = target::connect(&plan, false).await?;
    let options = args
        .gate
        .options(&target.base_url, false, plan.policy.on_failure)
        .await?;
    let progress = Lines::new(summary.steps.len());
    let outcome = executor(&target, &mut run, &options, &progress)?
        .execute()
        .await
        .context("the run stopped")
        .or_failed()?;
    drop(progress);
    Ok(finish(id, &outcome, &promises(&summary.steps)))
}
