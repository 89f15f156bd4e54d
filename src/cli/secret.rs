//! `relinker secret generate --provider dotdigital --out FILE`: a new password that meets the
//! platform's rules, written to a file only its owner can read (0600) and never printed, so a
//! plan can reference it (`${file:FILE}`) and a person can paste it into the platform's UI.
//! The file is written whole or not at all, and an existing one is kept unless `--force`: it
//! may hold a password an integration still uses.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};

use super::exit::{Failure, OrExit, Outcome};
use super::run::say;
use crate::plan::ProviderKind;
use crate::provider::dotdigital::password;

/// Options of `relinker secret`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    command: SecretCommand,
}

#[derive(Debug, Subcommand)]
enum SecretCommand {
    /// Write a new password that meets the platform's rules to a 0600 file, without printing it.
    Generate(GenerateArgs),
}

/// Options of `relinker secret generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The platform whose rules the password meets: dotdigital.
    #[arg(long, value_name = "PROVIDER", value_parser = provider)]
    provider: ProviderKind,
    /// The file to write (mode 0600).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

fn provider(text: &str) -> Result<ProviderKind, String> {
    ProviderKind::from_name(text.trim()).ok_or_else(|| {
        format!(
            "`{text}` is not a provider relinker knows: {}",
            ProviderKind::listed()
        )
    })
}

/// Runs `relinker secret`.
pub fn run(args: &SecretArgs) -> Result<Outcome, Failure> {
    match &args.command {
        SecretCommand::Generate(args) => generate(args),
    }
}

fn generate(args: &GenerateArgs) -> Result<Outcome, Failure> {
    let secret = match args.provider {
        ProviderKind::Dotdigital => password::generate(),
        ProviderKind::Marketo => {
            return Err(anyhow!(
                "Marketo's API-only users have no password: their services hold a client id and secret, which relinker never changes"
            ))
            .or_invalid_input();
        }
        ProviderKind::Movius => {
            return Err(anyhow!(
                "Movius chooses its API users' passwords and emails them: store the emailed one where the plan's `login:` references it"
            ))
            .or_invalid_input();
        }
    };
    let out = &args.out;
    let shown = out.display();
    if let Some(problem) = crate::paths::output_file_problem(out) {
        return Err(anyhow!("cannot write `{shown}`: {problem}")).or_invalid_input();
    }
    let folder = crate::paths::parent(out);
    if !args.force && out.exists() {
        return Err(anyhow!(
            "`{shown}` exists and may hold a password in use; choose another file, or --force to replace it"
        ))
        .or_invalid_input();
    }
    // A temporary file is created 0600 beside the target, then renamed over it: never a
    // half-written password, never one readable by others even for a moment.
    let mut file = tempfile::Builder::new()
        .prefix(".relinker-secret-")
        .tempfile_in(folder)
        .with_context(|| format!("cannot write in `{}`", folder.display()))
        .or_invalid_input()?;
    file.write_all(secret.expose().as_bytes())
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write `{shown}`"))
        .or_failed()?;
    let persisted = if args.force {
        file.persist(out).map(|_| ())
    } else {
        file.persist_noclobber(out).map(|_| ())
    };
    persisted
        .map_err(|e| anyhow!("cannot write `{shown}`: {}", e.error))
        .or_invalid_input()?;
    say(&format!(
        "wrote a new dotdigital password to {shown} (mode 0600, {} characters, never printed); reference it as `${{file:{shown}}}`",
        password::GENERATED_LENGTH
    ));
    Ok(Outcome::Success)
}
