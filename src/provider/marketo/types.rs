//! Marketo's records as the planner and executor work with them: users, invitations, roles,
//! workspaces, LaunchPoint services' credentials and links.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ServiceName, UserId};
use crate::secret::{CredentialFingerprint, Fingerprinter, Secret};

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

/// A user's record and when it last logged in: what the inventory shows. The login time stays
/// out of [`UserRecord`], which planning decides on, so a login never makes a saved plan stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserActivity {
    /// The record.
    pub record: UserRecord,
    /// The last login, if the user ever logged in (API-only users log in by calling the API).
    pub last_login_at: Option<DateTime<Utc>>,
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
    /// What the role is for, in the instance's words.
    pub description: String,
    /// `system` or `custom`.
    pub kind: String,
    /// Whether the role can only be given in `AllZones`.
    pub only_all_zones: bool,
}

/// A workspace the instance defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceInfo {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// What the workspace is for.
    pub description: String,
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
#[derive(Debug, Clone)]
pub struct ServiceCredentials {
    /// Service name as the UI shows it.
    pub name: ServiceName,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// How their fingerprint is derived: the saved plan's, or the run's.
    fingerprinter: Fingerprinter,
    /// Their fingerprint, derived the first time it is asked for and kept: the derivation is
    /// slow on purpose, and commands that record no fingerprint never pay for it.
    fingerprint: OnceLock<CredentialFingerprint>,
}

impl ServiceCredentials {
    /// A service's credentials, fingerprinted by `fingerprinter` (the saved plan's, or the
    /// run's).
    pub fn new(
        name: ServiceName,
        client_id: String,
        client_secret: Secret,
        fingerprinter: &Fingerprinter,
    ) -> Self {
        Self {
            name,
            client_id,
            client_secret,
            fingerprinter: fingerprinter.clone(),
            fingerprint: OnceLock::new(),
        }
    }

    /// The fingerprint of `client_id`, a NUL, and the secret: proves the pair did not change.
    pub fn fingerprint(&self) -> &CredentialFingerprint {
        self.fingerprint
            .get_or_init(|| self.fingerprinter.fingerprint(&self.parts()))
    }

    /// Whether these are the credentials `recorded` is the fingerprint of: the same
    /// fingerprint, or, when another fingerprinter made it (a run started by an older
    /// relinker, with unsalted SHA-256), the same when derived again its way.
    pub fn are(&self, recorded: &CredentialFingerprint) -> bool {
        recorded == self.fingerprint() || recorded.matches(&self.parts())
    }

    fn parts(&self) -> [&[u8]; 2] {
        [
            self.client_id.as_bytes(),
            self.client_secret.expose().as_bytes(),
        ]
    }
}

/// The same credentials, however far their fingerprint has been derived.
impl PartialEq for ServiceCredentials {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.client_id == other.client_id
            && self.client_secret == other.client_secret
            && self.fingerprinter == other.fingerprinter
    }
}

impl Eq for ServiceCredentials {}

/// What a service's credentials say when they mint a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLink {
    /// The API-only user the service is linked to (the identity response's `scope`).
    pub userid: UserId,
    /// Fingerprint of the credentials that minted the token.
    pub credentials: CredentialFingerprint,
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

/// Role and workspace names by id: display-only, learned from the answers that carry them
/// (user records and role changes), so naming the roles a plan touches costs no call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleNames {
    /// Role names by id.
    pub roles: BTreeMap<u64, String>,
    /// Workspace names by id.
    pub workspaces: BTreeMap<u64, String>,
}

/// A role/workspace pair by name, for people: `API Integrations @ Default`. An id no list named
/// shows as `#id`; workspace 0 is `AllZones` (assignments name it, the workspace list does not).
pub fn pair_name(
    roles: &BTreeMap<u64, String>,
    workspaces: &BTreeMap<u64, String>,
    pair: &RolePair,
) -> String {
    let role = roles
        .get(&pair.role_id)
        .cloned()
        .unwrap_or_else(|| format!("#{}", pair.role_id));
    let workspace = match workspaces.get(&pair.workspace_id) {
        Some(name) => name.clone(),
        None if pair.workspace_id == 0 => "AllZones".to_owned(),
        None => format!("#{}", pair.workspace_id),
    };
    format!("{role} @ {workspace}")
}

impl RoleNames {
    /// Adds what `other` names.
    pub fn absorb(&mut self, other: RoleNames) {
        self.roles.extend(other.roles);
        self.workspaces.extend(other.workspaces);
    }
}

/// Every user of the instance as one listing showed them, read once per client and kept
/// current by the client's own changes: the plans of one command plan from it alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    users: BTreeMap<UserId, UserSummary>,
}

impl Listing {
    /// The listing of `users`.
    pub fn new(users: Vec<UserSummary>) -> Self {
        Self {
            users: users.into_iter().map(|u| (u.userid.clone(), u)).collect(),
        }
    }

    /// Whether the listing shows `userid`.
    pub fn contains(&self, userid: &UserId) -> bool {
        self.users.contains_key(userid)
    }

    /// Every user, by userid.
    pub fn users(&self) -> impl Iterator<Item = &UserSummary> {
        self.users.values()
    }

    /// A user this process created or changed, as it now is.
    pub fn put(&mut self, user: UserSummary) {
        self.users.insert(user.userid.clone(), user);
    }

    /// A user this process changed, when the change's answer did not show the result.
    pub fn update(&mut self, userid: &UserId, update: &UserUpdate) {
        if let Some(user) = self.users.get_mut(userid) {
            if let Some(email) = &update.email {
                user.email.clone_from(email);
            }
            if let Some(first_name) = &update.first_name {
                user.first_name.clone_from(first_name);
            }
            if let Some(last_name) = &update.last_name {
                user.last_name.clone_from(last_name);
            }
        }
    }

    /// A user this process deleted.
    pub fn remove(&mut self, userid: &UserId) {
        self.users.remove(userid);
    }
}

impl From<&UserRecord> for UserSummary {
    fn from(record: &UserRecord) -> Self {
        UserSummary {
            userid: record.userid.clone(),
            email: record.email.clone(),
            first_name: record.first_name.clone(),
            last_name: record.last_name.clone(),
            api_only: record.api_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(secret: &str, fingerprinter: &Fingerprinter) -> ServiceCredentials {
        ServiceCredentials::new(
            ServiceName::new("sync"),
            "client-id".into(),
            Secret::new(secret),
            fingerprinter,
        )
    }

    #[test]
    fn credentials_are_recognised_by_whichever_fingerprint_recorded_them() {
        let at_start = Fingerprinter::fresh();
        let recorded = service("s3cret", &at_start).fingerprint().clone();
        // The same run (same salt), another process (another salt), an older relinker's run.
        assert!(service("s3cret", &at_start).are(&recorded));
        assert!(service("s3cret", &Fingerprinter::fresh()).are(&recorded));
        let legacy = service("s3cret", &Fingerprinter::legacy())
            .fingerprint()
            .clone();
        assert!(legacy.is_legacy());
        assert!(service("s3cret", &at_start).are(&legacy));
        // Another secret is another credential, however it is fingerprinted.
        assert!(!service("changed", &at_start).are(&recorded));
        assert!(!service("changed", &Fingerprinter::fresh()).are(&recorded));
        assert!(!service("changed", &at_start).are(&legacy));
    }
}
