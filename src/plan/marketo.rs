//! Marketo plans: the admin service relinker acts as, the LaunchPoint services whose
//! credentials it may use to verify links, and the rotations `rename`, `replace` and `relink`.

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Spec as AnySpec;
use super::raw::Text;
use super::secret_ref::{Credential, SecretRef};
use super::validate::Checker;
use crate::endpoint::check_base_url;
use crate::ids::{ServiceName, UserId};
use crate::limits::{Limits, RateLimit, Share};

/// Marketo's documented daily quota: 50,000 calls per instance and quota day, shared by every
/// integration; `instance.limits.daily` says so when an instance bought more.
pub const DEFAULT_DAILY_QUOTA: u64 = 50_000;

// ---- the file as written ----

/// The instance block.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// The platform.
    #[schemars(with = "String", extend("enum" = [super::ProviderKind::Marketo.name()]))]
    pub(crate) provider: Text,
    /// An instance the runner configuration declares, by its name: its base URL and admin
    /// credential come from there (give either this, or the three fields below).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) name: Option<Text>,
    /// REST base URL, e.g. `https://123-ABC-456.mktorest.com`; `http://` only for loopback.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) base_url: Option<Text>,
    /// Client id of the admin service: a literal or a `${env:NAME}` / `${file:PATH}` reference.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) client_id: Option<Text>,
    /// Client secret of the admin service: only a reference: `${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`.
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub(crate) client_secret: Option<Text>,
    /// The instance's limits; Marketo's defaults when absent.
    #[serde(default)]
    pub(crate) limits: Option<RawLimits>,
}

/// Rate and concurrency limits.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Calls per sliding window, `CALLS/WINDOW` such as `100/20s`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) rate: Option<Text>,
    /// Calls in flight.
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub(crate) concurrency: Option<Spanned<u32>>,
    /// The part of both limits relinker may use, from 0.001 to 1 (default 1): the instance's
    /// limits are shared with every integration.
    #[serde(default)]
    #[schemars(with = "Option<f64>")]
    pub(crate) share: Option<Spanned<f64>>,
    /// Calls the instance allows per day (US Central), shared by every integration: Marketo's
    /// 50,000 unless more were bought. Long reads weigh themselves against what is left.
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub(crate) daily: Option<Spanned<u64>>,
}

/// A LaunchPoint service relinker knows the credentials of.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Name as Admin > LaunchPoint shows it.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// Client id: a literal or a secret reference.
    #[schemars(with = "String")]
    pub(crate) client_id: Text,
    /// Client secret: only a reference: `${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`.
    #[schemars(with = "String", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub(crate) client_secret: Text,
}

/// One rotation: exactly one of `rename`, `replace`, `relink`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRotation {
    /// Edit a user in place: move its services to a temporary user, edit it, move them back.
    Rename(RawRename),
    /// A new API-only user takes over the services; the old one is retired.
    Replace(RawReplace),
    /// Move services to an existing API-only user.
    Relink(RawRelink),
}

/// `rename:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRename {
    /// The user to edit (its userid).
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// Its new email address.
    #[schemars(with = "String")]
    pub(crate) email: Text,
    /// Its new first name.
    #[serde(default)]
    pub(crate) first_name: Option<String>,
    /// Its new last name.
    #[serde(default)]
    pub(crate) last_name: Option<String>,
    /// The API-only user that holds the services meanwhile; created if it does not exist.
    #[schemars(with = "String")]
    pub(crate) temporary_user: Text,
    /// Keep the temporary user afterwards (default: delete it if this run created it).
    #[serde(default)]
    pub(crate) keep_temporary_user: bool,
    /// The services linked to the user.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
}

/// `replace:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplace {
    /// The user being retired.
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// The API-only user taking over; created if it does not exist. `{service}` in it gives each
    /// service a new user of its own (`api.{service}@acme.example`), named by the service.
    #[serde(rename = "with")]
    #[schemars(with = "String")]
    pub(crate) with: Text,
    /// The services linked to the user.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
    /// What happens to the old user: `delete`, `expire` (sets expiresAt) or `keep`.
    #[serde(default)]
    #[schemars(with = "Option<String>", extend("enum" = ["delete", "expire", "keep"]))]
    pub(crate) retire: Option<Text>,
}

/// `relink:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRelink {
    /// The services to move.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
    /// The existing API-only user they move to.
    #[schemars(with = "String")]
    pub(crate) to: Text,
}

// ---- the plan as validated ----

/// The instance block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Checked base URL.
    pub base_url: String,
    /// Admin service client id.
    pub client_id: Credential,
    /// Admin service client secret.
    pub client_secret: SecretRef,
    /// Rate and concurrency limits.
    pub limits: Limits,
    /// Calls the instance allows per quota day.
    pub daily_quota: u64,
}

/// A declared LaunchPoint service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDecl {
    /// Its name.
    pub name: ServiceName,
    /// Its client id.
    pub client_id: Credential,
    /// Its client secret.
    pub client_secret: SecretRef,
}

/// What happens to a replaced user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// Delete it (irreversible, last).
    Delete,
    /// Set its `expiresAt` to now: a soft retirement.
    Expire,
    /// Leave it.
    Keep,
}

/// What to do with the temporary user of a rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporaryUser {
    /// Delete it at the end if this run created it.
    DeleteIfCreated,
    /// Keep it.
    Keep,
}

/// One intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// Edit a user in place through a temporary user.
    Rename {
        /// The user to edit.
        user: UserId,
        /// Its new email address.
        email: UserId,
        /// Its new first name.
        first_name: Option<String>,
        /// Its new last name.
        last_name: Option<String>,
        /// The temporary API-only user.
        temporary_user: UserId,
        /// What happens to it afterwards.
        temporary: TemporaryUser,
        /// The services linked to the user.
        services: Vec<ServiceName>,
    },
    /// A new user takes over.
    Replace {
        /// The user being retired.
        user: UserId,
        /// The users taking over: one for every service, or one per service.
        with: Vec<Successor>,
        /// The services linked to the user.
        services: Vec<ServiceName>,
        /// What happens to the old user.
        retire: Retire,
    },
    /// Services move to an existing user.
    Relink {
        /// The services.
        services: Vec<ServiceName>,
        /// Their new user.
        to: UserId,
    },
}

/// A user taking over services in a `replace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    /// The user; created if it does not exist.
    pub user: UserId,
    /// The services it takes over, in the plan's order.
    pub services: Vec<ServiceName>,
}

/// The placeholder of a `replace`'s `with` that names each service's own new user.
pub const SERVICE_PLACEHOLDER: &str = "{service}";

/// `template` with `{service}` filled for `service` (its slug, as in step ids).
pub fn for_service(template: &str, service: &ServiceName) -> String {
    template.replace(SERVICE_PLACEHOLDER, &service.slug())
}

impl Rotation {
    /// The services this rotation moves.
    pub fn services(&self) -> &[ServiceName] {
        match self {
            Rotation::Rename { services, .. }
            | Rotation::Replace { services, .. }
            | Rotation::Relink { services, .. } => services,
        }
    }

    /// A heading for people.
    pub fn heading(&self) -> String {
        match self {
            Rotation::Rename { user, email, .. } => format!("rename `{user}` to email `{email}`"),
            Rotation::Replace {
                user, with, retire, ..
            } => {
                let retire = match retire {
                    Retire::Delete => "delete",
                    Retire::Expire => "expire",
                    Retire::Keep => "keep",
                };
                let with = match with.as_slice() {
                    [one] => format!("`{}`", one.user),
                    each => each
                        .iter()
                        .map(|s| format!("`{}` ({})", s.user, listed(&s.services)))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                format!("replace `{user}` with {with} (retire: {retire})")
            }
            Rotation::Relink { services, to } => {
                format!("relink {} to `{to}`", listed(services))
            }
        }
    }

    /// One word for the intent.
    pub fn kind(&self) -> &'static str {
        match self {
            Rotation::Rename { .. } => "rename",
            Rotation::Replace { .. } => "replace",
            Rotation::Relink { .. } => "relink",
        }
    }
}

fn listed(services: &[ServiceName]) -> String {
    services
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Marketo plan's instance, services and rotations.
pub type Spec = super::model::ProviderSpec<Instance, ServiceDecl, Rotation>;

impl super::model::Declared for ServiceDecl {
    fn name(&self) -> &ServiceName {
        &self.name
    }
}

impl super::model::Intent for Rotation {
    fn deletes_for_certain(&self) -> bool {
        matches!(
            self,
            Rotation::Replace {
                retire: Retire::Delete,
                ..
            }
        )
    }
}

// ---- the rules ----

/// Checks a Marketo plan's instance, services and rotations.
pub(crate) fn spec(
    check: &mut Checker,
    instance: &RawInstance,
    services: Vec<RawService>,
    rotations: Spanned<Vec<Spanned<RawRotation>>>,
    _base_dir: &Path,
) -> Option<AnySpec> {
    let instance = check.marketo_instance(instance);
    let services = check.marketo_services(services);
    let mut checked = Vec::new();
    for (index, rotation) in rotations.value.into_iter().enumerate() {
        checked.extend(match rotation.value {
            RawRotation::Rename(r) => check.rename(index, r),
            RawRotation::Replace(r) => check.replace(index, &r),
            RawRotation::Relink(r) => check.relink(index, &r),
        });
    }
    Some(AnySpec::Marketo(Spec {
        instance: instance?,
        services,
        rotations: checked,
    }))
}

/// Checks an `instance` block and a `services` list as a plan would, for other files that
/// embed them (offboarding configs). Problems are returned, not reported.
pub(crate) fn check_connection(
    instance: &RawInstance,
    services: Vec<RawService>,
) -> (
    Option<Instance>,
    Vec<ServiceDecl>,
    Vec<crate::diagnostic::Diagnostic>,
) {
    let mut check = Checker::default();
    let instance = check.marketo_instance(instance);
    let services = check.marketo_services(services);
    (instance, services, check.problems)
}

impl Checker {
    fn marketo_instance(&mut self, raw: &RawInstance) -> Option<Instance> {
        let provider = self.provider(&raw.provider, super::ProviderKind::Marketo);
        let (base_url, client_id, client_secret) = self.marketo_connection(raw)?;
        let base_url = match check_base_url(base_url.value.trim()) {
            Ok(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
            Err(reason) => {
                self.problem(
                    base_url.referenced,
                    "instance.base_url",
                    reason,
                    Some("e.g. `https://123-ABC-456.mktorest.com`"),
                );
                None
            }
        };
        let client_id = self.credential("instance.client_id", &client_id);
        let client_secret = self.secret("instance.client_secret", &client_secret);
        let limits = self.limits(raw.limits.as_ref());
        let daily_quota = self.daily_quota(raw.limits.as_ref());
        provider?;
        Some(Instance {
            base_url: base_url?,
            client_id: client_id?,
            client_secret: client_secret?,
            limits: limits?,
            daily_quota: daily_quota?,
        })
    }

    /// The base URL, client id and client secret the instance block gives, written out or
    /// taken from the runner's instance it names; each missing one is reported.
    fn marketo_connection(&mut self, raw: &RawInstance) -> Option<(Text, Text, Text)> {
        let written = [
            ("base_url", raw.base_url.as_ref()),
            ("client_id", raw.client_id.as_ref()),
            ("client_secret", raw.client_secret.as_ref()),
        ];
        if let Some(name) = &raw.name {
            let beside: Vec<String> = written
                .iter()
                .filter(|(_, given)| given.is_some())
                .map(|(field, _)| format!("`instance.{field}`"))
                .collect();
            if !beside.is_empty() {
                self.problem(
                    name.referenced,
                    "instance.name",
                    format!(
                        "a named instance takes its base URL and admin credential from the runner configuration; {} would override it",
                        beside.join(", ")
                    ),
                    Some("give either `name`, or `base_url`, `client_id` and `client_secret`"),
                );
                return None;
            }
            let named = self.named_instance(name, super::ProviderKind::Marketo)?;
            let (Some(client_id), Some(client_secret)) = (&named.client_id, &named.client_secret)
            else {
                self.problem(
                    name.referenced,
                    "instance.name",
                    format!(
                        "the runner's instance `{}` gives no admin credential (`client_id` and `client_secret`), which a Marketo plan needs",
                        named.name
                    ),
                    None,
                );
                return None;
            };
            return Some((
                Checker::from_name(name, &named.base_url),
                Checker::from_name(name, client_id),
                Checker::from_name(name, client_secret),
            ));
        }
        let missing: Vec<&str> = written
            .iter()
            .filter(|(_, given)| given.is_none())
            .map(|(field, _)| *field)
            .collect();
        for field in &missing {
            self.problem(
                raw.provider.referenced,
                &format!("instance.{field}"),
                format!("missing field `{field}`"),
                Some("write out `base_url`, `client_id` and `client_secret`, or name an instance of the runner configuration with `name`"),
            );
        }
        if !missing.is_empty() {
            return None;
        }
        Some((
            raw.base_url.clone()?,
            raw.client_id.clone()?,
            raw.client_secret.clone()?,
        ))
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
        if let Some(share) = &raw.share {
            if let Some(parsed) = Share::new(share.value) {
                limits.share = parsed;
            } else {
                self.problem(
                    share.referenced,
                    "instance.limits.share",
                    format!("{} is not a share: give a number from 0.001 to 1", share.value),
                    Some("e.g. `share: 0.5` leaves half of the instance's limits to other integrations"),
                );
                ok = false;
            }
        }
        ok.then_some(limits)
    }

    fn daily_quota(&mut self, raw: Option<&RawLimits>) -> Option<u64> {
        let default = DEFAULT_DAILY_QUOTA;
        match raw.and_then(|raw| raw.daily.as_ref()) {
            None => Some(default),
            Some(daily) if daily.value == 0 => {
                self.problem(
                    daily.referenced,
                    "instance.limits.daily",
                    "must be at least 1",
                    Some("Marketo's default is `daily: 50000` calls a day"),
                );
                None
            }
            Some(daily) => Some(daily.value),
        }
    }

    fn marketo_services(&mut self, raw: Vec<RawService>) -> Vec<ServiceDecl> {
        let mut declared: Vec<ServiceDecl> = Vec::new();
        for (index, service) in raw.into_iter().enumerate() {
            let field = format!("services[{index}]");
            let Some(name) = self.declare_service(&field, &service.name) else {
                continue;
            };
            let client_id = self.credential(&format!("{field}.client_id"), &service.client_id);
            let client_secret =
                self.secret(&format!("{field}.client_secret"), &service.client_secret);
            if let (Some(client_id), Some(client_secret)) = (client_id, client_secret) {
                declared.push(ServiceDecl {
                    name,
                    client_id,
                    client_secret,
                });
            }
        }
        declared
    }

    fn rename(&mut self, index: usize, r: RawRename) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].rename.{name}");
        let user = self.email(&at("user"), &r.user);
        let email = self.email(&at("email"), &r.email);
        let temporary_user = self.email(&at("temporary_user"), &r.temporary_user);
        self.claim_user(&at("user"), &r.user, user.as_ref(), index);
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
            index,
        );
        let services = self.service_list(&at("services"), &r.services, index);
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

    fn replace(&mut self, index: usize, r: &RawReplace) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].replace.{name}");
        let user = self.email(&at("user"), &r.user);
        self.claim_user(&at("user"), &r.user, user.as_ref(), index);
        let retire = match r.retire.as_ref().map(|t| (t.value.as_str(), t.referenced)) {
            None | Some(("delete", _)) => Some(Retire::Delete),
            Some(("expire", _)) => Some(Retire::Expire),
            Some(("keep", _)) => Some(Retire::Keep),
            Some((other, place)) => {
                self.problem(
                    place,
                    &at("retire"),
                    format!("unknown retirement `{}`", other.escape_debug()),
                    Some("use `delete`, `expire` or `keep`"),
                );
                None
            }
        };
        let services = self.service_list(&at("services"), &r.services, index);
        let with = self.successors(&at("with"), &r.with, user.as_ref(), &services, index);
        Some(Rotation::Replace {
            user: user?,
            with: with?,
            services,
            retire: retire?,
        })
    }

    /// The users a `replace` hands its services to: `with` itself, or with `{service}` in it,
    /// one per service. Each is checked and claimed as the rotation's own.
    fn successors(
        &mut self,
        field: &str,
        with: &Text,
        user: Option<&UserId>,
        services: &[ServiceName],
        index: usize,
    ) -> Option<Vec<Successor>> {
        let per_service = with.value.contains(SERVICE_PLACEHOLDER);
        let groups: Vec<(Text, Vec<ServiceName>)> = if per_service {
            services
                .iter()
                .map(|service| {
                    let mut filled = with.clone();
                    filled.value = for_service(&with.value, service);
                    (filled, vec![service.clone()])
                })
                .collect()
        } else {
            vec![(with.clone(), services.to_vec())]
        };
        let mut successors = Vec::new();
        let mut valid = true;
        for (text, services) in groups {
            let id = self.email(field, &text);
            self.claim_second_user(
                (field, &text, id.as_ref()),
                user,
                (
                    "the new user is the user being replaced",
                    "to edit a user in place, use `rename:`",
                ),
                index,
            );
            match id {
                Some(user) => successors.push(Successor { user, services }),
                None => valid = false,
            }
        }
        valid.then_some(successors)
    }

    fn relink(&mut self, index: usize, r: &RawRelink) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].relink.{name}");
        let to = self.email(&at("to"), &r.to);
        self.claim_user(&at("to"), &r.to, to.as_ref(), index);
        let services = self.service_list(&at("services"), &r.services, index);
        Some(Rotation::Relink { services, to: to? })
    }
}
