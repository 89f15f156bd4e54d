//! Marketo's operations: what a rename, replace or relink compiles to, one API call or one
//! LaunchPoint relink at a time. Compensations are derived from the operation, so no step can
//! carry an inverse that disagrees with it.

use serde::{Deserialize, Serialize};

use super::types::{RolePair, UserUpdate};
use crate::ids::{ServiceName, UserId};
use crate::provider::{Operation, Performer, Reversibility, Verification};

/// What a Marketo step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
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
    /// Take back role/workspace pairs: only ever the compensation of [`Op::AddRoles`], so a
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
        /// The user's email address once the rotation is done, where it differs from the
        /// userid: what the proof names the user by, beside the userid (after a rename the
        /// userid is still the departed person's address). Shown only; never checked.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
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

impl Operation for Op {
    fn performer(&self) -> Performer {
        match self {
            // Marketo has no API to change the user a LaunchPoint service is linked to.
            Op::LinkService { .. } => Performer::Person,
            _ => Performer::Api,
        }
    }

    fn verification(&self) -> Verification {
        // Every Marketo effect is read back through the API: links through the service's own
        // token, whose `scope` names the linked user.
        Verification::Observed
    }

    fn reversibility(&self) -> Reversibility {
        match self {
            // An expiry is ordered last like a deletion: undoing it means choosing a new expiry,
            // which is a person's decision, not a rollback's.
            Op::DeleteUser { .. } | Op::ExpireUser { .. } => Reversibility::Irreversible,
            Op::Verify { .. } => Reversibility::ReadOnly,
            _ => Reversibility::Reversible,
        }
    }

    /// Deleting a created user is only done when the journal shows this run created it; the
    /// executor checks that, not this function.
    fn compensation(&self) -> Option<Op> {
        match self {
            Op::CreateUser { user, .. } => Some(Op::DeleteUser { user: user.clone() }),
            Op::LinkService { service, from, to } => Some(Op::LinkService {
                service: service.clone(),
                from: to.clone(),
                to: from.clone(),
            }),
            Op::UpdateUser {
                user,
                change,
                previous,
            } => Some(Op::UpdateUser {
                user: user.clone(),
                change: previous.clone(),
                previous: change.clone(),
            }),
            Op::AddRoles { user, roles } => Some(Op::RemoveRoles {
                user: user.clone(),
                roles: roles.clone(),
            }),
            Op::RemoveRoles { user, roles } => Some(Op::AddRoles {
                user: user.clone(),
                roles: roles.clone(),
            }),
            Op::Verify { .. } | Op::DeleteUser { .. } | Op::ExpireUser { .. } => None,
        }
    }

    fn users(&self) -> Vec<&UserId> {
        match self {
            Op::CreateUser { user, .. }
            | Op::AddRoles { user, .. }
            | Op::RemoveRoles { user, .. }
            | Op::UpdateUser { user, .. }
            | Op::DeleteUser { user }
            | Op::ExpireUser { user }
            | Op::Verify { user, .. } => vec![user],
            Op::LinkService { from, to, .. } => vec![from, to],
        }
    }

    fn creates(&self) -> bool {
        matches!(self, Op::CreateUser { .. })
    }

    fn needs(&self) -> Vec<&UserId> {
        match self {
            Op::LinkService { to, .. } => vec![to],
            _ => Vec::new(),
        }
    }

    fn relinks(&self) -> Option<(&ServiceName, &UserId, &UserId)> {
        match self {
            Op::LinkService { service, from, to } => Some((service, from, to)),
            _ => None,
        }
    }

    /// The plan names the user a creation makes, so what it made is that user.
    fn undo_made(&self, made: &crate::provider::Made) -> Option<Op> {
        let _ = made;
        self.compensation()
    }

    fn is_proof(&self) -> bool {
        matches!(self, Op::Verify { .. })
    }

    fn deletes(&self) -> bool {
        matches!(self, Op::DeleteUser { .. })
    }

    fn promise(&self) -> String {
        let Op::Verify {
            services,
            user,
            roles,
            email,
        } = self
        else {
            return self.describe();
        };
        let mailbox = email
            .as_ref()
            .map(|email| format!(" (email `{email}`)"))
            .unwrap_or_default();
        format!(
            "{} {} with unchanged credentials (fingerprints match) as `{user}`{mailbox}; `{user}` holds its {} original role/workspace pair(s)",
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
            roles.len()
        )
    }

    fn tally(&self) -> (&'static str, &'static str) {
        match self {
            Op::CreateUser { .. } => ("user to create", "users to create"),
            Op::AddRoles { .. } => ("role grant", "role grants"),
            Op::RemoveRoles { .. } => ("role removal", "role removals"),
            Op::LinkService { .. } => ("service relink", "service relinks"),
            Op::UpdateUser { .. } => ("update", "updates"),
            Op::Verify { .. } => ("verification", "verifications"),
            Op::DeleteUser { .. } => ("deletion", "deletions"),
            Op::ExpireUser { .. } => ("expiry", "expiries"),
        }
    }

    fn describe(&self) -> String {
        match self {
            Op::CreateUser { user, roles, .. } => {
                format!(
                    "create API-only user `{user}` with {} role/workspace pair(s)",
                    roles.len()
                )
            }
            Op::AddRoles { user, roles } => {
                format!("add {} role/workspace pair(s) to `{user}`", roles.len())
            }
            Op::RemoveRoles { user, roles } => {
                format!(
                    "remove {} role/workspace pair(s) from `{user}`",
                    roles.len()
                )
            }
            // Planned when the service already runs as its target (a relink or a replace to
            // the user it has): the step only proves it, and says so.
            Op::LinkService { service, from, to } if from == to => {
                format!("keep service `{service}` linked to `{to}` (it already is)")
            }
            Op::LinkService { service, from, to } => {
                format!("link service `{service}` from `{from}` to `{to}`")
            }
            Op::UpdateUser { user, change, .. } => {
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
            Op::Verify { services, user, .. } => format!(
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
            Op::DeleteUser { user } => format!("delete user `{user}`"),
            Op::ExpireUser { user } => {
                format!("expire user `{user}` (its login ends when this step runs)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    #[test]
    fn a_link_to_the_user_a_service_already_has_says_so() {
        let same = Op::LinkService {
            service: ServiceName::new("webinar-bridge"),
            from: uid("api.webinar@x.io"),
            to: uid("api.webinar@x.io"),
        };
        assert_eq!(
            same.describe(),
            "keep service `webinar-bridge` linked to `api.webinar@x.io` (it already is)"
        );
        let moving = Op::LinkService {
            service: ServiceName::new("webinar-bridge"),
            from: uid("carol@x.io"),
            to: uid("api.webinar@x.io"),
        };
        assert_eq!(
            moving.describe(),
            "link service `webinar-bridge` from `carol@x.io` to `api.webinar@x.io`"
        );
    }

    #[test]
    fn compensations_invert_their_step() {
        let link = Op::LinkService {
            service: ServiceName::new("s"),
            from: uid("a@x.io"),
            to: uid("b@x.io"),
        };
        assert_eq!(
            link.compensation().and_then(|c| c.compensation()),
            Some(link.clone())
        );
        assert_eq!(link.performer(), Performer::Person);
        let update = Op::UpdateUser {
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
        let Some(Op::UpdateUser { change, .. }) = update.compensation() else {
            panic!("no compensation")
        };
        assert_eq!(change.email.as_deref(), Some("old@x.io"));
        let added = Op::AddRoles {
            user: uid("t@x.io"),
            roles: vec![RolePair {
                role_id: 2,
                workspace_id: 1,
            }],
        };
        let Some(Op::RemoveRoles { user, roles }) = added.compensation() else {
            panic!("adding roles must be undone by removing exactly them")
        };
        assert_eq!((user.as_str(), roles.len()), ("t@x.io", 1));
        assert_eq!(
            added.compensation().and_then(|c| c.compensation()),
            Some(added)
        );
        assert_eq!(
            Op::DeleteUser {
                user: uid("a@x.io")
            }
            .compensation(),
            None
        );
        assert_eq!(
            Op::DeleteUser {
                user: uid("a@x.io")
            }
            .reversibility(),
            Reversibility::Irreversible
        );
    }
}
