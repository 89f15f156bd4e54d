//! Shell completions and the man page, generated from the command line's own definition, so
//! they can never disagree with `--help`.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::exit::{Failure, OrExit, Outcome};
use super::output;

/// Arguments of `relinker completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script for a shell.
pub(crate) fn completions(args: &CompletionsArgs) -> Outcome {
    let mut command = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "relinker", &mut script);
    output::show(&String::from_utf8_lossy(&script));
    Outcome::Success
}

/// Prints the man page (roff), `relinker(1)`.
pub(crate) fn man() -> Result<Outcome, Failure> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut page)
        .or_failed()?;
    output::show(&String::from_utf8_lossy(&page));
    Ok(Outcome::Success)
}
