//! A read-only snapshot of the live state a plan depends on.
//!
//! Everything the compiler decides is decided from this snapshot, so compiling is a pure
//! function and a saved plan can record exactly what it was computed from (its fingerprint).
//! Only reads are made here; the sandbox's request log of a `plan` run shows no change.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::model::{Plan, Rotation};
use crate::provider::{Provider, ProviderError, ServiceCredentials, ServiceLink, UserRecord};
use crate::secret::Fingerprint;

/// The credentials a plan's references resolved to.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The admin service relinker acts as.
    pub admin: ServiceCredentials,
    /// Each declared service, by name.
    pub services: BTreeMap<String, ServiceCredentials>,
}

/// What one service's credentials said when they minted a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkObservation {
    /// They work; the service is linked to this user.
    Linked(ServiceLink),
    /// The identity endpoint refused them.
    Refused {
        /// The refusal, as the provider reported it.
        reason: String,
    },
}

/// The snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LiveState {
    /// Users the plan names, by lowercase userid.
    pub users: BTreeMap<String, UserRecord>,
    /// Userids the plan names that are pending invitations (lowercase).
    pub pending: BTreeSet<String>,
    /// Each service the plan moves, by name.
    pub links: BTreeMap<String, LinkObservation>,
    /// The user relinker's own admin service is linked to.
    pub admin_user: String,
    /// Every email address and userid in use, lowercase, with the userid that holds it.
    pub addresses: BTreeMap<String, String>,
    /// Role names by id, for people.
    pub role_names: BTreeMap<u64, String>,
    /// Workspace names by id, for people.
    pub workspace_names: BTreeMap<u64, String>,
}

impl LiveState {
    /// A user the plan names, if it exists.
    pub fn user(&self, userid: &str) -> Option<&UserRecord> {
        self.users.get(&userid.to_lowercase())
    }

    /// Whether a userid the plan names is a pending invitation.
    pub fn is_pending(&self, userid: &str) -> bool {
        self.pending.contains(&userid.to_lowercase())
    }

    /// SHA-256 over the canonical JSON of everything a decision depends on (role and workspace
    /// names are display-only and left out).
    pub fn fingerprint(&self) -> Fingerprint {
        let decisive = serde_json::json!({
            "users": self.users,
            "pending": self.pending,
            "links": self.links,
            "admin_user": self.admin_user,
            "addresses": self.addresses,
        });
        Fingerprint::of(decisive.to_string().as_bytes())
    }
}

/// Every userid a plan names.
fn named_users(plan: &Plan) -> BTreeSet<String> {
    let mut users = BTreeSet::new();
    for rotation in &plan.rotations {
        match rotation {
            Rotation::Rename {
                user,
                temporary_user,
                ..
            } => {
                users.insert(user.as_str().to_owned());
                users.insert(temporary_user.as_str().to_owned());
            }
            Rotation::Replace { user, with, .. } => {
                users.insert(user.as_str().to_owned());
                users.insert(with.as_str().to_owned());
            }
            Rotation::Relink { to, .. } => {
                users.insert(to.as_str().to_owned());
            }
        }
    }
    users
}

/// Reads the live state a plan depends on; reads only. Independent reads go out concurrently;
/// the provider's limiter keeps them within the instance's limits.
pub async fn observe<P: Provider>(
    provider: &P,
    plan: &Plan,
    credentials: &Credentials,
) -> Result<LiveState, ProviderError> {
    let mut live = LiveState::default();
    let users = named_users(plan);
    let reads = users.iter().map(|userid| async move {
        let user = provider.user(userid).await?;
        let pending = match user {
            Some(_) => false,
            None => provider.invitation(userid).await?.is_some(),
        };
        Ok::<_, ProviderError>((userid.to_lowercase(), user, pending))
    });
    for (key, user, pending) in try_join_all(reads).await? {
        match user {
            Some(user) => {
                live.users.insert(key, user);
            }
            None if pending => {
                live.pending.insert(key);
            }
            None => {}
        }
    }
    let services: Vec<&ServiceCredentials> = plan
        .rotations
        .iter()
        .flat_map(Rotation::services)
        .filter_map(|s| credentials.services.get(s.as_str()))
        .collect();
    let links = services.iter().map(|creds| async move {
        let observation = match provider.linked_user(creds).await {
            Ok(link) => LinkObservation::Linked(link),
            Err(error @ ProviderError::BadCredentials { .. }) => LinkObservation::Refused {
                reason: error.to_string(),
            },
            Err(error) => return Err(error),
        };
        Ok((creds.name.clone(), observation))
    });
    live.links = try_join_all(links).await?.into_iter().collect();
    let (admin, all_users, roles, workspaces) = futures_util::try_join!(
        provider.linked_user(&credentials.admin),
        provider.all_users(),
        provider.roles(),
        provider.workspaces(),
    )?;
    live.admin_user = admin.userid;
    for user in all_users {
        live.addresses
            .insert(user.email.to_lowercase(), user.userid.clone());
        live.addresses
            .insert(user.userid.to_lowercase(), user.userid);
    }
    live.role_names = roles.into_iter().map(|r| (r.id, r.name)).collect();
    live.workspace_names = workspaces.into_iter().map(|w| (w.id, w.name)).collect();
    live.workspace_names
        .entry(0)
        .or_insert_with(|| "AllZones".to_owned());
    Ok(live)
}
