//! `relinker show SAVED.json`: a saved plan as it was reviewed, read from the file alone.
//!
//! A reviewer, an approver after merge, or an auditor reads the saved plan's own record (plan
//! text, live state, steps) rendered exactly as `plan` rendered it; nothing is contacted and
//! no secret is resolved. The plan text is checked against the SHA-256 the saved plan pins.

use std::path::PathBuf;

use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::render::{self, Footer, Format, PlanView};
use super::trust::RunnerArgs;
use crate::saved::SavedPlan;

/// Options of `relinker show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A saved plan, written by `relinker plan --out`.
    #[arg(value_name = "SAVED.json")]
    saved: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only to read a plan that names its instance by name (`instance: { name: … }`).
    #[command(flatten)]
    runner: RunnerArgs,
}

/// Renders the saved plan; exit 1 if it was saved with conflicts (it cannot be applied).
pub fn run(args: &ShowArgs) -> Result<Outcome, Failure> {
    let runner = args.runner.runner()?;
    let named = runner.as_ref().map_or(&[][..], |r| r.instances());
    let saved = SavedPlan::read(&args.saved).or_invalid_input()?;
    let plan = saved.saved_plan(&args.saved, named).or_invalid_input()?;
    let view = PlanView {
        plan: &plan,
        compiled: &saved.compiled,
        live: &saved.live,
        instance: &saved.instance,
        footer: Footer::Apply(format!("relinker apply {}", args.saved.display())),
    };
    super::output::show(&match args.format {
        Format::Text => render::text(&view),
        Format::Markdown => render::markdown(&view),
        Format::Json => format!("{:#}\n", render::json(&view)),
    });
    Ok(if saved.compiled.conflicts.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
