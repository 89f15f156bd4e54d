//! `relinker plan PLAN`: read live state (reads only), compile, and show what would happen.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::render::{self, Format, PlanView};
use super::target;
use crate::plan::{self, PlanError, SAVED_FORMAT_VERSION, SavedPlan};
use crate::secret::Fingerprint;

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
}

/// Reads and validates a plan file, keeping its bytes for fingerprints.
pub(crate) fn load(path: &std::path::Path) -> Result<(plan::Plan, Vec<u8>), Failure> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read plan `{}`", path.display()))
        .or_invalid_input()?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("plan `{}` is not UTF-8 text", path.display()))
        .or_invalid_input()?;
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    match plan::parse(&text, &path.display().to_string(), base) {
        Ok(plan) => Ok((plan, bytes)),
        Err(PlanError::Invalid(diagnostics)) => {
            Err(anyhow::anyhow!("{diagnostics}")).or_invalid_input()
        }
        Err(error) => Err(error).or_invalid_input(),
    }
}

/// Plans and prints.
pub async fn run(args: &PlanArgs) -> Result<Outcome, Failure> {
    let (plan, bytes) = load(&args.plan)?;
    let target = target::connect(&plan, args.sandbox).await?;
    let live = plan::observe(&target.client, &plan, &target.credentials)
        .await
        .context("cannot read live state")
        .or_failed()?;
    let compiled = plan::compile(&plan, &live);
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
        apply_command,
    };
    let rendered = match args.format {
        Format::Text => render::text(&view),
        Format::Markdown => render::markdown(&view),
        Format::Json => format!("{:#}\n", render::json(&view)),
    };
    // A closed pipe (`| head`) is not an error.
    let _ = std::io::stdout().lock().write_all(rendered.as_bytes());
    if !compiled.conflicts.is_empty() {
        if args.out.is_some() {
            eprintln!("the plan has conflicts; nothing was saved");
        }
        return Ok(Outcome::Failed);
    }
    if let Some(out) = &args.out {
        let saved = SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            plan_file: args.plan.display().to_string(),
            plan_sha256: Fingerprint::of(&bytes),
            plan_text: String::from_utf8_lossy(&bytes).into_owned(),
            instance: target.base_url.clone(),
            live_fingerprint: live.fingerprint(),
            compiled: compiled.clone(),
        };
        saved.write(out).or_failed()?;
    }
    Ok(match (args.detailed_exitcode, compiled.has_changes()) {
        (true, true) => Outcome::Changes,
        _ => Outcome::Success,
    })
}
