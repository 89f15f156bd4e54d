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

/// The variable through which a shell asks relinker what to complete.
const COMPLETE: &str = "COMPLETE";

/// Prints the completion script for a shell. The script asks relinker itself at each Tab
/// (`COMPLETE=SHELL relinker -- …`), so it completes what only a run knows, the run ids of the
/// state store, as well as every command and option; relinker must be on `PATH`.
pub(crate) fn completions(args: &CompletionsArgs) -> Outcome {
    use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
    let shell: &dyn EnvCompleter = match args.shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
        Shell::PowerShell => &Powershell,
        Shell::Elvish => &Elvish,
        // `Shell` is non-exhaustive; the static script serves a shell added later.
        _ => {
            let mut script = Vec::new();
            clap_complete::generate(
                args.shell,
                &mut super::Cli::command(),
                "relinker",
                &mut script,
            );
            output::show(&String::from_utf8_lossy(&script));
            return Outcome::Success;
        }
    };
    let mut script = Vec::new();
    match shell.write_registration(COMPLETE, "relinker", "relinker", "relinker", &mut script) {
        Ok(()) => {
            output::show(&String::from_utf8_lossy(&script));
            Outcome::Success
        }
        Err(error) => {
            output::warn(&format!(
                "error: cannot write the completion script: {error}"
            ));
            Outcome::Failed
        }
    }
}

/// Answers a shell's completion request, if this process is one (`COMPLETE` is set): `true`
/// when it was, and the answer is printed.
pub(crate) fn answer(args: &[std::ffi::OsString]) -> Result<bool, clap::Error> {
    clap_complete::CompleteEnv::with_factory(super::Cli::command)
        .var(COMPLETE)
        .try_complete(
            args.iter().cloned(),
            std::env::current_dir().ok().as_deref(),
        )
}

/// Arguments of `relinker man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (`apply`, `state migrate`); relinker(1) when absent.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    command: Vec<String>,
    /// Write every page (relinker.1, relinker-apply.1, …) into this folder instead, for
    /// `MANPATH` or a package.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    out: Option<std::path::PathBuf>,
}

/// Prints one man page (roff), or writes them all. Every page relinker(1) refers to
/// (relinker-apply(1), …) is one of them.
pub(crate) fn man(args: &ManArgs) -> Result<Outcome, Failure> {
    let mut root = super::Cli::command().disable_help_subcommand(true);
    root.build();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(root, dir))
            .map_err(|e| {
                anyhow::anyhow!("cannot write the man pages into `{}`: {e}", dir.display())
            })
            .or_failed()?;
        output::say(&format!("wrote the man pages into {}", dir.display()));
        return Ok(Outcome::Success);
    }
    let mut page_of = root;
    for name in &args.command {
        let Some(sub) = page_of.find_subcommand(name).cloned() else {
            return Err(anyhow::anyhow!(
                "`{}` is not a relinker command; `relinker --help` lists them",
                args.command.join(" ")
            ))
            .or_invalid_input();
        };
        page_of = sub;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(page_of)
        .render(&mut page)
        .or_failed()?;
    output::show(&String::from_utf8_lossy(&page));
    Ok(Outcome::Success)
}
