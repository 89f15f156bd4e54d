//! The command line: clap definitions, one module per subcommand, and the single place where
//! outcomes become exit codes. `anyhow` lives here and in `main`, nowhere deeper.

pub mod abandon;
pub mod apply;
pub mod attest;
pub mod check_credential;
pub mod completions;
mod console;
pub mod doctor;
pub mod exit;
pub mod export;
pub mod inventory;
pub mod logging;
pub mod notice;
pub mod offboard;
mod origin;
mod output;
pub mod plan;
mod progress;
pub mod prune;
mod reading;
mod render;
pub mod resume;
pub mod rollback;
mod run;
pub mod sandbox;
pub mod schema;
pub mod secret;
pub mod show;
pub mod state;
pub mod status;
mod target;
mod trust;
pub mod validate;
mod which;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::{Failure, Outcome};
use logging::LogFormat;

/// Rotate, rename and retire the API-only users SaaS integrations authenticate through,
/// without changing the client id and secret the integrations hold.
#[derive(Debug, Parser)]
#[command(
    name = "relinker",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Less log output.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    quiet: u8,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what a plan would do against live state, changing nothing.
    Plan(plan::PlanArgs),
    /// Show a saved plan (`plan --out`) as it was reviewed, contacting nothing.
    Show(show::ShowArgs),
    /// Plan, show, confirm and run: each plan becomes a resumable run.
    Apply(apply::ApplyArgs),
    /// Continue runs that stopped (crash, kill, pause at a manual step, failure).
    Resume(resume::ResumeArgs),
    /// Undo what a run did, newest first, and only what it did.
    Rollback(rollback::RollbackArgs),
    /// Give up an unfinished run: leave it as it is and free its users for new runs.
    Abandon(abandon::AbandonArgs),
    /// Confirm a step nothing can observe was done (recorded as attested, never as verified).
    Attest(attest::AttestArgs),
    /// Runs and the state of each step.
    Status(status::StatusArgs),
    /// Remove finished runs older than a duration (never unfinished ones).
    Prune(prune::PruneArgs),
    /// One run's whole record as JSON, for an auditor: who, plan, every record, attestations.
    Export(export::ExportArgs),
    /// Manage where runs are kept: `state migrate` moves a directory's runs into PostgreSQL.
    State(state::StateCommandArgs),
    /// Find API users tied to departed people and write a plan for each.
    Offboard(offboard::OffboardArgs),
    /// List every API-only user: email, roles, known services linked to it, recent calls.
    Inventory(inventory::InventoryArgs),
    /// Check plan files without network access or secrets (exit 0 or 2).
    Validate(validate::ValidateArgs),
    /// Preflight a plan, changing nothing: credentials, permissions, hosts, state store, webhook.
    Doctor(doctor::DoctorArgs),
    /// Print the JSON Schema of the plan format.
    Schema,
    /// Check the credential a check command is given against a URL (exit 0 when it authenticates).
    CheckCredential(check_credential::CheckCredentialArgs),
    /// Write a new password a plan references to a 0600 file, never printing it.
    Secret(secret::SecretArgs),
    /// Serve a platform's emulator (Marketo, dotdigital, Movius) for rehearsals.
    Sandbox(sandbox::SandboxArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(completions::CompletionsArgs),
    /// Print a man page as roff: relinker(1), or a command's (`relinker man apply`).
    Man(completions::ManArgs),
}

/// Runs relinker with these arguments and returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // `COMPLETE=bash relinker -- …`: the shell asking what to complete (`relinker completions`).
    match completions::answer(&args) {
        Ok(true) => return Outcome::Success.into(),
        Ok(false) => {}
        Err(error) => {
            output::warn(&format!("error: cannot complete: {error}"));
            return Outcome::InvalidInput.into();
        }
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // Arguments are repeated in clap's message: print it through the same filter.
            let rendered = error.render().to_string();
            if error.use_stderr() {
                output::warn(rendered.trim_end());
            } else {
                output::say(rendered.trim_end());
            }
            return if error.use_stderr() {
                Outcome::InvalidInput.into()
            } else {
                Outcome::Success.into()
            };
        }
    };
    logging::init(cli.verbose, cli.quiet, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            output::warn(&format!("error: cannot start the async runtime: {error}"));
            return Outcome::Failed.into();
        }
    };
    let result = runtime.block_on(dispatch(cli.command));
    // Hung connections (a `hang` fault) must not keep the process alive after the work is done.
    runtime.shutdown_background();
    match result {
        Ok(outcome) => outcome.into(),
        Err(failure) => report(&failure),
    }
}

async fn dispatch(command: Command) -> Result<Outcome, Failure> {
    match command {
        Command::Plan(args) => plan::run(&args).await,
        Command::Show(args) => show::run(&args),
        Command::Apply(args) => apply::run(&args).await,
        Command::Resume(args) => resume::run(&args).await,
        Command::Rollback(args) => rollback::run(&args).await,
        Command::Abandon(args) => abandon::run(&args),
        Command::Attest(args) => attest::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Prune(args) => prune::run(&args),
        Command::Export(args) => export::run(&args),
        Command::State(args) => state::run(&args),
        Command::Offboard(args) => offboard::run(&args).await,
        Command::Inventory(args) => inventory::run(&args).await,
        Command::Validate(args) => validate::run(&args),
        Command::Doctor(args) => doctor::run(&args).await,
        Command::Schema => schema::run(),
        Command::CheckCredential(args) => check_credential::run(&args).await,
        Command::Secret(args) => secret::run(&args),
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Completions(args) => Ok(completions::completions(&args)),
        Command::Man(args) => completions::man(&args),
    }
}

fn report(failure: &Failure) -> ExitCode {
    output::error(&failure.to_string(), failure.outcome.code());
    failure.outcome.into()
}
