//! Movius MultiLine plans: the API users an organization's external applications (HttpApi,
//! Salesforce, a custom app) use, managed only in the Administrators tool. Nothing public can
//! observe them, so every step is a person's and is attested, unless a service names a check
//! command that can tell whether a credential authenticates. Rotations: `rename` (a departed
//! administrator's email on the API user) and `replace` (a new API user for the application).

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::Spec as AnySpec;
use super::command::CheckCommand;
use super::raw::Text;
use super::secret_ref::Login;
use super::validate::Checker;
use crate::ids::{ServiceName, UserId};

// ---- the file as written ----

/// The instance block.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInstance {
    /// The platform.
    #[schemars(with = "String", extend("enum" = [super::ProviderKind::Movius.name()]))]
    pub(crate) provider: Text,
    /// The organization's name, for messages.
    #[serde(default)]
    pub(crate) organization: Option<String>,
    /// An instance the runner configuration declares, by its name: what check commands are
    /// told as `RELINKER_BASE_URL` comes from there (give either this, or `base_url`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) name: Option<Text>,
    /// Where check commands are told MultiLine lives (`RELINKER_BASE_URL`): a sandbox's URL
    /// in a rehearsal. relinker itself never calls it; `http://` only for loopback.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) base_url: Option<Text>,
}

/// An external application and, optionally, the credential it uses.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// A name for the integration.
    #[schemars(with = "String")]
    pub(crate) name: Text,
    /// The external application its API user serves: `HttpApi`, `Salesforce`, or a custom
    /// app's name.
    #[schemars(with = "String")]
    pub(crate) application: Text,
    /// The current API user's username, for a check command.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) username: Option<Text>,
    /// Its password (a reference), for a check command.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) password: Option<Text>,
    /// A program that exits 0 when the integration authenticates with the credential given in
    /// `RELINKER_USERNAME` and `RELINKER_PASSWORD`.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub(crate) check: Option<Spanned<Vec<Text>>>,
}

/// A credential, for check commands.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    /// The username (emailed to the new API user by Movius): a literal or a reference.
    #[schemars(with = "String")]
    pub(crate) username: Text,
    /// The password: only a reference.
    #[schemars(with = "String", regex(pattern = r"^\$\{(env|file):[^}]+\}$"))]
    pub(crate) password: Text,
}

/// One rotation: exactly one of `rename`, `replace`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RawRotation {
    /// A person changes the API user's email (and names) in the Administrators tool.
    Rename(RawRename),
    /// A new API user takes over an external application; the old one is deleted.
    Replace(Box<RawReplace>),
}

/// `rename:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRename {
    /// The API user's current email.
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// Its new email.
    #[schemars(with = "String")]
    pub(crate) email: Text,
    /// Its new first name.
    #[serde(default)]
    pub(crate) first_name: Option<String>,
    /// Its new last name.
    #[serde(default)]
    pub(crate) last_name: Option<String>,
}

/// `replace:`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReplace {
    /// The integrations the old API user serves.
    #[schemars(with = "Vec<String>")]
    pub(crate) services: Spanned<Vec<Text>>,
    /// The API user being replaced (its email).
    #[schemars(with = "String")]
    pub(crate) user: Text,
    /// The new API user's email (the administrator who receives its credentials).
    #[serde(rename = "with")]
    #[schemars(with = "String")]
    pub(crate) with: Text,
    /// The new API user's first name.
    pub(crate) first_name: String,
    /// The new API user's last name.
    pub(crate) last_name: String,
    /// The new user's credential, once it arrives by email: for check commands.
    #[serde(default)]
    pub(crate) login: Option<RawLogin>,
}

// ---- the plan as validated ----

/// The instance block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The organization's name, for messages.
    pub organization: Option<String>,
    /// What check commands are told as `RELINKER_BASE_URL`, if anything.
    pub base_url: Option<String>,
}

/// An external application and its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDecl {
    /// Its name.
    pub name: ServiceName,
    /// The external application (`HttpApi`, `Salesforce`, a custom app).
    pub application: String,
    /// The current credential, when the plan gives it.
    pub login: Option<Login>,
    /// How to check that the integration authenticates with a credential.
    pub check: Option<CheckCommand>,
}

/// One intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// A person changes the API user's email.
    Rename {
        /// Its current email.
        user: UserId,
        /// Its new email.
        email: UserId,
        /// Its new first name.
        first_name: Option<String>,
        /// Its new last name.
        last_name: Option<String>,
    },
    /// A new API user takes over.
    Replace {
        /// The integrations it serves.
        services: Vec<ServiceName>,
        /// The old API user.
        user: UserId,
        /// The new API user.
        with: UserId,
        /// The new user's first name.
        first_name: String,
        /// The new user's last name.
        last_name: String,
        /// The new user's credential, for check commands.
        login: Option<Login>,
    },
}

impl Rotation {
    /// The integrations this rotation moves.
    pub fn services(&self) -> &[ServiceName] {
        match self {
            Rotation::Rename { .. } => &[],
            Rotation::Replace { services, .. } => services,
        }
    }

    /// A heading for people.
    pub fn heading(&self) -> String {
        match self {
            Rotation::Rename { user, email, .. } => {
                format!("rename API user `{user}` to email `{email}`")
            }
            Rotation::Replace { user, with, .. } => {
                format!("replace API user `{user}` with `{with}` (the old one is deleted)")
            }
        }
    }
}

/// A Movius plan's instance, services and rotations.
pub type Spec = super::model::ProviderSpec<Instance, ServiceDecl, Rotation>;

impl super::model::Declared for ServiceDecl {
    fn name(&self) -> &ServiceName {
        &self.name
    }
}

impl super::model::Intent for Rotation {
    fn deletes_for_certain(&self) -> bool {
        matches!(self, Rotation::Replace { .. })
    }
}

// ---- the rules ----

/// Checks a Movius plan's instance, services and rotations.
pub(crate) fn spec(
    check: &mut Checker,
    instance: &RawInstance,
    services: Vec<RawService>,
    rotations: Spanned<Vec<Spanned<RawRotation>>>,
    _base_dir: &Path,
) -> Option<AnySpec> {
    let provider = check.provider(&instance.provider, super::ProviderKind::Movius);
    let named = match (&instance.name, &instance.base_url) {
        (Some(name), Some(_)) => {
            check.problem(
                name.referenced,
                "instance.name",
                "a named instance takes its base URL from the runner configuration; `instance.base_url` would override it",
                Some("give either `name` or `base_url`"),
            );
            return None;
        }
        (Some(name), None) => Some(Checker::from_name(
            name,
            &check
                .named_instance(name, super::ProviderKind::Movius)?
                .base_url,
        )),
        (None, _) => None,
    };
    let base_url = named.as_ref().or(instance.base_url.as_ref()).and_then(|text| {
        match crate::endpoint::check_base_url(text.value.trim()) {
            Ok(url) => Some(url.as_str().trim_end_matches('/').to_owned()),
            Err(reason) => {
                check.problem(
                    text.referenced,
                    "instance.base_url",
                    reason,
                    Some("the URL check commands are told as RELINKER_BASE_URL; leave it out if they need none"),
                );
                None
            }
        }
    });
    let services = check.movius_services(services);
    let mut checked = Vec::new();
    for (index, rotation) in rotations.value.into_iter().enumerate() {
        checked.extend(match rotation.value {
            RawRotation::Rename(r) => check.movius_rename(index, &r),
            RawRotation::Replace(r) => check.movius_replace(index, &r),
        });
    }
    provider?;
    Some(AnySpec::Movius(Spec {
        instance: Instance {
            organization: instance.organization.clone(),
            base_url,
        },
        services,
        rotations: checked,
    }))
}

impl Checker {
    /// A credential a plan may give or not; a problem is reported when it is half given or
    /// wrong, and `None` answered then as when it is not given.
    fn optional_login(
        &mut self,
        field: &str,
        username: Option<&Text>,
        password: Option<&Text>,
    ) -> Option<Login> {
        match (username, password) {
            (None, None) => None,
            (Some(username), Some(password)) => {
                let username = self.credential(&format!("{field}.username"), username);
                let password = self.secret(&format!("{field}.password"), password);
                Some(Login {
                    username: username?,
                    password: password?,
                })
            }
            (Some(one), None) | (None, Some(one)) => {
                self.problem(
                    one.referenced,
                    field,
                    "a username without a password, or a password without a username",
                    Some("give both, or neither"),
                );
                None
            }
        }
    }

    fn movius_services(&mut self, raw: Vec<RawService>) -> Vec<ServiceDecl> {
        let mut declared = Vec::new();
        for (index, service) in raw.into_iter().enumerate() {
            let field = format!("services[{index}]");
            let Some(name) = self.declare_service(&field, &service.name) else {
                continue;
            };
            let application = service.application.value.trim().to_owned();
            if application.is_empty() {
                self.problem(
                    service.application.referenced,
                    &format!("{field}.application"),
                    "must not be empty",
                    Some("`HttpApi`, `Salesforce`, or the name of a custom app Movius set up"),
                );
                continue;
            }
            let before = self.problems.len();
            let login =
                self.optional_login(&field, service.username.as_ref(), service.password.as_ref());
            let check = service
                .check
                .as_ref()
                .and_then(|words| self.command(&format!("{field}.check"), words));
            if self.problems.len() == before {
                declared.push(ServiceDecl {
                    name,
                    application,
                    login,
                    check,
                });
            }
        }
        declared
    }

    fn movius_rename(&mut self, index: usize, r: &RawRename) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].rename.{name}");
        let user = self.email(&at("user"), &r.user);
        let email = self.email(&at("email"), &r.email);
        self.claim_user(&at("user"), &r.user, user.as_ref(), index);
        Some(Rotation::Rename {
            user: user?,
            email: email?,
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
        })
    }

    fn movius_replace(&mut self, index: usize, r: &RawReplace) -> Option<Rotation> {
        let at = |name: &str| format!("rotations[{index}].replace.{name}");
        let user = self.email(&at("user"), &r.user);
        let with = self.email(&at("with"), &r.with);
        self.claim_user(&at("user"), &r.user, user.as_ref(), index);
        self.claim_second_user(
            (&at("with"), &r.with, with.as_ref()),
            user.as_ref(),
            (
                "the new API user is the user being replaced",
                "to change an API user's email, use `rename:`",
            ),
            index,
        );
        let services = self.service_list(&at("services"), &r.services, index);
        let before = self.problems.len();
        let login = r.login.as_ref().and_then(|login| {
            self.optional_login(&at("login"), Some(&login.username), Some(&login.password))
        });
        if self.problems.len() > before {
            return None;
        }
        Some(Rotation::Replace {
            services,
            user: user?,
            with: with?,
            first_name: r.first_name.clone(),
            last_name: r.last_name.clone(),
            login,
        })
    }
}
