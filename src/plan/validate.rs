//! From the raw YAML to a [`Plan`]: every rule of the plan language, every problem reported
//! with its position, its field and a hint. No network, no secrets read: `relinker validate`
//! runs this alone, as a CI gate.

use std::collections::BTreeMap;
use std::path::Path;

use serde_saphyr::{Location, Spanned};

use super::model::{
    Instance, OnFailure, Plan, Policy, ProviderKind, Retire, Rotation, ServiceDecl, TemporaryUser,
};
use super::raw::{
    RawInstance, RawLimits, RawPlan, RawRelink, RawRename, RawReplace, RawRotation, Text,
};
use super::secret_ref::{Credential, SecretRef};
use crate::diagnostic::{Diagnostic, Diagnostics, shape, yaml_options};
use crate::endpoint::check_base_url;
use crate::ids::{ServiceName, UserId};
use crate::limits::Limits;
use crate::limits::RateLimit;

/// The only plan format version.
const VERSION: u32 = 1;
/// Deletions allowed when the policy names no limit.
const DEFAULT_MAX_DELETIONS: u32 = 1;

/// Why a plan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read plan `{path}`: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("plan `{path}` is not UTF-8 text (line {line}, column {column} is the first bad byte)")]
    NotUtf8 {
        /// The path as given.
        path: String,
        /// 1-based line of the first bad byte.
        line: usize,
        /// 1-based column (in bytes) of the first bad byte.
        column: usize,
    },
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
    let bytes = std::fs::read(path).map_err(|source| PlanError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        // The text up to the first bad byte is valid UTF-8, so lines can be counted in it.
        let before = String::from_utf8_lossy(&bytes[..e.valid_up_to()]);
        let line = before.lines().count().max(1) + usize::from(before.ends_with('\n'));
        let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        PlanError::NotUtf8 {
            path: path.display().to_string(),
            line,
            column,
        }
    })?;
    let plan = parse(
        text,
        &path.display().to_string(),
        crate::paths::parent(path),
    )?;
    Ok(LoadedPlan { plan, bytes })
}

/// Validates plan text; `origin` names it in messages, `base_dir` anchors relative paths.
pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Plan, PlanError> {
    let raw: RawPlan = serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        // serde names the first problem; the schema walk names them all.
        let mut problems = shape::problems(text, &super::schema());
        if problems.is_empty() {
            problems.push(hint_for_shape(Diagnostic::from_yaml(&e)));
        }
        PlanError::Invalid(Diagnostics::new(origin, problems))
    })?;
    let mut check = Checker::default();
    let plan = check.plan(raw, base_dir);
    match plan {
        Some(plan) if check.problems.is_empty() => Ok(plan),
        _ => Err(PlanError::Invalid(Diagnostics::new(origin, check.problems))),
    }
}

/// Checks an `instance` block and a `services` list as a plan would, for other files that
/// embed them (offboarding configs). Problems are returned, not reported.
pub(crate) fn check_connection(
    instance: &RawInstance,
    services: Vec<super::raw::RawService>,
) -> (Option<Instance>, Vec<ServiceDecl>, Vec<Diagnostic>) {
    let mut check = Checker::default();
    let instance = check.instance(instance);
    let services = check.services(services);
    (instance, services, check.problems)
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
        diagnostic.with_hint("a rotation is one of `rename:`, `replace:` or `relink:`")
    } else {
        diagnostic
    }
}

/// Which rotation already took each service and user.
#[derive(Default)]
struct Claims {
    services: BTreeMap<String, usize>,
    users: BTreeMap<String, (usize, String)>,
}

#[derive(Default)]
struct Checker {
    problems: Vec<Diagnostic>,
    /// Every service name declared, including ones whose credentials are wrong (already
    /// reported): a rotation naming one is not a second mistake.
    declared_names: Vec<String>,
}

impl Checker {
    fn problem(
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

    fn email(&mut self, field: &str, value: &Text) -> Option<UserId> {
        if let Ok(id) = UserId::parse(&value.value) {
            Some(id)
        } else {
            self.problem(
                value.referenced,
                field,
                format!("`{}` is not an email address", value.value),
                Some("userids are email addresses, such as `api.sync@acme.example`"),
            );
            None
        }
    }

    fn secret(&mut self, field: &str, value: &Text) -> Option<SecretRef> {
        if let Some(reference) = SecretRef::parse(&value.value) {
            return Some(reference);
        }
        if SecretRef::looks_like_reference(&value.value) {
            self.problem(
                value.referenced,
                field,
                format!("`{}` is not a secret reference", value.value),
                Some("write `${env:NAME}` or `${file:PATH}`"),
            );
        } else {
            // Never echo the value: it may be a real secret pasted in by mistake.
            self.problem(value.referenced, field, "a secret written literally in the plan", Some("plans reference secrets, never hold them: write `${env:NAME}` or `${file:PATH}`"));
        }
        None
    }

    fn credential(&mut self, field: &str, value: &Text) -> Option<Credential> {
        if SecretRef::looks_like_reference(&value.value) {
            return self.secret(field, value).map(Credential::Reference);
        }
        if value.value.trim().is_empty() {
            self.problem(value.referenced, field, "must not be empty", None);
            return None;
        }
        Some(Credential::Literal(value.value.trim().to_owned()))
    }

    fn plan(&mut self, raw: RawPlan, base_dir: &Path) -> Option<Plan> {
        if raw.version.value != VERSION {
            self.problem(
                raw.version.referenced,
                "version",
                format!("version {} is not supported", raw.version.value),
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
                format!("`{}` is not a plan name", raw.name.value),
                Some("use letters, digits, `.`, `_` and `-`; it names runs and files"),
            );
        }
        let instance = self.instance(&raw.instance);
        let services = self.services(raw.services);
        let rotations = self.rotations(raw.rotations);
        let policy = self.policy(&raw.policy);
        if let Some(policy) = policy {
            let deletions = rotations.iter().filter(|r| r.deletes_a_user()).count();
            if deletions > policy.max_deletions as usize {
                let at = raw
                    .policy
                    .max_deletions
                    .as_ref()
                    .map_or(Location::UNKNOWN, |m| m.referenced);
                self.problem(at, "policy.max_deletions", format!("the plan deletes {deletions} users, more than max_deletions ({})", policy.max_deletions), Some("raise `policy.max_deletions` if that is intended, or retire with `expire` or `keep`"));
            }
        }
        let sandbox_fixture = raw.sandbox.and_then(|sandbox| {
            let path = base_dir.join(&sandbox.fixture.value);
            if path.is_file() {
                Some(path)
            } else {
                self.problem(
                    sandbox.fixture.referenced,
                    "sandbox.fixture",
                    format!("no fixture at `{}`", path.display()),
                    Some("the path is relative to the plan file"),
                );
                None
            }
        });
        Some(Plan {
            name: raw.name.value,
            description: raw.description,
            instance: instance?,
            services,
            rotations,
            policy: policy?,
            sandbox_fixture,
            base_dir: base_dir.to_path_buf(),
        })
    }

    fn instance(&mut self, raw: &RawInstance) -> Option<Instance> {
        let provider = if raw.provider.value == "marketo" {
            Some(ProviderKind::Marketo)
        } else {
            self.problem(
                raw.provider.referenced,
                "instance.provider",
                format!("unknown provider `{}`", raw.provider.value),
                Some("relinker supports `marketo`"),
            );
            None
        };
        let base_url = match check_base_url(raw.base_url.value.trim()) {
            Ok(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
            Err(reason) => {
                self.problem(
                    raw.base_url.referenced,
                    "instance.base_url",
                    reason,
                    Some("e.g. `https://123-ABC-456.mktorest.com`"),
                );
                None
            }
        };
        let client_id = self.credential("instance.client_id", &raw.client_id);
        let client_secret = self.secret("instance.client_secret", &raw.client_secret);
        let limits = self.limits(raw.limits.as_ref());
        Some(Instance {
            provider: provider?,
            base_url: base_url?,
            client_id: client_id?,
            client_secret: client_secret?,
            limits: limits?,
        })
    }

    fn limits(&mut self, raw: Option<&RawLimits>) -> Option<Limits> {
        let mut limits = Limits::default();
        let Some(raw) = raw else { return Some(limits) };
        let mut ok = true;
        if let Some(rate) = &raw.rate {
            match rate.value.parse::<RateLimit>() {
                Ok(parsed) => limits.rate = parsed,
                Err(e) => {
                    self.problem(rate.referenced, "instance.limits.rate", e.to_string(), None);
                    ok = false;
                }
            }
        }
        if let Some(concurrency) = &raw.concurrency {
            if concurrency.value == 0 {
                self.problem(
                    concurrency.referenced,
                    "instance.limits.concurrency",
                    "must be at least 1",
                    None,
                );
                ok = false;
            }
            limits.concurrency = concurrency.value as usize;
        }
        ok.then_some(limits)
    }

    fn services(&mut self, raw: Vec<super::raw::RawService>) -> Vec<ServiceDecl> {
        let mut declared: Vec<ServiceDecl> = Vec::new();
        for (index, service) in raw.into_iter().enumerate() {
            let field = format!("services[{index}]");
            if service.name.value.trim().is_empty() {
                self.problem(
                    service.name.referenced,
                    &format!("{field}.name"),
                    "must not be empty",
                    None,
                );
                continue;
            }
            if self.declared_names.contains(&service.name.value) {
                self.problem(
                    service.name.referenced,
                    &format!("{field}.name"),
                    format!("service `{}` is declared twice", service.name.value),
                    None,
                );
                continue;
            }
            self.declared_names.push(service.name.value.clone());
            let client_id = self.credential(&format!("{field}.client_id"), &service.client_id);
            let client_secret =
                self.secret(&format!("{field}.client_secret"), &service.client_secret);
            if let (Some(client_id), Some(client_secret)) = (client_id, client_secret) {
                declared.push(ServiceDecl {
                    name: ServiceName::new(service.name.value),
                    client_id,
                    client_secret,
                });
            }
        }
        declared
    }

    fn service_list(
        &mut self,
        field: &str,
        raw: &Spanned<Vec<Text>>,
        claimed: &mut BTreeMap<String, usize>,
        rotation: usize,
    ) -> Vec<ServiceName> {
        if raw.value.is_empty() {
            self.problem(
                raw.referenced,
                field,
                "names no service",
                Some("list the LaunchPoint services linked to the user"),
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
                    format!("service `{}` is not declared", name.value),
                    Some(&hint),
                );
                continue;
            }
            if let Some(other) = claimed.insert(name.value.clone(), rotation) {
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

    fn claim_user(
        &mut self,
        field: &str,
        user: &Text,
        id: Option<&UserId>,
        claimed: &mut BTreeMap<String, (usize, String)>,
        rotation: usize,
    ) {
        let Some(id) = id else { return };
        let key = id.folded().to_owned();
        if let Some((other, other_field)) = claimed.get(&key) {
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
            claimed.insert(key, (rotation, field.to_owned()));
        }
    }

    /// Claims the second user of a rotation (`temporary_user`, `with`), which must not be the
    /// first: that clash gets its own message rather than "already takes part".
    fn claim_second_user(
        &mut self,
        (field, raw, id): (&str, &Text, Option<&UserId>),
        first: Option<&UserId>,
        (same, hint): (&str, &str),
        claims: &mut Claims,
        rotation: usize,
    ) {
        if let (Some(first), Some(second)) = (first, id)
            && first == second
        {
            self.problem(raw.referenced, field, same, Some(hint));
        } else {
            self.claim_user(field, raw, id, &mut claims.users, rotation);
        }
    }

    fn rotations(&mut self, raw: Spanned<Vec<Spanned<RawRotation>>>) -> Vec<Rotation> {
        if raw.value.is_empty() {
            self.problem(
                raw.referenced,
                "rotations",
                "the plan has no rotations",
                Some("add a `rename:`, `replace:` or `relink:`"),
            );
        }
        let mut claims = Claims::default();
        let mut rotations = Vec::new();
        for (index, rotation) in raw.value.into_iter().enumerate() {
            let rotation = match rotation.value {
                RawRotation::Rename(r) => self.rename(index, r, &mut claims),
                RawRotation::Replace(r) => self.replace(index, &r, &mut claims),
                RawRotation::Relink(r) => self.relink(index, &r, &mut claims),
            };
            rotations.extend(rotation);
        }
        rotations
    }

    fn rename(&mut self, index: usize, r: RawRename, claims: &mut Claims) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].rename.{name}");
        let user = self.email(&at("user"), &r.user);
        let email = self.email(&at("email"), &r.email);
        let temporary_user = self.email(&at("temporary_user"), &r.temporary_user);
        self.claim_user(
            &at("user"),
            &r.user,
            user.as_ref(),
            &mut claims.users,
            index,
        );
        self.claim_second_user(
            (
                &at("temporary_user"),
                &r.temporary_user,
                temporary_user.as_ref(),
            ),
            user.as_ref(),
            (
                "the temporary user is the user being renamed",
                "name another API-only user (it is created if missing)",
            ),
            claims,
            index,
        );
        let services = self.service_list(&at("services"), &r.services, &mut claims.services, index);
        Some(Rotation::Rename {
            user: user?,
            email: email?,
            first_name: r.first_name,
            last_name: r.last_name,
            temporary_user: temporary_user?,
            temporary: if r.keep_temporary_user {
                TemporaryUser::Keep
            } else {
                TemporaryUser::DeleteIfCreated
            },
            services,
        })
    }

    fn replace(&mut self, index: usize, r: &RawReplace, claims: &mut Claims) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].replace.{name}");
        let user = self.email(&at("user"), &r.user);
        let with = self.email(&at("with"), &r.with);
        self.claim_user(
            &at("user"),
            &r.user,
            user.as_ref(),
            &mut claims.users,
            index,
        );
        self.claim_second_user(
            (&at("with"), &r.with, with.as_ref()),
            user.as_ref(),
            (
                "the new user is the user being replaced",
                "to edit a user in place, use `rename:`",
            ),
            claims,
            index,
        );
        let retire = match r.retire.as_ref().map(|t| (t.value.as_str(), t.referenced)) {
            None | Some(("delete", _)) => Some(Retire::Delete),
            Some(("expire", _)) => Some(Retire::Expire),
            Some(("keep", _)) => Some(Retire::Keep),
            Some((other, place)) => {
                self.problem(
                    place,
                    &at("retire"),
                    format!("unknown retirement `{other}`"),
                    Some("use `delete`, `expire` or `keep`"),
                );
                None
            }
        };
        let services = self.service_list(&at("services"), &r.services, &mut claims.services, index);
        Some(Rotation::Replace {
            user: user?,
            with: with?,
            services,
            retire: retire?,
        })
    }

    fn relink(&mut self, index: usize, r: &RawRelink, claims: &mut Claims) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].relink.{name}");
        let to = self.email(&at("to"), &r.to);
        self.claim_user(&at("to"), &r.to, to.as_ref(), &mut claims.users, index);
        let services = self.service_list(&at("services"), &r.services, &mut claims.services, index);
        Some(Rotation::Relink { services, to: to? })
    }

    fn policy(&mut self, raw: &super::raw::RawPolicy) -> Option<Policy> {
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
                    format!("unknown policy `{other}`"),
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
