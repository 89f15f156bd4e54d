//! `relinker apply PLAN.yaml|SAVED.json...`: plan, show, confirm, run.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::render::{self, Footer, PlanView};
use super::run::{
    Direction, GateArgs, Played, RetryArgs, StateArgs, execute, finish, journal_failure, say,
};
use super::target;
use crate::ids::RunId;
use crate::journal::{Run, Started};
use crate::plan::{self, LoadedPlan};
use crate::saved::SavedPlan;
use crate::secret::Fingerprint;

/// Options of `relinker apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Plan files, or saved plans from `plan --out`; each becomes its own run.
    #[arg(required = true, value_name = "PLAN")]
    plans: Vec<PathBuf>,
    /// Run against an embedded sandbox seeded from the plan's fixture (implies --sandbox-operator).
    #[arg(long)]
    sandbox: bool,
    /// Id for the run (one plan only).
    #[arg(long, value_name = "ID")]
    run_id: Option<RunId>,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
    #[command(flatten)]
    retry: RetryArgs,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Show the plan and stop; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Applies each plan; the exit code is the worst of the runs.
pub async fn run(args: &ApplyArgs) -> Result<Outcome, Failure> {
    if args.run_id.is_some() && args.plans.len() > 1 {
        return Err(anyhow!("--run-id names one run; give one plan with it")).or_invalid_input();
    }
    let mut worst = Outcome::Success;
    for path in &args.plans {
        let outcome = match apply_one(path, args).await {
            Ok(outcome) => outcome,
            Err(failure) if args.plans.len() > 1 => {
                super::output::warn(&format!("error: {}: {failure}", path.display()));
                failure.outcome
            }
            Err(failure) => return Err(failure),
        };
        worst = worst.max(outcome);
    }
    Ok(worst)
}

/// A plan to apply, and the saved plan when given one.
fn load(path: &Path) -> Result<(LoadedPlan, Option<SavedPlan>), Failure> {
    let saved = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if saved {
        let saved = SavedPlan::read(path).or_invalid_input()?;
        let loaded = plan::load(&saved.plan_path(path)).or_invalid_input()?;
        Ok((loaded, Some(saved)))
    } else {
        Ok((plan::load(path).or_invalid_input()?, None))
    }
}

async fn apply_one(path: &Path, args: &ApplyArgs) -> Result<Outcome, Failure> {
    let (LoadedPlan { plan, bytes }, saved) = load(path)?;
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::generate(&plan.name, chrono::Utc::now()));
    say(&format!(
        "run {run_id}{}",
        if args.dry_run {
            " (dry run: nothing will be changed or recorded)"
        } else {
            ""
        }
    ));
    let target = target::connect(&plan, args.sandbox, args.retry.policy()).await?;
    let (live, compiled) = target.compile(&plan).await?;
    if let Some(saved) = &saved {
        // Anything but the reviewed steps is refused before a single change is sent.
        saved.check(&bytes, &live, &compiled).or_invalid_input()?;
    }
    let view = PlanView {
        plan: &plan,
        compiled: &compiled,
        live: &live,
        instance: &target.base_url,
        footer: Footer::None,
    };
    say(&render::text(&view));
    if !compiled.conflicts.is_empty() {
        return Err(anyhow!("the plan has conflicts; nothing was changed")).or_failed();
    }
    if args.dry_run {
        say("dry run: nothing was changed.");
        return Ok(Outcome::Success);
    }
    if !compiled.has_changes() {
        say("nothing to change: every rotation already holds. No run was started.");
        return Ok(Outcome::Success);
    }
    if !args.yes
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && !confirm(&run_id)?
    {
        say("not applied.");
        return Ok(Outcome::Success);
    }
    let credentials = target.platform.credential_fingerprints();
    let started = Started {
        plan: plan.name.clone(),
        plan_sha256: Fingerprint::of(&bytes),
        instance: target.base_url.clone(),
        sandbox: args.sandbox,
        plan_dir: crate::paths::normalized(&plan.base_dir)
            .display()
            .to_string(),
        on_failure: Some(plan.policy.on_failure),
        steps: compiled.steps.clone(),
        credentials,
    };
    let state = args.state.create()?;
    let mut run = Run::start(&state, &run_id, &bytes, started).map_err(journal_failure)?;
    let played = if args.sandbox {
        Played::BySandbox
    } else {
        Played::ByAPerson
    };
    let options = args
        .gate
        .options(&target, played, plan.policy.on_failure, &args.retry)
        .await?;
    let outcome = execute(&target, &mut run, &options, Direction::AsJournaled).await?;
    Ok(finish(&run_id, &outcome, &compiled.steps))
}

fn confirm(run_id: &RunId) -> Result<bool, Failure> {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "Apply run {run_id}? [y/N] ");
    let _ = stdout.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")
        .or_failed()?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}
