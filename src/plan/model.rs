//! The validated plan: every invariant holds by construction, nothing past here re-checks YAML.

use std::path::PathBuf;

use crate::ids::{ServiceName, UserId};
use crate::limits::Limits;

use super::secret_ref::{Credential, SecretRef};

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
        /// The user taking over.
        with: UserId,
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

impl Rotation {
    /// The services this rotation moves.
    pub fn services(&self) -> &[ServiceName] {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
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
    pub fn service(&self, name: &ServiceName) -> Option<&ServiceDecl> {
        self.services.iter().find(|s| &s.name == name)
    }
}
