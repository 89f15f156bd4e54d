//! `relinker validate PLAN...`: check plan files without network access or secrets (a CI gate).

use std::io::Write;
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
}

/// Checks every file and reports each one; exit 2 if any is invalid.
pub fn run(args: &ValidateArgs) -> Result<Outcome, Failure> {
    let mut outcome = Outcome::Success;
    let mut stdout = std::io::stdout().lock();
    for path in &args.plans {
        match plan::load(path) {
            Ok(plan::LoadedPlan { plan, .. }) => {
                let rotations = plan.rotation_count();
                let noun = if rotations == 1 {
                    "rotation"
                } else {
                    "rotations"
                };
                // A closed pipe (`| head`) is not an error worth reporting.
                let _ = writeln!(stdout, "ok: {} ({rotations} {noun})", path.display());
            }
            Err(PlanError::Invalid(diagnostics)) => {
                eprintln!("{diagnostics}");
                outcome = Outcome::InvalidInput;
            }
            Err(error) => {
                eprintln!("error: {error}");
                outcome = Outcome::InvalidInput;
            }
        }
    }
    Ok(outcome)
}
