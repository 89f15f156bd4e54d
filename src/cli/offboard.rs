//! `relinker offboard`: scan for API users tied to departed people; write a plan for each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::{Args, ValueEnum};
use serde_json::json;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{RetryArgs, say};
use super::target;
use crate::offboard::{self, Config, Departed};
use crate::secret::Fingerprinter;

/// Output format of the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// For a terminal.
    #[default]
    Text,
    /// For a pull request.
    Markdown,
    /// For machines.
    Json,
}

/// Options of `relinker offboard`.
#[derive(Debug, Args)]
pub struct OffboardArgs {
    /// The offboarding config (instance, services, naming rule, strategy, protected users, limits).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Who left: a CSV with an `email` column, or one address (or `@domain`) per line.
    #[arg(long, value_name = "FILE")]
    departed: PathBuf,
    /// Folder for the plans and `report.md`.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Format of the report on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    format: ReportFormat,
    /// Rehearse: scan an embedded sandbox seeded from the config's `sandbox.fixture` (such as
    /// one `relinker sandbox --from-live` wrote), not the live instance.
    #[arg(long)]
    sandbox: bool,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    runner: super::trust::RunnerArgs,
}

/// Where a scan reads: the live instance, or an embedded sandbox kept alive while it runs.
struct Scanned {
    base_url: String,
    credentials: crate::provider::marketo::Credentials,
    /// For the report: what was scanned.
    described: String,
    _sandbox: Option<crate::sandbox::SandboxHandle>,
}

impl Scanned {
    async fn connect(
        config: &Config,
        config_path: &std::path::Path,
        use_sandbox: bool,
    ) -> Result<Self, Failure> {
        if !use_sandbox {
            let credentials = crate::provider::marketo::resolve_credentials(
                &config.instance,
                &config.services,
                &config.base_dir,
                &Fingerprinter::fresh(),
            )
            .or_invalid_input()?;
            return Ok(Self {
                base_url: config.instance.base_url.clone(),
                credentials,
                described: format!("`{}`", config.instance.base_url),
                _sandbox: None,
            });
        }
        let path = config
            .sandbox_fixture
            .as_ref()
            .ok_or_else(|| {
                anyhow!(
                    "config `{}` has no `sandbox.fixture`, which --sandbox needs",
                    config_path.display()
                )
            })
            .or_invalid_input()?
            .existing()
            .map_err(crate::offboard::ConfigError::Invalid)
            .or_invalid_input()?;
        let text = target::fixture_for(
            path,
            crate::plan::ProviderKind::Marketo,
            "the offboarding config",
        )?;
        let (handle, credentials) = target::marketo_sandbox(
            path,
            &text,
            &config.services,
            "the config",
            &Fingerprinter::fresh(),
        )
        .await?;
        Ok(Self {
            base_url: handle.base_url(),
            credentials,
            described: format!(
                "the sandbox seeded from `{}` (a rehearsal: `{}` was not read)",
                crate::paths::relative(path, &config.base_dir).display(),
                config.instance.base_url
            ),
            _sandbox: Some(handle),
        })
    }
}

/// Scans and writes.
pub async fn run(args: &OffboardArgs) -> Result<Outcome, Failure> {
    if let Some(problem) = crate::paths::output_dir_problem(&args.out) {
        return Err(anyhow!("--out: {problem}")).or_invalid_input();
    }
    let config = Config::load(&args.config).or_invalid_input()?;
    // The runner decides what the config may reach and read, before anything is.
    args.runner.admit_file(
        &args.config,
        (
            crate::plan::ProviderKind::Marketo,
            &config.instance.base_url,
        ),
    )?;
    let departed = Departed::load(&args.departed).or_invalid_input()?;
    let scanned = Scanned::connect(&config, &args.config, args.sandbox).await?;
    let client = target::marketo_client(
        &config.instance,
        &scanned.base_url,
        &scanned.credentials,
        args.retry.policy(),
    )?;
    // The scan reads the user list page by page: its progress is the calls it makes.
    let tally = std::sync::Arc::new(crate::provider::ReadTally::new());
    let reading = super::reading::start("users", tally, &client, config.instance.daily_quota);
    let scan = offboard::scan(&client, &config, &departed, &scanned.credentials).await;
    reading.finish();
    let scan = scan.context("the scan failed").or_failed()?;

    let limit = config.max_rotations.allows(scan.api_users);
    if scan.matched.len() > limit {
        return Err(anyhow!(
            "{} users would be rotated, more than `max_rotations` allows ({limit} of {} API-only users); nothing was written",
            scan.matched.len(),
            scan.api_users
        ))
        .or_failed();
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create `{}`", args.out.display()))
        .or_failed()?;
    let mut files = Vec::new();
    for finding in &scan.matched {
        let name = format!("{}.yaml", offboard::plan_name(&finding.userid));
        offboard::write_atomically(
            &args.out.join(&name),
            offboard::plan(&config, finding, &args.out).as_bytes(),
        )
        .or_failed()?;
        files.push((name, finding));
    }
    // Plans for users no longer affected go, so the folder always matches the latest scan;
    // only plans a scan wrote (their first line says so), never a file a person put there.
    let written: BTreeSet<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for entry in std::fs::read_dir(&args.out).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_plan = std::path::Path::new(&name)
            .extension()
            .is_some_and(|ext| ext == "yaml");
        if is_plan && !written.contains(name.as_str()) && offboard::is_generated(&entry.path()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove the stale plan `{name}`"))
                .or_failed()?;
        }
    }
    let markdown = offboard::report_markdown(&scan, &config, &scanned.described, &files);
    offboard::write_atomically(&args.out.join("report.md"), markdown.as_bytes()).or_failed()?;

    print_report(args, &config, &scan, &files, &markdown);
    Ok(Outcome::Success)
}

fn print_report(
    args: &OffboardArgs,
    config: &Config,
    scan: &offboard::Scan,
    files: &[(String, &offboard::Finding)],
    markdown: &str,
) {
    match args.format {
        ReportFormat::Markdown => say(markdown),
        ReportFormat::Json => {
            let plans: Vec<_> = files
                .iter()
                .map(|(file, f)| {
                    json!({
                        "file": file,
                        "userid": f.userid,
                        "services": f.services,
                        "moves_to": offboard::moves_to(config, f),
                        "moves_to_by_service": offboard::destinations(config, f)
                            .into_iter()
                            .collect::<std::collections::BTreeMap<_, _>>(),
                        "calls_last_7_days": f.calls_last_7_days,
                        "matched_by": f.matched_by,
                    })
                })
                .collect();
            let value = json!({
                "format_version": 1,
                "users": scan.users,
                "api_users": scan.api_users,
                "plans": plans,
                "unlinked": scan.unlinked,
                "protected": scan.protected,
                "unmatched": scan.unmatched,
                "warnings": scan.warnings,
            });
            say(&serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        ReportFormat::Text => {
            say(&format!(
                "scanned {} users ({} API-only); {} plan(s) written to {}",
                scan.users,
                scan.api_users,
                files.len(),
                args.out.display()
            ));
            for (file, finding) in files {
                say(&format!(
                    "  {file}: `{}` ({}) -> `{}`; calls in the last 7 days: {}",
                    finding.userid,
                    finding.services.join(", "),
                    offboard::moves_to(config, finding),
                    offboard::calls(finding)
                ));
            }
            for finding in &scan.unlinked {
                if finding.still_calling() {
                    say(&format!(
                        "  STILL CALLING: `{}` is tied to someone who left and linked to no known service, yet made {} calls in the last 7 days: an integration relinker has no credentials for depends on it",
                        finding.userid,
                        offboard::calls(finding)
                    ));
                } else {
                    say(&format!(
                        "  check in the UI: `{}` is tied to someone who left but linked to no known service; calls in the last 7 days: {}",
                        finding.userid,
                        offboard::calls(finding)
                    ));
                }
            }
            for userid in &scan.protected {
                say(&format!("  protected, skipped: `{userid}`"));
            }
            for warning in &scan.warnings {
                say(&format!("  warning: {warning}"));
            }
        }
    }
}
