//! The validated plan: every invariant holds by construction, nothing past here re-checks YAML.

use std::path::PathBuf;

use crate::provider::marketo::Limits;

use super::secret_ref::{Credential, SecretRef};

/// A userid or email address that has the shape of one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(pub(crate) String);

impl UserId {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a service the plan declares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRef(pub(crate) String);

impl ServiceRef {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A platform relinker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Adobe Marketo Engage.
    Marketo,
}

/// The instance block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The platform.
    pub provider: ProviderKind,
    /// Checked base URL.
    pub base_url: String,
    /// Admin service client id.
    pub client_id: Credential,
    /// Admin service client secret.
    pub client_secret: SecretRef,
    /// Rate and concurrency limits.
    pub limits: Limits,
}

/// A declared LaunchPoint service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceDecl {
    /// Its name.
    pub name: ServiceRef,
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
        services: Vec<ServiceRef>,
    },
    /// A new user takes over.
    Replace {
        /// The user being retired.
        user: UserId,
        /// The user taking over.
        with: UserId,
        /// The services linked to the user.
        services: Vec<ServiceRef>,
        /// What happens to the old user.
        retire: Retire,
    },
    /// Services move to an existing user.
    Relink {
        /// The services.
        services: Vec<ServiceRef>,
        /// Their new user.
        to: UserId,
    },
}

impl Rotation {
    /// The services this rotation moves.
    pub fn services(&self) -> &[ServiceRef] {
        match self {
            Rotation::Rename { services, .. }
            | Rotation::Replace { services, .. }
            | Rotation::Relink { services, .. } => services,
        }
    }

    /// Whether it deletes a user for certain (a rename's temporary user is deleted only if the
    /// run creates it, which the planner decides against live state).
    pub fn deletes_a_user(&self) -> bool {
        matches!(
            self,
            Rotation::Replace {
                retire: Retire::Delete,
                ..
            }
        )
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

/// What a failed step leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Undo what the run did.
    Rollback,
    /// Stop and leave the run resumable.
    Pause,
}

/// The policy block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// What a failed step leads to.
    pub on_failure: OnFailure,
    /// Most users the plan may delete.
    pub max_deletions: u32,
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The instance.
    pub instance: Instance,
    /// Declared services.
    pub services: Vec<ServiceDecl>,
    /// Intents, in order.
    pub rotations: Vec<Rotation>,
    /// Policy.
    pub policy: Policy,
    /// Fixture for `--sandbox` runs, resolved against the plan's folder.
    pub sandbox_fixture: Option<PathBuf>,
    /// The folder relative references are resolved against.
    pub base_dir: PathBuf,
}

impl Plan {
    /// The declaration of a service the plan names.
    pub fn service(&self, name: &ServiceRef) -> Option<&ServiceDecl> {
        self.services.iter().find(|s| &s.name == name)
    }
}

/// A secret reference that could not be read, with the field that names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {source}")]
pub struct CredentialError {
    /// The plan field, e.g. `services[0].client_secret`.
    pub field: String,
    /// Why it could not be read.
    pub source: super::secret_ref::SecretError,
}

impl Plan {
    /// Reads every credential the plan references; the first missing one is an error.
    pub fn resolve_credentials(&self) -> Result<super::live::Credentials, CredentialError> {
        resolve_credentials(&self.instance, &self.services, &self.base_dir)
    }
}

/// Reads the credentials an instance block and a services list reference, relative to `base_dir`.
pub fn resolve_credentials(
    instance: &Instance,
    services: &[ServiceDecl],
    base_dir: &std::path::Path,
) -> Result<super::live::Credentials, CredentialError> {
    let read = |field: String, credential: &Credential| {
        credential
            .resolve(base_dir)
            .map_err(|source| CredentialError { field, source })
    };
    let admin = crate::provider::ServiceCredentials {
        name: "admin".into(),
        client_id: read("instance.client_id".into(), &instance.client_id)?
            .expose()
            .to_owned(),
        client_secret: read(
            "instance.client_secret".into(),
            &Credential::Reference(instance.client_secret.clone()),
        )?,
    };
    let mut resolved = std::collections::BTreeMap::new();
    for (index, service) in services.iter().enumerate() {
        let client_id = read(format!("services[{index}].client_id"), &service.client_id)?;
        let client_secret = read(
            format!("services[{index}].client_secret"),
            &Credential::Reference(service.client_secret.clone()),
        )?;
        resolved.insert(
            service.name.0.clone(),
            crate::provider::ServiceCredentials {
                name: service.name.0.clone(),
                client_id: client_id.expose().to_owned(),
                client_secret,
            },
        );
    }
    Ok(super::live::Credentials {
        admin,
        services: resolved,
    })
}
