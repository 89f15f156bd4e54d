//! Logging setup: tracing to stderr, level from `-v`/`-q` or `RUST_LOG`, text or JSON lines.

use std::ffi::OsStr;
use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. `RUST_LOG` wins over the verbosity flags when set.
pub fn init(verbose: u8, quiet: u8, format: LogFormat) {
    let level = match i16::from(verbose) - i16::from(quiet) {
        i16::MIN..=-2 => "off",
        -1 => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("relinker={level}")));
    // The AWS signer traces the canonical request it signs, session token included: never
    // shown, whatever `RUST_LOG` asks for (docs/secrets.md).
    let filter = match "aws_sigv4=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    super::output::stderr_json(format == LogFormat::Json);
    let colour = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR").as_deref(),
        std::env::var_os("CLICOLOR_FORCE").as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling `run` twice in one process) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).with_ansi(colour).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// Whether log lines carry colour codes: on a terminal, unless `NO_COLOR` is set (no-color.org);
/// anywhere when `CLICOLOR_FORCE` is set and not `0` (bixense.com/clicolors). `NO_COLOR` wins.
fn colour(terminal: bool, no_color: Option<&OsStr>, force: Option<&OsStr>) -> bool {
    let set = |value: Option<&OsStr>| value.is_some_and(|v| !v.is_empty());
    if set(no_color) {
        return false;
    }
    if set(force) && force != Some(OsStr::new("0")) {
        return true;
    }
    terminal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_terminal_no_color_and_clicolor_force() {
        let some = |v: &'static str| Some(OsStr::new(v));
        assert!(colour(true, None, None));
        assert!(!colour(false, None, None));
        assert!(!colour(true, some("1"), None));
        assert!(colour(true, some(""), None), "an empty NO_COLOR is unset");
        assert!(colour(false, None, some("1")));
        assert!(!colour(false, None, some("0")));
        assert!(!colour(false, some("1"), some("1")), "NO_COLOR wins");
    }
}
