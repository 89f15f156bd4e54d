//! From the raw YAML to a [`Plan`]: every rule of the plan language, every problem reported
//! with its position, its field and a hint. No network, no secrets read: `relinker validate`
//! runs this alone, as a CI gate.
//!
//! A plan is read in two passes: the first learns `instance.provider`, the second reads the
//! whole file with that provider's types, so every field of every provider keeps
//! `deny_unknown_fields` and its exact position. The envelope (version, name, policy, sandbox)
//! is checked here; each provider's module checks its instance, services and rotations with the
//! helpers of [`Checker`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_saphyr::{Location, Spanned};

use super::model::{NamedInstance, OnFailure, Plan, Policy, ProviderKind, SandboxFixture, Spec};
use super::raw::{RawPlan, RawPolicy, Sniff, Text};
use super::secret_ref::{Credential, SecretRef};
use super::{dotdigital, marketo, movius};
use crate::diagnostic::{Diagnostic, Diagnostics, shape, yaml_options};
use crate::ids::{ServiceName, UserId};

/// The only plan format version.
const VERSION: u32 = 1;
/// Deletions allowed when the policy names no limit.
const DEFAULT_MAX_DELETIONS: u32 = 1;

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file cannot be used: unreadable, not a regular file, too large, not UTF-8.
    #[error("{0}")]
    Input(#[from] crate::input::InputError),
    /// The plan is wrong; every problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// A plan file, validated, with the exact bytes it was read from (for fingerprints).
#[derive(Debug, Clone)]
pub struct LoadedPlan {
    /// The plan.
    pub plan: Plan,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Reads and validates a plan file: the one way every command loads one.
pub fn load(path: &Path) -> Result<LoadedPlan, PlanError> {
    load_with(path, &[])
}

/// Reads and validates a plan file whose instance may be one of `named` (a runner's).
pub fn load_with(path: &Path, named: &[NamedInstance]) -> Result<LoadedPlan, PlanError> {
    let text = crate::input::read_text(path, crate::input::Kind::Plan)?;
    let plan = parse_with(
        &text,
        &path.display().to_string(),
        crate::paths::parent(path),
        named,
    )?;
    Ok(LoadedPlan {
        plan,
        bytes: text.into_bytes(),
    })
}

/// The provider a plan is for, from `instance.provider`. A plan that does not say (or cannot be
/// read that far) is read as Marketo, whose rules then report what is missing.
fn sniff(text: &str) -> Result<ProviderKind, Diagnostic> {
    let sniff = match serde_saphyr::from_str_with_options::<Sniff>(text, yaml_options()) {
        Ok(sniff) => sniff,
        // Nothing else can be read well from a file of several documents.
        Err(error @ serde_saphyr::Error::MultipleDocuments { .. }) => {
            return Err(Diagnostic::from_yaml(&error));
        }
        Err(_) => return Ok(ProviderKind::Marketo),
    };
    let Some(provider) = sniff.instance.and_then(|i| i.provider) else {
        return Ok(ProviderKind::Marketo);
    };
    ProviderKind::from_name(provider.value.trim()).ok_or_else(|| {
        Diagnostic::at(
            provider.referenced,
            "instance.provider",
            format!("unknown provider `{}`", provider.value.escape_debug()),
        )
        .with_hint(format!(
            "relinker supports `{}`",
            ProviderKind::NAMES.join("`, `")
        ))
    })
}

/// Validates plan text; `origin` names it in messages, `base_dir` anchors relative paths.
pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Plan, PlanError> {
    parse_with(text, origin, base_dir, &[])
}

/// Validates a plan as [`parse`] does, its instance possibly one of `named` (a runner's).
pub fn parse_with(
    text: &str,
    origin: &str,
    base_dir: &Path,
    named: &[NamedInstance],
) -> Result<Plan, PlanError> {
    let invalid = |problems| PlanError::Invalid(Diagnostics::new(origin, problems));
    match sniff(text).map_err(|p| invalid(vec![p]))? {
        ProviderKind::Marketo => read(text, origin, base_dir, named, marketo::spec),
        ProviderKind::Dotdigital => read(text, origin, base_dir, named, dotdigital::spec),
        ProviderKind::Movius => read(text, origin, base_dir, named, movius::spec),
    }
}

/// The checks of one provider's instance, services and rotations.
type SpecCheck<I, S, R> =
    fn(&mut Checker, &I, Vec<S>, Spanned<Vec<Spanned<R>>>, &Path) -> Option<Spec>;

/// Reads a plan with one provider's raw types, then checks it.
fn read<I, S, R>(
    text: &str,
    origin: &str,
    base_dir: &Path,
    named: &[NamedInstance],
    spec: SpecCheck<I, S, R>,
) -> Result<Plan, PlanError>
where
    RawPlan<I, S, R>: DeserializeOwned + JsonSchema,
{
    let raw: RawPlan<I, S, R> =
        serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
            // serde names the first problem; the schema walk names them all.
            let schema =
                serde_json::to_value(schemars::schema_for!(RawPlan<I, S, R>)).unwrap_or_default();
            let mut problems = shape::problems(text, &schema);
            if problems.is_empty() {
                problems.push(hint_for_shape(Diagnostic::from_yaml(&e)));
            }
            PlanError::Invalid(Diagnostics::new(origin, problems))
        })?;
    let mut check = Checker {
        named: named.to_vec(),
        origin: origin.to_owned(),
        ..Checker::default()
    };
    let plan = check.envelope(raw, base_dir, spec);
    match plan {
        Some(plan) if check.problems.is_empty() => Ok(plan),
        _ => Err(PlanError::Invalid(Diagnostics::new(origin, check.problems))),
    }
}

/// Adds a hint to the parser's messages where a common mistake is likely.
fn hint_for_shape(diagnostic: Diagnostic) -> Diagnostic {
    if diagnostic.message.contains("unknown field") {
        diagnostic.with_hint(
            "see docs/plan-reference.md or `relinker schema` for the fields each block takes",
        )
    } else if diagnostic.message.contains("flow mapping")
        || diagnostic.message.contains("flow sequence")
    {
        diagnostic.with_hint("inside `{ ... }` or `[ ... ]`, quote values that contain `{`, `}` or `,`: `client_secret: \"${env:NAME}\"`")
    } else if diagnostic.message.contains("unknown variant") {
        diagnostic.with_hint("see docs/plan-reference.md for the rotations each provider takes")
    } else {
        diagnostic
    }
}

/// Which rotation already took each service and user.
#[derive(Default)]
pub(crate) struct Claims {
    services: BTreeMap<String, usize>,
    users: BTreeMap<String, (usize, String)>,
}

/// Collects every problem of a plan, with the helpers every provider's rules use.
#[derive(Default)]
pub(crate) struct Checker {
    pub(crate) problems: Vec<Diagnostic>,
    /// Every service name declared, including ones whose credentials are wrong (already
    /// reported): a rotation naming one is not a second mistake.
    declared_names: Vec<String>,
    /// Which rotation took each service and user.
    pub(crate) claims: Claims,
    /// The instances a runner declares, which the plan may name.
    named: Vec<NamedInstance>,
    /// The file, as the user named it: kept by what is checked later (the sandbox fixture).
    origin: String,
}

impl Checker {
    /// The runner's instance `name` names, for a `provider` plan; reported when there is none.
    pub(crate) fn named_instance(
        &mut self,
        name: &Text,
        provider: ProviderKind,
    ) -> Option<NamedInstance> {
        let wanted = name.value.trim();
        match self.named.iter().find(|i| i.name == wanted) {
            Some(named) if named.provider == provider => Some(named.clone()),
            Some(named) => {
                let other = named.provider;
                self.problem(
                    name.referenced,
                    "instance.name",
                    format!("the runner's instance `{wanted}` is a {other} instance, and this is a {provider} plan"),
                    None,
                );
                None
            }
            None if self.named.is_empty() => {
                self.problem(
                    name.referenced,
                    "instance.name",
                    format!("`{wanted}` names a runner's instance, and no runner configuration declares any"),
                    Some("give the runner configuration (--runner-config or RELINKER_RUNNER_CONFIG), or write the instance out"),
                );
                None
            }
            None => {
                let names: Vec<String> = self
                    .named
                    .iter()
                    .filter(|i| i.provider == provider)
                    .map(|i| format!("`{}`", i.name))
                    .collect();
                self.problem(
                    name.referenced,
                    "instance.name",
                    format!("the runner configuration declares no instance `{wanted}`"),
                    Some(&format!(
                        "its {provider} instances: {}",
                        if names.is_empty() {
                            "none".to_owned()
                        } else {
                            names.join(", ")
                        }
                    )),
                );
                None
            }
        }
    }

    /// A value the runner's named instance gives, as if written where the name is.
    pub(crate) fn from_name(name: &Text, value: &str) -> Text {
        Text {
            value: value.to_owned(),
            referenced: name.referenced,
            defined: name.defined,
        }
    }

    pub(crate) fn problem(
        &mut self,
        at: Location,
        field: &str,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        let mut diagnostic = Diagnostic::at(at, field, message);
        if let Some(hint) = hint {
            diagnostic = diagnostic.with_hint(hint);
        }
        self.problems.push(diagnostic);
    }

    pub(crate) fn email(&mut self, field: &str, value: &Text) -> Option<UserId> {
        match UserId::parse(&value.value) {
            Ok(id) => Some(id),
            Err(error) => {
                self.problem(
                    value.referenced,
                    field,
                    error.to_string(),
                    Some("userids are email addresses, such as `api.sync@acme.example`"),
                );
                None
            }
        }
    }

    pub(crate) fn secret(&mut self, field: &str, value: &Text) -> Option<SecretRef> {
        if let Some(reference) = SecretRef::parse(&value.value) {
            return Some(reference);
        }
        if SecretRef::looks_like_reference(&value.value) {
            let hint = if value.value.trim_start().starts_with("${store:") {
                "a store reference is `${store:STORE/PATH}` or `${store:STORE/PATH#KEY}`: the store's name, `/`, the secret's path (letters, digits, spaces and `/_+=.@:,-`, not starting with `-`, no `..` step), and a key"
            } else {
                "write `${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`"
            };
            self.problem(
                value.referenced,
                field,
                format!("`{}` is not a secret reference", value.value.escape_debug()),
                Some(hint),
            );
        } else {
            // Never echo the value: it may be a real secret pasted in by mistake.
            self.problem(value.referenced, field, "a secret written literally in the plan", Some("plans reference secrets, never hold them: write `${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`"));
        }
        None
    }

    pub(crate) fn credential(&mut self, field: &str, value: &Text) -> Option<Credential> {
        if SecretRef::looks_like_reference(&value.value) {
            return self.secret(field, value).map(Credential::Reference);
        }
        if value.value.trim().is_empty() {
            self.problem(value.referenced, field, "must not be empty", None);
            return None;
        }
        Some(Credential::Literal(value.value.trim().to_owned()))
    }

    /// The instance's `provider`, which must be `expected` (a file that embeds an instance
    /// block, an offboarding config say, takes one provider only).
    pub(crate) fn provider(&mut self, value: &Text, expected: ProviderKind) -> Option<()> {
        if value.value.trim() == expected.name() {
            return Some(());
        }
        self.problem(
            value.referenced,
            "instance.provider",
            format!("unknown provider `{}`", value.value.escape_debug()),
            Some(&format!("this file takes `{expected}`")),
        );
        None
    }

    pub(crate) fn duration(&mut self, field: &str, value: &Text) -> Option<Duration> {
        let parsed = crate::limits::parse_duration(value.value.trim());
        if parsed.is_none() {
            self.problem(
                value.referenced,
                field,
                format!("`{}` is not a duration", value.value.escape_debug()),
                Some("write a number and a unit: `90s`, `30m`, `24h`, `7d`"),
            );
        }
        parsed
    }

    /// A check command: a program and its arguments.
    pub(crate) fn command(
        &mut self,
        field: &str,
        words: &Spanned<Vec<Text>>,
    ) -> Option<super::CheckCommand> {
        let mut argv: Vec<String> = words.value.iter().map(|w| w.value.clone()).collect();
        if argv.first().is_none_or(|p| p.trim().is_empty()) {
            self.problem(
                words.referenced,
                field,
                "names no program",
                Some(
                    "write the program and its arguments as a list: `[./check-login.sh, --quiet]`",
                ),
            );
            return None;
        }
        if let Some(word) = words
            .value
            .iter()
            .find(|w| SecretRef::looks_like_reference(&w.value))
        {
            self.problem(
                word.referenced,
                field,
                "a secret reference in a check command's arguments",
                Some("the command gets the credential in RELINKER_USERNAME and RELINKER_PASSWORD; arguments are visible to every process on the machine"),
            );
            return None;
        }
        let program = argv.remove(0);
        Some(super::CheckCommand {
            program,
            args: argv,
        })
    }

    /// A service declaration's name: not empty, not declared twice.
    pub(crate) fn declare_service(&mut self, field: &str, name: &Text) -> Option<ServiceName> {
        if name.value.trim().is_empty() {
            self.problem(
                name.referenced,
                &format!("{field}.name"),
                "must not be empty",
                None,
            );
            return None;
        }
        if self.declared_names.contains(&name.value) {
            self.problem(
                name.referenced,
                &format!("{field}.name"),
                format!("service `{}` is declared twice", name.value.escape_debug()),
                None,
            );
            return None;
        }
        self.declared_names.push(name.value.clone());
        Some(ServiceName::new(name.value.clone()))
    }

    /// The services a rotation names: declared, and in no other rotation.
    pub(crate) fn service_list(
        &mut self,
        field: &str,
        raw: &Spanned<Vec<Text>>,
        rotation: usize,
    ) -> Vec<ServiceName> {
        if raw.value.is_empty() {
            self.problem(
                raw.referenced,
                field,
                "names no service",
                Some("list the services (integrations) that use the user"),
            );
        }
        let mut services = Vec::new();
        for (index, name) in raw.value.iter().enumerate() {
            let here = format!("{field}[{index}]");
            if !self.declared_names.contains(&name.value) {
                let known: Vec<&str> = self.declared_names.iter().map(String::as_str).collect();
                let hint = if known.is_empty() {
                    "declare it under `services:` with its credentials".to_owned()
                } else {
                    format!("declared services: {}", known.join(", "))
                };
                self.problem(
                    name.referenced,
                    &here,
                    format!("service `{}` is not declared", name.value.escape_debug()),
                    Some(&hint),
                );
                continue;
            }
            if let Some(other) = self.claims.services.insert(name.value.clone(), rotation) {
                let message = if other == rotation {
                    format!("service `{}` is listed twice", name.value)
                } else {
                    format!(
                        "service `{}` is already moved by rotations[{other}]",
                        name.value
                    )
                };
                self.problem(
                    name.referenced,
                    &here,
                    message,
                    Some("a service can take part in one rotation per plan"),
                );
                continue;
            }
            services.push(ServiceName::new(name.value.clone()));
        }
        services
    }

    /// Claims a user for a rotation: a user takes part in one rotation per plan.
    pub(crate) fn claim_user(
        &mut self,
        field: &str,
        user: &Text,
        id: Option<&UserId>,
        rotation: usize,
    ) {
        let Some(id) = id else { return };
        let key = id.folded().to_owned();
        if let Some((other, other_field)) = self.claims.users.get(&key) {
            let message = if *other == rotation {
                format!("`{id}` is also `{other_field}` in this rotation")
            } else {
                format!("`{id}` already takes part in rotations[{other}] (`{other_field}`)")
            };
            self.problem(
                user.referenced,
                field,
                message,
                Some("a user can take part in one rotation per plan"),
            );
        } else {
            self.claims.users.insert(key, (rotation, field.to_owned()));
        }
    }

    /// Claims the second user of a rotation (a temporary user, a replacement), which must not
    /// be the first: that clash gets its own message rather than "already takes part".
    pub(crate) fn claim_second_user(
        &mut self,
        second: (&str, &Text, Option<&UserId>),
        first: Option<&UserId>,
        clash: (&str, &str),
        rotation: usize,
    ) {
        let (field, raw, id) = second;
        let (same, hint) = clash;
        if let (Some(first), Some(second)) = (first, id)
            && first == second
        {
            self.problem(raw.referenced, field, same, Some(hint));
        } else {
            self.claim_user(field, raw, id, rotation);
        }
    }

    /// Checks the envelope and hands the provider's parts to its rules.
    fn envelope<I, S, R>(
        &mut self,
        raw: RawPlan<I, S, R>,
        base_dir: &Path,
        spec: SpecCheck<I, S, R>,
    ) -> Option<Plan> {
        if raw.version.value.0 != VERSION {
            self.problem(
                raw.version.referenced,
                "version",
                format!("version {} is not supported", raw.version.value.0),
                Some("this relinker reads version 1"),
            );
        }
        let name_ok = !raw.name.value.is_empty()
            && raw
                .name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !name_ok {
            self.problem(
                raw.name.referenced,
                "name",
                format!("`{}` is not a plan name", raw.name.value.escape_debug()),
                Some("use letters, digits, `.`, `_` and `-`; it names runs and files"),
            );
        }
        if raw.rotations.value.is_empty() {
            self.problem(
                raw.rotations.referenced,
                "rotations",
                "the plan has no rotations",
                Some("add at least one rotation; docs/plan-reference.md lists each provider's"),
            );
        }
        let policy = self.policy(&raw.policy);
        let sandbox_fixture = raw.sandbox.map(|sandbox| {
            SandboxFixture::new(
                base_dir,
                &sandbox.fixture.value,
                &self.origin,
                sandbox.fixture.referenced,
            )
        });
        let notify = raw.notify.and_then(|notify| {
            let reference = SecretRef::parse(&notify.value);
            if reference.is_none() {
                self.problem(
                    notify.referenced,
                    "notify",
                    "a webhook URL is a secret: the plan must reference it, not contain it",
                    Some("`${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`"),
                );
            }
            reference
        });
        let max_deletions_at = raw
            .policy
            .max_deletions
            .as_ref()
            .map_or(Location::UNKNOWN, |m| m.referenced);
        let spec = spec(self, &raw.instance, raw.services, raw.rotations, base_dir);
        if let (Some(policy), Some(spec)) = (policy, &spec) {
            let deletions = spec.certain_deletions();
            if deletions > policy.max_deletions as usize {
                self.problem(max_deletions_at, "policy.max_deletions", format!("the plan deletes {deletions} users, more than max_deletions ({})", policy.max_deletions), Some("raise `policy.max_deletions` if that is intended, or retire with `expire`, `disable` or `keep`"));
            }
        }
        Some(Plan {
            name: raw.name.value,
            description: raw.description,
            spec: spec?,
            policy: policy?,
            sandbox_fixture,
            notify,
            base_dir: base_dir.to_path_buf(),
        })
    }

    fn policy(&mut self, raw: &RawPolicy) -> Option<Policy> {
        let on_failure = match raw
            .on_failure
            .as_ref()
            .map(|t| (t.value.as_str(), t.referenced))
        {
            None | Some(("rollback", _)) => OnFailure::Rollback,
            Some(("pause", _)) => OnFailure::Pause,
            Some((other, at)) => {
                self.problem(
                    at,
                    "policy.on_failure",
                    format!("unknown policy `{}`", other.escape_debug()),
                    Some("use `rollback` or `pause`"),
                );
                return None;
            }
        };
        Some(Policy {
            on_failure,
            max_deletions: raw
                .max_deletions
                .as_ref()
                .map_or(DEFAULT_MAX_DELETIONS, |m| m.value),
        })
    }
}

impl Spec {
    /// How many users the plan deletes for certain (a temporary user is deleted only if the
    /// run creates it, which planning decides against live state).
    pub(crate) fn certain_deletions(&self) -> usize {
        match self {
            Spec::Marketo(spec) => spec.certain_deletions(),
            Spec::Dotdigital(spec) => spec.certain_deletions(),
            Spec::Movius(spec) => spec.certain_deletions(),
        }
    }
}
