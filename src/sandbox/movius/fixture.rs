//! Movius sandbox fixtures.
//!
//! ```yaml
//! provider: movius
//! custom_apps: [AcmeDialer]            # besides HttpApi and Salesforce
//! api_users:
//!   - email: api.old@acme.example
//!     first_name: Api
//!     last_name: Old
//!     applications: [Salesforce]
//!     username: api-7fq2kd9x
//!     password: "emailed-secret-1"
//! integrations:
//!   - { name: crm, application: Salesforce, user: api.old@acme.example }
//! next_credentials:                     # what Movius emails the next API user added
//!   - { username: api-p4m8wz3n, password: "emailed-secret-2" }
//! secrets:
//!   "${env:MOVIUS_OLD_PASSWORD}": "emailed-secret-1"
//! ```
//!
//! docs/sandbox.md documents every field.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::world::{ApiUser, Emailed, Integration, World, key};
use crate::diagnostic::Diagnostic;
use crate::sandbox::fixture::{self as shared, FixtureError};
use crate::secret::Secret;

/// The applications every organization can select.
const BUILT_IN: [&str; 2] = ["HttpApi", "Salesforce"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    provider: Spanned<String>,
    #[serde(default)]
    custom_apps: Vec<String>,
    #[serde(default)]
    api_users: Vec<RawUser>,
    #[serde(default)]
    integrations: Vec<RawIntegration>,
    #[serde(default)]
    next_credentials: Vec<RawCredential>,
    #[serde(default)]
    secrets: Option<Spanned<shared::Entries>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    email: Spanned<String>,
    first_name: String,
    last_name: String,
    applications: Spanned<Vec<String>>,
    username: String,
    password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegration {
    name: Spanned<String>,
    application: Spanned<String>,
    user: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    username: String,
    password: String,
}

/// A validated Movius fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    world: World,
    secrets: BTreeMap<String, Secret>,
}

impl Fixture {
    /// Reads and validates a fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        Self::parse(&shared::read(path)?, &path.display().to_string())
    }

    /// Validates fixture text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FixtureError> {
        shared::parse_with(text, origin, validate)
    }

    /// Stand-ins for a plan's secret references, by the reference's text.
    pub fn secrets(&self) -> &BTreeMap<String, Secret> {
        &self.secrets
    }

    pub(crate) fn world(&self) -> World {
        self.world.clone()
    }
}

fn validate(raw: RawFixture, problems: &mut Vec<Diagnostic>) -> Fixture {
    if raw.provider.value.trim() != "movius" {
        problems.push(Diagnostic::at(
            raw.provider.referenced,
            "provider",
            format!("this is a Movius fixture, not `{}`", raw.provider.value),
        ));
    }
    let applications: BTreeSet<String> = BUILT_IN
        .iter()
        .map(|a| (*a).to_owned())
        .chain(raw.custom_apps)
        .collect();
    let mut world = World {
        applications,
        users: BTreeMap::new(),
        integrations: BTreeMap::new(),
        next_credentials: raw
            .next_credentials
            .into_iter()
            .map(|c| Emailed {
                username: c.username,
                password: Secret::new(c.password),
            })
            .collect::<VecDeque<_>>(),
    };
    add_users(&mut world, raw.api_users, problems);
    add_integrations(&mut world, raw.integrations, problems);
    let secrets = shared::stand_ins(raw.secrets, problems);
    Fixture { world, secrets }
}

fn add_users(world: &mut World, users: Vec<RawUser>, problems: &mut Vec<Diagnostic>) {
    for (index, user) in users.into_iter().enumerate() {
        let field = format!("api_users[{index}]");
        if let Some(unknown) = user
            .applications
            .value
            .iter()
            .find(|a| !world.applications.contains(*a))
        {
            problems.push(
                Diagnostic::at(
                    user.applications.referenced,
                    format!("{field}.applications"),
                    format!("`{unknown}` is not an external application of the organization"),
                )
                .with_hint("HttpApi, Salesforce, or a name listed under `custom_apps`"),
            );
        }
        let email = user.email.value.trim().to_owned();
        if world.users.contains_key(&key(&email)) {
            problems.push(Diagnostic::at(
                user.email.referenced,
                format!("{field}.email"),
                format!("API user `{email}` is declared twice"),
            ));
        }
        world.users.insert(
            key(&email),
            ApiUser {
                email,
                first_name: user.first_name,
                last_name: user.last_name,
                applications: user.applications.value,
                username: user.username,
                password: Secret::new(user.password),
            },
        );
    }
}

fn add_integrations(
    world: &mut World,
    integrations: Vec<RawIntegration>,
    problems: &mut Vec<Diagnostic>,
) {
    for (index, integration) in integrations.into_iter().enumerate() {
        let field = format!("integrations[{index}]");
        let Some(user) = world.users.get(&key(&integration.user.value)) else {
            problems.push(Diagnostic::at(
                integration.user.referenced,
                format!("{field}.user"),
                format!(
                    "API user `{}` is not declared under `api_users`",
                    integration.user.value
                ),
            ));
            continue;
        };
        if !user.applications.contains(&integration.application.value) {
            problems.push(Diagnostic::at(
                integration.application.referenced,
                format!("{field}.application"),
                format!(
                    "API user `{}` does not serve `{}`",
                    user.email, integration.application.value
                ),
            ));
        }
        let configured = Integration {
            application: integration.application.value,
            username: user.username.clone(),
            password: user.password.clone(),
        };
        if world
            .integrations
            .insert(integration.name.value.clone(), configured)
            .is_some()
        {
            problems.push(Diagnostic::at(
                integration.name.referenced,
                format!("{field}.name"),
                format!("integration `{}` is declared twice", integration.name.value),
            ));
        }
    }
}
