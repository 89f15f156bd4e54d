//! Movius MultiLine's operations. API users are added, edited and deleted only in the
//! Administrators tool, and their credentials arrive by email; no public API can read them. So
//! every step is a person's, and its effect is known only through the check command a plan
//! names (exit 0 when an integration authenticates with a credential) or, failing that, a
//! person's attestation.

use serde::{Deserialize, Serialize};

use crate::ids::{ServiceName, UserId};
use crate::plan::{CheckCommand, Login};
use crate::provider::{Operation, Performer, Reversibility, Verification};

/// An integration, the external application its API user serves, and its check command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    /// The integration.
    pub service: ServiceName,
    /// The external application: `HttpApi`, `Salesforce`, or a custom app.
    pub application: String,
    /// Its check command, if the plan names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckCommand>,
}

/// What a Movius step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A person changes an API user's email (and names).
    Rename {
        /// The API user, by its current email.
        user: UserId,
        /// Its email after.
        to: UserId,
        /// Its first name after, if it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_name: Option<String>,
        /// Its last name after, if it changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_name: Option<String>,
        /// Whether this undoes a rename (the names it had are the person's to restore).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        back: bool,
    },
    /// A person adds a new API user for the integrations' applications.
    AddUser {
        /// The API user it replaces.
        replaces: UserId,
        /// The new API user's email.
        user: UserId,
        /// Its first name.
        first_name: String,
        /// Its last name.
        last_name: String,
        /// The external applications it serves.
        applications: Vec<String>,
        /// The integrations whose check command, passing with `login`, proves the user was
        /// added (a credential that authenticates belongs to a user that exists).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        proven_by: Vec<Integration>,
        /// The new API user's credential, where the plan gives it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<Login>,
        /// The credentials the integrations use before they are switched: a check passing
        /// with one of them proves nothing of a new user.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        current: Vec<Login>,
    },
    /// A person deletes an API user this run had them add (the undo of `AddUser`).
    DeleteNewUser {
        /// The API user it was to replace.
        replaces: UserId,
        /// The new API user.
        user: UserId,
    },
    /// A person switches an integration to another API user.
    Switch {
        /// The old API user (what the run claims).
        user: UserId,
        /// The integration.
        integration: Integration,
        /// The API user it uses after.
        to: UserId,
        /// The API user it used before.
        from: UserId,
        /// The credential after, for the check command.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to_login: Option<Login>,
        /// The credential before, for the check command of the undo.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_login: Option<Login>,
    },
    /// The proof: every integration authenticates through the new API user. Run by relinker
    /// when every integration has a check command and the plan gives the new credential;
    /// otherwise a person attests it.
    Verify {
        /// The old API user.
        user: UserId,
        /// The new API user.
        with: UserId,
        /// The integrations.
        integrations: Vec<Integration>,
        /// The new credential, for check commands.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<Login>,
    },
    /// A person deletes the old API user (irreversible, last).
    DeleteUser {
        /// The API user.
        user: UserId,
        /// The external applications it served.
        applications: Vec<String>,
    },
}

impl Op {
    /// Whether relinker can run its verification itself (every integration has a check
    /// command, and the plan gives the credential they check).
    fn checked(&self) -> bool {
        match self {
            Op::Switch {
                integration,
                to_login,
                ..
            } => integration.check.is_some() && to_login.is_some(),
            Op::Verify {
                integrations,
                login,
                ..
            } => login.is_some() && integrations.iter().all(|i| i.check.is_some()),
            // An integration that authenticates with the new credential shows the new user
            // exists (its absence shows nothing: none may be switched yet).
            Op::AddUser {
                proven_by, login, ..
            } => login.is_some() && proven_by.iter().any(|i| i.check.is_some()),
            // Nothing can tell whether an API user is gone or what its email is: a check
            // command checks an integration, and these change none.
            Op::Rename { .. } | Op::DeleteNewUser { .. } | Op::DeleteUser { .. } => false,
        }
    }
}

/// "`crm`, `dialer` work", "`crm` works".
fn work(integrations: &[Integration]) -> String {
    let names: Vec<String> = integrations
        .iter()
        .map(|i| format!("`{}`", i.service))
        .collect();
    let verb = if names.len() == 1 { "works" } else { "work" };
    format!("{} {verb}", names.join(", "))
}

fn applications(list: &[String]) -> String {
    list.iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Operation for Op {
    fn performer(&self) -> Performer {
        match self {
            Op::Verify { .. } if self.checked() => Performer::Api,
            _ => Performer::Person,
        }
    }

    fn verification(&self) -> Verification {
        if self.checked() {
            Verification::CheckedByCommand
        } else {
            Verification::Attested
        }
    }

    fn reversibility(&self) -> Reversibility {
        match self {
            Op::DeleteUser { .. } => Reversibility::Irreversible,
            Op::Verify { .. } => Reversibility::ReadOnly,
            _ => Reversibility::Reversible,
        }
    }

    fn compensation(&self) -> Option<Op> {
        match self {
            Op::Rename { user, to, .. } => Some(Op::Rename {
                user: to.clone(),
                to: user.clone(),
                first_name: None,
                last_name: None,
                back: true,
            }),
            Op::AddUser { replaces, user, .. } => Some(Op::DeleteNewUser {
                replaces: replaces.clone(),
                user: user.clone(),
            }),
            Op::Switch {
                user,
                integration,
                to,
                from,
                to_login,
                from_login,
            } => Some(Op::Switch {
                user: user.clone(),
                integration: integration.clone(),
                to: from.clone(),
                from: to.clone(),
                to_login: from_login.clone(),
                from_login: to_login.clone(),
            }),
            Op::DeleteNewUser { .. } | Op::Verify { .. } | Op::DeleteUser { .. } => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Op::Rename { user, to, back, .. } if *back => {
                format!(
                    "a person sets the API user's email back from `{user}` to `{to}` (and the names it had)"
                )
            }
            Op::Rename {
                user,
                to,
                first_name,
                last_name,
                ..
            } => {
                let names = match (first_name, last_name) {
                    (None, None) => String::new(),
                    (first, last) => format!(
                        " and its name to `{} {}`",
                        first.as_deref().unwrap_or("…"),
                        last.as_deref().unwrap_or("…")
                    ),
                };
                format!("a person changes API user `{user}`'s email to `{to}`{names}")
            }
            Op::AddUser {
                user,
                applications: apps,
                ..
            } => format!("a person adds API user `{user}` for {}", applications(apps)),
            Op::DeleteNewUser { user, .. } => {
                format!("a person deletes the new API user `{user}`")
            }
            Op::Switch {
                integration, to, ..
            } => format!(
                "a person switches `{}` to API user `{to}`",
                integration.service
            ),
            Op::Verify {
                with, integrations, ..
            } => format!("verify {} through `{with}`", work(integrations)),
            Op::DeleteUser {
                user,
                applications: apps,
                ..
            } => format!(
                "a person deletes the old API user `{user}` (it served {})",
                applications(apps)
            ),
        }
    }

    fn users(&self) -> Vec<&UserId> {
        match self {
            Op::Rename { user, to, .. } => vec![user, to],
            Op::AddUser { replaces, user, .. } | Op::DeleteNewUser { replaces, user, .. } => {
                vec![replaces, user]
            }
            Op::Switch { user, to, from, .. } => vec![user, to, from],
            Op::Verify { user, with, .. } => vec![user, with],
            Op::DeleteUser { user, .. } => vec![user],
        }
    }

    fn creates(&self) -> bool {
        matches!(self, Op::AddUser { .. })
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

    fn tally(&self) -> (&'static str, &'static str) {
        match self {
            Op::Rename { .. } => ("rename", "renames"),
            Op::AddUser { .. } => ("API user to add", "API users to add"),
            Op::DeleteNewUser { .. } => {
                ("deletion of a new API user", "deletions of new API users")
            }
            Op::Switch { .. } => ("integration switch", "integration switches"),
            Op::Verify { .. } => ("verification", "verifications"),
            Op::DeleteUser { .. } => ("deletion", "deletions"),
        }
    }

    fn promise(&self) -> String {
        let Op::Verify {
            with, integrations, ..
        } = self
        else {
            return self.describe();
        };
        let how = if self.checked() {
            "each integration's check command passes with the new credential"
        } else {
            "attested by a person, not verified: relinker cannot observe Movius"
        };
        format!(
            "{} through `{with}` before the old API user is deleted ({how})",
            work(integrations)
        )
    }
}
