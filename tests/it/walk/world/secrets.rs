//! The secrets a world's plan reads and what people do to them between commands: a service
//! secret unset or wrong, the new credential's variable unset or naming the old user or
//! another account's, its password file gone; and the faults the world's requests can meet.

use serde_json::{Value, json};

use super::{Procedure, Site, dotdigital, movius};

/// Where the new credential a dotdigital or Movius plan reads points (a "changed secret").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::walk) enum Credential {
    /// The user the person made (or the one the platform will make next).
    Right,
    /// The username's variable is not set.
    Unset,
    /// The old user's username and password (issue 24, item 2).
    Old,
    /// A user of another account (item 7; dotdigital only).
    OtherAccount,
    /// The password file is gone (item 3).
    FileMissing,
}

/// A change to a secret the plan reads.
#[derive(Clone, Debug)]
pub(in crate::walk) enum SecretChange {
    /// A variable set to a wrong value, or removed.
    Env(&'static str, Option<String>),
    /// Where the new credential points.
    Credential(Credential),
    /// Every secret back as it should be.
    Restore,
}

impl Site {
    /// The variable naming the new user, and what it says now.
    pub(super) fn new_username(&self) -> Option<(&'static str, String)> {
        let (name, next, old, other) = match self.spec.procedure {
            Procedure::MarketoRename | Procedure::MoviusRename => return None,
            Procedure::DotdigitalReplace => (
                "DD_NEW_USER",
                &dotdigital::NEXT,
                dotdigital::OLD_USER,
                dotdigital::OTHER_USER,
            ),
            Procedure::MoviusReplace => (
                "MV_NEW_USER",
                &movius::NEXT,
                movius::OLD_USERNAME,
                "api-x0000000",
            ),
        };
        let value = match self.credential {
            Credential::Unset => return None,
            Credential::Old => old.to_owned(),
            Credential::OtherAccount => other.to_owned(),
            // Before a person made one, the name the platform will give it.
            Credential::Right | Credential::FileMissing => {
                next[self.made.saturating_sub(1).min(next.len() - 1)].to_owned()
            }
        };
        Some((name, value))
    }

    /// A person changes a secret the plan reads. Answers what changed, for the log.
    pub fn change_secret(&mut self, change: &SecretChange) -> String {
        match change {
            SecretChange::Env(name, value) => {
                self.env.insert(name, value.clone());
                match value {
                    Some(_) => format!("{name} set to a wrong value"),
                    None => format!("{name} unset"),
                }
            }
            SecretChange::Restore => {
                for name in ["T_ADMIN_SECRET", "T_SFDC_SECRET", "T_REPORT_SECRET"] {
                    self.env.remove(name);
                }
                match self.spec.procedure {
                    Procedure::DotdigitalReplace => {
                        self.env
                            .insert("DD_OLD", Some(dotdigital::OLD_PASSWORD.to_owned()));
                    }
                    Procedure::MoviusReplace | Procedure::MoviusRename => {
                        self.env
                            .insert("MV_OLD", Some(movius::OLD_PASSWORD.to_owned()));
                    }
                    Procedure::MarketoRename => {}
                }
                self.set_credential(Credential::Right);
                "every secret as it should be".into()
            }
            SecretChange::Credential(credential) => {
                self.set_credential(*credential);
                format!("the new credential: {credential:?}")
            }
        }
    }

    fn set_credential(&mut self, credential: Credential) {
        self.credential = credential;
        let password = match (self.spec.procedure, credential) {
            (_, Credential::FileMissing) => None,
            (Procedure::DotdigitalReplace, Credential::Old) => Some(dotdigital::OLD_PASSWORD),
            (Procedure::DotdigitalReplace, Credential::OtherAccount) => {
                Some(dotdigital::OTHER_PASSWORD)
            }
            (Procedure::DotdigitalReplace, _) => Some(dotdigital::NEW_PASSWORD),
            (Procedure::MoviusReplace, Credential::Old) => Some(movius::OLD_PASSWORD),
            (Procedure::MoviusReplace, _) => Some(movius::NEW_PASSWORD),
            (Procedure::MarketoRename | Procedure::MoviusRename, _) => return,
        };
        let path = self.work.path().join("new.password");
        match password {
            Some(password) => std::fs::write(path, password).expect("write new.password"),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// Every secret value a world holds: none may appear in any output.
    pub fn secrets(&self) -> &'static [&'static str] {
        match self.spec.procedure {
            Procedure::MarketoRename => &[],
            Procedure::DotdigitalReplace => &[
                dotdigital::OLD_PASSWORD,
                dotdigital::NEW_PASSWORD,
                dotdigital::OTHER_PASSWORD,
            ],
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                &[movius::OLD_PASSWORD, movius::NEW_PASSWORD]
            }
        }
    }

    /// The changes to secrets a person can make in this world.
    pub fn secret_changes(&self) -> Vec<SecretChange> {
        let mut changes = vec![SecretChange::Restore];
        match self.spec.procedure {
            Procedure::MarketoRename => {
                for name in ["T_SFDC_SECRET", "T_REPORT_SECRET", "T_ADMIN_SECRET"] {
                    changes.push(SecretChange::Env(name, None));
                    changes.push(SecretChange::Env(
                        name,
                        Some("sandbox-secret-wrong-0000".into()),
                    ));
                }
            }
            Procedure::DotdigitalReplace => {
                changes.push(SecretChange::Env("DD_OLD", None));
                for c in [
                    Credential::Unset,
                    Credential::Old,
                    Credential::OtherAccount,
                    Credential::FileMissing,
                ] {
                    changes.push(SecretChange::Credential(c));
                }
            }
            Procedure::MoviusReplace => {
                changes.push(SecretChange::Env("MV_OLD", None));
                for c in [Credential::Unset, Credential::Old, Credential::FileMissing] {
                    changes.push(SecretChange::Credential(c));
                }
            }
            Procedure::MoviusRename => changes.push(SecretChange::Env("MV_OLD", None)),
        }
        changes
    }

    /// Fault rules the world's requests can meet: (label, rule). Hangs are left to the kills,
    /// which end them: a dotdigital call waits 121 s for an answer.
    pub fn faults(&self) -> Vec<(String, Value)> {
        let paths: &[(&str, Option<&str>)] = match self.spec.procedure {
            Procedure::MarketoRename => &[
                ("/userservice/*/update.json", Some("POST")),
                ("/userservice/*/invite.json", Some("POST")),
                ("/userservice/*/delete.json", Some("POST")),
                ("/userservice/*/user.json", Some("GET")),
                ("/identity/oauth/token", None),
                ("/", None),
            ],
            Procedure::DotdigitalReplace => &[
                ("/v2/account-info", None),
                ("/_sandbox/integrations/*/check", None),
            ],
            Procedure::MoviusReplace | Procedure::MoviusRename => {
                &[("/_sandbox/integrations/*/check", None)]
            }
        };
        let error = match self.spec.procedure {
            Procedure::MarketoRename => {
                json!({"kind": "error", "status": 503, "code": "611", "message": "System error"})
            }
            _ => json!({"kind": "error", "status": 503, "code": "ERROR_UNEXPECTED"}),
        };
        let throttled = match self.spec.procedure {
            Procedure::MarketoRename => json!({"kind": "error", "status": 429, "code": "615"}),
            _ => json!({"kind": "error", "status": 429, "code": "ERROR_RATE_LIMIT_EXCEEDED"}),
        };
        let mut rules = Vec::new();
        for (path, method) in paths {
            for (label, action) in [
                ("5xx", error.clone()),
                ("429", throttled.clone()),
                ("drop", json!({"kind": "drop"})),
                ("drop-after", json!({"kind": "drop-after"})),
            ] {
                let mut rule = json!({"path": path, "action": action});
                if let Some(method) = method {
                    rule["method"] = json!(method);
                }
                rules.push((format!("{label} on {} {path}", method.unwrap_or("*")), rule));
            }
        }
        if self.spec.procedure == Procedure::MarketoRename {
            rules.push((
                "a hang on POST /userservice/*".into(),
                json!({"method": "POST", "path": "/userservice/*", "action": {"kind": "hang"}}),
            ));
        }
        rules
    }
}
