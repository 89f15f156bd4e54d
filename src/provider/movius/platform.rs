//! Movius MultiLine as a [`Platform`]: no API, so relinker observes only what the plan's check
//! commands tell, and tells a person each step in the Administrators tool.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::live::{Checked, Snapshot};
use super::ops::{Integration, Op};
use crate::ids::{ServiceName, UserId};
use crate::plan::ProviderKind;
use crate::plan::movius::{Rotation, Spec};
use crate::plan::{MissingSecrets, Plan, SecretReader, Secrets};
use crate::provider::command::{Answer, CheckCommands, CommandChecker};
use crate::provider::{
    BoxFuture, Check, CheckError, LiveState, ManualAction, Operation, Platform, ProviderError,
    RunFacts,
};
use crate::secret::{CredentialFingerprint, Fingerprinter};

/// A Movius organization, seen through the plan's check commands.
#[derive(Debug, Clone)]
pub struct MoviusPlatform {
    commands: CommandChecker,
    /// The fingerprint of each integration's current credential, where the plan gives one.
    current: BTreeMap<ServiceName, CredentialFingerprint>,
}

impl MoviusPlatform {
    /// The platform for `spec`; reads every current credential the plan gives now (every
    /// reference that cannot be read is reported at once). `base_url` is what check commands
    /// are told as `RELINKER_BASE_URL`: the sandbox's, in a `--sandbox` run. Credentials are
    /// fingerprinted by `fingerprinter`.
    pub fn new(
        spec: &Spec,
        secrets: Secrets,
        base_dir: PathBuf,
        base_url: Option<String>,
        fingerprinter: &Fingerprinter,
        checks: CheckCommands,
    ) -> Result<Self, MissingSecrets> {
        let mut reader = SecretReader::new(&secrets);
        let mut current = BTreeMap::new();
        for (index, service) in spec.services.iter().enumerate() {
            let Some(login) = &service.login else {
                continue;
            };
            if let Some(login) = reader.read_login(&format!("services[{index}]"), login) {
                current.insert(service.name.clone(), login.fingerprint(fingerprinter));
            }
        }
        reader.finish()?;
        Ok(Self {
            commands: CommandChecker::new(secrets, base_dir, base_url.unwrap_or_default(), checks),
            current,
        })
    }

    async fn observe_spec(&self, spec: &Spec) -> Result<Snapshot, CheckError> {
        let mut live = Snapshot {
            observed_at: Some(chrono::Utc::now()),
            ..Snapshot::default()
        };
        for service in &spec.services {
            let Some(check) = &service.check else {
                continue;
            };
            // At plan time a command that cannot check tells nothing either way; the plan says
            // why.
            let mut told =
                |answer: Option<Answer>| answer.and_then(|a| a.told(&mut live.undecided));
            let current = match &service.login {
                Some(login) => told(self.commands.passes(&service.name, check, login).await?),
                None => None,
            };
            let new = spec.rotations.iter().find_map(|rotation| match rotation {
                Rotation::Replace {
                    services, login, ..
                } if services.contains(&service.name) => login.as_ref(),
                _ => None,
            });
            let new = match new {
                // The credential it uses now passes either way: it proves no switch.
                Some(login)
                    if service
                        .login
                        .as_ref()
                        .is_some_and(|now| self.same_credential(login, now)) =>
                {
                    None
                }
                Some(login) => told(self.commands.passes(&service.name, check, login).await?),
                None => None,
            };
            live.services
                .insert(service.name.clone(), Checked { current, new });
        }
        Ok(live)
    }

    /// Whether two logins name the same username and password now (both readable).
    fn same_credential(&self, a: &crate::plan::Login, b: &crate::plan::Login) -> bool {
        let secrets = self.commands.secrets();
        match (secrets.login(a), secrets.login(b)) {
            (Ok(a), Ok(b)) => {
                a.username.eq_ignore_ascii_case(&b.username)
                    && a.password.expose() == b.password.expose()
            }
            _ => false,
        }
    }

    async fn check_op(&self, op: &Op) -> Result<Check, CheckError> {
        match op {
            Op::Switch {
                integration:
                    Integration {
                        service,
                        check: Some(check),
                        ..
                    },
                to_login: Some(login),
                from_login,
                ..
            } => {
                // A check that passes with the credential the integration is switched from
                // passes whether or not anything was switched: it proves nothing of it.
                if from_login
                    .as_ref()
                    .is_some_and(|from| self.same_credential(login, from))
                {
                    return Ok(Check::CannotTell(format!(
                        "the credential the plan's `login:` names is the one `{service}` is switched from, so its check command passes either way; point `login:` at the new API user's credential"
                    )));
                }
                self.commands.switched(service, check, login).await
            }
            Op::AddUser {
                proven_by,
                login: Some(login),
                user,
                current,
                ..
            } => {
                // A credential an integration uses now passes whether or not a user was added.
                if current.iter().any(|now| self.same_credential(login, now)) {
                    return Ok(Check::CannotTell(format!(
                        "the credential the plan's `login:` names is one an integration uses now, so a check passing with it shows nothing of `{user}`; point `login:` at the new API user's credential"
                    )));
                }
                // A credential an integration authenticates with belongs to a user that
                // exists; no integration passing shows nothing (none may be switched yet, the
                // emailed credential may not be stored yet), so a person's word decides then.
                for integration in proven_by {
                    let Some(check) = &integration.check else {
                        continue;
                    };
                    if let Ok(Some(Answer::Authenticates)) = self
                        .commands
                        .passes(&integration.service, check, login)
                        .await
                    {
                        return Ok(Check::Holds);
                    }
                }
                Ok(Check::CannotTell(format!(
                    "no integration authenticates with the credential of `{user}` yet, which shows nothing of whether it was added"
                )))
            }
            Op::Verify {
                integrations,
                login: Some(login),
                ..
            } => {
                let mut checks = Vec::new();
                for integration in integrations {
                    let Some(check) = &integration.check else {
                        return Err(CheckError::Unusable(format!(
                            "`{}` has no check command: the proof is attested",
                            integration.service
                        )));
                    };
                    checks.push((&integration.service, check));
                }
                self.commands.all_pass(checks, login).await
            }
            other => Err(CheckError::Unusable(format!(
                "`{}` cannot be observed on Movius: it is attested",
                other.describe()
            ))),
        }
    }
}

/// The Administrators tool's opening, in every instruction.
const ADMINISTRATORS: &str = "In the MultiLine Management Portal, go to Administrators.";

/// What a person does in the Administrators tool for each operation.
fn instructions(op: &Op) -> ManualAction {
    match op {
        Op::Rename {
            user,
            to,
            first_name,
            last_name,
            back,
        } => {
            let mut steps = vec![
                ADMINISTRATORS.into(),
                format!("Select the checkbox for the API user whose email is `{user}`, then select the Edit pencil."),
                format!("Under Personal Details, set Email to `{to}`."),
            ];
            if *back {
                steps.push("Set First Name and Last Name back to what they were.".into());
            } else if first_name.is_some() || last_name.is_some() {
                steps.push(format!(
                    "Set First Name to `{}` and Last Name to `{}`.",
                    first_name.as_deref().unwrap_or("(unchanged)"),
                    last_name.as_deref().unwrap_or("(unchanged)")
                ));
            }
            steps.push("Leave External Applications as they are, and click Save.".into());
            ManualAction {
                summary: op.describe(),
                steps,
            }
        }
        Op::AddUser {
            user,
            first_name,
            last_name,
            applications,
            ..
        } => ManualAction {
            summary: op.describe(),
            steps: vec![
                format!("{ADMINISTRATORS} Select Add API User."),
                format!("Under Personal Details, enter First Name `{first_name}`, Last Name `{last_name}` and Email `{user}`."),
                format!(
                    "Under External Applications, select {}. (MultiLine for Salesforce needs Salesforce: HttpApi will not work for it.)",
                    applications.join(", ")
                ),
                format!("Select Save. Movius emails the username and password to `{user}`: store them where the plan's `login:` references them."),
            ],
        },
        Op::DeleteNewUser { user, .. } => ManualAction {
            summary: op.describe(),
            steps: vec![
                ADMINISTRATORS.into(),
                format!("Select the checkbox for the API user `{user}`, then select the Edit pencil."),
                "Select Delete, then Yes. The integrations were switched back to the API user they used before.".into(),
            ],
        },
        Op::Switch {
            integration,
            to,
            user,
            ..
        } => ManualAction {
            summary: op.describe(),
            steps: switch_steps(integration, to, user),
        },
        Op::Verify {
            with, integrations, ..
        } => ManualAction {
            summary: op.describe(),
            steps: integrations
                .iter()
                .map(|i| {
                    format!(
                        "Confirm `{}` works with the API user `{with}`: make it do something that calls MultiLine, and see it succeed.",
                        i.service
                    )
                })
                .collect(),
        },
        Op::DeleteUser { user, applications } => ManualAction {
            summary: op.describe(),
            steps: vec![
                ADMINISTRATORS.into(),
                format!("Select the checkbox for the API user `{user}`, then select the Edit pencil."),
                format!(
                    "Select Delete, then Yes. Movius warns that deleting the only API user of an external application ({}) stops its integration: every integration was confirmed working on the new API user first.",
                    applications.join(", ")
                ),
            ],
        },
    }
}

/// What a person does to switch `integration` to `to`, the API user `user` was replaced by (or,
/// switching back, `user` itself).
fn switch_steps(integration: &Integration, to: &UserId, user: &UserId) -> Vec<String> {
    let mut steps = vec![
        format!(
            "In the settings of `{}` ({}), replace the MultiLine API username and password with those Movius emailed to `{to}`.",
            integration.service, integration.application
        ),
        "Save, and let the integration make a call so the change is in effect. Do not delete the old API user yet.".into(),
    ];
    // Switching back: relinker cannot see whether the old user still exists, and a person who
    // finds it gone must not be left with an instruction nobody can follow.
    if to == user {
        steps.push(format!(
            "If `{to}` no longer exists in Administrators, nothing can switch `{}` back to it: leave the integration as it is and stop this rollback with `relinker abandon` (the run's journal keeps what it did).",
            integration.service
        ));
    }
    steps
}

impl Platform for MoviusPlatform {
    /// Its API users' permissions are the platform's, the same for every user: nothing to say.
    /// Movius has no API to ask: its credentials are checked by the plan's check commands.
    fn authenticate(&self) -> BoxFuture<'_, Vec<crate::provider::Authenticated>> {
        Box::pin(async { Vec::new() })
    }

    fn cautions(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }

    fn made(&self, op: &crate::provider::Op) -> Option<crate::provider::Made> {
        match op.narrow::<Op>()? {
            Op::AddUser { user, .. } => Some(crate::provider::Made {
                identity: user.to_string(),
                credential: None,
            }),
            _ => None,
        }
    }

    fn credential_fingerprints(&self) -> BTreeMap<ServiceName, CredentialFingerprint> {
        self.current.clone()
    }

    fn observe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<LiveState, ProviderError>> {
        Box::pin(async move {
            let crate::plan::Spec::Movius(spec) = &plan.spec else {
                return Err(ProviderError::foreign_plan(plan, ProviderKind::Movius));
            };
            self.observe_spec(spec)
                .await
                .map(LiveState::Movius)
                .map_err(|e| ProviderError::Command(e.to_string()))
        })
    }

    fn check<'a>(
        &'a self,
        op: &'a crate::provider::Op,
        _facts: &'a dyn RunFacts,
    ) -> BoxFuture<'a, Result<Check, CheckError>> {
        Box::pin(async move {
            match op.narrow::<Op>() {
                Some(op) => self.check_op(op).await,
                None => Err(CheckError::foreign(op, ProviderKind::Movius)),
            }
        })
    }

    /// Nothing here sends a request that changes state: the fence is never needed.
    fn act<'a>(
        &'a self,
        op: &'a crate::provider::Op,
        _fence: &'a dyn crate::provider::Fence,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        Box::pin(async move {
            match op.narrow::<Op>() {
                // relinker's proof is its checks; there is nothing to do.
                Some(Op::Verify { .. }) => Ok(()),
                _ => Err(ProviderError::Config(
                    "on Movius, API users change only in the Administrators tool: this is a person's step"
                        .into(),
                )),
            }
        })
    }

    fn instructions(&self, op: &crate::provider::Op) -> ManualAction {
        match op.narrow::<Op>() {
            Some(op) => instructions(op),
            None => ManualAction::summary_only(op.describe()),
        }
    }
}
