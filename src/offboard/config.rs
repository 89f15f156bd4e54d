//! The offboarding config: where to look, what relinker may use, and how to name things.

use std::path::{Path, PathBuf};

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, shape, yaml_options};
use crate::ids::{NotAnAddress, UserId};
use crate::plan::marketo::{Instance, Retire, ServiceDecl};
use crate::plan::marketo::{RawInstance, RawService};
use crate::plan::raw::Text;
use crate::plan::{SandboxFixture, SecretRef};

/// The file as written. The JSON Schema derived from it lets the shape check report every
/// unknown field or wrong type at once.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[schemars(with = "u32")]
    version: Spanned<crate::plan::raw::FormatVersion>,
    instance: RawInstance,
    #[serde(default)]
    services: Vec<RawService>,
    #[schemars(with = "String")]
    naming: Text,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    strategy: Option<Text>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    temporary_user: Option<Text>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    retire: Option<Text>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    protected: Vec<Text>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    max_rotations: Option<Text>,
    #[serde(default)]
    sandbox: Option<RawSandbox>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    notify: Option<Text>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawSandbox {
    #[schemars(with = "String")]
    fixture: Text,
}

/// How an affected user is rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Edit it in place through a temporary user; the userid stays (Marketo keeps userids).
    Rename {
        /// Template of the temporary user's address.
        temporary_user: String,
    },
    /// A new API-only user takes over; the old one is retired.
    Replace {
        /// What happens to the old user.
        retire: Retire,
    },
}

/// A user that is never touched.
#[derive(Debug, Clone)]
pub enum Protected {
    /// This user, by the crate's one rule for when two addresses name the same user.
    Exact(UserId),
    /// Addresses matching this pattern (written `/…/` in the config).
    Pattern(Regex),
}

impl Protected {
    /// Whether `address` is protected by this entry.
    pub fn covers(&self, address: &str) -> bool {
        match self {
            Protected::Exact(user) => user.is(address),
            Protected::Pattern(pattern) => pattern.is_match(address),
        }
    }
}

/// The most rotations one scan may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationLimit {
    /// At most this many.
    Count(usize),
    /// At most this percentage of the instance's API-only users.
    Percent(u8),
}

impl RotationLimit {
    /// The limit for an instance with `api_users` API-only users.
    pub fn allows(self, api_users: usize) -> usize {
        match self {
            RotationLimit::Count(count) => count,
            RotationLimit::Percent(percent) => api_users * usize::from(percent) / 100,
        }
    }
}

/// A validated offboarding config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The instance block, as a plan has it.
    pub instance: Instance,
    /// Services relinker knows the credentials of.
    pub services: Vec<ServiceDecl>,
    /// Template of the address an affected user moves to: `{service}`, `{local}`, `{domain}`.
    pub naming: String,
    /// Rename or replace.
    pub strategy: Strategy,
    /// Users never touched.
    pub protected: Vec<Protected>,
    /// Safety limit.
    pub max_rotations: RotationLimit,
    /// Fixture for `--sandbox`, resolved against the config's folder; read only by `--sandbox`.
    pub sandbox_fixture: Option<SandboxFixture>,
    /// The webhook every generated plan tells how its runs end (a reference).
    pub notify: Option<SecretRef>,
    /// The config's folder.
    pub base_dir: PathBuf,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be used: unreadable, not a regular file, over 1 MiB, not UTF-8.
    #[error("{0}")]
    Read(#[from] crate::input::InputError),
    /// The config is wrong; every problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

const PLACEHOLDERS: [&str; 3] = ["{service}", "{local}", "{domain}"];

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::input::read_text(path, crate::input::Kind::Config)?;
        let origin = path.display().to_string();
        let mut raw: RawConfig = serde_saphyr::from_str_with_options(&text, yaml_options())
            .map_err(|e| {
                // serde names the first problem; the schema walk names them all.
                let schema =
                    serde_json::to_value(schemars::schema_for!(RawConfig)).unwrap_or_default();
                let mut problems = shape::problems(&text, &schema);
                if problems.is_empty() {
                    problems.push(Diagnostic::from_yaml(&e));
                }
                ConfigError::Invalid(Diagnostics::new(&origin, problems))
            })?;
        let base_dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let (instance, services, mut problems) =
            crate::plan::check_connection(&raw.instance, std::mem::take(&mut raw.services));
        if raw.version.value.0 != 1 {
            problems.push(Diagnostic::at(
                raw.version.referenced,
                "version",
                format!("version {} is not supported", raw.version.value.0),
            ));
        }
        check_template(&raw.naming, "naming", &mut problems);
        let strategy = strategy(&raw, &mut problems);
        let protected = protected(&raw.protected, &mut problems);
        let max_rotations = match raw.max_rotations.as_ref() {
            None => Some(RotationLimit::Count(10)),
            Some(limit) => parse_limit(&limit.value).or_else(|| {
                problems.push(
                    Diagnostic::at(
                        limit.referenced,
                        "max_rotations",
                        format!("`{}` is not a limit", limit.value),
                    )
                    .with_hint(
                        "a count such as `10` or a percentage of API-only users such as `5%`",
                    ),
                );
                None
            }),
        };
        let sandbox_fixture = raw.sandbox.map(|sandbox| {
            SandboxFixture::new(
                &base_dir,
                &sandbox.fixture.value,
                &origin,
                sandbox.fixture.referenced,
            )
        });
        let notify = raw.notify.as_ref().and_then(|notify| {
            let reference = SecretRef::parse(&notify.value);
            if reference.is_none() {
                problems.push(
                    Diagnostic::at(
                        notify.referenced,
                        "notify",
                        "a webhook URL is a secret: the config must reference it, not contain it",
                    )
                    .with_hint("`${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`"),
                );
            }
            reference
        });
        if !problems.is_empty() {
            return Err(ConfigError::Invalid(Diagnostics::new(origin, problems)));
        }
        match (instance, strategy, max_rotations) {
            (Some(instance), Some(strategy), Some(max_rotations)) => Ok(Self {
                instance,
                services,
                naming: raw.naming.value,
                strategy,
                protected,
                max_rotations,
                sandbox_fixture,
                notify,
                base_dir,
            }),
            _ => Err(ConfigError::Invalid(Diagnostics::new(origin, vec![]))),
        }
    }
}

fn strategy(raw: &RawConfig, problems: &mut Vec<Diagnostic>) -> Option<Strategy> {
    match raw
        .strategy
        .as_ref()
        .map(|s| (s.value.as_str(), s.referenced))
    {
        None | Some(("rename", _)) => {
            if let Some(retire) = &raw.retire {
                problems.push(
                    Diagnostic::at(
                        retire.referenced,
                        "retire",
                        "`retire` applies to `strategy: replace` only; a rename keeps the user",
                    )
                    .with_hint("remove `retire`, or set `strategy: replace`"),
                );
            }
            let temporary_user = raw.temporary_user.as_ref().map_or_else(
                || "relinker-temp+{local}@{domain}".to_owned(),
                |t| {
                    check_template(t, "temporary_user", problems);
                    t.value.clone()
                },
            );
            Some(Strategy::Rename { temporary_user })
        }
        Some(("replace", _)) => {
            if let Some(temporary) = &raw.temporary_user {
                problems.push(
                    Diagnostic::at(
                        temporary.referenced,
                        "temporary_user",
                        "`temporary_user` applies to `strategy: rename` only",
                    )
                    .with_hint("remove `temporary_user`, or set `strategy: rename`"),
                );
            }
            replace_retire(raw, problems)
        }
        Some((other, at)) => {
            problems.push(
                Diagnostic::at(at, "strategy", format!("unknown strategy `{other}`"))
                    .with_hint("use `rename` or `replace`"),
            );
            None
        }
    }
}

fn replace_retire(raw: &RawConfig, problems: &mut Vec<Diagnostic>) -> Option<Strategy> {
    match raw
        .retire
        .as_ref()
        .map(|r| (r.value.as_str(), r.referenced))
    {
        None | Some(("delete", _)) => Some(Strategy::Replace {
            retire: Retire::Delete,
        }),
        Some(("expire", _)) => Some(Strategy::Replace {
            retire: Retire::Expire,
        }),
        Some(("keep", _)) => Some(Strategy::Replace {
            retire: Retire::Keep,
        }),
        Some((other, at)) => {
            problems.push(
                Diagnostic::at(at, "retire", format!("unknown retirement `{other}`"))
                    .with_hint("use `delete`, `expire` or `keep`"),
            );
            None
        }
    }
}

/// Exact addresses, or `/pattern/` (case-insensitive).
fn protected(entries: &[Text], problems: &mut Vec<Diagnostic>) -> Vec<Protected> {
    let mut protected = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let value = entry.value.trim();
        if let Some(pattern) = value.strip_prefix('/').and_then(|v| v.strip_suffix('/')) {
            match regex::RegexBuilder::new(pattern)
                .case_insensitive(true)
                .build()
            {
                Ok(regex) => protected.push(Protected::Pattern(regex)),
                Err(e) => problems.push(Diagnostic::at(
                    entry.referenced,
                    format!("protected[{index}]"),
                    format!("not a valid pattern: {e}"),
                )),
            }
        } else {
            match UserId::parse(value) {
                Ok(user) => protected.push(Protected::Exact(user)),
                Err(NotAnAddress { why, .. }) => problems.push(
                    Diagnostic::at(
                        entry.referenced,
                        format!("protected[{index}]"),
                        format!(
                            "{} is neither an address nor a `/pattern/`: {why}",
                            crate::address::shown(value)
                        ),
                    )
                    .with_hint("an address such as `api.sync@acme.example`, or `/^api\\./`"),
                ),
            }
        }
    }
    protected
}

fn check_template(template: &Text, field: &str, problems: &mut Vec<Diagnostic>) {
    if !PLACEHOLDERS.iter().any(|p| template.value.contains(p)) {
        problems.push(
            Diagnostic::at(
                template.referenced,
                field,
                format!(
                    "{} has no placeholder: every user would get the same address",
                    crate::address::shown(&template.value)
                ),
            )
            .with_hint(
                "use `{service}`, `{local}` or `{domain}`, such as `api.{service}@acme.example`",
            ),
        );
        return;
    }
    // Each placeholder as the kind of text it stands for: `{domain}` is a whole domain.
    let rest = template
        .value
        .replace("{service}", "x")
        .replace("{local}", "x")
        .replace("{domain}", "x.example");
    if rest.contains('{') || rest.contains('}') || !crate::address::is_address(&rest) {
        problems.push(
            Diagnostic::at(template.referenced, field, format!("`{}` is not an address template", template.value))
                .with_hint("an email address with `{service}`, `{local}` or `{domain}`, such as `api.{service}@acme.example`"),
        );
    }
}

fn parse_limit(text: &str) -> Option<RotationLimit> {
    let text = text.trim();
    match text.strip_suffix('%') {
        Some(percent) => percent
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 100)
            .map(RotationLimit::Percent),
        None => text.parse().ok().map(RotationLimit::Count),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with_naming(naming: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offboard.yaml");
        std::fs::write(
            &path,
            format!(
                "version: 1\ninstance:\n  provider: marketo\n  base_url: https://x.mktorest.com\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\nservices:\n  - {{ name: svc-a, client_id: a-id, client_secret: \"${{env:A_SECRET}}\" }}\nnaming: \"{naming}\"\nstrategy: replace\nretire: delete\nmax_rotations: 10\n"
            ),
        )
        .unwrap();
        Config::load(&path)
    }

    #[test]
    fn a_missing_sandbox_fixture_is_named_with_its_line_when_a_rehearsal_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offboard.yaml");
        let config = "version: 1\ninstance:\n  provider: marketo\n  base_url: https://x.mktorest.com\n  client_id: admin-id\n  client_secret: ${env:ADMIN_SECRET}\nservices: []\nnaming: api.{service}@acme.example\nstrategy: replace\nretire: delete\nsandbox:\n  fixture: fixtures/missing.yaml\n";
        std::fs::write(&path, config).unwrap();
        // A live scan does not read the sandbox section.
        let loaded = Config::load(&path).unwrap();
        let fixture = loaded.sandbox_fixture.unwrap();
        let error = fixture.existing().unwrap_err().to_string();
        assert!(error.contains("sandbox.fixture"), "{error}");
        assert!(error.contains("fixtures/missing.yaml"), "{error}");
        assert!(error.contains(":12:"), "the line: {error}");
        std::fs::create_dir(dir.path().join("fixtures")).unwrap();
        std::fs::write(dir.path().join("fixtures/missing.yaml"), "users: []\n").unwrap();
        assert!(fixture.existing().is_ok());
    }

    #[test]
    fn naming_templates_may_use_every_placeholder_where_it_belongs() {
        for good in [
            "api.{service}@acme.example",
            "integrations+{local}@{domain}",
            "{local}.api@{domain}",
        ] {
            assert!(load_with_naming(good).is_ok(), "{good}");
        }
        for bad in ["api@acme.example", "{local}", "api.{service}@{domain"] {
            assert!(load_with_naming(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_and_protection() {
        assert_eq!(parse_limit("10"), Some(RotationLimit::Count(10)));
        assert_eq!(parse_limit("5%"), Some(RotationLimit::Percent(5)));
        assert_eq!(parse_limit("120%"), None);
        assert_eq!(RotationLimit::Percent(10).allows(250), 25);
        let pattern = Protected::Pattern(
            regex::RegexBuilder::new("^svc-")
                .case_insensitive(true)
                .build()
                .unwrap(),
        );
        assert!(pattern.covers("SVC-x@acme.example"));
    }

    #[test]
    fn an_exact_entry_protects_its_user_in_any_case_unicode_too() {
        let exact = |text: &str| Protected::Exact(UserId::parse(text).unwrap());
        for (entry, address, covered) in [
            ("a@b.co", "A@B.CO", true),
            ("JÖRG@acme.example", "jörg@acme.example", true),
            ("jörg@ACME.example", "JÖRG@acme.example", true),
            ("jörg@acme.example", "jorg@acme.example", false),
            ("jane@acme.example", "jane+x@acme.example", false),
        ] {
            assert_eq!(exact(entry).covers(address), covered, "{entry} / {address}");
        }
    }
}
