//! `--runner-config FILE` (or `RELINKER_RUNNER_CONFIG`): which instances, secret references and
//! check programs the plans this runner is given may use ([`crate::runner`]). Every command
//! that reads a plan or an offboarding config and then reaches out checks it first; without a
//! runner configuration the file's own values are trusted, and the command says so once.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit};
use crate::plan::{Plan, ProviderKind};
use crate::provider::command::CheckCommands;
use crate::runner::{Runner, RunnerError};

/// Where the runner's configuration is.
#[derive(Debug, Args)]
pub struct RunnerArgs {
    /// The runner configuration: the instances, secret references and check programs plans
    /// may use (docs/security.md). A plan naming anything else is refused before any request.
    /// Without one, a plan's own hosts, references and programs are trusted.
    #[arg(long, env = "RELINKER_RUNNER_CONFIG", value_name = "FILE")]
    runner_config: Option<PathBuf>,
}

impl RunnerArgs {
    /// The runner configuration, if one is given.
    /// Its secret stores are declared for the rest of the command ([`crate::stores::install`]):
    /// every `${store:…}` reference the command resolves, wherever, reads through them.
    pub(crate) fn runner(&self) -> Result<Option<Runner>, Failure> {
        let runner = self
            .runner_config
            .as_deref()
            .map(|path| Runner::load(path).map_err(runner_failure))
            .transpose()?;
        if let Some(runner) = &runner {
            crate::stores::install(runner.stores());
        }
        Ok(runner)
    }

    /// Checks the file at `path` (a plan or an offboarding config), acting on `instance`,
    /// against the runner configuration before anything reaches out: see [`admit`].
    pub(crate) fn admit_file(
        &self,
        path: &Path,
        instance: (ProviderKind, &str),
    ) -> Result<Option<Runner>, Failure> {
        let text = crate::input::read_text(path, crate::input::Kind::Plan).or_invalid_input()?;
        let runner = self.runner()?;
        admit(
            runner.as_ref(),
            &text,
            &path.display().to_string(),
            crate::paths::parent(path),
            Some(instance),
        )?;
        Ok(runner)
    }
}

/// Checks a plan (its text `bytes`, read from `origin`) against `runner`: see [`admit`].
pub(crate) fn admit_plan(
    runner: Option<&Runner>,
    plan: &Plan,
    bytes: &[u8],
    origin: &str,
) -> Result<(), Failure> {
    admit(
        runner,
        &String::from_utf8_lossy(bytes),
        origin,
        &plan.base_dir,
        plan.base_url().map(|url| (plan.provider(), url)),
    )
}

/// Checks `text` (read from `origin`, its relative paths resolving in `base_dir`) against
/// `runner`; without one, says once that the file's own values are trusted.
pub(crate) fn admit(
    runner: Option<&Runner>,
    text: &str,
    origin: &str,
    base_dir: &Path,
    instance: Option<(ProviderKind, &str)>,
) -> Result<(), Failure> {
    if let Some(runner) = runner {
        return runner
            .admit(text, origin, base_dir, instance)
            .map_err(runner_failure);
    }
    super::output::warn(&format!(
        "note: no runner configuration (--runner-config): the hosts, secret references and check programs `{origin}` names are trusted as they are (docs/security.md)"
    ));
    Ok(())
}

/// Checks the plan a run keeps (verified against the digest the run recorded when it
/// started, and parsed as `plan`) against `runner`: whatever the state store says, the
/// instance it reaches, the references it reads and the programs it runs are still the
/// runner's to allow.
pub(crate) fn admit_run(
    runner: Option<&Runner>,
    run: &crate::journal::Run,
    plan: &Plan,
) -> Result<(), Failure> {
    let bytes = run.plan_bytes().map_err(super::run::journal_failure)?;
    admit_plan(runner, plan, &bytes, &run.plan_label())
}

/// Whether `relinker plan` lets check commands run, by the runner configuration: without one,
/// as before (they run).
pub(crate) fn checks_at_plan(runner: Option<&Runner>) -> CheckCommands {
    match runner {
        Some(runner) if !runner.checks_at_plan() => CheckCommands::NotAtPlanTime,
        _ => CheckCommands::Run,
    }
}

/// A runner configuration that cannot be read, or a file it refuses: bad input (exit 2).
fn runner_failure(error: RunnerError) -> Failure {
    Failure {
        outcome: super::exit::Outcome::InvalidInput,
        error: anyhow!(error),
    }
}
