//! dotdigital's operations. API users are created, edited, disabled and deleted only in the UI,
//! so every change is a person's; relinker observes each through `GET /v2/account-info` with
//! the credential concerned (it authenticates, to which account, or it is refused), or, for an
//! integration's switch to a new credential, through the check command the plan names, or a
//! person's attestation. Deleting a user cannot be told apart from disabling it, so a deletion
//! is attested.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ServiceName, StepId, UserId};
use crate::plan::{CheckCommand, Credential, Login};
use crate::provider::{Operation, Performer, Reversibility, RunFacts, Verification};
use crate::secret::CredentialFingerprint;

/// An integration and the check command that tells whether it authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// The integration.
    pub service: ServiceName,
    /// Its check command, if the plan names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckCommand>,
}

/// What a dotdigital step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A person creates a new API user with the plan's new credential.
    CreateUser {
        /// The old API user it replaces.
        replaces: UserId,
        /// The new credential (its username is generated when the user is created).
        new: Login,
        /// The account both must belong to.
        account: u64,
    },
    /// A person deletes an API user this run had them create (the undo of `CreateUser`).
    DeleteNewUser {
        /// The old API user it was to replace.
        replaces: UserId,
        /// Its credential, which must then be refused: once the run saw the user made, with
        /// the username it was made under.
        new: Login,
        /// The account it was made in: a credential of any other account is not the run's.
        /// Absent in journals from before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<u64>,
        /// The fingerprint of the credential the user was seen to answer to when it was made:
        /// a credential the references name now that is another proves nothing of it.
        /// Absent in journals from before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        made_with: Option<CredentialFingerprint>,
    },
    /// A person sets a new password on an API user.
    SetPassword {
        /// The API user.
        user: UserId,
        /// The credential after.
        to: Login,
        /// The credential before.
        from: Login,
        /// The account.
        account: u64,
    },
    /// A person points an integration at another credential.
    Switch {
        /// The old API user (what the run claims).
        user: UserId,
        /// The integration.
        integration: Integration,
        /// The credential it must use after.
        to: Login,
        /// The credential it used before.
        from: Login,
    },
    /// relinker proves the rotation: the new credential authenticates to the same account,
    /// and each integration's check command (if any) passes with it.
    Verify {
        /// The old API user.
        user: UserId,
        /// The integrations.
        integrations: Vec<Integration>,
        /// The new credential.
        login: Login,
        /// The account.
        account: u64,
    },
    /// A person disables the old API user; its credential must then be refused.
    Disable {
        /// The API user.
        user: UserId,
        /// Its credential.
        login: Login,
    },
    /// A person enables an API user again (the undo of `Disable`).
    Enable {
        /// The API user.
        user: UserId,
        /// Its credential, which must authenticate again.
        login: Login,
    },
    /// A person deletes the old API user, once the soak after disabling it is over.
    Delete {
        /// The API user.
        user: UserId,
        /// The step that disabled it; the soak counts from when it was done.
        after: StepId,
        /// How long it stays disabled first.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "seconds")]
        soak: Option<Duration>,
    },
}

/// A duration as a number of seconds.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    // serde's `with` hands over a reference.
    #[allow(clippy::ref_option)]
    pub(super) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => serializer.serialize_u64(duration.as_secs()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_secs))
    }
}

/// A credential's username as people read it in a plan: the name, or where it comes from.
fn username(login: &Login) -> String {
    match &login.username {
        Credential::Literal(name) => format!("`{name}`"),
        Credential::Reference(reference) => format!("from `{reference}`"),
    }
}

impl Operation for Op {
    fn performer(&self) -> Performer {
        match self {
            Op::Verify { .. } => Performer::Api,
            _ => Performer::Person,
        }
    }

    fn verification(&self) -> Verification {
        match self {
            Op::Switch { integration, .. } if integration.check.is_some() => {
                Verification::CheckedByCommand
            }
            Op::Switch { .. } | Op::Delete { .. } => Verification::Attested,
            _ => Verification::Observed,
        }
    }

    fn reversibility(&self) -> Reversibility {
        match self {
            Op::Delete { .. } => Reversibility::Irreversible,
            Op::Verify { .. } => Reversibility::ReadOnly,
            _ => Reversibility::Reversible,
        }
    }

    fn compensation(&self) -> Option<Op> {
        match self {
            Op::CreateUser {
                replaces,
                new,
                account,
            } => Some(Op::DeleteNewUser {
                replaces: replaces.clone(),
                new: new.clone(),
                account: Some(*account),
                made_with: None,
            }),
            Op::SetPassword {
                user,
                to,
                from,
                account,
            } => Some(Op::SetPassword {
                user: user.clone(),
                to: from.clone(),
                from: to.clone(),
                account: *account,
            }),
            Op::Switch {
                user,
                integration,
                to,
                from,
            } => Some(Op::Switch {
                user: user.clone(),
                integration: integration.clone(),
                to: from.clone(),
                from: to.clone(),
            }),
            Op::Disable { user, login } => Some(Op::Enable {
                user: user.clone(),
                login: login.clone(),
            }),
            Op::Enable { user, login } => Some(Op::Disable {
                user: user.clone(),
                login: login.clone(),
            }),
            Op::DeleteNewUser { .. } | Op::Verify { .. } | Op::Delete { .. } => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Op::CreateUser { replaces, new, .. } => format!(
                "a person creates a new API user to replace `{replaces}` (username {}, password from `{}`)",
                username(new),
                new.password
            ),
            Op::DeleteNewUser { new, .. } => {
                format!(
                    "a person deletes the new API user (username {})",
                    username(new)
                )
            }
            Op::SetPassword { user, to, .. } => format!(
                "a person sets a new password on `{user}` (from `{}`)",
                to.password
            ),
            Op::Switch {
                integration, to, ..
            } => format!(
                "a person switches `{}` to the credential with username {}",
                integration.service,
                username(to)
            ),
            Op::Verify {
                integrations,
                account,
                ..
            } => {
                let checked = integrations.iter().filter(|i| i.check.is_some()).count();
                format!(
                    "verify the new credential authenticates to account {account}{}",
                    if checked > 0 {
                        ", and each integration's check command passes with it"
                    } else {
                        ""
                    }
                )
            }
            Op::Disable { user, .. } => format!(
                "a person disables the old API user `{user}`; its credential must then be refused"
            ),
            Op::Enable { user, .. } => format!("a person enables `{user}` again"),
            Op::Delete { user, soak, .. } => format!(
                "a person deletes the old API user `{user}`{}",
                soak.map(|s| format!(
                    ", {} after it was disabled",
                    crate::limits::format_duration(s)
                ))
                .unwrap_or_default()
            ),
        }
    }

    fn users(&self) -> Vec<&UserId> {
        match self {
            Op::CreateUser { replaces: user, .. }
            | Op::DeleteNewUser { replaces: user, .. }
            | Op::SetPassword { user, .. }
            | Op::Switch { user, .. }
            | Op::Verify { user, .. }
            | Op::Disable { user, .. }
            | Op::Enable { user, .. }
            | Op::Delete { user, .. } => vec![user],
        }
    }

    fn creates(&self) -> bool {
        matches!(self, Op::CreateUser { .. })
    }

    /// The user a person made is the one the run saw authenticate right after: its generated
    /// username is fixed from then on, whatever the plan's reference says later.
    fn undo_made(&self, made: &crate::provider::Made) -> Option<Op> {
        let Op::CreateUser {
            replaces,
            new,
            account,
        } = self
        else {
            return self.compensation();
        };
        Some(Op::DeleteNewUser {
            replaces: replaces.clone(),
            new: Login {
                username: Credential::Literal(made.identity.clone()),
                password: new.password.clone(),
            },
            account: Some(*account),
            made_with: made.credential.clone(),
        })
    }

    fn is_proof(&self) -> bool {
        matches!(self, Op::Verify { .. })
    }

    fn deletes(&self) -> bool {
        matches!(self, Op::Delete { .. })
    }

    fn tally(&self) -> (&'static str, &'static str) {
        match self {
            Op::CreateUser { .. } => ("new API user", "new API users"),
            Op::DeleteNewUser { .. } => {
                ("deletion of a new API user", "deletions of new API users")
            }
            Op::SetPassword { .. } => ("new password", "new passwords"),
            Op::Switch { .. } => ("integration switch", "integration switches"),
            Op::Verify { .. } => ("verification", "verifications"),
            Op::Disable { .. } => ("API user to disable", "API users to disable"),
            Op::Enable { .. } => ("API user to enable", "API users to enable"),
            Op::Delete { .. } => ("deletion", "deletions"),
        }
    }

    fn proves(&self) -> bool {
        matches!(self, Op::Verify { .. } | Op::Disable { .. })
    }

    fn promise(&self) -> String {
        if let Op::Disable { user, .. } = self {
            return format!("dotdigital refuses the old credential of `{user}`");
        }
        let Op::Verify {
            integrations,
            login,
            account,
            ..
        } = self
        else {
            return self.describe();
        };
        let names = integrations
            .iter()
            .map(|i| format!("`{}`", i.service))
            .collect::<Vec<_>>()
            .join(", ");
        let checked = integrations.iter().any(|i| i.check.is_some());
        // A switch nothing can check is a person's word: the promise says so.
        let attested: Vec<String> = integrations
            .iter()
            .filter(|i| i.check.is_none())
            .map(|i| format!("`{}`", i.service))
            .collect();
        format!(
            "the new credential of {names} (username {}) authenticates to account {account}{}, before the old one is disabled{}",
            username(login),
            if checked {
                " and passes the integration's check command"
            } else {
                ""
            },
            if attested.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} switched on a person's word: attested, not verified)",
                    attested.join(", ")
                )
            }
        )
    }

    fn not_before(&self, facts: &dyn RunFacts) -> Option<DateTime<Utc>> {
        let Op::Delete {
            after,
            soak: Some(soak),
            ..
        } = self
        else {
            return None;
        };
        let done = facts.done_at(after)?;
        Some(done + chrono::Duration::from_std(*soak).unwrap_or(chrono::Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::SecretRef;

    fn login(user: &str) -> Login {
        Login {
            username: Credential::Literal(user.into()),
            password: SecretRef::Env("P".into()),
        }
    }

    #[test]
    fn switches_are_checked_by_command_or_attested_and_undone_by_switching_back() {
        let user = UserId::parse("apiuser-old@apiconnector.com").unwrap();
        let switch = |check: Option<CheckCommand>| Op::Switch {
            user: user.clone(),
            integration: Integration {
                service: ServiceName::new("magento"),
                check,
            },
            to: login("apiuser-new@apiconnector.com"),
            from: login("apiuser-old@apiconnector.com"),
        };
        let attested = switch(None);
        assert_eq!(attested.verification(), Verification::Attested);
        assert_eq!(attested.performer(), Performer::Person);
        let checked = switch(Some(CheckCommand {
            program: "./check".into(),
            args: vec![],
        }));
        assert_eq!(checked.verification(), Verification::CheckedByCommand);
        assert_eq!(
            checked.compensation().and_then(|c| c.compensation()),
            Some(checked)
        );
        let line = serde_json::to_string(&attested).unwrap();
        assert!(line.contains(r#""op":"switch""#), "{line}");
        assert!(
            line.contains(r#""password":"${env:P}""#),
            "references only: {line}"
        );
    }
}
