//! Steps: what a compiled plan will do, one API call or manual action at a time.
//!
//! A step is data only. The executor decides how to check, act and verify each [`Action`];
//! renderers describe them; saved plans and the journal store them. Compensations are derived
//! from the action, so no step can carry an inverse that disagrees with it.

use serde::{Deserialize, Serialize};

use crate::ids::{ServiceName, StepId, UserId};
use crate::provider::{RolePair, UserUpdate};

/// Who performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// relinker, through the API.
    Api,
    /// A person, in the platform's UI; relinker verifies it through the API.
    Manual,
}

/// Whether a step can be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversibility {
    /// It has a compensation.
    Reversible,
    /// Once done it stays done; ordered after every verification.
    Irreversible,
    /// It changes nothing (a verification).
    ReadOnly,
}

/// What live state already says about a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// It has work to do.
    Pending,
    /// Live state already matches; it will be recorded and skipped.
    AlreadySatisfied,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Action {
    /// Invite an API-only user with these pairs; it is usable at once.
    CreateUser {
        /// Userid (and email) of the new user.
        user: UserId,
        /// Given name.
        first_name: String,
        /// Family name.
        last_name: String,
        /// Role/workspace pairs.
        roles: Vec<RolePair>,
    },
    /// Add role/workspace pairs a user lacks.
    AddRoles {
        /// The user.
        user: UserId,
        /// Pairs to add.
        roles: Vec<RolePair>,
    },
    /// Take back role/workspace pairs: only ever the compensation of [`Action::AddRoles`], so a
    /// rollback leaves a user that existed before the run with exactly what it had.
    RemoveRoles {
        /// The user.
        user: UserId,
        /// Pairs to remove.
        roles: Vec<RolePair>,
    },
    /// Link a LaunchPoint service to another API-only user (manual in Marketo).
    LinkService {
        /// The service.
        service: ServiceName,
        /// The user it is linked to before.
        from: UserId,
        /// The user it must be linked to after.
        to: UserId,
    },
    /// Change a user's attributes.
    UpdateUser {
        /// The user.
        user: UserId,
        /// New values.
        change: UserUpdate,
        /// The values before, to restore on rollback.
        previous: UserUpdate,
    },
    /// Prove the rotation worked: each service mints a token with its unchanged credentials,
    /// its scope names `user`, and `user` holds exactly `roles`.
    Verify {
        /// The services.
        services: Vec<ServiceName>,
        /// The user they must be linked to.
        user: UserId,
        /// The pairs that user must hold.
        roles: Vec<RolePair>,
    },
    /// Delete a user.
    DeleteUser {
        /// The user.
        user: UserId,
    },
    /// Set a user's `expiresAt` to the moment the step runs: a soft retirement.
    ExpireUser {
        /// The user.
        user: UserId,
    },
}

impl Action {
    /// Who performs it.
    pub fn mode(&self) -> Mode {
        match self {
            Action::LinkService { .. } => Mode::Manual,
            _ => Mode::Api,
        }
    }

    /// Whether it can be undone.
    pub fn reversibility(&self) -> Reversibility {
        match self {
            // An expiry is ordered last like a deletion: undoing it means choosing a new expiry,
            // which is a person's decision, not a rollback's.
            Action::DeleteUser { .. } | Action::ExpireUser { .. } => Reversibility::Irreversible,
            Action::Verify { .. } => Reversibility::ReadOnly,
            _ => Reversibility::Reversible,
        }
    }

    /// The step that undoes this one, if any. Deleting a created user is only done when the
    /// journal shows this run created it; the executor checks that, not this function.
    pub fn compensation(&self) -> Option<Action> {
        match self {
            Action::CreateUser { user, .. } => Some(Action::DeleteUser { user: user.clone() }),
            Action::LinkService { service, from, to } => Some(Action::LinkService {
                service: service.clone(),
                from: to.clone(),
                to: from.clone(),
            }),
            Action::UpdateUser {
                user,
                change,
                previous,
            } => Some(Action::UpdateUser {
                user: user.clone(),
                change: previous.clone(),
                previous: change.clone(),
            }),
            Action::AddRoles { user, roles } => Some(Action::RemoveRoles {
                user: user.clone(),
                roles: roles.clone(),
            }),
            Action::RemoveRoles { user, roles } => Some(Action::AddRoles {
                user: user.clone(),
                roles: roles.clone(),
            }),
            Action::Verify { .. } | Action::DeleteUser { .. } | Action::ExpireUser { .. } => None,
        }
    }

    /// The users this action touches: what a run holds a claim on.
    pub fn users(&self) -> Vec<&UserId> {
        match self {
            Action::CreateUser { user, .. }
            | Action::AddRoles { user, .. }
            | Action::RemoveRoles { user, .. }
            | Action::UpdateUser { user, .. }
            | Action::DeleteUser { user }
            | Action::ExpireUser { user }
            | Action::Verify { user, .. } => vec![user],
            Action::LinkService { from, to, .. } => vec![from, to],
        }
    }

    /// Whether undoing it would delete something: a creation is the run's own only when the
    /// run itself found nothing there and acted, so its effect is never inferred from the plan.
    pub fn creates(&self) -> bool {
        matches!(self, Action::CreateUser { .. })
    }

    /// A one-line description for people.
    pub fn describe(&self) -> String {
        match self {
            Action::CreateUser { user, roles, .. } => {
                format!(
                    "create API-only user `{user}` with {} role/workspace pair(s)",
                    roles.len()
                )
            }
            Action::AddRoles { user, roles } => {
                format!("add {} role/workspace pair(s) to `{user}`", roles.len())
            }
            Action::RemoveRoles { user, roles } => {
                format!(
                    "remove {} role/workspace pair(s) from `{user}`",
                    roles.len()
                )
            }
            Action::LinkService { service, from, to } => {
                format!("link service `{service}` from `{from}` to `{to}`")
            }
            Action::UpdateUser { user, change, .. } => {
                let mut parts = Vec::new();
                if let Some(email) = &change.email {
                    parts.push(format!("email to `{email}`"));
                }
                if let Some(first) = &change.first_name {
                    parts.push(format!("first name to `{first}`"));
                }
                if let Some(last) = &change.last_name {
                    parts.push(format!("last name to `{last}`"));
                }
                if let Some(at) = change.expires_at {
                    parts.push(format!("expiry to {}", at.format("%Y-%m-%d %H:%M UTC")));
                }
                format!("update `{user}`: {}", parts.join(", "))
            }
            Action::Verify { services, user, .. } => format!(
                "verify {} still {} with unchanged credentials as `{user}`, and `{user}` holds the original roles",
                services
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if services.len() == 1 {
                    "authenticates"
                } else {
                    "authenticate"
                },
            ),
            Action::DeleteUser { user } => format!("delete user `{user}`"),
            Action::ExpireUser { user } => {
                format!("expire user `{user}` (its login ends when this step runs)")
            }
        }
    }
}

/// One step of a compiled plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id within the run, e.g. `r0-link-salesforce-sync-to-temp`.
    pub id: StepId,
    /// Index of the rotation it belongs to.
    pub rotation: usize,
    /// What it does.
    pub action: Action,
    /// Whether live state already matches.
    pub readiness: Readiness,
}

impl Step {
    /// Who performs it.
    pub fn mode(&self) -> Mode {
        self.action.mode()
    }

    /// Whether it can be undone.
    pub fn reversibility(&self) -> Reversibility {
        self.action.reversibility()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    #[test]
    fn compensations_invert_their_step() {
        let link = Action::LinkService {
            service: ServiceName::new("s"),
            from: uid("a@x.io"),
            to: uid("b@x.io"),
        };
        assert_eq!(
            link.compensation().and_then(|c| c.compensation()),
            Some(link.clone())
        );
        assert_eq!(link.mode(), Mode::Manual);
        let update = Action::UpdateUser {
            user: uid("a@x.io"),
            change: UserUpdate {
                email: Some("new@x.io".into()),
                ..UserUpdate::default()
            },
            previous: UserUpdate {
                email: Some("old@x.io".into()),
                ..UserUpdate::default()
            },
        };
        let Some(Action::UpdateUser { change, .. }) = update.compensation() else {
            panic!("no compensation")
        };
        assert_eq!(change.email.as_deref(), Some("old@x.io"));
        let added = Action::AddRoles {
            user: uid("t@x.io"),
            roles: vec![RolePair {
                role_id: 2,
                workspace_id: 1,
            }],
        };
        let Some(Action::RemoveRoles { user, roles }) = added.compensation() else {
            panic!("adding roles must be undone by removing exactly them")
        };
        assert_eq!((user.as_str(), roles.len()), ("t@x.io", 1));
        assert_eq!(
            added.compensation().and_then(|c| c.compensation()),
            Some(added)
        );
        assert_eq!(
            Action::DeleteUser {
                user: uid("a@x.io")
            }
            .compensation(),
            None
        );
        assert_eq!(
            Action::DeleteUser {
                user: uid("a@x.io")
            }
            .reversibility(),
            Reversibility::Irreversible
        );
    }
}
