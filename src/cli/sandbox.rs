//! `relinker sandbox`: serve the Marketo emulator until interrupted.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use crate::limits::{RateLimit, parse_duration};
use crate::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};

/// The fixture served when none is given: plans/fixtures/acme.yaml.
pub(crate) const DEFAULT_FIXTURE: &str = include_str!("../../plans/fixtures/acme.yaml");

/// Options of `relinker sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    listen: String,
    /// Fixture to seed the instance from [default: the built-in acme fixture].
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Calls allowed per sliding window before answering 606.
    #[arg(long, default_value = "100/20s", value_name = "CALLS/WINDOW")]
    rate_limit: RateLimit,
    /// Calls allowed in flight before answering 615.
    #[arg(long, default_value_t = 10, value_name = "N")]
    concurrency: usize,
    /// Calls allowed per US Central day before answering 607.
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    daily_quota: u64,
    /// Lifetime of an access token (`3600`, `3600s`, `60m`, `1h`).
    #[arg(long, default_value = "3600s", value_parser = duration, value_name = "DURATION")]
    token_ttl: Duration,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 250ms, 20s, 30m or 1h"))
}

/// Loads the fixture named on the command line, or the built-in one.
pub(crate) fn load_fixture(path: Option<&std::path::Path>) -> Result<Fixture, Failure> {
    match path {
        Some(path) => Fixture::load(path).or_invalid_input(),
        None => Fixture::parse(DEFAULT_FIXTURE, "built-in acme fixture").or_invalid_input(),
    }
}

/// Serves until SIGINT or SIGTERM.
pub async fn run(args: SandboxArgs) -> Result<Outcome, Failure> {
    if args.concurrency == 0 {
        return Err(anyhow::anyhow!("--concurrency must be at least 1")).or_invalid_input();
    }
    let fixture = load_fixture(args.fixture.as_deref())?;
    let config = SandboxConfig {
        rate_limit: args.rate_limit,
        concurrency: args.concurrency,
        daily_quota: args.daily_quota,
        token_ttl: args.token_ttl,
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.listen))
        .or_invalid_input()?;
    let address = listener
        .local_addr()
        .context("listener has no address")
        .or_failed()?;
    let mut stdout = std::io::stdout().lock();
    // The first line is a contract: scripts and tests read the port from it.
    let _ = writeln!(stdout, "listening on http://{address}");
    let _ = stdout.flush();
    drop(stdout);
    let sandbox = Sandbox::new(config, &fixture);
    crate::sandbox::serve(
        listener,
        crate::sandbox::Emulator::router(sandbox),
        shutdown_signal(),
    )
    .await
    .context("sandbox server failed")
    .or_failed()?;
    Ok(Outcome::Success)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut terminate) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
