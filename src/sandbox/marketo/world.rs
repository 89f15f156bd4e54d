//! The emulated instance's data and the business rules the real system enforces.
//!
//! Everything here is plain data behind one lock, with no HTTP: handlers translate requests into
//! these calls and results into JSON. Time is always passed in, so the sandbox clock (which tests
//! can move forward) decides when tokens and invitations lapse.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::behaviours::{ApiOnlyInvitations, Behaviours, LinkedUserEdit, TokenScope};
use super::error::ApiError;
use super::model::{
    ALL_ZONES_ID, ALL_ZONES_NAME, Invitation, Permission, Role, RoleAssignment, Service, User,
    Workspace,
};

/// How many quota days the usage statistics reach back (`last7days.json`).
pub const USAGE_DAYS: i64 = 7;

/// How long a pending invitation lives (the reference: "expires seven days after being sent").
const INVITATION_LIFETIME: Duration = Duration::days(7);

/// The whole instance: users, invitations, roles, workspaces, services and live tokens.
#[derive(Debug, Clone, Default)]
pub(crate) struct World {
    pub(crate) subscription_id: u64,
    pub(crate) roles: Vec<Role>,
    pub(crate) workspaces: Vec<Workspace>,
    /// Keyed by lowercase userid: userids are emails, unique without regard to case.
    pub(crate) users: BTreeMap<String, User>,
    pub(crate) invitations: BTreeMap<String, Invitation>,
    pub(crate) services: BTreeMap<String, Service>,
    /// The readings of what the reference leaves open that this instance plays.
    pub(crate) behaviours: Behaviours,
    /// Calls per US Central day per API user (the user each calling service ran as): what the
    /// usage statistics report.
    pub(crate) usage: BTreeMap<NaiveDate, BTreeMap<String, u64>>,
    tokens: HashMap<String, IssuedToken>,
    next_id: u64,
}

/// An access token and what it stands for.
#[derive(Debug, Clone)]
struct IssuedToken {
    service: String,
    expires_at: DateTime<Utc>,
    /// The user the service was linked to when the token was minted.
    scope: String,
}

/// What the identity endpoint answers for good credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenGrant {
    pub(crate) access_token: String,
    pub(crate) expires_in: i64,
    pub(crate) scope: String,
}

/// Why the identity endpoint refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityRefusal {
    /// Unknown client id or wrong secret.
    BadCredentials,
}

/// The fields of an invitation request, already shape-checked.
#[derive(Debug, Clone)]
pub(crate) struct NewUser {
    pub(crate) userid: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) api_only: bool,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// The attributes `update.json` may change; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserChanges {
    pub(crate) email: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// A fresh access token in Marketo's shape: a random UUID-like id, then `:` and the pod.
fn access_token() -> String {
    let id = rand::random::<u128>();
    let hex = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}:int",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The lookup key of a userid.
pub(crate) fn key(userid: &str) -> String {
    crate::address::fold(userid)
}

impl World {
    /// An empty instance with the reference's roles and workspaces.
    pub(crate) fn new(subscription_id: u64, roles: Vec<Role>, workspaces: Vec<Workspace>) -> Self {
        Self {
            subscription_id,
            roles,
            workspaces,
            next_id: 1000,
            ..Self::default()
        }
    }

    fn allocate_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds a user directly (fixtures); the caller has checked uniqueness and roles.
    pub(crate) fn insert_user(&mut self, mut user: User) {
        user.id = self.allocate_id();
        self.users.insert(key(&user.userid), user);
    }

    /// Adds a pending invitation directly (fixtures).
    pub(crate) fn insert_invitation(&mut self, mut invitation: Invitation) {
        invitation.id = self.allocate_id();
        self.invitations.insert(key(&invitation.userid), invitation);
    }

    /// Adds a service directly (fixtures).
    pub(crate) fn insert_service(&mut self, service: Service) {
        self.services.insert(service.name.clone(), service);
    }

    /// Drops invitations older than seven days, as the real system lets them lapse.
    pub(crate) fn expire_invitations(&mut self, now: DateTime<Utc>) {
        self.invitations
            .retain(|_, invitation| invitation.expires_at > now);
    }

    // ---- identity -------------------------------------------------------------------------

    /// Mints (or returns the live) token of the service with these credentials.
    pub(crate) fn grant_token(
        &mut self,
        client_id: &str,
        client_secret: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<TokenGrant, IdentityRefusal> {
        let service = self
            .services
            .values()
            .find(|s| s.client_id == client_id && s.client_secret.expose() == client_secret)
            .ok_or(IdentityRefusal::BadCredentials)?;
        let name = service.name.clone();
        let scope = self
            .users
            .get(&key(&service.userid))
            .map_or_else(|| service.userid.clone(), |u| u.userid.clone());
        let live = self
            .tokens
            .iter()
            .find(|(_, t)| t.service == name && t.expires_at > now)
            .map(|(token, t)| (token.clone(), t.expires_at, t.scope.clone()));
        let (access_token, expires_at, minted_scope) = live.unwrap_or_else(|| {
            let token = access_token();
            let expires_at = now + ttl;
            // An expired token still answers 602 (not 601) for a day after it lapses, even once
            // a newer one was minted; only then is it forgotten.
            self.tokens
                .retain(|_, t| t.expires_at + Duration::days(1) > now);
            self.tokens.insert(
                token.clone(),
                IssuedToken {
                    service: name,
                    expires_at,
                    scope: scope.clone(),
                },
            );
            (token, expires_at, scope.clone())
        });
        let scope = match self.behaviours.token_scope {
            TokenScope::Minted => minted_scope,
            TokenScope::Live | TokenScope::Revoked => scope,
        };
        Ok(TokenGrant {
            access_token,
            expires_in: (expires_at - now).num_seconds().max(0),
            scope,
        })
    }

    /// The API user a live token's service runs as now: whom a call counts for, and whose
    /// permissions it has. 601 for a token never issued, 602 for one past its lifetime.
    pub(crate) fn caller(&self, token: &str, now: DateTime<Utc>) -> Result<String, ApiError> {
        let issued = self.tokens.get(token).ok_or_else(ApiError::token_invalid)?;
        if issued.expires_at <= now {
            return Err(ApiError::token_expired());
        }
        self.services
            .get(&issued.service)
            .map(|service| service.userid.clone())
            .ok_or_else(ApiError::access_denied)
    }

    /// 603 unless `userid` holds a role with both *Access Users* and *Access User Management
    /// Api*.
    pub(crate) fn may_manage_users(&self, userid: &str) -> Result<(), ApiError> {
        let allowed = self.users.get(&key(userid)).is_some_and(|user| {
            let held = |permission| {
                user.roles.iter().any(|pair| {
                    self.role(pair.access_role_id)
                        .is_some_and(|role| role.permissions.contains(&permission))
                })
            };
            held(Permission::AccessUsers) && held(Permission::AccessUserManagementApi)
        });
        if allowed {
            Ok(())
        } else {
            Err(ApiError::access_denied())
        }
    }

    /// Counts a call for `userid` on quota day `day`, forgetting days no statistic reports.
    pub(crate) fn count_calls(&mut self, userid: &str, day: NaiveDate, calls: u64) {
        let counted = self.usage.entry(day).or_default();
        *counted.entry(userid.to_owned()).or_default() += calls;
        let oldest = day - Duration::days(USAGE_DAYS);
        self.usage.retain(|kept, _| *kept > oldest);
    }

    /// Calls per API user on each of the `days` quota days up to `today`, oldest first; a day
    /// without calls is there with none.
    pub(crate) fn usage(&self, today: NaiveDate, days: i64) -> Vec<(NaiveDate, Vec<(&str, u64)>)> {
        (0..days)
            .rev()
            .map(|back| {
                let day = today - Duration::days(back);
                let users = self
                    .usage
                    .get(&day)
                    .map(|users| users.iter().map(|(u, n)| (u.as_str(), *n)).collect())
                    .unwrap_or_default();
                (day, users)
            })
            .collect()
    }

    // ---- reads ----------------------------------------------------------------------------

    pub(crate) fn role(&self, id: u64) -> Option<&Role> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// The name of a workspace, including the implicit `AllZones`.
    pub(crate) fn workspace_name(&self, id: u64) -> Option<&str> {
        if id == ALL_ZONES_ID {
            return Some(ALL_ZONES_NAME);
        }
        self.workspaces
            .iter()
            .find(|w| w.id == id)
            .map(|w| w.name.as_str())
    }

    /// An accepted user; a pending invitation is "not found" here, as in the reference.
    pub(crate) fn user(&self, userid: &str) -> Result<&User, ApiError> {
        if let Some(user) = self.users.get(&key(userid)) {
            return Ok(user);
        }
        if self.invitations.contains_key(&key(userid)) {
            return Err(ApiError::not_found(format!(
                "user `{userid}` has not accepted the invitation yet; read it with invite.json"
            )));
        }
        Err(ApiError::not_found(format!("user `{userid}` not found")))
    }

    /// A pending invitation.
    pub(crate) fn invitation(&self, userid: &str) -> Result<&Invitation, ApiError> {
        self.invitations
            .get(&key(userid))
            .ok_or_else(|| ApiError::not_found(format!("no pending invitation for `{userid}`")))
    }

    /// One page of users in id order.
    pub(crate) fn page_of_users(&self, offset: usize, size: usize) -> Vec<&User> {
        let mut users: Vec<&User> = self.users.values().collect();
        users.sort_by_key(|u| u.id);
        users.into_iter().skip(offset).take(size).collect()
    }

    /// The service that links `userid`, if any.
    pub(crate) fn service_linked_to(&self, userid: &str) -> Option<&Service> {
        let wanted = key(userid);
        self.services.values().find(|s| key(&s.userid) == wanted)
    }

    // ---- changes --------------------------------------------------------------------------

    fn check_assignments(&self, pairs: &[RoleAssignment]) -> Result<(), ApiError> {
        for pair in pairs {
            let role = self.role(pair.access_role_id).ok_or_else(|| {
                ApiError::invalid_value(format!("role {} does not exist", pair.access_role_id))
            })?;
            if self.workspace_name(pair.workspace_id).is_none() {
                return Err(ApiError::invalid_value(format!(
                    "workspace {} does not exist",
                    pair.workspace_id
                )));
            }
            if role.only_all_zones && pair.workspace_id != ALL_ZONES_ID {
                return Err(ApiError::invalid_value(format!(
                    "role `{}` can only be held in workspace {ALL_ZONES_ID} ({ALL_ZONES_NAME})",
                    role.name
                )));
            }
        }
        Ok(())
    }

    /// `invite.json`: an API-only invitation is a usable user at once; any other is pending.
    pub(crate) fn invite(&mut self, new: NewUser, now: DateTime<Utc>) -> Result<(), ApiError> {
        self.expire_invitations(now);
        let wanted = key(&new.userid);
        if self.users.contains_key(&wanted) || self.invitations.contains_key(&wanted) {
            return Err(ApiError::already_exists(format!(
                "userid `{}` is already taken",
                new.userid
            )));
        }
        if new.roles.is_empty() {
            return Err(ApiError::invalid_value(
                "userRoleWorkspaces must not be empty",
            ));
        }
        self.check_assignments(&new.roles)?;
        let mut roles = new.roles;
        roles.sort();
        roles.dedup();
        if new.api_only && self.behaviours.api_only_invitations == ApiOnlyInvitations::Immediate {
            self.insert_user(User {
                id: 0,
                userid: new.userid,
                email: new.email,
                first_name: new.first_name,
                last_name: new.last_name,
                api_only: true,
                roles,
                expires_at: new.expires_at,
                last_login_at: None,
            });
        } else {
            self.insert_invitation(Invitation {
                id: 0,
                userid: new.userid,
                email: new.email,
                first_name: new.first_name,
                last_name: new.last_name,
                roles,
                user_expires_at: new.expires_at,
                created_at: now,
                expires_at: now + INVITATION_LIFETIME,
                api_only: new.api_only,
            });
        }
        Ok(())
    }

    /// Refuses changes to a user that a service is linked to, naming the service.
    /// `deleting`: a deletion, which a linked user never allows, whatever the behaviour.
    fn ensure_editable(&self, userid: &str, deleting: bool) -> Result<(), ApiError> {
        if self.invitations.contains_key(&key(userid)) && !self.users.contains_key(&key(userid)) {
            // "Until the acceptance process is complete, the invitation is pending and the
            // user record may not be edited."
            return Err(ApiError::not_allowed(format!(
                "user `{userid}` is a pending invitation and may not be edited until it is accepted"
            )));
        }
        self.user(userid)?;
        let Some(service) = self.service_linked_to(userid) else {
            return Ok(());
        };
        match self.behaviours.linked_user_edit {
            LinkedUserEdit::Accepted if !deleting => Ok(()),
            LinkedUserEdit::Refused603 => Err(ApiError::access_denied()),
            LinkedUserEdit::Accepted | LinkedUserEdit::Refused1003 => {
                Err(ApiError::not_allowed(format!(
                    "user `{userid}` is linked to LaunchPoint service `{}` and cannot be edited; \
                     link the service to another API-only user first",
                    service.name
                )))
            }
        }
    }

    fn user_mut(&mut self, userid: &str) -> Result<&mut User, ApiError> {
        self.users
            .get_mut(&key(userid))
            .ok_or_else(|| ApiError::not_found(format!("user `{userid}` not found")))
    }

    /// `update.json`.
    pub(crate) fn update(&mut self, userid: &str, changes: UserChanges) -> Result<&User, ApiError> {
        self.ensure_editable(userid, false)?;
        let user = self.user_mut(userid)?;
        if let Some(email) = changes.email {
            user.email = email;
        }
        if let Some(first_name) = changes.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = changes.last_name {
            user.last_name = last_name;
        }
        if let Some(expires_at) = changes.expires_at {
            user.expires_at = Some(expires_at);
        }
        Ok(user)
    }

    /// `delete.json`.
    pub(crate) fn delete_user(&mut self, userid: &str) -> Result<(), ApiError> {
        self.ensure_editable(userid, true)?;
        self.users.remove(&key(userid));
        Ok(())
    }

    /// `invite/delete.json`.
    pub(crate) fn delete_invitation(
        &mut self,
        userid: &str,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        self.expire_invitations(now);
        self.invitation(userid)?;
        self.invitations.remove(&key(userid));
        Ok(())
    }

    /// `roles/create.json`: adds pairs (ones already held are kept once).
    pub(crate) fn add_roles(
        &mut self,
        userid: &str,
        pairs: &[RoleAssignment],
    ) -> Result<Vec<RoleAssignment>, ApiError> {
        self.ensure_editable(userid, false)?;
        self.check_assignments(pairs)?;
        let user = self.user_mut(userid)?;
        user.roles.extend_from_slice(pairs);
        user.roles.sort();
        user.roles.dedup();
        Ok(user.roles.clone())
    }

    /// `roles/delete.json`: removes pairs; a user keeps at least one role.
    pub(crate) fn remove_roles(
        &mut self,
        userid: &str,
        pairs: &[RoleAssignment],
    ) -> Result<Vec<RoleAssignment>, ApiError> {
        self.ensure_editable(userid, false)?;
        let user = self.user_mut(userid)?;
        let remaining: Vec<RoleAssignment> = user
            .roles
            .iter()
            .copied()
            .filter(|pair| !pairs.contains(pair))
            .collect();
        if remaining.is_empty() {
            return Err(ApiError::not_allowed(format!(
                "user `{userid}` must keep at least one role"
            )));
        }
        user.roles = remaining;
        Ok(user.roles.clone())
    }

    /// The UI action of linking a service to another API-only user. Credentials stay the same.
    pub(crate) fn link_service(&mut self, name: &str, userid: &str) -> Result<&Service, ApiError> {
        if !self.services.contains_key(name) {
            return Err(ApiError::not_found(format!("service `{name}` not found")));
        }
        let user = self.user(userid)?;
        if !user.api_only {
            return Err(ApiError::not_allowed(format!(
                "user `{userid}` is not an API-only user; a service can only be linked to one"
            )));
        }
        let userid = user.userid.clone();
        if self.behaviours.token_scope == TokenScope::Revoked {
            self.tokens.retain(|_, t| t.service != name);
        }
        let service = self
            .services
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("service `{name}` not found")))?;
        service.userid = userid;
        Ok(service)
    }

    /// What happens when the invited person sets a password: the invitation becomes a user.
    pub(crate) fn accept_invitation(
        &mut self,
        userid: &str,
        now: DateTime<Utc>,
    ) -> Result<&User, ApiError> {
        self.expire_invitations(now);
        let invitation = self
            .invitations
            .remove(&key(userid))
            .ok_or_else(|| ApiError::not_found(format!("no pending invitation for `{userid}`")))?;
        self.users.insert(
            key(userid),
            User {
                id: invitation.id,
                userid: invitation.userid,
                email: invitation.email,
                first_name: invitation.first_name,
                last_name: invitation.last_name,
                api_only: invitation.api_only,
                roles: invitation.roles,
                expires_at: invitation.user_expires_at,
                last_login_at: Some(now),
            },
        );
        self.user(userid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl World {
        /// Checks a bearer token and that its service's user may use the User Management API.
        fn authorize(&self, token: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
            let caller = self.caller(token, now)?;
            self.may_manage_users(&caller)
        }
    }
    use crate::sandbox::marketo::model::{reference_roles, reference_workspaces};
    use crate::secret::Secret;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn pair(role: u64, workspace: u64) -> RoleAssignment {
        RoleAssignment {
            access_role_id: role,
            workspace_id: workspace,
        }
    }

    fn new_user(userid: &str, api_only: bool) -> NewUser {
        NewUser {
            userid: userid.into(),
            email: userid.into(),
            first_name: "A".into(),
            last_name: "B".into(),
            api_only,
            roles: vec![pair(2, 1008)],
            expires_at: None,
        }
    }

    fn world() -> World {
        let mut world = World::new(3381, reference_roles(), reference_workspaces());
        world
            .invite(new_user("admin@acme.example", true), now())
            .unwrap();
        world
            .add_roles("admin@acme.example", &[pair(1, 0)])
            .unwrap();
        world
            .invite(new_user("api@acme.example", true), now())
            .unwrap();
        world.insert_service(Service {
            name: "admin".into(),
            client_id: "cid-admin".into(),
            client_secret: Secret::new("secret-admin"),
            userid: "admin@acme.example".into(),
        });
        world.insert_service(Service {
            name: "sync".into(),
            client_id: "cid-sync".into(),
            client_secret: Secret::new("secret-sync"),
            userid: "api@acme.example".into(),
        });
        world
    }

    #[test]
    fn api_only_invitations_are_users_at_once_others_are_pending() {
        let mut world = world();
        world
            .invite(new_user("person@acme.example", false), now())
            .unwrap();
        assert!(world.user("person@acme.example").is_err());
        assert!(world.invitation("person@acme.example").is_ok());
        let err = world
            .update("person@acme.example", UserChanges::default())
            .unwrap_err();
        assert_eq!(err.code, "1003");
        assert!(
            err.message.contains("pending invitation"),
            "{}",
            err.message
        );
    }

    #[test]
    fn behaviours_change_what_the_reference_leaves_open() {
        let ttl = Duration::hours(1);
        // minted: a cached token keeps the scope it was minted with.
        let mut world = world();
        world.behaviours.token_scope = TokenScope::Minted;
        world
            .invite(new_user("other@acme.example", true), now())
            .unwrap();
        let first = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        world.link_service("sync", "other@acme.example").unwrap();
        let cached = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        assert_eq!(cached.access_token, first.access_token);
        assert_eq!(cached.scope, "api@acme.example");
        let renewed = world
            .grant_token("cid-sync", "secret-sync", now() + ttl, ttl)
            .unwrap();
        assert_eq!(renewed.scope, "other@acme.example");

        // revoked: relinking invalidates the service's tokens.
        let mut world = world_with(|b| b.token_scope = TokenScope::Revoked);
        world
            .invite(new_user("other@acme.example", true), now())
            .unwrap();
        let first = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        world.link_service("sync", "other@acme.example").unwrap();
        assert_eq!(
            world
                .authorize(&first.access_token, now())
                .unwrap_err()
                .code,
            "601"
        );
        let next = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        assert_ne!(next.access_token, first.access_token);
        assert_eq!(next.scope, "other@acme.example");

        // pending: an API-only invitation waits to be accepted, and becomes API-only.
        let mut world = world_with(|b| b.api_only_invitations = ApiOnlyInvitations::Pending);
        world
            .invite(new_user("bot@acme.example", true), now())
            .unwrap();
        assert!(world.user("bot@acme.example").is_err());
        assert!(
            world
                .accept_invitation("bot@acme.example", now())
                .unwrap()
                .api_only
        );

        // linked-user-edit: 603, or accepted (a deletion is still refused).
        let mut world = world_with(|b| b.linked_user_edit = LinkedUserEdit::Refused603);
        let refused = world
            .update("api@acme.example", UserChanges::default())
            .unwrap_err();
        assert_eq!(refused.code, "603");
        let mut world = world_with(|b| b.linked_user_edit = LinkedUserEdit::Accepted);
        assert!(
            world
                .update("api@acme.example", UserChanges::default())
                .is_ok()
        );
        assert_eq!(
            world.delete_user("api@acme.example").unwrap_err().code,
            "1003"
        );
    }

    fn world_with(set: impl FnOnce(&mut Behaviours)) -> World {
        let mut world = world();
        set(&mut world.behaviours);
        world
    }

    #[test]
    fn invitations_lapse_after_seven_days() {
        let mut world = world();
        world
            .invite(new_user("person@acme.example", false), now())
            .unwrap();
        world.expire_invitations(now() + Duration::days(7) - Duration::seconds(1));
        assert!(world.invitation("person@acme.example").is_ok());
        world.expire_invitations(now() + Duration::days(7));
        assert!(world.invitation("person@acme.example").is_err());
    }

    #[test]
    fn userids_are_unique_regardless_of_case() {
        let mut world = world();
        let err = world
            .invite(new_user("API@acme.example", true), now())
            .unwrap_err();
        assert_eq!(err.code, "1005");
    }

    #[test]
    fn linked_users_can_be_neither_updated_nor_deleted() {
        let mut world = world();
        let err = world.delete_user("api@acme.example").unwrap_err();
        assert!(err.message.contains("`sync`"), "{}", err.message);
        let err = world
            .update(
                "api@acme.example",
                UserChanges {
                    first_name: Some("X".into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(err.code, "1003");
        world
            .invite(new_user("temp@acme.example", true), now())
            .unwrap();
        world.link_service("sync", "temp@acme.example").unwrap();
        world
            .update(
                "api@acme.example",
                UserChanges {
                    email: Some("new@acme.example".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            world.user("api@acme.example").unwrap().email,
            "new@acme.example"
        );
    }

    #[test]
    fn roles_must_exist_in_existing_workspaces() {
        let mut world = world();
        for (bad, why) in [
            (pair(999, 1008), "role 999"),
            (pair(2, 4242), "workspace 4242"),
            (pair(1, 1008), "can only be held"),
        ] {
            let mut request = new_user("x@acme.example", true);
            request.roles = vec![bad];
            let err = world.invite(request, now()).unwrap_err();
            assert!(err.message.contains(why), "{}", err.message);
        }
    }

    #[test]
    fn tokens_are_reused_until_they_expire_and_scope_names_the_linked_user() {
        let mut world = world();
        let ttl = Duration::seconds(3600);
        let first = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        assert_eq!(first.scope, "api@acme.example");
        assert_eq!(first.expires_in, 3600);
        let later = world
            .grant_token(
                "cid-sync",
                "secret-sync",
                now() + Duration::seconds(100),
                ttl,
            )
            .unwrap();
        assert_eq!(later.access_token, first.access_token);
        assert_eq!(later.expires_in, 3500);
        let renewed = world
            .grant_token("cid-sync", "secret-sync", now() + ttl, ttl)
            .unwrap();
        assert_ne!(renewed.access_token, first.access_token);
        assert_eq!(
            world.grant_token("cid-sync", "wrong", now(), ttl),
            Err(IdentityRefusal::BadCredentials)
        );
    }

    #[test]
    fn only_user_management_roles_may_call_the_api() {
        let mut world = world();
        let ttl = Duration::seconds(60);
        let admin = world
            .grant_token("cid-admin", "secret-admin", now(), ttl)
            .unwrap();
        let sync = world
            .grant_token("cid-sync", "secret-sync", now(), ttl)
            .unwrap();
        assert_eq!(world.authorize(&admin.access_token, now()), Ok(()));
        assert_eq!(
            world.authorize(&sync.access_token, now()).unwrap_err().code,
            "603"
        );
        assert_eq!(world.authorize("nope", now()).unwrap_err().code, "601");
        assert_eq!(
            world
                .authorize(&admin.access_token, now() + ttl)
                .unwrap_err()
                .code,
            "602"
        );
    }
}
