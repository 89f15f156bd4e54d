//! `relinker sandbox`: serve a platform's emulator until interrupted. The fixture says which
//! platform it seeds (`provider:`); `--provider` picks the built-in fixture of one.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow};
use axum::Router;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use crate::limits::{RateLimit, parse_duration};
use crate::plan::ProviderKind;
use crate::sandbox::{Emulator, Notation, dotdigital, marketo, movius};

/// The built-in fixtures: plans/fixtures/.
const MARKETO_FIXTURE: &str = include_str!("../../plans/fixtures/acme.yaml");
const DOTDIGITAL_FIXTURE: &str = include_str!("../../plans/fixtures/dotdigital.yaml");
const MOVIUS_FIXTURE: &str = include_str!("../../plans/fixtures/movius.yaml");

/// Options of `relinker sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "HOST:PORT")]
    listen: String,
    /// The platform to emulate, with its built-in fixture: marketo, dotdigital or movius
    /// [default: the fixture's `provider:`, or marketo].
    #[arg(long, value_name = "PROVIDER", value_parser = provider)]
    provider: Option<ProviderKind>,
    /// Fixture to seed the sandbox from [default: the provider's built-in fixture].
    #[arg(long, value_name = "FILE")]
    fixture: Option<PathBuf>,
    /// Calls allowed per window: Marketo's sliding window before 606 [default: 100/20s];
    /// dotdigital's per-account window before 429 [default: the fixture's].
    #[arg(long, value_name = "CALLS/WINDOW")]
    rate_limit: Option<RateLimit>,
    /// Marketo: calls allowed in flight before answering 615 [default: 10].
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// Marketo: calls allowed per US Central day before answering 607 [default: 50000].
    #[arg(long, value_name = "N")]
    daily_quota: Option<u64>,
    /// Marketo: lifetime of an access token (`3600s`, `60m`, `1h`) [default: 3600s].
    #[arg(long, value_parser = duration, value_name = "DURATION")]
    token_ttl: Option<Duration>,
    /// Marketo and dotdigital: a reading of what the reference leaves open, over the fixture's
    /// (`token-scope-after-relink=minted`, `rate-limit-scheme=flat`); repeatable.
    /// docs/sandbox.md lists them.
    #[arg(long = "behaviour", value_name = "KEY=VALUE")]
    behaviours: Vec<String>,
    /// Instead of serving: copy the live Marketo instance a plan or an offboarding config names
    /// (reads only) into a fixture at --out, for rehearsing plans against production's users,
    /// roles and links.
    #[arg(
        long,
        value_name = "PLAN_OR_CONFIG",
        requires = "out",
        conflicts_with_all = ["listen", "provider", "fixture", "rate_limit", "concurrency", "daily_quota", "token_ttl", "behaviours"]
    )]
    from_live: Option<PathBuf>,
    /// The fixture --from-live writes: JSON when its name ends in `.json` (a large copy loads
    /// many times faster), YAML otherwise.
    #[arg(long, value_name = "FIXTURE", requires = "from_live")]
    out: Option<PathBuf>,
    #[command(flatten)]
    retry: super::run::RetryArgs,
    #[command(flatten)]
    quota: super::reading::QuotaArgs,
    #[command(flatten)]
    runner: super::trust::RunnerArgs,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok_or_else(|| format!("`{text}` is not a duration such as 250ms, 20s, 30m or 1h"))
}

fn provider(text: &str) -> Result<ProviderKind, String> {
    ProviderKind::from_name(text.trim()).ok_or_else(|| {
        format!(
            "`{text}` is not a provider relinker knows: {}",
            ProviderKind::listed()
        )
    })
}

/// The fixture to serve: its text, where it came from, and the platform it seeds.
fn fixture(args: &SandboxArgs) -> Result<(String, String, ProviderKind), Failure> {
    let Some(path) = &args.fixture else {
        let provider = args.provider.unwrap_or(ProviderKind::Marketo);
        let text = match provider {
            ProviderKind::Marketo => MARKETO_FIXTURE,
            ProviderKind::Dotdigital => DOTDIGITAL_FIXTURE,
            ProviderKind::Movius => MOVIUS_FIXTURE,
        };
        return Ok((
            text.to_owned(),
            format!("built-in {provider} fixture"),
            provider,
        ));
    };
    let origin = path.display().to_string();
    let text = crate::sandbox::fixture_text(path).or_invalid_input()?;
    let seeds = crate::sandbox::provider_of(&text, &origin).or_invalid_input()?;
    let seeds = ProviderKind::from_name(&seeds)
        .ok_or_else(|| {
            anyhow!("fixture `{origin}`: `provider: {seeds}` is not a provider relinker knows")
        })
        .or_invalid_input()?;
    if let Some(asked) = args.provider
        && asked != seeds
    {
        return Err(anyhow!(
            "fixture `{origin}` seeds a {seeds} sandbox, not {asked}"
        ))
        .or_invalid_input();
    }
    Ok((text, origin, seeds))
}

/// Options that only Marketo's emulator takes, given for another.
fn marketo_only(args: &SandboxArgs) -> Option<&'static str> {
    if args.concurrency.is_some() {
        Some("--concurrency")
    } else if args.daily_quota.is_some() {
        Some("--daily-quota")
    } else if args.token_ttl.is_some() {
        Some("--token-ttl")
    } else {
        None
    }
}

/// `--behaviour` values read as the emulator's settings: each platform has its own keys.
fn settings<T>(given: &[String]) -> Result<Vec<T>, Failure>
where
    T: std::str::FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    given
        .iter()
        .map(|text| text.parse::<T>())
        .collect::<Result<Vec<T>, _>>()
        .context("--behaviour")
        .or_invalid_input()
}

/// The emulator's routes, seeded from the fixture.
fn emulator(args: &SandboxArgs) -> Result<(Router, ProviderKind), Failure> {
    let (text, origin, provider) = fixture(args)?;
    if provider != ProviderKind::Marketo
        && let Some(option) = marketo_only(args)
    {
        return Err(anyhow!("{option} applies to Marketo's emulator only")).or_invalid_input();
    }
    let router = match provider {
        ProviderKind::Marketo => {
            if args.concurrency == Some(0) {
                return Err(anyhow!("--concurrency must be at least 1")).or_invalid_input();
            }
            if args.token_ttl.is_some_and(|ttl| ttl.is_zero()) {
                return Err(anyhow!(
                    "--token-ttl must be longer than 0: every token would be expired when issued"
                ))
                .or_invalid_input();
            }
            let defaults = marketo::SandboxConfig::default();
            let config = marketo::SandboxConfig {
                rate_limit: args.rate_limit.unwrap_or(defaults.rate_limit),
                concurrency: args.concurrency.unwrap_or(defaults.concurrency),
                daily_quota: args.daily_quota.unwrap_or(defaults.daily_quota),
                token_ttl: args.token_ttl.unwrap_or(defaults.token_ttl),
                behaviours: settings::<marketo::Setting>(&args.behaviours)?,
            };
            let fixture = marketo::Fixture::parse(&text, &origin).or_invalid_input()?;
            marketo::Sandbox::new(config, &fixture).router()
        }
        ProviderKind::Dotdigital => {
            let mut fixture = dotdigital::Fixture::parse(&text, &origin).or_invalid_input()?;
            if let Some(rate) = args.rate_limit {
                fixture.set_rate_limit(rate);
            }
            fixture.set_behaviours(&settings::<dotdigital::Setting>(&args.behaviours)?);
            dotdigital::Sandbox::new(&fixture).router()
        }
        ProviderKind::Movius => {
            if args.rate_limit.is_some() || !args.behaviours.is_empty() {
                return Err(anyhow!(
                    "--rate-limit and --behaviour do not apply to Movius's emulator: it has no API"
                ))
                .or_invalid_input();
            }
            let fixture = movius::Fixture::parse(&text, &origin).or_invalid_input()?;
            movius::Sandbox::new(&fixture).router()
        }
    };
    Ok((router, provider))
}

/// Serves until SIGINT or SIGTERM; or, with --from-live, writes a fixture and exits.
pub async fn run(args: SandboxArgs) -> Result<Outcome, Failure> {
    if let (Some(source), Some(out)) = (&args.from_live, &args.out) {
        return from_live(source, out, &args.retry, &args.quota, &args.runner).await;
    }
    let (router, provider) = emulator(&args)?;
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
    let _ = writeln!(stdout, "emulating {provider}");
    let _ = stdout.flush();
    drop(stdout);
    if !address.ip().is_loopback() {
        // The control API plays the person: it relinks services, loads fixtures and dumps
        // state, fixture secrets included, to whoever asks.
        super::output::warn(&format!(
            "warning: listening on {address}, which is not a loopback address: the sandbox's control API (`/_sandbox/`: fixtures, relinks, state with the fixture's secrets) is unauthenticated, and anyone who can reach this address can use it; listen on 127.0.0.1 unless that is what you want"
        ));
    }
    crate::sandbox::serve(listener, router, shutdown_signal())
        .await
        .context("sandbox server failed")
        .or_failed()?;
    Ok(Outcome::Success)
}

/// A YAML copy larger than this (about 11,000 users, each with a week of calls) takes a third of
/// a second or more to load, so `--from-live` points at the JSON notation.
const LARGE_YAML_COPY: u64 = 4 * 1024 * 1024;

/// Copies the live instance into a fixture at `out`. The fixture is read back before it is
/// written, so what lands on disk always seeds a sandbox.
async fn from_live(
    source: &std::path::Path,
    out: &std::path::Path,
    retry: &super::run::RetryArgs,
    quota: &super::reading::QuotaArgs,
    runner: &super::trust::RunnerArgs,
) -> Result<Outcome, Failure> {
    if let Some(problem) = crate::paths::output_file_problem(out) {
        return Err(anyhow!("--out: {problem}")).or_invalid_input();
    }
    let (instance, services, base_dir) =
        super::target::marketo_source(source, "sandbox --from-live", runner)?;
    let credentials = crate::provider::marketo::resolve_credentials(
        &instance,
        &services,
        &base_dir,
        &crate::secret::Fingerprinter::fresh(),
    )
    .or_invalid_input()?;
    let client =
        super::target::marketo_client(&instance, &instance.base_url, &credentials, retry.policy())?;
    let listing = crate::provider::marketo::Api::all_users(&client)
        .await
        .map_err(|error| anyhow!("cannot read the instance: {error}"))
        .or_failed()?;
    // One read per user, one per known service, roles, workspaces, the admin service's user,
    // the usage statistics.
    let calls = u64::try_from(listing.len() + services.len() + 4).unwrap_or(u64::MAX);
    super::reading::weigh(&client, calls, instance.daily_quota, quota).await?;
    let tally = std::sync::Arc::new(crate::provider::ReadTally::new());
    let reading = super::reading::start(
        "users",
        std::sync::Arc::clone(&tally),
        &client,
        instance.daily_quota,
    );
    let mirror =
        crate::provider::marketo::mirror::mirror(&client, &credentials, &listing, &tally).await;
    reading.finish();
    let mirror = mirror
        .map_err(|error| anyhow!("cannot read the instance: {error}"))
        .or_failed()?;
    let today = crate::provider::marketo::quota::quota_day(chrono::Utc::now());
    let notation = if out
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
    {
        Notation::Json
    } else {
        Notation::Yaml
    };
    let (text, left_out) = crate::rehearsal::fixture_from(
        &mirror,
        &format!("`{}`", instance.base_url),
        today,
        notation,
    );
    let origin = out.display().to_string();
    let limit = crate::input::Kind::Fixture.limit();
    if text.len() as u64 > limit {
        // Written, it would be refused by every command that loads it.
        return Err(anyhow!(
            "the copy of {} users would be {} bytes, larger than {} MiB, the most relinker reads of a fixture; `{origin}` was not written",
            mirror.users.len(),
            text.len(),
            limit / (1024 * 1024)
        ))
        .or_failed();
    }
    marketo::Fixture::parse(&text, &origin)
        .map_err(|error| anyhow!("the copy does not seed a sandbox (a relinker bug): {error}"))
        .or_failed()?;
    crate::paths::write_atomically(out, text.as_bytes())
        .with_context(|| format!("cannot write `{origin}`"))
        .or_failed()?;
    for warning in mirror.warnings.iter().chain(&left_out) {
        super::output::warn(&format!("warning: {warning}"));
    }
    if notation == Notation::Yaml && text.len() as u64 > LARGE_YAML_COPY {
        let tenths = text.len() as u64 * 10 / (1024 * 1024);
        super::output::note(&format!(
            "note: `{origin}` is {}.{} MiB of YAML; a copy written to a `.json` file (`--out {}`) loads several times faster (docs/sandbox.md, \"A copy of production\")",
            tenths / 10,
            tenths % 10,
            out.with_extension("json").display()
        ));
    }
    super::run::say(&format!(
        "wrote {origin}: {} users, {} roles, {} workspaces, {} known services and relinker's admin service, from {}",
        mirror.users.len(),
        mirror.roles.len(),
        mirror.workspaces.len(),
        mirror.services.len(),
        instance.base_url
    ));
    // A plan names its fixture relative to itself.
    let from_source = crate::paths::relative(out, &base_dir);
    super::run::say(&format!(
        "rehearse with `sandbox: {{ fixture: {} }}` in `{}`, then `relinker apply {} --sandbox` (or, for an offboarding config, `relinker offboard ... --sandbox`)",
        from_source.display(),
        source.display(),
        source.display()
    ));
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
