//! Marketo's records as the planner and executor work with them: users, invitations, roles,
//! workspaces, LaunchPoint services' credentials and links.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ServiceName, UserId};
use crate::secret::{Fingerprint, Secret};

/// One role held in one workspace, by id; names are display-only and kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RolePair {
    /// The role's id.
    pub role_id: u64,
    /// The workspace's id (0 is `AllZones`).
    pub workspace_id: u64,
}

/// A user who can log in (or an API-only user), with what the planner needs of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Login id; an email address.
    pub userid: UserId,
    /// Mailbox; may differ from the userid.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Whether this is an API-only user.
    pub api_only: bool,
    /// Role/workspace pairs, sorted.
    pub roles: Vec<RolePair>,
    /// When the login expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A row of the user listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    /// Login id.
    pub userid: UserId,
    /// Mailbox.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Whether this is an API-only user.
    pub api_only: bool,
}

/// An invitation nobody has accepted yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitation {
    /// The userid it will become.
    pub userid: UserId,
    /// Mailbox it was sent to.
    pub email: String,
    /// When it lapses.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A role the instance defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleInfo {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
}

/// A workspace the instance defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
}

/// A new API-only user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiUser {
    /// Login id.
    pub userid: UserId,
    /// Mailbox.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Role/workspace pairs; at least one.
    pub roles: Vec<RolePair>,
    /// Why the user is being created (Marketo's `reason`).
    pub reason: Option<String>,
}

/// Attributes to change; `None` leaves one alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUpdate {
    /// New mailbox.
    pub email: Option<String>,
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<String>,
    /// New login expiry.
    pub expires_at: Option<DateTime<Utc>>,
}

impl UserUpdate {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.expires_at.is_none()
    }
}

/// A LaunchPoint service's own credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCredentials {
    /// Service name as the UI shows it.
    pub name: ServiceName,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
}

impl ServiceCredentials {
    /// SHA-256 over `client_id`, a NUL, and the secret: proves the pair did not change.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut bytes =
            Vec::with_capacity(self.client_id.len() + 1 + self.client_secret.expose().len());
        bytes.extend_from_slice(self.client_id.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(self.client_secret.expose().as_bytes());
        Fingerprint::of(&bytes)
    }
}

/// What a service's credentials say when they mint a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLink {
    /// The API-only user the service is linked to (the identity response's `scope`).
    pub userid: UserId,
    /// Fingerprint of the credentials that minted the token.
    pub credentials: Fingerprint,
}

/// One day of the usage statistics: calls per API user on one quota day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyUsage {
    /// The quota day (US Central).
    pub date: NaiveDate,
    /// Calls per API user that day.
    pub calls: BTreeMap<UserId, u64>,
}

/// Calls per API user over several days, from the usage statistics.
pub fn calls_by_user(days: &[DailyUsage]) -> BTreeMap<UserId, u64> {
    let mut total: BTreeMap<UserId, u64> = BTreeMap::new();
    for day in days {
        for (user, calls) in &day.calls {
            *total.entry(user.clone()).or_default() += calls;
        }
    }
    total
}

/// What every plan of one instance reads alike, read once per command and shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceReads {
    /// Every user.
    pub users: Vec<UserSummary>,
    /// Every role.
    pub roles: Vec<RoleInfo>,
    /// Every workspace.
    pub workspaces: Vec<WorkspaceInfo>,
}
