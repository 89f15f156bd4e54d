//! `relinker plan PLAN`: read live state (reads only), compile, and show what would happen.

use std::path::PathBuf;

use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::render::{self, Footer, Format, PlanView};
use super::run::RetryArgs;
use super::target;
use super::trust::{self, RunnerArgs};
use crate::plan::{self, LoadedPlan};
use crate::saved::SavedPlan;
use crate::secret::Fingerprinter;

/// Options of `relinker plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The plan file.
    #[arg(value_name = "PLAN")]
    plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Save the compiled plan, pinned to the plan file and live state, for `apply`.
    #[arg(long, value_name = "SAVED.json")]
    out: Option<PathBuf>,
    /// Exit 0 when there is nothing to do, 5 when there are changes, 1 on conflicts.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Plan against an embedded sandbox seeded from the plan's `sandbox.fixture`.
    #[arg(long)]
    sandbox: bool,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// Plans and prints. A file that cannot be planned still has its place in Markdown and JSON
/// output (the pull-request comment a loop of `plan` builds): the error, where the plan was to be.
pub async fn run(args: &PlanArgs) -> Result<Outcome, Failure> {
    let result = plan_and_show(args).await;
    if let Err(failure) = &result
        && let Some(block) = render::not_planned(
            args.format,
            &args.plan.display().to_string(),
            &failure.to_string(),
            failure.outcome.code(),
        )
    {
        super::output::show(&block);
    }
    result
}

async fn plan_and_show(args: &PlanArgs) -> Result<Outcome, Failure> {
    if let Some(problem) = args
        .out
        .as_deref()
        .and_then(crate::paths::output_file_problem)
    {
        return Err(anyhow::anyhow!("--out: {problem}")).or_invalid_input();
    }
    // The runner decides what a plan under review may reach, read and run, before it does.
    let runner = args.runner.runner()?;
    let named = runner.as_ref().map_or(&[][..], |r| r.instances());
    let LoadedPlan { plan, bytes } = plan::load_with(&args.plan, named).or_invalid_input()?;
    trust::admit_plan(
        runner.as_ref(),
        &plan,
        &bytes,
        &args.plan.display().to_string(),
    )?;
    // One salt for every credential fingerprint this plan shows or saves; `apply` of the saved
    // plan derives with it again.
    let fingerprinter = Fingerprinter::fresh();
    let connections = target::Connections::with_checks(trust::checks_at_plan(runner.as_ref()));
    let target = target::connect_shared(
        &plan,
        args.sandbox,
        args.retry.policy(),
        &connections,
        &fingerprinter,
    )
    .await?;
    target.refuse_known_problems(&plan, &bytes, &args.plan.display().to_string())?;
    // Planning reads no state store: what abandoned runs left is known to `apply`, whose plan
    // then shows the take-over (a saved plan made without it is refused as different).
    let (live, mut compiled) = target
        .compile(&plan, &crate::provider::Leftovers::default())
        .await?;
    // What the reviewer should know of the credential the run would act as.
    compiled.warnings.extend(target.platform.cautions().await);
    let sandbox_flag = if args.sandbox { " --sandbox" } else { "" };
    let apply_command = match &args.out {
        Some(out) => format!("relinker apply {}{sandbox_flag}", out.display()),
        None => format!("relinker apply {}{sandbox_flag}", args.plan.display()),
    };
    let view = PlanView {
        plan: &plan,
        compiled: &compiled,
        live: &live,
        instance: &target.base_url,
        footer: Footer::Apply(apply_command),
    };
    let rendered = match args.format {
        Format::Text => render::text(&view),
        Format::Markdown => render::markdown(&view),
        Format::Json => format!("{:#}\n", render::json(&view)),
    };
    // A closed pipe (`| head`) is not an error.
    super::output::show(&rendered);
    if !compiled.conflicts.is_empty() {
        if args.out.is_some() {
            super::output::warn("the plan has conflicts; nothing was saved");
        }
        return Ok(Outcome::Failed);
    }
    if let Some(out) = &args.out {
        let has_changes = compiled.has_changes();
        SavedPlan::new(
            &args.plan,
            out,
            &bytes,
            &target.base_url,
            live,
            compiled,
            fingerprinter,
        )
        .write(out)
        .or_failed()?;
        return Ok(exit_code(args.detailed_exitcode, has_changes));
    }
    Ok(exit_code(args.detailed_exitcode, compiled.has_changes()))
}

fn exit_code(detailed: bool, has_changes: bool) -> Outcome {
    if detailed && has_changes {
        Outcome::Changes
    } else {
        Outcome::Success
    }
}
