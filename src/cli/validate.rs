//! `relinker validate PLAN...`: check plan files without network access or secrets (a CI gate).

use std::path::PathBuf;

use clap::Args;

use super::exit::{Failure, Outcome};
use crate::plan::{self, PlanError};

/// Options of `relinker validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Plan files to check.
    #[arg(required = true, value_name = "PLAN")]
    plans: Vec<PathBuf>,
    /// Also check what `--sandbox` runs read: the `sandbox.fixture` file is there.
    #[arg(long)]
    sandbox: bool,
    #[command(flatten)]
    runner: super::trust::RunnerArgs,
}

/// Checks every file and reports each one; exit 2 if any is invalid.
pub fn run(args: &ValidateArgs) -> Result<Outcome, Failure> {
    let mut outcome = Outcome::Success;
    // With a runner configuration, a plan it would refuse is invalid here too.
    let runner = args.runner.runner()?;
    let named = runner.as_ref().map_or(&[][..], |r| r.instances());
    for path in &args.plans {
        match plan::load_with(path, named) {
            Ok(plan::LoadedPlan { plan, bytes }) => {
                if let Some(runner) = &runner
                    && let Err(refused) = runner.admit(
                        &String::from_utf8_lossy(&bytes),
                        &path.display().to_string(),
                        &plan.base_dir,
                        plan.base_url().map(|url| (plan.provider(), url)),
                    )
                {
                    super::output::warn(&format!("{refused}"));
                    outcome = Outcome::InvalidInput;
                    continue;
                }
                if args.sandbox
                    && let Err(problem) = sandbox_ready(&plan)
                {
                    super::output::warn(&problem);
                    outcome = Outcome::InvalidInput;
                    continue;
                }
                let rotations = plan.rotation_count();
                let noun = if rotations == 1 {
                    "rotation"
                } else {
                    "rotations"
                };
                super::output::say(&format!("ok: {} ({rotations} {noun})", path.display()));
            }
            Err(PlanError::Invalid(diagnostics)) => {
                super::output::warn(&format!("{diagnostics}"));
                outcome = Outcome::InvalidInput;
            }
            Err(error) => {
                super::output::warn(&format!("error: {error}"));
                outcome = Outcome::InvalidInput;
            }
        }
    }
    Ok(outcome)
}

/// What a `--sandbox` run of `plan` would refuse before starting its sandbox.
fn sandbox_ready(plan: &plan::Plan) -> Result<(), String> {
    match &plan.sandbox_fixture {
        None => Err(format!(
            "plan `{}` has no `sandbox.fixture`, which --sandbox needs",
            plan.name
        )),
        Some(fixture) => fixture.existing().map(drop).map_err(|d| d.to_string()),
    }
}
