//! dotdigital sandbox fixtures.
//!
//! ```yaml
//! provider: dotdigital
//! region: r1                 # the API host the sandbox plays; r1 answers for every account
//! rate_limit: 60/60s         # calls per account per window (429 beyond it)
//! behaviours: { rate-limit-scheme: tiered }   # or flat: 2,000 an hour, then 400
//! accounts:
//!   - { id: 417893, name: Acme Ltd, region: r1 }
//! api_users:
//!   - { username: apiuser-k3x9q2m7v1ab@apiconnector.com, password: "Old-secret-7", description: Magento }
//! integrations:
//!   - { name: magento, user: apiuser-k3x9q2m7v1ab@apiconnector.com }
//! next_usernames: [apiuser-n8w4p6r2t5cd@apiconnector.com]
//! secrets:
//!   "${env:DOTDIGITAL_OLD_PASSWORD}": "Old-secret-7"
//! ```
//!
//! docs/sandbox.md documents every field.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::behaviours::{RateLimitScheme, Setting};
use super::world::{Account, ApiUser, Integration, Region, World, weak_password};
use crate::diagnostic::Diagnostic;
use crate::limits::RateLimit;
use crate::sandbox::fixture::{self as shared, FixtureError};
use crate::secret::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    provider: Spanned<String>,
    #[serde(default)]
    region: Option<Spanned<String>>,
    #[serde(default)]
    rate_limit: Option<Spanned<String>>,
    accounts: Vec<RawAccount>,
    #[serde(default)]
    api_users: Vec<RawUser>,
    #[serde(default)]
    integrations: Vec<RawIntegration>,
    #[serde(default)]
    next_usernames: Vec<String>,
    #[serde(default)]
    secrets: Option<Spanned<shared::Entries>>,
    #[serde(default)]
    behaviours: Option<Spanned<shared::Entries>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: Spanned<u64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    region: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Spanned<String>,
    password: Spanned<String>,
    #[serde(default = "enabled")]
    enabled: bool,
    #[serde(default)]
    account: Option<Spanned<u64>>,
    #[serde(default)]
    description: String,
}

fn enabled() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntegration {
    name: Spanned<String>,
    user: Spanned<String>,
}

/// A validated dotdigital fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    world: World,
    /// The fixture's (or the command line's) limit; else the scheme's own.
    rate_limit: Option<RateLimit>,
    scheme: RateLimitScheme,
    secrets: BTreeMap<String, Secret>,
}

/// dotdigital's default tier, for fixtures that do not say.
const DEFAULT_RATE: RateLimit = RateLimit {
    calls: 1000,
    window: std::time::Duration::from_mins(1),
};

/// The older flat scheme: 2,000 calls an hour (NOTES.md).
const FLAT_RATE: RateLimit = RateLimit {
    calls: 2000,
    window: std::time::Duration::from_hours(1),
};

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

    /// Replaces the fixture's rate limit.
    pub fn set_rate_limit(&mut self, rate: RateLimit) {
        self.rate_limit = Some(rate);
    }

    /// Applies behaviour settings over the fixture's, in order (a later one wins).
    pub fn set_behaviours(&mut self, settings: &[Setting]) {
        for setting in settings {
            self.scheme = setting.scheme();
        }
    }

    /// The limit: the one given, else the scheme's (1000 a minute, or 2,000 an hour).
    pub(crate) fn rate_limit(&self) -> RateLimit {
        self.rate_limit.unwrap_or(match self.scheme {
            RateLimitScheme::Tiered => DEFAULT_RATE,
            RateLimitScheme::Flat => FLAT_RATE,
        })
    }

    pub(crate) fn scheme(&self) -> RateLimitScheme {
        self.scheme
    }
}

fn region(field: &str, text: Option<&Spanned<String>>, problems: &mut Vec<Diagnostic>) -> Region {
    let Some(text) = text else {
        return Region::R1;
    };
    Region::parse(&text.value).unwrap_or_else(|| {
        problems.push(
            Diagnostic::at(
                text.referenced,
                field,
                format!("`{}` is not a dotdigital region", text.value),
            )
            .with_hint("r1 (Europe), r2 (North America) or r3 (Asia Pacific)"),
        );
        Region::R1
    })
}

fn validate(raw: RawFixture, problems: &mut Vec<Diagnostic>) -> Fixture {
    if raw.provider.value.trim() != "dotdigital" {
        problems.push(Diagnostic::at(
            raw.provider.referenced,
            "provider",
            format!("this is a dotdigital fixture, not `{}`", raw.provider.value),
        ));
    }
    let host = region("region", raw.region.as_ref(), problems);
    let rate_limit = raw.rate_limit.as_ref().and_then(|text| {
        text.value
            .parse()
            .map_err(|e| {
                problems.push(Diagnostic::at(
                    text.referenced,
                    "rate_limit",
                    format!("{e}"),
                ));
            })
            .ok()
    });
    let mut scheme = RateLimitScheme::default();
    if let Some(behaviours) = &raw.behaviours {
        for (key, value) in &behaviours.value.0 {
            match Setting::new(key, value) {
                Ok(setting) => scheme = setting.scheme(),
                Err(error) => problems.push(Diagnostic::at(
                    behaviours.referenced,
                    format!("behaviours.{key}"),
                    error.to_string(),
                )),
            }
        }
    }
    let mut world = World {
        host,
        accounts: BTreeMap::new(),
        users: BTreeMap::new(),
        integrations: BTreeMap::new(),
        next_usernames: VecDeque::from(raw.next_usernames),
    };
    for (index, account) in raw.accounts.into_iter().enumerate() {
        let field = format!("accounts[{index}]");
        let region = region(
            &format!("{field}.region"),
            account.region.as_ref(),
            problems,
        );
        let id = account.id.value;
        if world.accounts.contains_key(&id) {
            problems.push(Diagnostic::at(
                account.id.referenced,
                format!("{field}.id"),
                format!("account {id} is declared twice"),
            ));
        }
        world.accounts.insert(
            id,
            Account {
                id,
                name: account.name,
                region,
            },
        );
    }
    let only = (world.accounts.len() == 1)
        .then(|| world.accounts.keys().next().copied())
        .flatten();
    add_users(&mut world, raw.api_users, only, problems);
    add_integrations(&mut world, raw.integrations, problems);
    let secrets = shared::stand_ins(raw.secrets, problems);
    Fixture {
        world,
        rate_limit,
        scheme,
        secrets,
    }
}

fn add_users(
    world: &mut World,
    users: Vec<RawUser>,
    only: Option<u64>,
    problems: &mut Vec<Diagnostic>,
) {
    for (index, user) in users.into_iter().enumerate() {
        let field = format!("api_users[{index}]");
        let account = match (user.account, only) {
            (Some(id), _) if world.accounts.contains_key(&id.value) => id.value,
            (Some(id), _) => {
                problems.push(Diagnostic::at(
                    id.referenced,
                    format!("{field}.account"),
                    format!("account {} is not declared under `accounts`", id.value),
                ));
                continue;
            }
            (None, Some(only)) => only,
            (None, None) => {
                problems.push(
                    Diagnostic::at(
                        user.username.referenced,
                        format!("{field}.account"),
                        "the fixture has several accounts (or none): say which one this user belongs to",
                    )
                    .with_hint("`account: <id>`"),
                );
                continue;
            }
        };
        if let Some(reason) = weak_password(
            &user.password.value,
            &user.username.value,
            world.accounts.get(&account),
        ) {
            problems.push(Diagnostic::at(
                user.password.referenced,
                format!("{field}.password"),
                format!("dotdigital would not accept this password: {reason}"),
            ));
        }
        let key = user.username.value.trim().to_lowercase();
        if world.users.contains_key(&key) {
            problems.push(Diagnostic::at(
                user.username.referenced,
                format!("{field}.username"),
                format!("API user `{}` is declared twice", user.username.value),
            ));
        }
        world.users.insert(
            key,
            ApiUser {
                username: user.username.value.trim().to_owned(),
                password: Secret::new(user.password.value),
                enabled: user.enabled,
                account,
                description: user.description,
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
        let Some(user) = world
            .users
            .get(&integration.user.value.trim().to_lowercase())
        else {
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
        let configured = Integration {
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
