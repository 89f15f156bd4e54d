//! `relinker apply PLAN.yaml|SAVED.json...`: plan, show, confirm, run.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::render::{self, PlanView};
use super::run::{
    GateArgs, Lines, StateArgs, check_run_id, executor, finish, journal_failure, lock_users,
    new_run_id, promises, say,
};
use super::{plan as plan_cmd, target};
use crate::journal::{Entry, RunDir};
use crate::plan::{self, SavedPlan};
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
    run_id: Option<String>,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
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
    if let Some(id) = &args.run_id {
        check_run_id(id)?;
    }
    let mut worst = Outcome::Success;
    for path in &args.plans {
        let outcome = match apply_one(path, args).await {
            Ok(outcome) => outcome,
            Err(failure) if args.plans.len() > 1 => {
                eprintln!("error: {}: {failure}", path.display());
                failure.outcome
            }
            Err(failure) => return Err(failure),
        };
        worst = worst.max(outcome);
    }
    Ok(worst)
}

/// A plan to apply: its validated form, its bytes, and the saved plan when given one.
fn load(path: &Path) -> Result<(plan::Plan, Vec<u8>, Option<SavedPlan>), Failure> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        let saved = SavedPlan::read(path).or_invalid_input()?;
        let plan_path = PathBuf::from(&saved.plan_file);
        let plan_path = if plan_path.is_relative() {
            path.parent().unwrap_or(Path::new(".")).join(plan_path)
        } else {
            plan_path
        };
        let (plan, bytes) = plan_cmd::load(&plan_path)?;
        Ok((plan, bytes, Some(saved)))
    } else {
        let (plan, bytes) = plan_cmd::load(path)?;
        Ok((plan, bytes, None))
    }
}

async fn apply_one(path: &Path, args: &ApplyArgs) -> Result<Outcome, Failure> {
    let (plan, bytes, saved) = load(path)?;
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| new_run_id(&plan.name));
    say(&format!(
        "run {run_id}{}",
        if args.dry_run {
            " (dry run: nothing will be changed or recorded)"
        } else {
            ""
        }
    ));
    let target = target::connect(&plan, args.sandbox).await?;
    let live = plan::observe(&target.client, &plan, &target.credentials)
        .await
        .context("cannot read live state")
        .or_failed()?;
    let compiled = match &saved {
        Some(saved) => {
            saved
                .check(&bytes, &live.fingerprint())
                .or_invalid_input()?;
            saved.compiled.clone()
        }
        None => plan::compile(&plan, &live),
    };
    let apply_command = format!("relinker apply {}", path.display());
    let view = PlanView {
        plan: &plan,
        compiled: &compiled,
        live: &live,
        instance: &target.base_url,
        apply_command,
    };
    let mut text = render::text(&view);
    if let Some(cut) = text.rfind("\nTo apply:") {
        text.truncate(cut + 1);
    }
    say(&text);
    if !compiled.conflicts.is_empty() {
        return Err(anyhow!("the plan has conflicts; nothing was changed")).or_failed();
    }
    if args.dry_run {
        say("dry run: nothing was changed.");
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
    let started = Started {
        run_id: &run_id,
        plan: &plan,
        bytes: &bytes,
        target: &target,
        steps: &compiled.steps,
        sandbox: args.sandbox,
    };
    let (mut run, _user_locks) = started.record(&args.state.state_dir)?;
    let options = args
        .gate
        .options(&target.base_url, args.sandbox, plan.policy.on_failure)
        .await?;
    let progress = Lines::new(compiled.steps.len());
    let outcome = executor(&target, &mut run, &options, &progress)?
        .execute()
        .await
        .map_err(|e| anyhow!(e))
        .or_failed()?;
    drop(progress);
    Ok(finish(&run_id, &outcome, &promises(&compiled.steps)))
}

/// What the `started` record of a new run holds.
struct Started<'a> {
    run_id: &'a str,
    plan: &'a plan::Plan,
    bytes: &'a [u8],
    target: &'a target::Target,
    steps: &'a [crate::plan::Step],
    sandbox: bool,
}

impl Started<'_> {
    /// Creates the run directory, locks the run's users, and writes the `started` record with
    /// the credentials' fingerprints (never the credentials).
    fn record(&self, state_dir: &Path) -> Result<(RunDir, Vec<crate::journal::Lock>), Failure> {
        let mut run =
            RunDir::create(state_dir, self.run_id, self.bytes).map_err(journal_failure)?;
        let locks = lock_users(state_dir, self.steps, self.run_id)?;
        let credentials: BTreeMap<String, Fingerprint> = self
            .target
            .credentials
            .services
            .iter()
            .map(|(name, c)| (name.clone(), c.fingerprint()))
            .collect();
        let plan_dir =
            std::path::absolute(&self.plan.base_dir).unwrap_or_else(|_| self.plan.base_dir.clone());
        run.append(&Entry::Started {
            plan: self.plan.name.clone(),
            plan_sha256: Fingerprint::of(self.bytes),
            instance: self.target.base_url.clone(),
            sandbox: self.sandbox,
            plan_dir: plan_dir.display().to_string(),
            steps: self.steps.to_vec(),
            credentials,
        })
        .map_err(journal_failure)?;
        Ok((run, locks))
    }
}

fn confirm(run_id: &str) -> Result<bool, Failure> {
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
