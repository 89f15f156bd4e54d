//! How each action is checked against live state and carried out through the provider.
//!
//! A check answers one question, "does live state already show what this action wants?", and
//! never changes anything, so the executor can ask it before acting, after acting, after a lost
//! answer and on resume, as often as it needs.

use chrono::Utc;

use super::Executor;
use super::error::StepError;
use crate::ids::{ServiceName, UserId};
use crate::plan::Action;
use crate::provider::{
    ManualAction, NewApiUser, Provider, ProviderError, RolePair, ServiceCredentials, UserUpdate,
};

/// What a live-state check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    /// Live state shows what the action wants.
    Holds,
    /// Not yet; the reason says what live state shows instead.
    NotYet(String),
    /// Live state contradicts the action: doing it would be wrong.
    Conflict(String),
}

impl<P: Provider> Executor<'_, P> {
    /// Reads live state and compares it with what `action` wants.
    pub(super) async fn check(&self, action: &Action) -> Result<Check, StepError> {
        self.read(action).await.map_err(|e| match e {
            Fault::Provider(e) => StepError::Read(e),
            Fault::Step(e) => e,
        })
    }

    async fn read(&self, action: &Action) -> Result<Check, Fault> {
        let provider = self.provider;
        Ok(match action {
            Action::CreateUser { user, .. } => match provider.user(user).await? {
                Some(existing) if existing.api_only => Check::Holds,
                Some(_) => Check::Conflict(format!("`{user}` exists and is not API-only")),
                None if provider.invitation(user).await?.is_some() => {
                    Check::Conflict(format!("`{user}` is a pending invitation"))
                }
                None => Check::NotYet(format!("`{user}` does not exist")),
            },
            Action::AddRoles { user, roles } => match provider.user_roles(user).await? {
                Some(held) if roles.iter().all(|r| held.contains(r)) => Check::Holds,
                Some(_) => Check::NotYet(format!("`{user}` lacks some roles")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Action::RemoveRoles { user, roles } => match provider.user_roles(user).await? {
                Some(held) if roles.iter().any(|r| held.contains(r)) => {
                    Check::NotYet(format!("`{user}` still holds some of the roles"))
                }
                // A user that is gone holds nothing: there is nothing left to take back.
                Some(_) | None => Check::Holds,
            },
            Action::LinkService { service, to, .. } => {
                let link = provider.linked_user(self.credentials(service)?).await?;
                if link.userid == *to {
                    Check::Holds
                } else {
                    Check::NotYet(format!("`{service}` is linked to `{}`", link.userid))
                }
            }
            Action::UpdateUser { user, change, .. } => match provider.user(user).await? {
                Some(record) if updated(change, &record) => Check::Holds,
                Some(_) => Check::NotYet(format!("`{user}` differs")),
                None => Check::Conflict(format!("`{user}` does not exist")),
            },
            Action::Verify {
                services,
                user,
                roles,
            } => self.verify(services, user, roles).await?,
            Action::DeleteUser { user } => match provider.user(user).await? {
                Some(_) => Check::NotYet(format!("`{user}` exists")),
                None => Check::Holds,
            },
            Action::ExpireUser { user } => match provider.user(user).await? {
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
    ) -> Result<Check, Fault> {
        for service in services {
            let credentials = self.credentials(service)?;
            let at_start = self.summary().credential(service).cloned();
            if at_start.as_ref() != Some(&credentials.fingerprint()) {
                return Ok(Check::Conflict(format!(
                    "the credentials of `{service}` are not the ones the run started with"
                )));
            }
            let link = self.provider.linked_user(credentials).await?;
            if link.userid != *user {
                return Ok(Check::Conflict(format!(
                    "`{service}` is linked to `{}`, not `{user}`",
                    link.userid
                )));
            }
        }
        let held = self.provider.user_roles(user).await?.unwrap_or_default();
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

    /// Carries out an API action. Manual actions are a person's; asking here is a bug in the
    /// caller, answered as a conflict rather than a panic.
    pub(super) async fn act(&self, action: &Action) -> Result<(), ProviderError> {
        let provider = self.provider;
        match action {
            Action::CreateUser {
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
                provider.invite_api_user(&new).await
            }
            Action::AddRoles { user, roles } => provider.add_roles(user, roles).await.map(drop),
            Action::RemoveRoles { user, roles } => {
                provider.remove_roles(user, roles).await.map(drop)
            }
            Action::UpdateUser { user, change, .. } => provider.update_user(user, change).await,
            Action::DeleteUser { user } => provider.delete_user(user).await,
            Action::ExpireUser { user } => {
                let change = UserUpdate {
                    expires_at: Some(Utc::now()),
                    ..UserUpdate::default()
                };
                provider.update_user(user, &change).await
            }
            Action::Verify { .. } => Ok(()),
            Action::LinkService { .. } => Err(ProviderError::Config(
                "a manual step cannot be carried out through the API".into(),
            )),
        }
    }

    /// What a person must do for a manual action.
    pub(super) fn instructions(&self, action: &Action) -> ManualAction {
        match action {
            Action::LinkService { service, to, .. } => self.provider.relink_action(service, to),
            other => ManualAction {
                summary: other.describe(),
                steps: Vec::new(),
            },
        }
    }

    fn credentials(&self, service: &ServiceName) -> Result<&ServiceCredentials, StepError> {
        self.services
            .get(service)
            .ok_or_else(|| StepError::NoCredentials {
                service: service.clone(),
            })
    }
}

/// Whether a user record shows every attribute a change sets.
fn updated(change: &UserUpdate, record: &crate::provider::UserRecord) -> bool {
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

/// A failure while reading: the provider's, or the step's own (missing credentials).
enum Fault {
    Provider(ProviderError),
    Step(StepError),
}

impl From<ProviderError> for Fault {
    fn from(error: ProviderError) -> Self {
        Fault::Provider(error)
    }
}

impl From<StepError> for Fault {
    fn from(error: StepError) -> Self {
        Fault::Step(error)
    }
}
