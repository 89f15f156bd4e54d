//! A read-only snapshot of the Marketo state a plan depends on.
//!
//! Everything the procedures decide is decided from this snapshot, so compiling is a pure
//! function and a saved plan can record exactly what it was computed from. Only reads are made
//! here; the sandbox's request log of a `plan` run shows no change.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::api::Api;
use super::credentials::Credentials;
use super::types::{
    RolePair, ServiceCredentials, ServiceLink, UserRecord, UserUpdate, calls_by_user, pair_name,
};
use crate::ids::{ServiceName, UserId};
use crate::plan::marketo::{Retire, Rotation, Spec};
use crate::provider::ProviderError;
use crate::secret::Fingerprint;

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

/// What the usage statistics said about the users a plan retires.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageObservation {
    /// Not read: the plan retires no user.
    #[default]
    NotRead,
    /// Calls in the last seven days, per retired user.
    Calls(BTreeMap<UserId, u64>),
    /// The statistics could not be read; why.
    Unreadable(String),
}

impl UsageObservation {
    fn is_not_read(&self) -> bool {
        *self == Self::NotRead
    }
}

/// The snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was read; decides whether an expiry has passed.
    pub observed_at: Option<DateTime<Utc>>,
    /// Users the plan names.
    pub users: BTreeMap<UserId, UserRecord>,
    /// Userids the plan names that are pending invitations.
    pub pending: BTreeSet<UserId>,
    /// Each service the plan moves, by name.
    pub links: BTreeMap<ServiceName, LinkObservation>,
    /// When the token each link was read from was minted, where Marketo said: a relink a
    /// person was asked for after it may not show (see [`Snapshot::link_read_before`]). Not
    /// state, and not saved with a plan: it is for the plan being compiled now.
    #[serde(skip)]
    pub links_minted: BTreeMap<ServiceName, DateTime<Utc>>,
    /// The user relinker's own admin service is linked to.
    pub admin_user: Option<UserId>,
    /// Services of the plan that are relinker's own admin service (the same client id).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub admin_services: BTreeSet<ServiceName>,
    /// Every email address and userid in use, with the userid that holds it.
    pub addresses: BTreeMap<UserId, UserId>,
    /// Role names by id, for people.
    pub role_names: BTreeMap<u64, String>,
    /// Workspace names by id, for people.
    pub workspace_names: BTreeMap<u64, String>,
    /// Recent calls of the users the plan deletes or expires. Not decisive: it changes with
    /// every call, and only warns.
    #[serde(default, skip_serializing_if = "UsageObservation::is_not_read")]
    pub usage: UsageObservation,
}

impl Snapshot {
    /// A user the plan names, if it exists.
    pub fn user(&self, userid: &UserId) -> Option<&UserRecord> {
        self.users.get(userid)
    }

    /// Whether a userid the plan names is a pending invitation.
    pub fn is_pending(&self, userid: &UserId) -> bool {
        self.pending.contains(userid)
    }

    /// Where a service is linked, if its credentials worked.
    pub fn linked_user(&self, service: &ServiceName) -> Option<&UserId> {
        match self.links.get(service) {
            Some(LinkObservation::Linked(link)) => Some(&link.userid),
            _ => None,
        }
    }

    /// Whether the link read for `service` may predate `asked`: its token was minted before
    /// then, or when is unknown.
    pub fn link_read_before(&self, service: &ServiceName, asked: DateTime<Utc>) -> bool {
        self.links.contains_key(service)
            && self
                .links_minted
                .get(service)
                .is_none_or(|minted| *minted < asked)
    }

    /// Whether `userid` is the user relinker's own admin service runs as.
    pub fn is_admin_user(&self, userid: &UserId) -> bool {
        self.admin_user.as_ref() == Some(userid)
    }

    /// The parts every decision depends on (role and workspace names are display-only, and the
    /// time of reading is not state).
    fn decisive(&self) -> serde_json::Value {
        serde_json::json!({
            "users": self.users,
            "pending": self.pending,
            "links": self.links,
            "admin_user": self.admin_user,
            "admin_services": self.admin_services,
            "addresses": self.addresses,
        })
    }

    /// What a reviewer needs beside an operation's description, in one line: the roles it
    /// gives or checks by name (`roles: API Integrations @ Default`), each attribute an update
    /// changes from old to new, why a user is deleted, and where a service is linked now.
    pub fn details(&self, op: &super::ops::Op) -> Option<String> {
        use super::ops::Op;
        match op {
            Op::CreateUser { roles, .. }
            | Op::AddRoles { roles, .. }
            | Op::RemoveRoles { roles, .. }
            | Op::Verify { roles, .. } => self.roles_by_name(roles),
            Op::UpdateUser {
                change, previous, ..
            } => changes(change, previous),
            Op::DeleteUser { user } => Some(if self.users.contains_key(user) {
                format!(
                    "why: `{user}` is retired by this plan; no service of the plan runs as it by then"
                )
            } else {
                format!("why: `{user}` is the user this run creates to hold the services meanwhile")
            }),
            // Live state read at planning, for the link that starts from it (a later link of
            // the same service starts from where an earlier step left it).
            Op::LinkService { service, from, .. } => self
                .linked_user(service)
                .filter(|user| *user == from)
                .map(|user| format!("now: linked to `{user}` (read at planning)")),
            Op::ExpireUser { .. } => None,
        }
    }

    fn roles_by_name(&self, roles: &[RolePair]) -> Option<String> {
        if roles.is_empty() {
            return None;
        }
        let named: Vec<String> = roles
            .iter()
            .map(|pair| pair_name(&self.role_names, &self.workspace_names, pair))
            .collect();
        Some(format!("roles: {}", named.join(", ")))
    }

    /// SHA-256 over the canonical JSON of everything a decision depends on.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.decisive().to_string().as_bytes())
    }

    /// What differs between an earlier snapshot (`self`) and `now`, in words, for a person
    /// deciding whether to plan again.
    pub fn differences(&self, now: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (id, then) in &self.users {
            match now.users.get(id) {
                None => out.push(format!("user `{id}` no longer exists")),
                Some(record) if record != then => out.push(format!("user `{id}` changed")),
                Some(_) => {}
            }
        }
        for id in now.users.keys().filter(|id| !self.users.contains_key(*id)) {
            out.push(format!("user `{id}` now exists"));
        }
        for id in self.pending.symmetric_difference(&now.pending) {
            out.push(format!(
                "the pending invitation of `{id}` appeared or went away"
            ));
        }
        for (service, then) in &self.links {
            if now.links.get(service) != Some(then) {
                let where_now = match now.links.get(service) {
                    Some(LinkObservation::Linked(link)) => {
                        format!("is linked to `{}`", link.userid)
                    }
                    Some(LinkObservation::Refused { .. }) => "refuses its credentials".into(),
                    None => "was not read".into(),
                };
                out.push(format!("service `{service}` {where_now}"));
            }
        }
        if self.admin_user != now.admin_user {
            out.push("relinker's admin service is linked to another user".into());
        }
        let added: Vec<&UserId> = now
            .addresses
            .keys()
            .filter(|a| !self.addresses.contains_key(*a))
            .collect();
        let removed: Vec<&UserId> = self
            .addresses
            .keys()
            .filter(|a| !now.addresses.contains_key(*a))
            .collect();
        if !added.is_empty() {
            out.push(format!("addresses now in use: {}", listed(&added)));
        }
        if !removed.is_empty() {
            out.push(format!("addresses no longer in use: {}", listed(&removed)));
        }
        if out.is_empty() && self.fingerprint() != now.fingerprint() {
            out.push("a user, invitation, link or address the plan depends on differs".into());
        }
        out
    }
}

fn listed(ids: &[&UserId]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        let _ = write!(text, " and {} more", ids.len() - SHOWN);
    }
    text
}

/// Every userid a plan names.
pub(super) fn named_users(spec: &Spec) -> BTreeSet<UserId> {
    let mut users = BTreeSet::new();
    for rotation in &spec.rotations {
        match rotation {
            Rotation::Rename {
                user,
                temporary_user,
                ..
            } => {
                users.insert(user.clone());
                users.insert(temporary_user.clone());
            }
            Rotation::Replace { user, with, .. } => {
                users.insert(user.clone());
                users.extend(with.iter().map(|successor| successor.user.clone()));
            }
            Rotation::Relink { to, .. } => {
                users.insert(to.clone());
            }
        }
    }
    users
}

/// The users a plan deletes or expires, whose recent calls say whether something still runs
/// as them.
fn retired_users(spec: &Spec) -> BTreeSet<UserId> {
    spec.rotations
        .iter()
        .filter_map(|rotation| match rotation {
            Rotation::Replace { user, retire, .. } if *retire != Retire::Keep => Some(user.clone()),
            _ => None,
        })
        .collect()
}

/// The recent calls of `users`; a failure to read them is noted, never fatal.
async fn recent_calls<A: Api>(provider: &A, users: &BTreeSet<UserId>) -> UsageObservation {
    if users.is_empty() {
        return UsageObservation::NotRead;
    }
    match provider.usage_last_7_days().await {
        Ok(days) => {
            let calls = calls_by_user(&days);
            UsageObservation::Calls(
                users
                    .iter()
                    .map(|user| (user.clone(), calls.get(user).copied().unwrap_or(0)))
                    .collect(),
            )
        }
        Err(error) => UsageObservation::Unreadable(error.to_string()),
    }
}

/// Reads the live state a plan depends on; reads only. Independent reads go out concurrently;
/// the provider's limiter keeps them within the instance's limits.
///
/// The instance's listing (shared by every plan of the command) says which named users exist:
/// each of those is read in full, and each of the others is looked up only as an invitation.
/// A listed user that is gone by the time it is read is looked up as an invitation too.
pub async fn observe<A: Api>(
    provider: &A,
    spec: &Spec,
    credentials: &Credentials,
) -> Result<Snapshot, ProviderError> {
    let mut live = Snapshot {
        observed_at: Some(Utc::now()),
        ..Snapshot::default()
    };
    let retired = retired_users(spec);
    let services: Vec<&ServiceCredentials> = spec
        .rotations
        .iter()
        .flat_map(Rotation::services)
        .filter_map(|s| credentials.services.get(s))
        .collect();
    let links = services.iter().map(|creds| async move {
        let (observation, minted) = match provider.linked_user_minted(creds).await {
            // The fingerprint says which credentials answered: a saved plan made with others
            // is stale.
            Ok((userid, minted)) => (
                LinkObservation::Linked(ServiceLink {
                    userid,
                    credentials: creds.fingerprint().clone(),
                }),
                minted,
            ),
            Err(error @ ProviderError::BadCredentials { .. }) => (
                LinkObservation::Refused {
                    reason: error.to_string(),
                },
                None,
            ),
            Err(error) => return Err(error),
        };
        Ok((creds.name.clone(), observation, minted))
    });
    // The links depend on nothing read here: they go out with the listing.
    let (admin, listing, usage, links) = futures_util::try_join!(
        provider.linked_user(&credentials.admin),
        provider.listing(),
        async { Ok(recent_calls(provider, &retired).await) },
        try_join_all(links),
    )?;
    let users = named_users(spec);
    let listing = &listing;
    let reads = users.iter().map(|userid| async move {
        let user = if listing.contains(userid) {
            provider.user(userid).await?
        } else {
            None
        };
        let pending = match user {
            Some(_) => false,
            None => provider.invitation(userid).await?.is_some(),
        };
        Ok::<_, ProviderError>((userid.clone(), user, pending))
    });
    for (userid, user, pending) in try_join_all(reads).await? {
        match user {
            Some(user) => {
                live.users.insert(userid, user);
            }
            None if pending => {
                live.pending.insert(userid);
            }
            None => {}
        }
    }
    for (service, observation, minted) in links {
        if let Some(minted) = minted {
            live.links_minted.insert(service.clone(), minted);
        }
        live.links.insert(service, observation);
    }
    live.usage = usage;
    live.admin_user = Some(admin);
    live.admin_services = credentials
        .services
        .values()
        .filter(|s| s.client_id == credentials.admin.client_id)
        .map(|s| s.name.clone())
        .collect();
    for user in listing.users() {
        live.addresses.insert(
            UserId::from_platform(user.email.clone()),
            user.userid.clone(),
        );
        live.addresses
            .insert(user.userid.clone(), user.userid.clone());
    }
    // Every pair the plan shows belongs to a user just read, and user records name their pairs.
    let names = provider.role_names();
    live.role_names = names.roles;
    live.workspace_names = names.workspaces;
    live.workspace_names
        .entry(0)
        .or_insert_with(|| "AllZones".to_owned());
    Ok(live)
}

/// Each attribute an update changes, old to new: `changes: email `a@x` → `b@x``.
fn changes(change: &UserUpdate, previous: &UserUpdate) -> Option<String> {
    let pair = |name: &str, old: Option<&String>, new: Option<&String>| {
        new.map(|new| {
            format!(
                "{name} `{}` → `{new}`",
                old.map_or("(none)", String::as_str)
            )
        })
    };
    let expiry = change.expires_at.map(|at| {
        let old = previous
            .expires_at
            .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
        format!("expiry `{old}` → `{}`", at.to_rfc3339())
    });
    let parts: Vec<String> = [
        pair("email", previous.email.as_ref(), change.email.as_ref()),
        pair(
            "first name",
            previous.first_name.as_ref(),
            change.first_name.as_ref(),
        ),
        pair(
            "last name",
            previous.last_name.as_ref(),
            change.last_name.as_ref(),
        ),
        expiry,
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("changes: {}", parts.join(", ")))
}
