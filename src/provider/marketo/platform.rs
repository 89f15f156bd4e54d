//! Marketo as a [`Platform`]: how each operation is checked against live state and carried out
//! through the User Management API, and what a person does for the one operation only a person
//! can perform (relinking a LaunchPoint service).
//!
//! A check answers one question, "does live state already show what this operation wants?",
//! and never changes anything, so the executor can ask it before acting, after acting, after a
//! lost answer and on resume, as often as it needs.

use std::collections::BTreeMap;

use chrono::Utc;
use futures_util::future::join_all;

use super::api::Api;
use super::client::MarketoClient;
use super::credentials::Credentials;
use super::live;
use super::ops::Op;
use super::recent::{Known, Recent, Source};
use super::types::{NewApiUser, RolePair, ServiceCredentials, UserRecord, UserUpdate};
use crate::ids::{ServiceName, UserId};
use crate::plan::ProviderKind;
use crate::plan::{Plan, Spec};
use crate::provider::op::Operation;
use crate::provider::{
    BoxFuture, Check, CheckError, Fence, LiveState, ManualAction, Platform, ProviderError, RunFacts,
};
use crate::secret::CredentialFingerprint;

/// How old a service's token may be and still show the service's link as it is now: one
/// minted this long ago or more may predate a relink that some instances show only once it
/// expires.
const FRESH_TOKEN_SECS: i64 = 60;

/// A Marketo instance, reached as the plan's admin service, with the credentials of the
/// services the plan names (to learn, by minting their tokens, which user each is linked to).
#[derive(Debug)]
pub struct MarketoPlatform {
    client: MarketoClient,
    credentials: Credentials,
    /// What this plan's run last learned of each user, so a check need not read it again.
    recent: Recent,
}

impl MarketoPlatform {
    /// The platform behind `client`, with the plan's resolved credentials.
    pub fn new(client: MarketoClient, credentials: Credentials) -> Self {
        Self {
            client,
            credentials,
            recent: Recent::default(),
        }
    }

    /// The REST client.
    pub fn client(&self) -> &MarketoClient {
        &self.client
    }

    fn service(&self, service: &ServiceName) -> Result<&ServiceCredentials, CheckError> {
        self.credentials
            .services
            .get(service)
            .ok_or_else(|| CheckError::NoCredentials {
                service: service.clone(),
            })
    }

    /// A change Marketo refused, seen as a wait for a person where a person can lift it.
    /// Marketo refuses to edit a user a LaunchPoint service runs as: with 1003 ("not
    /// allowed"), always a business rule, so always a wait; or, on some instances, with 603
    /// ("access denied"), a wait only while a service the plan knows still names the user
    /// (otherwise relinker's admin service lacks a permission, which no retry changes). A
    /// relink may stay hidden until the service's token expires, hence the hour.
    async fn blocked<T>(
        &self,
        user: &UserId,
        result: Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let Err(error) = result else {
            return result;
        };
        let linked = match error.code() {
            Some("1003") => self.services_naming(user).await.0,
            // No service names the user: a missing permission, unless a token old enough to
            // hide a relink was read (Marketo may show a relink only once a token expires).
            Some("603") => match self.services_naming(user).await {
                (names, false) if names.is_empty() => return Err(error),
                (names, _) => names,
            },
            _ => return Err(error),
        };
        let who = if linked.is_empty() {
            "a LaunchPoint service may still run as it".to_owned()
        } else {
            format!(
                "{} still run{} as it",
                linked.join(", "),
                if linked.len() == 1 { "s" } else { "" }
            )
        };
        Err(ProviderError::Blocked {
            reason: format!(
                "Marketo refuses to change `{user}` ({error}): {who}. Marketo may show a relink only once the service's access token expires, at most an hour after the relink"
            ),
        })
    }

    /// The services the plan knows whose token names `user` now, and whether a token read
    /// was old enough to hide a relink made since it was minted.
    async fn services_naming(&self, user: &UserId) -> (Vec<String>, bool) {
        let mut names = Vec::new();
        let mut may_hide = false;
        for service in self.credentials.services.values() {
            // A service whose token cannot be minted now tells nothing either way.
            let Ok((linked, minted_at)) = self.client.linked_user_minted(service).await else {
                may_hide = true;
                continue;
            };
            may_hide |= minted_at.is_none_or(|minted| {
                Utc::now() - minted > chrono::Duration::seconds(FRESH_TOKEN_SECS)
            });
            if linked == *user {
                names.push(format!("`{}`", service.name));
            }
        }
        (names, may_hide)
    }

    async fn check_op(&self, op: &Op, facts: &dyn RunFacts) -> Result<Check, CheckError> {
        match op {
            Op::LinkService { service, to, .. } => {
                let (linked, minted_at) = self
                    .client
                    .linked_user_minted(self.service(service)?)
                    .await?;
                if linked != *to {
                    return Ok(Check::NotYet(format!(
                        "`{service}` is linked to `{linked}`"
                    )));
                }
                // A token minted before a person was asked to relink may name the user of
                // before the relink (on some instances, until it expires): it proves nothing.
                if let Some(after) = facts.evidence_after()
                    && minted_at.is_none_or(|minted| minted < after)
                {
                    return Ok(Check::CannotTell(format!(
                        "`{service}`'s token names `{to}`, but it was minted before the relink this run asked for, and Marketo may show a relink only once that token expires (at most an hour after it was minted); if `{service}` is not linked to `{to}` in LaunchPoint, link it there"
                    )));
                }
                Ok(Check::Holds)
            }
            // The promise is always proven against live state, never from memory.
            Op::Verify {
                services,
                user,
                roles,
                ..
            } => self.verify(services, user, roles, facts).await,
            Op::CreateUser { user, .. }
            | Op::AddRoles { user, .. }
            | Op::RemoveRoles { user, .. }
            | Op::UpdateUser { user, .. }
            | Op::DeleteUser { user }
            | Op::ExpireUser { user } => self.check_user(op, user).await,
        }
    }

    /// Checks an operation on `user`, from what the run last learned of it where that may
    /// answer (see [`super::recent`]), else from a live read. What it judged from is
    /// remembered as a read, for the next step on the same user.
    async fn check_user(&self, op: &Op, user: &UserId) -> Result<Check, CheckError> {
        if let Some((known, source)) = self.recent.take(user)
            && let Some(check) = judge(op, &known)
            && (source == Source::Written || matches!(check, Check::NotYet(_)))
        {
            self.recent.learn(user, known, Source::Read);
            return Ok(check);
        }
        let (known, remember) = self.read(op, user).await?;
        let check = judge(op, &known).ok_or_else(|| {
            CheckError::Unusable(format!("no read of `{user}` answers `{}`", op.describe()))
        })?;
        if remember {
            self.recent.learn(user, known, Source::Read);
        }
        Ok(check)
    }

    /// What a live read of `user` shows for `op`, and whether it may be remembered (a user a
    /// read did not find is only remembered absent once its invitation was looked up too).
    async fn read(&self, op: &Op, user: &UserId) -> Result<(Known, bool), ProviderError> {
        let api = &self.client;
        if let Op::AddRoles { .. } | Op::RemoveRoles { .. } = op {
            return Ok(match api.user_roles(user).await? {
                Some(pairs) => (Known::Roles(pairs), true),
                None => (Known::Absent, false),
            });
        }
        Ok(match api.user(user).await? {
            Some(record) => (Known::User(record), true),
            None if matches!(op, Op::UpdateUser { .. } | Op::ExpireUser { .. }) => {
                (Known::Absent, false)
            }
            None if api.invitation(user).await?.is_some() => (Known::Pending, true),
            None => (Known::Absent, true),
        })
    }

    /// The promise: each service mints a token with the very credentials it had at the start,
    /// its scope names `user`, and `user` holds exactly the original roles.
    async fn verify(
        &self,
        services: &[ServiceName],
        user: &UserId,
        roles: &[RolePair],
        facts: &dyn RunFacts,
    ) -> Result<Check, CheckError> {
        let mut minted = Vec::with_capacity(services.len());
        for service in services {
            let credentials = self.service(service)?;
            if !facts
                .credential_at_start(service)
                .is_some_and(|at_start| credentials.are(&at_start))
            {
                return Ok(Check::Conflict(format!(
                    "the credentials of `{service}` are not the ones the run started with"
                )));
            }
            minted.push(async move { (service, self.client.linked_user(credentials).await) });
        }
        // Independent reads: the links and the roles go out at once.
        let (links, held) = tokio::join!(join_all(minted), self.client.user_roles(user));
        for (service, linked) in links {
            let linked = linked?;
            if linked != *user {
                return Ok(Check::Conflict(format!(
                    "`{service}` is linked to `{linked}`, not `{user}`"
                )));
            }
        }
        let held = held?.unwrap_or_default();
        let mut wanted = roles.to_vec();
        wanted.sort();
        if held != wanted {
            return Ok(Check::Conflict(format!(
                "`{user}` holds {} role/workspace pair(s), not the original {}",
                held.len(),
                wanted.len()
            )));
        }
        Ok(Check::Holds)
    }

    /// Carries out `op`, and remembers Marketo's answer to it. After a refusal, or an answer
    /// that says nothing of the user, the user is only known by reading it again.
    async fn act_op(&self, op: &Op, fence: &dyn Fence) -> Result<(), ProviderError> {
        let user = match op {
            // A person's step: asking the API for it is the caller's mistake, answered as an
            // error rather than a panic.
            Op::LinkService { .. } => {
                return Err(ProviderError::Config(
                    "relinking a LaunchPoint service is a person's step; no API can do it".into(),
                ));
            }
            Op::Verify { .. } => return Ok(()),
            Op::CreateUser { user, .. }
            | Op::AddRoles { user, .. }
            | Op::RemoveRoles { user, .. }
            | Op::UpdateUser { user, .. }
            | Op::DeleteUser { user }
            | Op::ExpireUser { user } => user,
        };
        match self.change(op, user, fence).await {
            Ok(Some(known)) => {
                self.recent.learn(user, known, Source::Written);
                Ok(())
            }
            Ok(None) => {
                self.recent.forget(user);
                Ok(())
            }
            Err(error) => {
                self.recent.forget(user);
                Err(error)
            }
        }
    }

    /// Sends the change `op` makes to `user`; what Marketo's answer says of the user after it,
    /// where it says.
    async fn change(
        &self,
        op: &Op,
        user: &UserId,
        fence: &dyn Fence,
    ) -> Result<Option<Known>, ProviderError> {
        let api = &self.client;
        match op {
            Op::CreateUser {
                first_name,
                last_name,
                roles,
                ..
            } => {
                let new = NewApiUser {
                    userid: user.clone(),
                    email: user.to_string(),
                    first_name: first_name.clone(),
                    last_name: last_name.clone(),
                    roles: roles.clone(),
                    reason: Some(
                        "created by relinker to hold LaunchPoint services during a rotation".into(),
                    ),
                };
                // Whether the invitation became a user at once differs by instance: read it.
                api.invite_api_user(&new, fence).await.map(|()| None)
            }
            Op::AddRoles { roles, .. } => {
                let held = self
                    .blocked(user, api.add_roles(user, roles, fence).await)
                    .await?;
                Ok(Some(Known::Roles(held)))
            }
            Op::RemoveRoles { roles, .. } => {
                let held = self
                    .blocked(user, api.remove_roles(user, roles, fence).await)
                    .await?;
                Ok(Some(Known::Roles(held)))
            }
            Op::UpdateUser { change, .. } => {
                let record = self
                    .blocked(user, api.update_user(user, change, fence).await)
                    .await?;
                Ok(record.map(Known::User))
            }
            Op::ExpireUser { .. } => {
                let change = UserUpdate {
                    expires_at: Some(Utc::now()),
                    ..UserUpdate::default()
                };
                let record = self
                    .blocked(user, api.update_user(user, &change, fence).await)
                    .await?;
                Ok(record.map(Known::User))
            }
            Op::DeleteUser { .. } => self.delete(user, fence).await,
            Op::LinkService { .. } | Op::Verify { .. } => Ok(None),
        }
    }

    /// Deletes `user`, or its invitation if that is all there is: a user this run invited that
    /// was never accepted. Marketo refuses to delete an invitation as a user, so the
    /// invitation is only looked up once the user's delete is refused.
    async fn delete(
        &self,
        user: &UserId,
        fence: &dyn Fence,
    ) -> Result<Option<Known>, ProviderError> {
        let api = &self.client;
        let error = match api.delete_user(user, fence).await {
            Ok(()) => return Ok(Some(Known::Absent)),
            Err(error) if error.is_not_found() || error.code() == Some("1003") => error,
            Err(error) => return self.blocked(user, Err(error)).await,
        };
        if api.invitation(user).await?.is_some() {
            api.delete_invitation(user, fence).await?;
            return Ok(Some(Known::Absent));
        }
        if error.is_not_found() {
            // Gone already: the check after the act reads it live to be sure.
            return Ok(None);
        }
        self.blocked(user, Err(error)).await
    }
}

impl Platform for MarketoPlatform {
    /// Whether the admin service's user holds the Admin role (every permission) where a role
    /// with Access Users and Access User Management Api is all relinker needs. One read of
    /// that user; what cannot be read tells nothing.
    fn cautions(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let Ok(admin) = self.client.linked_user(&self.credentials.admin).await else {
                return Vec::new();
            };
            let Ok(Some(record)) = self.client.user(&admin).await else {
                return Vec::new();
            };
            let names = self.client.role_names();
            let all_powerful = record.roles.iter().any(|pair| {
                names
                    .roles
                    .get(&pair.role_id)
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case("Admin"))
            });
            if all_powerful {
                vec![format!(
                    "relinker's admin service runs as `{}`, which holds the Admin role (every permission): give it a role with only Access Users and Access User Management Api (docs/providers/marketo.md, \"Permissions\")",
                    admin
                )]
            } else {
                Vec::new()
            }
        })
    }

    fn authenticate(&self) -> BoxFuture<'_, Vec<crate::provider::Authenticated>> {
        Box::pin(async move {
            let mut answers = Vec::new();
            let admin = std::iter::once((
                "relinker's admin service".to_owned(),
                &self.credentials.admin,
            ));
            let services = self
                .credentials
                .services
                .values()
                .map(|service| (format!("service `{}`", service.name), service));
            for (credential, service) in admin.chain(services) {
                let answer = self
                    .client
                    .linked_user(service)
                    .await
                    .map(|user| format!("mints a token, as `{user}`"))
                    .map_err(|error| error.to_string());
                answers.push(crate::provider::Authenticated { credential, answer });
            }
            answers
        })
    }

    fn made(&self, op: &crate::provider::Op) -> Option<crate::provider::Made> {
        match op.narrow::<Op>()? {
            Op::CreateUser { user, .. } => Some(crate::provider::Made {
                identity: user.to_string(),
                credential: None,
            }),
            _ => None,
        }
    }

    fn credential_fingerprints(&self) -> BTreeMap<ServiceName, CredentialFingerprint> {
        self.credentials
            .services
            .iter()
            .map(|(name, c)| (name.clone(), c.fingerprint().clone()))
            .collect()
    }

    fn observe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<LiveState, ProviderError>> {
        Box::pin(async move {
            let Spec::Marketo(spec) = &plan.spec else {
                return Err(ProviderError::foreign_plan(plan, ProviderKind::Marketo));
            };
            let snapshot = live::observe(&self.client, spec, &self.credentials).await?;
            self.recent.seed(&snapshot, &live::named_users(spec));
            Ok(LiveState::Marketo(snapshot))
        })
    }

    fn check<'a>(
        &'a self,
        op: &'a crate::provider::Op,
        facts: &'a dyn RunFacts,
    ) -> BoxFuture<'a, Result<Check, CheckError>> {
        Box::pin(async move {
            match op.narrow::<Op>() {
                Some(op) => self.check_op(op, facts).await,
                None => Err(CheckError::foreign(op, ProviderKind::Marketo)),
            }
        })
    }

    fn act<'a>(
        &'a self,
        op: &'a crate::provider::Op,
        fence: &'a dyn Fence,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match op.narrow::<Op>() {
                Some(op) => self.act_op(op, fence).await,
                None => Err(ProviderError::Config(format!(
                    "`{}` is not a Marketo step",
                    op.describe()
                ))),
            }
        })
    }

    fn instructions(&self, op: &crate::provider::Op) -> ManualAction {
        let Some(marketo) = op.narrow::<Op>() else {
            return ManualAction::summary_only(op.describe());
        };
        match marketo {
            Op::LinkService { service, to, .. } => self.client.relink_action(service, to),
            // An API step a person must unblock: what Marketo is waiting for.
            Op::CreateUser { user, .. } => ManualAction {
                summary: format!("accept the pending invitation of `{user}`"),
                steps: vec![
                    format!("relinker invited the API-only user `{user}`, and Marketo holds it as a pending invitation until it is accepted."),
                    format!("Accept it from the \"Welcome to Marketo\" email sent to `{user}` (or have a Marketo admin do it); relinker then goes on."),
                ],
            },
            Op::UpdateUser { user, .. }
            | Op::DeleteUser { user }
            | Op::ExpireUser { user }
            | Op::AddRoles { user, .. }
            | Op::RemoveRoles { user, .. } => ManualAction {
                summary: format!("let Marketo change `{user}`: no LaunchPoint service may run as it"),
                steps: vec![
                    format!("In Marketo, open Admin > Integration > LaunchPoint and make sure no service is linked to `{user}` (the plan's relink steps move them)."),
                    "Marketo may show a relink only once the service's access token expires, at most an hour later; relinker sends the change again until it is taken.".into(),
                    "If no service runs as it, check that relinker's admin service has a role with Access User Management Api.".into(),
                ],
            },
            verify @ Op::Verify { .. } => ManualAction::summary_only(verify.describe()),
        }
    }
}

/// What `known` of `op`'s user says of `op`; nothing where it does not tell (a user known only
/// by its pairs, for an operation on its record).
fn judge(op: &Op, known: &Known) -> Option<Check> {
    Some(match (op, known) {
        (Op::AddRoles { user, roles }, known) => match known.roles() {
            Some(held) if roles.iter().all(|r| held.contains(r)) => Check::Holds,
            Some(_) => Check::NotYet(format!("`{user}` lacks some roles")),
            None => Check::Conflict(format!("`{user}` does not exist")),
        },
        (Op::RemoveRoles { user, roles }, known) => match known.roles() {
            Some(held) if roles.iter().any(|r| held.contains(r)) => {
                Check::NotYet(format!("`{user}` still holds some of the roles"))
            }
            // A user that is gone holds nothing: there is nothing left to take back.
            Some(_) | None => Check::Holds,
        },
        (Op::DeleteUser { user }, known) => match known {
            Known::User(_) | Known::Roles(_) => Check::NotYet(format!("`{user}` exists")),
            Known::Pending => Check::NotYet(format!("`{user}` is a pending invitation")),
            Known::Absent => Check::Holds,
        },
        // Neither a record's operations nor the ones no memory answers.
        (_, Known::Roles(_)) | (Op::LinkService { .. } | Op::Verify { .. }, _) => return None,
        (Op::CreateUser { user, .. }, known) => match known {
            Known::User(existing) if existing.api_only => Check::Holds,
            Known::User(_) => Check::Conflict(format!("`{user}` exists and is not API-only")),
            // Some instances hold even an API-only invitation as pending until someone
            // accepts it: the user exists once a person does.
            Known::Pending => Check::NeedsPerson(format!(
                "Marketo holds `{user}` as a pending invitation until it is accepted"
            )),
            Known::Absent | Known::Roles(_) => Check::NotYet(format!("`{user}` does not exist")),
        },
        (Op::UpdateUser { user, change, .. }, known) => match known {
            Known::User(record) if updated(change, record) => Check::Holds,
            Known::User(_) => Check::NotYet(format!("`{user}` differs")),
            _ => Check::Conflict(format!("`{user}` does not exist")),
        },
        (Op::ExpireUser { user }, known) => match known {
            Known::User(record) if record.expires_at.is_some_and(|at| at <= Utc::now()) => {
                Check::Holds
            }
            Known::User(_) => Check::NotYet(format!("`{user}` has not expired")),
            _ => Check::Conflict(format!("`{user}` does not exist")),
        },
    })
}

/// Whether a user record shows every attribute a change sets.
fn updated(change: &UserUpdate, record: &UserRecord) -> bool {
    change
        .email
        .as_ref()
        .is_none_or(|e| crate::address::same(e, &record.email))
        && change
            .first_name
            .as_ref()
            .is_none_or(|f| *f == record.first_name)
        && change
            .last_name
            .as_ref()
            .is_none_or(|l| *l == record.last_name)
        && change.expires_at.is_none_or(|at| {
            record
                .expires_at
                .is_some_and(|r| (r - at).num_seconds().abs() < 1)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    fn record(roles: Vec<RolePair>) -> UserRecord {
        UserRecord {
            userid: id("u@x.test"),
            email: "u@x.test".into(),
            first_name: "Old".into(),
            last_name: "Name".into(),
            api_only: true,
            roles,
            expires_at: None,
        }
    }

    const PAIR: RolePair = RolePair {
        role_id: 2,
        workspace_id: 1,
    };

    #[test]
    fn pairs_alone_answer_role_operations_and_nothing_else() {
        let known = Known::Roles(vec![PAIR]);
        let add = Op::AddRoles {
            user: id("u@x.test"),
            roles: vec![PAIR],
        };
        assert_eq!(judge(&add, &known), Some(Check::Holds));
        let rename = Op::UpdateUser {
            user: id("u@x.test"),
            change: UserUpdate {
                first_name: Some("New".into()),
                ..UserUpdate::default()
            },
            previous: UserUpdate::default(),
        };
        assert_eq!(judge(&rename, &known), None, "a rename needs the record");
        assert!(matches!(
            judge(&rename, &Known::User(record(vec![]))),
            Some(Check::NotYet(_))
        ));
    }

    #[test]
    fn a_pending_invitation_is_neither_a_user_nor_gone() {
        let user = id("u@x.test");
        let create = Op::CreateUser {
            user: user.clone(),
            first_name: "A".into(),
            last_name: "B".into(),
            roles: vec![],
        };
        let delete = Op::DeleteUser { user };
        assert!(matches!(
            judge(&create, &Known::Pending),
            Some(Check::NeedsPerson(_))
        ));
        assert!(matches!(
            judge(&delete, &Known::Pending),
            Some(Check::NotYet(_))
        ));
        assert_eq!(judge(&delete, &Known::Absent), Some(Check::Holds));
        assert!(matches!(
            judge(&delete, &Known::Roles(vec![PAIR])),
            Some(Check::NotYet(_))
        ));
    }

    #[test]
    fn removing_pairs_from_a_user_that_is_gone_holds() {
        let remove = Op::RemoveRoles {
            user: id("u@x.test"),
            roles: vec![PAIR],
        };
        assert_eq!(judge(&remove, &Known::Absent), Some(Check::Holds));
        assert!(matches!(
            judge(&remove, &Known::User(record(vec![PAIR]))),
            Some(Check::NotYet(_))
        ));
    }
}
