//! Where a command's API calls go: the instance a plan names (with its secrets resolved), or
//! an in-process sandbox of the plan's platform seeded from the plan's fixture (`--sandbox`),
//! with the fixture's credentials standing in for the plan's references.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, anyhow};

use super::exit::{Failure, OrExit};
use crate::ids::ServiceName;
use crate::plan::{Plan, Spec, marketo as plan_marketo};
use crate::provider::marketo::{
    Credentials, MarketoClient, MarketoConfig, MarketoPlatform, ServiceCredentials,
    plan_credentials,
};
use crate::provider::{Compiled, LiveState, Platform};
use crate::retry::RetryPolicy;
use crate::sandbox::SandboxHandle;
use crate::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};

/// The platform a command acts on, and where it lives.
pub(crate) struct Target {
    pub(crate) platform: Box<dyn Platform>,
    pub(crate) base_url: String,
    /// Keeps the embedded sandbox alive for as long as the target is; stops it when dropped.
    pub(crate) _sandbox_guard: Option<SandboxHandle>,
}

impl Target {
    /// Reads the live state `plan` depends on (reads only) and compiles the plan against it.
    pub(crate) async fn compile(&self, plan: &Plan) -> Result<(LiveState, Compiled), Failure> {
        let live = self
            .platform
            .observe(plan)
            .await
            .context("cannot read live state")
            .or_failed()?;
        let compiled = crate::provider::compile(plan, &live);
        Ok((live, compiled))
    }
}

/// Connects to the plan's instance, or to an embedded sandbox of its platform.
pub(crate) async fn connect(
    plan: &Plan,
    use_sandbox: bool,
    retry: RetryPolicy,
) -> Result<Target, Failure> {
    match &plan.spec {
        Spec::Marketo(spec) => marketo(plan, spec, use_sandbox, retry).await,
        Spec::Dotdigital(_) | Spec::Movius(_) => {
            Err(anyhow!("plans for {} cannot run yet", plan.provider())).or_invalid_input()
        }
    }
}

/// The fixture `--sandbox` seeds the sandbox from.
fn fixture_path(plan: &Plan) -> Result<&PathBuf, Failure> {
    plan.sandbox_fixture
        .as_ref()
        .ok_or_else(|| {
            anyhow!(
                "plan `{}` has no `sandbox.fixture`, which --sandbox needs",
                plan.name
            )
        })
        .or_invalid_input()
}

async fn marketo(
    plan: &Plan,
    spec: &plan_marketo::Spec,
    use_sandbox: bool,
    retry: RetryPolicy,
) -> Result<Target, Failure> {
    let (base_url, credentials, sandbox) = if use_sandbox {
        let (handle, credentials) = start_marketo_sandbox(plan, spec).await?;
        (handle.base_url(), credentials, Some(handle))
    } else {
        let credentials = plan_credentials(spec, &plan.base_dir).or_invalid_input()?;
        (spec.instance.base_url.clone(), credentials, None)
    };
    let client = marketo_client(&spec.instance, &base_url, &credentials, retry)?;
    Ok(Target {
        platform: Box::new(MarketoPlatform::new(client, credentials)),
        base_url,
        _sandbox_guard: sandbox,
    })
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

async fn start_marketo_sandbox(
    plan: &Plan,
    spec: &plan_marketo::Spec,
) -> Result<(SandboxHandle, Credentials), Failure> {
    let path = fixture_path(plan)?;
    let fixture = Fixture::load(path).or_invalid_input()?;
    let admin = fixture
        .admin_service()
        .ok_or_else(|| {
            anyhow!(
                "fixture `{}` marks no service `admin: true` for relinker to act as",
                path.display()
            )
        })
        .or_invalid_input()?;
    let mut services = BTreeMap::new();
    for declared in &spec.services {
        let name = declared.name.as_str();
        let found = fixture
            .services()
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                anyhow!(
                    "fixture `{}` has no service `{name}`, which the plan declares",
                    path.display()
                )
            })
            .or_invalid_input()?;
        services.insert(
            declared.name.clone(),
            ServiceCredentials {
                name: declared.name.clone(),
                client_id: found.client_id.clone(),
                client_secret: found.client_secret.clone(),
            },
        );
    }
    let credentials = Credentials {
        admin: ServiceCredentials {
            name: ServiceName::new(admin.name.clone()),
            client_id: admin.client_id.clone(),
            client_secret: admin.client_secret.clone(),
        },
        services,
    };
    let handle = SandboxHandle::start(
        Sandbox::new(SandboxConfig::default(), &fixture),
        "127.0.0.1:0",
    )
    .await
    .context("cannot start the embedded sandbox on 127.0.0.1")
    .or_failed()?;
    tracing::info!(url = %handle.base_url(), "embedded sandbox started");
    Ok((handle, credentials))
}
