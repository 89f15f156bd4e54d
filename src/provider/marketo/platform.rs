//! Marketo as a [`Platform`]: how each operation is checked against live state and carried out
//! through the User Management API, and what a person does for the one operation only a person
//! can perform (relinking a LaunchPoint service).
//!
//! A check answers one question, "does live state already show what this operation wants?",
//! and never changes anything, so the executor can ask it before acting, after acting, after a
//! lost answer and on resume, as often as it needs.

use std::collections::BTreeMap;

use chrono::Utc;

use super::api::Api;
use super::client::MarketoClient;
use super::credentials::Credentials;
use super::live;
use super::ops::Op;
use super::types::{NewApiUser, RolePair, ServiceCredentials, UserRecord, UserUpdate};
use crate::ids::{ServiceName, UserId};
use crate::plan::{Plan, Spec};
use crate::provider::{
    BoxFuture, Check, CheckError, LiveState, ManualAction, Platform, ProviderError, RunFacts,
};
use crate::secret::Fingerprint;

/// A Marketo instance, reached as the plan's admin service, with the credentials of the
/// services the plan names (to learn, by minting their tokens, which user each is linked to).
#[derive(Debug, Clone)]
pub struct MarketoPlatform {
    client: MarketoClient,
    credentials: Credentials,
}

impl MarketoPlatform {
    /// The platform behind `client`, with the plan's resolved credentials.
    pub fn new(client: MarketoClient, credentials: Credentials) -> Self {
        Self {
            client,
            credentials,
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
    async fn blocked(
        &self,
        user: &UserId,
        result: Result<(), ProviderError>,
    ) -> Result<(), ProviderError> {
        let Err(error) = result else {
            return result;
        };
        let linked = match error.code() {
            Some("1003") => self.services_naming(user).await,
            Some("603") => match self.services_naming(user).await {
                names if names.is_empty() => return Err(error),
                names => names,
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

    /// The services the plan knows whose token names `user` now.
    async fn services_naming(&self, user: &UserId) -> Vec<String> {
        let mut names = Vec::new();
        for service in self.credentials.services.values() {
            // A service whose token cannot be minted now tells nothing either way.
            if let Ok(link) = self.client.linked_user(service).await
                && link.userid == *user
            {
                names.push(format!("`{}`", service.name));
            }
        }
        names
    }

    async fn check_op(&self, op: &Op, facts: &dyn RunFacts) -> Result<Check, CheckError> {
        let api = &self.client;
        Ok(match op {
            Op::CreateUser { user, .. } => match api.user(user).await? {
                Some(existing) if existing.api_only => Check::Holds,
                Some(_) => Check::Conflict(format!("`{user}` exists and is not API-only")),
                // Some instances hold even an API-only invitation as pending until someone
                // accepts it: the user exists once a person does.
                None if api.invitation(user).await?.is_some() => Check::NeedsPerson(format!(
                    "Marketo holds `{user}` as a pending invitation until it is accepted"
                )),
                None => Check::NotYet(format!("`{user}` does not exist")),
            },
            Op::AddRoles { user, roles } => match api.user_roles(user).await? {
                Some(held) if roles.iter().all(|r| held.contains(r)) => Check::Holds,
                Some(_) => Check::NotYet(format!("`{user}` lacks some roles")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Op::RemoveRoles { user, roles } => match api.user_roles(user).await? {
                Some(held) if roles.iter().any(|r| held.contains(r)) => {
                    Check::NotYet(format!("`{user}` still holds some of the roles"))
                }
                // A user that is gone holds nothing: there is nothing left to take back.
                Some(_) | None => Check::Holds,
            },
            Op::LinkService { service, to, .. } => {
                let link = api.linked_user(self.service(service)?).await?;
                if link.userid == *to {
                    Check::Holds
                } else {
                    Check::NotYet(format!("`{service}` is linked to `{}`", link.userid))
                }
            }
            Op::UpdateUser { user, change, .. } => match api.user(user).await? {
                Some(record) if updated(change, &record) => Check::Holds,
                Some(_) => Check::NotYet(format!("`{user}` differs")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Op::Verify {
                services,
                user,
                roles,
            } => self.verify(services, user, roles, facts).await?,
            Op::DeleteUser { user } => match api.user(user).await? {
                Some(_) => Check::NotYet(format!("`{user}` exists")),
                None if api.invitation(user).await?.is_some() => {
                    Check::NotYet(format!("`{user}` is a pending invitation"))
                }
                None => Check::Holds,
            },
            Op::ExpireUser { user } => match api.user(user).await? {
                Some(record) if record.expires_at.is_some_and(|at| at <= Utc::now()) => {
                    Check::Holds
                }
                Some(_) => Check::NotYet(format!("`{user}` has not expired")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
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
        for service in services {
            let credentials = self.service(service)?;
            if facts.credential_at_start(service) != Some(credentials.fingerprint()) {
                return Ok(Check::Conflict(format!(
                    "the credentials of `{service}` are not the ones the run started with"
                )));
            }
            let link = self.client.linked_user(credentials).await?;
            if link.userid != *user {
                return Ok(Check::Conflict(format!(
                    "`{service}` is linked to `{}`, not `{user}`",
                    link.userid
                )));
            }
        }
        let held = self.client.user_roles(user).await?.unwrap_or_default();
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

    async fn act_op(&self, op: &Op) -> Result<(), ProviderError> {
        let api = &self.client;
        match op {
            Op::CreateUser {
                user,
                first_name,
                last_name,
                roles,
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
                api.invite_api_user(&new).await
            }
            Op::AddRoles { user, roles } => {
                self.blocked(user, api.add_roles(user, roles).await.map(drop))
                    .await
            }
            Op::RemoveRoles { user, roles } => {
                self.blocked(user, api.remove_roles(user, roles).await.map(drop))
                    .await
            }
            Op::UpdateUser { user, change, .. } => {
                self.blocked(user, api.update_user(user, change).await)
                    .await
            }
            Op::DeleteUser { user } => {
                if api.user(user).await?.is_none() && api.invitation(user).await?.is_some() {
                    // A user this run invited that was never accepted is a pending invitation.
                    return api.delete_invitation(user).await;
                }
                self.blocked(user, api.delete_user(user).await).await
            }
            Op::ExpireUser { user } => {
                let change = UserUpdate {
                    expires_at: Some(Utc::now()),
                    ..UserUpdate::default()
                };
                self.blocked(user, api.update_user(user, &change).await)
                    .await
            }
            Op::Verify { .. } => Ok(()),
            // A person's step: asking the API for it is the caller's mistake, answered as an
            // error rather than a panic.
            Op::LinkService { .. } => Err(ProviderError::Config(
                "relinking a LaunchPoint service is a person's step; no API can do it".into(),
            )),
        }
    }
}

impl Platform for MarketoPlatform {
    fn credential_fingerprints(&self) -> BTreeMap<ServiceName, Fingerprint> {
        self.credentials
            .services
            .iter()
            .map(|(name, c)| (name.clone(), c.fingerprint()))
            .collect()
    }

    fn observe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<LiveState, ProviderError>> {
        Box::pin(async move {
            let Spec::Marketo(spec) = &plan.spec else {
                return Err(ProviderError::foreign_plan(plan, "Marketo"));
            };
            live::observe(&self.client, spec, &self.credentials)
                .await
                .map(LiveState::Marketo)
        })
    }

    fn check<'a>(
        &'a self,
        op: &'a crate::provider::Op,
        facts: &'a dyn RunFacts,
    ) -> BoxFuture<'a, Result<Check, CheckError>> {
        Box::pin(async move {
            match op {
                crate::provider::Op::Marketo(op) => self.check_op(op, facts).await,
                other => Err(CheckError::foreign(other, "Marketo")),
            }
        })
    }

    fn act<'a>(&'a self, op: &'a crate::provider::Op) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match op {
                crate::provider::Op::Marketo(op) => self.act_op(op).await,
                other => Err(ProviderError::Config(format!(
                    "`{}` is not a Marketo step",
                    other.describe()
                ))),
            }
        })
    }

    fn instructions(&self, op: &crate::provider::Op) -> ManualAction {
        match op {
            crate::provider::Op::Marketo(Op::LinkService { service, to, .. }) => {
                self.client.relink_action(service, to)
            }
            // An API step a person must unblock: what Marketo is waiting for.
            crate::provider::Op::Marketo(Op::CreateUser { user, .. }) => ManualAction {
                summary: format!("accept the pending invitation of `{user}`"),
                steps: vec![
                    format!("relinker invited the API-only user `{user}`, and Marketo holds it as a pending invitation until it is accepted."),
                    format!("Accept it from the \"Welcome to Marketo\" email sent to `{user}` (or have a Marketo admin do it); relinker then goes on."),
                ],
            },
            crate::provider::Op::Marketo(
                Op::UpdateUser { user, .. }
                | Op::DeleteUser { user }
                | Op::ExpireUser { user }
                | Op::AddRoles { user, .. }
                | Op::RemoveRoles { user, .. },
            ) => ManualAction {
                summary: format!("let Marketo change `{user}`: no LaunchPoint service may run as it"),
                steps: vec![
                    format!("In Marketo, open Admin > Integration > LaunchPoint and make sure no service is linked to `{user}` (the plan's relink steps move them)."),
                    "Marketo may show a relink only once the service's access token expires, at most an hour later; relinker sends the change again until it is taken.".into(),
                    "If no service runs as it, check that relinker's admin service has a role with Access User Management Api.".into(),
                ],
            },
            other => ManualAction::summary_only(other.describe()),
        }
    }
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
