//! Where a command's API calls go: the instance a plan names (with its secrets resolved), or
//! an in-process sandbox of the plan's platform seeded from the plan's fixture (`--sandbox`),
//! with the fixture's credentials standing in for the plan's references. The one place that
//! turns a plan's provider into a platform.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow};

use super::exit::{Failure, OrExit};
use crate::ids::ServiceName;
use crate::plan::ProviderKind;
use crate::plan::{
    Plan, Secrets, Spec, dotdigital as plan_dotdigital, marketo as plan_marketo,
    movius as plan_movius,
};
use crate::provider::command::CheckCommands;
use crate::provider::dotdigital::{DotdigitalClient, DotdigitalPlatform};
use crate::provider::marketo::{
    Credentials, MarketoClient, MarketoConfig, MarketoPlatform, ServiceCredentials,
    plan_credentials,
};
use crate::provider::movius::MoviusPlatform;
use crate::provider::{Compiled, Leftovers, LiveState, Platform};
use crate::retry::RetryPolicy;
use crate::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};
use crate::sandbox::{Emulator, SandboxHandle, dotdigital, movius};
use crate::secret::Fingerprinter;

/// The platform a command acts on, and where it lives.
pub(crate) struct Target {
    pub(crate) platform: Box<dyn Platform>,
    pub(crate) base_url: String,
    /// Where the plan's secret references resolve: what the sandbox operator types in.
    pub(crate) secrets: Secrets,
    /// Keeps the embedded sandbox alive for as long as the target is; stops it when dropped.
    pub(crate) sandbox_guard: Option<SandboxHandle>,
}

impl Target {
    /// Reads the live state `plan` depends on (reads only) and compiles the plan against it,
    /// with what abandoned runs left on the instance.
    pub(crate) async fn compile(
        &self,
        plan: &Plan,
        leftovers: &Leftovers,
    ) -> Result<(LiveState, Compiled), Failure> {
        let live = match self.platform.observe(plan).await {
            Ok(live) => live,
            Err(error @ crate::provider::ProviderError::NoAnswer { .. }) => {
                return Err(anyhow!("{error}\n{}", self.where_from(plan)))
                    .context("cannot read live state")
                    .or_failed();
            }
            Err(error) => return Err(error).context("cannot read live state").or_failed(),
        };
        let compiled = crate::provider::compile(plan, &live, leftovers);
        Ok((live, compiled))
    }
}

impl Target {
    /// Refuses, as invalid input pinned to `file:line:col` and the field, what the plan asks
    /// for that the platform would refuse and that can be known before anything runs: on
    /// dotdigital, a new password that can be read now and contains the username it would be
    /// set on. `bytes` is the plan's text, read from `origin`. What cannot be read yet is its
    /// step's to check (the run then pauses).
    pub(crate) fn refuse_known_problems(
        &self,
        plan: &Plan,
        bytes: &[u8],
        origin: &str,
    ) -> Result<(), Failure> {
        let spec = match &plan.spec {
            Spec::Dotdigital(spec) => spec,
            // Nothing else they ask for is known to be refused before a step runs.
            Spec::Marketo(_) | Spec::Movius(_) => return Ok(()),
        };
        let refused = crate::provider::dotdigital::password::refused_in_plan(spec, &self.secrets);
        if refused.is_empty() {
            return Ok(());
        }
        let scalars = crate::diagnostic::shape::scalars(&String::from_utf8_lossy(bytes));
        let problems = refused
            .into_iter()
            .map(|r| {
                let at = scalars
                    .iter()
                    .find(|s| s.field == r.field)
                    .map_or(serde_saphyr::Location::UNKNOWN, |s| s.at);
                crate::diagnostic::Diagnostic::at(at, r.field, r.reason).with_hint(
                    "put another password there: `relinker secret generate --provider dotdigital --out FILE` makes one that meets dotdigital's rules",
                )
            })
            .collect();
        Err(crate::plan::PlanError::Invalid(
            crate::diagnostic::Diagnostics::new(origin, problems),
        ))
        .or_invalid_input()
    }
}

impl Target {
    /// Where the address a host that never answered came from, and what was likely meant.
    fn where_from(&self, plan: &Plan) -> String {
        let mut text = format!(
            "  the address is the plan's `instance.base_url` (plan `{}`, or the runner configuration's instance it names)",
            plan.name
        );
        if self.sandbox_guard.is_none() && plan.sandbox_fixture.is_some() {
            text.push_str(
                "\n  hint: the plan has a `sandbox:` section; did you mean `--sandbox` (a rehearsal)?",
            );
        }
        text
    }
}

/// The clients of one command: one per Marketo instance and admin service, shared by every plan
/// of the command that names it, so they share its token cache, its limiter (the instance's
/// limits are the instance's, whoever calls) and its instance-wide reads. The first plan's
/// `limits` for an instance are the ones kept.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    marketo: std::sync::Mutex<BTreeMap<(String, String), MarketoClient>>,
    /// Whether the plans' check commands run in this command.
    checks: CheckCommands,
}

impl Connections {
    /// Connections for a command whose check commands run as `checks` says.
    pub(crate) fn with_checks(checks: CheckCommands) -> Self {
        Self {
            checks,
            ..Self::default()
        }
    }

    /// The shared client for an instance and admin service, made by `make` the first time.
    fn marketo(
        &self,
        base_url: &str,
        admin_client_id: &str,
        make: impl FnOnce() -> Result<MarketoClient, Failure>,
    ) -> Result<MarketoClient, Failure> {
        let mut clients = self
            .marketo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (base_url.to_owned(), admin_client_id.to_owned());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = make()?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Connects to the plan's instance, or to an embedded sandbox of its platform; the plan's
/// credentials are fingerprinted by `fingerprinter` (a saved plan's, a run's, or a fresh one).
pub(crate) async fn connect(
    plan: &Plan,
    use_sandbox: bool,
    retry: RetryPolicy,
    fingerprinter: &Fingerprinter,
) -> Result<Target, Failure> {
    connect_shared(
        plan,
        use_sandbox,
        retry,
        &Connections::default(),
        fingerprinter,
    )
    .await
}

/// Connects as [`connect`] does, sharing clients with the other plans of `connections`.
pub(crate) async fn connect_shared(
    plan: &Plan,
    use_sandbox: bool,
    retry: RetryPolicy,
    connections: &Connections,
    fingerprinter: &Fingerprinter,
) -> Result<Target, Failure> {
    match &plan.spec {
        Spec::Marketo(spec) => {
            marketo(plan, spec, use_sandbox, retry, connections, fingerprinter).await
        }
        Spec::Dotdigital(spec) => {
            connect_dotdigital(
                plan,
                spec,
                use_sandbox,
                retry,
                connections.checks,
                fingerprinter,
            )
            .await
        }
        Spec::Movius(spec) => {
            connect_movius(plan, spec, use_sandbox, connections.checks, fingerprinter).await
        }
    }
}

/// The plan's fixture, after checking it seeds the plan's platform.
fn fixture_text(plan: &Plan) -> Result<(PathBuf, String), Failure> {
    let path = fixture_path(plan)?;
    let text = fixture_for(&path, plan.provider(), &format!("plan `{}`", plan.name))?;
    Ok((path, text))
}

/// The text of the fixture at `path`, after checking it seeds `provider`'s platform, which
/// `whose` (the plan, the offboarding config) is for.
pub(crate) fn fixture_for(
    path: &std::path::Path,
    provider: crate::plan::ProviderKind,
    whose: &str,
) -> Result<String, Failure> {
    let text = crate::sandbox::fixture_text(path).or_invalid_input()?;
    let seeds =
        crate::sandbox::provider_of(&text, &path.display().to_string()).or_invalid_input()?;
    if seeds != provider.to_string() {
        return Err(anyhow!(
            "fixture `{}` seeds a {seeds} sandbox, and {whose} is for {provider}",
            path.display()
        ))
        .or_invalid_input();
    }
    Ok(text)
}

/// Serves an emulator on an ephemeral loopback port.
async fn serve(emulator: impl Emulator) -> Result<SandboxHandle, Failure> {
    let handle = SandboxHandle::start(emulator, "127.0.0.1:0")
        .await
        .context("cannot start the embedded sandbox on 127.0.0.1")
        .or_failed()?;
    tracing::info!(url = %handle.base_url(), "embedded sandbox started");
    Ok(handle)
}

async fn connect_dotdigital(
    plan: &Plan,
    spec: &plan_dotdigital::Spec,
    use_sandbox: bool,
    retry: RetryPolicy,
    checks: CheckCommands,
    fingerprinter: &Fingerprinter,
) -> Result<Target, Failure> {
    let (base_url, secrets, sandbox) = if use_sandbox {
        let (path, text) = fixture_text(plan)?;
        let fixture =
            dotdigital::Fixture::parse(&text, &path.display().to_string()).or_invalid_input()?;
        let handle = serve(dotdigital::Sandbox::new(&fixture)).await?;
        let secrets = Secrets::Sandbox {
            values: fixture.secrets().clone(),
        };
        (handle.base_url(), secrets, Some(handle))
    } else {
        let secrets = Secrets::Live {
            base_dir: plan.base_dir.clone(),
        };
        (spec.instance.base_url.clone(), secrets, None)
    };
    let client = DotdigitalClient::new(&base_url, retry).or_invalid_input()?;
    let platform = DotdigitalPlatform::new(
        client,
        spec,
        secrets.clone(),
        plan.base_dir.clone(),
        fingerprinter.clone(),
        checks,
    )
    .or_invalid_input()?;
    Ok(Target {
        platform: Box::new(platform),
        base_url,
        secrets,
        sandbox_guard: sandbox,
    })
}

async fn connect_movius(
    plan: &Plan,
    spec: &plan_movius::Spec,
    use_sandbox: bool,
    checks: CheckCommands,
    fingerprinter: &Fingerprinter,
) -> Result<Target, Failure> {
    let (base_url, secrets, sandbox) = if use_sandbox {
        let (path, text) = fixture_text(plan)?;
        let fixture =
            movius::Fixture::parse(&text, &path.display().to_string()).or_invalid_input()?;
        let handle = serve(movius::Sandbox::new(&fixture)).await?;
        let secrets = Secrets::Sandbox {
            values: fixture.secrets().clone(),
        };
        (Some(handle.base_url()), secrets, Some(handle))
    } else {
        let secrets = Secrets::Live {
            base_dir: plan.base_dir.clone(),
        };
        (spec.instance.base_url.clone(), secrets, None)
    };
    let platform = MoviusPlatform::new(
        spec,
        secrets.clone(),
        plan.base_dir.clone(),
        base_url.clone(),
        fingerprinter,
        checks,
    )
    .or_invalid_input()?;
    Ok(Target {
        platform: Box::new(platform),
        // Movius has no API relinker calls: only a sandbox, or what the plan tells check
        // commands, has an address.
        base_url: base_url.unwrap_or_default(),
        secrets,
        sandbox_guard: sandbox,
    })
}

/// The fixture `--sandbox` seeds the sandbox from: the one place a plan's `sandbox:` is read.
fn fixture_path(plan: &Plan) -> Result<PathBuf, Failure> {
    let fixture = plan
        .sandbox_fixture
        .as_ref()
        .ok_or_else(|| {
            anyhow!(
                "plan `{}` has no `sandbox.fixture`, which --sandbox needs",
                plan.name
            )
        })
        .or_invalid_input()?;
    let path = fixture.existing().map_err(crate::plan::PlanError::Invalid);
    Ok(path.or_invalid_input()?.to_path_buf())
}

async fn marketo(
    plan: &Plan,
    spec: &plan_marketo::Spec,
    use_sandbox: bool,
    retry: RetryPolicy,
    connections: &Connections,
    fingerprinter: &Fingerprinter,
) -> Result<Target, Failure> {
    let (base_url, credentials, sandbox) = if use_sandbox {
        let (path, text) = fixture_text(plan)?;
        let (handle, credentials) =
            marketo_sandbox(&path, &text, &spec.services, "the plan", fingerprinter).await?;
        (handle.base_url(), credentials, Some(handle))
    } else {
        let credentials =
            plan_credentials(spec, &plan.base_dir, fingerprinter).or_invalid_input()?;
        (spec.instance.base_url.clone(), credentials, None)
    };
    let client = connections.marketo(&base_url, &credentials.admin.client_id, || {
        marketo_client(&spec.instance, &base_url, &credentials, retry)
    })?;
    Ok(Target {
        platform: Box::new(MarketoPlatform::new(client, credentials)),
        base_url,
        secrets: Secrets::Live {
            base_dir: plan.base_dir.clone(),
        },
        sandbox_guard: sandbox,
    })
}

/// The Marketo instance and known services a plan or an offboarding config names (what
/// `inventory` and `sandbox --from-live` read): a file with `rotations:` is a plan.
/// `command` names the reader in the message for a plan of another platform.
pub(crate) fn marketo_source(
    path: &std::path::Path,
    command: &str,
    runner: &super::trust::RunnerArgs,
) -> Result<
    (
        plan_marketo::Instance,
        Vec<plan_marketo::ServiceDecl>,
        PathBuf,
    ),
    Failure,
> {
    let text = crate::input::read_text(path, crate::input::Kind::Plan).or_invalid_input()?;
    let is_plan = text
        .lines()
        .any(|line| line.trim_end().starts_with("rotations:"));
    if is_plan {
        let origin = path.display().to_string();
        let runner_config = runner.runner()?;
        let named = runner_config.as_ref().map_or(&[][..], |r| r.instances());
        let plan = crate::plan::parse_with(&text, &origin, crate::paths::parent(path), named)
            .or_invalid_input()?;
        let provider = plan.provider();
        let spec = match plan.spec {
            Spec::Marketo(spec) => spec,
            Spec::Dotdigital(_) | Spec::Movius(_) => {
                return Err(anyhow!(
                    "`{origin}` is a {provider} plan; {command} reads Marketo instances"
                ))
                .or_invalid_input();
            }
        };
        // The runner decides what the file may reach and read, before anything is.
        runner.admit_file(path, (ProviderKind::Marketo, &spec.instance.base_url))?;
        return Ok((spec.instance, spec.services, plan.base_dir));
    }
    let config = crate::offboard::Config::load(path).or_invalid_input()?;
    runner.admit_file(path, (ProviderKind::Marketo, &config.instance.base_url))?;
    Ok((config.instance, config.services, config.base_dir))
}

/// A Marketo client for an instance block, acting as the admin service.
pub(crate) fn marketo_client(
    instance: &plan_marketo::Instance,
    base_url: &str,
    credentials: &Credentials,
    retry: RetryPolicy,
) -> Result<MarketoClient, Failure> {
    let mut config = MarketoConfig::new(
        base_url,
        credentials.admin.client_id.clone(),
        credentials.admin.client_secret.clone(),
    );
    config.limits = instance.limits;
    config.retry = retry;
    MarketoClient::new(config).or_invalid_input()
}

/// An embedded Marketo sandbox seeded from the fixture at `path` (its `text`), and the
/// fixture's credentials for the admin service and for each of `services` (found by name;
/// `whose` names who declares them, for the message when one is missing), fingerprinted by
/// `fingerprinter`.
pub(crate) async fn marketo_sandbox(
    path: &std::path::Path,
    text: &str,
    services: &[plan_marketo::ServiceDecl],
    whose: &str,
    fingerprinter: &Fingerprinter,
) -> Result<(SandboxHandle, Credentials), Failure> {
    let fixture = Fixture::parse(text, &path.display().to_string()).or_invalid_input()?;
    let admin = fixture
        .admin_service()
        .ok_or_else(|| {
            anyhow!(
                "fixture `{}` marks no service `admin: true` for relinker to act as",
                path.display()
            )
        })
        .or_invalid_input()?;
    let mut found_services = BTreeMap::new();
    for declared in services {
        let name = declared.name.as_str();
        let found = fixture
            .services()
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                anyhow!(
                    "fixture `{}` has no service `{name}`, which {whose} declares",
                    path.display()
                )
            })
            .or_invalid_input()?;
        found_services.insert(
            declared.name.clone(),
            ServiceCredentials::new(
                declared.name.clone(),
                found.client_id.clone(),
                found.client_secret.clone(),
                fingerprinter,
            ),
        );
    }
    let credentials = Credentials {
        admin: ServiceCredentials::new(
            ServiceName::new(admin.name.clone()),
            admin.client_id.clone(),
            admin.client_secret.clone(),
            fingerprinter,
        ),
        services: found_services,
    };
    let handle = serve(Sandbox::new(SandboxConfig::default(), &fixture)).await?;
    Ok((handle, credentials))
}
