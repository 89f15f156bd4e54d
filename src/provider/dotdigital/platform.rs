//! dotdigital as a [`Platform`]: each credential checked with `GET /v2/account-info`, each
//! integration's switch checked by its command, and the UI steps a person follows for the rest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::client::{Access, DotdigitalClient, USAGE_EXCEEDED};
use super::live::{Seen, Snapshot};
use super::ops::{Integration, Op};
use crate::ids::{ServiceName, UserId};
use crate::plan::ProviderKind;
use crate::plan::dotdigital::{Rotation, Spec};
use crate::plan::{
    CheckCommand, Credential, Login, MissingSecrets, Plan, ResolvedLogin, SecretReader, Secrets,
};
use crate::provider::command::{CheckCommands, CommandChecker};
use crate::provider::{
    BoxFuture, Check, CheckError, LiveState, ManualAction, Platform, ProviderError, RunFacts,
};
use crate::secret::{CredentialFingerprint, Fingerprinter};

/// A rotation's new credential: the one it replaces its integrations' user with, or, for a new
/// password, the user they use now with that password. `None` when the rotation names no
/// service the plan declares.
fn new_login(spec: &Spec, rotation: &Rotation) -> Option<Login> {
    match rotation {
        Rotation::Replace { with, .. } => Some(with.clone()),
        Rotation::RotatePassword { services, password } => {
            let current = services.first().and_then(|s| spec.service(s))?;
            Some(Login {
                username: current.login.username.clone(),
                password: password.clone(),
            })
        }
    }
}

/// A dotdigital account, reached with the plan's credentials.
#[derive(Debug, Clone)]
pub struct DotdigitalPlatform {
    client: DotdigitalClient,
    commands: CommandChecker,
    /// Each integration's current credential, read when the platform is made.
    current: BTreeMap<ServiceName, ResolvedLogin>,
    /// The credentials the plan declares for its integrations: a switch to one of them goes
    /// back to where an integration was, not on to a new credential.
    declared: Vec<Login>,
    /// How credentials are fingerprinted: the saved plan's, or the run's.
    fingerprinter: Fingerprinter,
}

impl DotdigitalPlatform {
    /// The platform behind `client`; reads every integration's current credential now (every
    /// reference that cannot be read is reported at once). New credentials are read when their
    /// steps run: they usually do not exist yet. Credentials are fingerprinted by
    /// `fingerprinter`.
    pub fn new(
        client: DotdigitalClient,
        spec: &Spec,
        secrets: Secrets,
        base_dir: PathBuf,
        fingerprinter: Fingerprinter,
        checks: CheckCommands,
    ) -> Result<Self, MissingSecrets> {
        let mut reader = SecretReader::new(&secrets);
        let mut current = BTreeMap::new();
        for (index, service) in spec.services.iter().enumerate() {
            if let Some(login) = reader.read_login(&format!("services[{index}]"), &service.login) {
                current.insert(service.name.clone(), login);
            }
        }
        reader.finish()?;
        let base_url = client.base_url().to_owned();
        Ok(Self {
            client,
            commands: CommandChecker::new(secrets, base_dir, base_url, checks),
            current,
            declared: spec.services.iter().map(|s| s.login.clone()).collect(),
            fingerprinter,
        })
    }

    fn resolve(&self, login: &Login) -> Result<ResolvedLogin, String> {
        self.commands
            .secrets()
            .login(login)
            .map_err(|e| e.to_string())
    }

    async fn seen(&self, login: &Login) -> Result<Seen, ProviderError> {
        let resolved = match self.resolve(login) {
            Ok(resolved) => resolved,
            Err(reason) => return Ok(Seen::Unresolved { reason }),
        };
        let access = self
            .client
            .access(&resolved.username, &resolved.password)
            .await?;
        Ok(Seen::Checked {
            username: UserId::from_platform(resolved.username.clone()),
            credential: resolved.fingerprint(&self.fingerprinter),
            access,
        })
    }

    async fn observe_spec(&self, spec: &Spec) -> Result<Snapshot, ProviderError> {
        let mut live = Snapshot {
            observed_at: Some(chrono::Utc::now()),
            ..Snapshot::default()
        };
        for service in &spec.services {
            live.services
                .insert(service.name.clone(), self.seen(&service.login).await?);
        }
        for (index, rotation) in spec.rotations.iter().enumerate() {
            if let Some(new) = new_login(spec, rotation) {
                live.new.insert(index, self.seen(&new).await?);
            }
        }
        for service in &spec.services {
            let Some(check) = &service.check else {
                continue;
            };
            let new = spec
                .rotations
                .iter()
                .find(|r| r.services().contains(&service.name))
                .and_then(|r| new_login(spec, r));
            let checked = self
                .integration(
                    &service.name,
                    check,
                    &service.login,
                    new.as_ref(),
                    &mut live.undecided,
                )
                .await
                .map_err(|e| match e {
                    CheckError::Read(error) => error,
                    other => ProviderError::Command(other.to_string()),
                })?;
            live.integrations.insert(service.name.clone(), checked);
        }
        Ok(live)
    }

    /// What an integration's check command says of its current credential and of `new`. A
    /// new credential that is the current one passes with it and proves nothing: not asked.
    async fn integration(
        &self,
        service: &ServiceName,
        check: &CheckCommand,
        current: &Login,
        new: Option<&Login>,
        undecided: &mut Vec<String>,
    ) -> Result<crate::provider::command::Checked, CheckError> {
        let current_answer = self.commands.passes(service, check, current).await?;
        let new = match new {
            Some(new) if !self.same_credential(new, current) => {
                self.commands.passes(service, check, new).await?
            }
            _ => None,
        };
        Ok(crate::provider::command::Checked {
            current: current_answer.and_then(|a| a.told(undecided)),
            new: new.and_then(|a| a.told(undecided)),
        })
    }

    /// Whether two logins name the same username and password now (both readable).
    fn same_credential(&self, a: &Login, b: &Login) -> bool {
        match (self.resolve(a), self.resolve(b)) {
            (Ok(a), Ok(b)) => {
                a.username == b.username && a.password.expose() == b.password.expose()
            }
            _ => false,
        }
    }

    /// Why `resolved`, given as a rotation's new credential, cannot be it: it is the old user
    /// (a replace needs a new one), its password contains its username (dotdigital refuses
    /// it), or it keeps the old password (a rotation retires the old secret). `same_user` says
    /// the rotation keeps the user (a new password on it).
    fn not_new(
        &self,
        resolved: &ResolvedLogin,
        login: &Login,
        old: &UserId,
        same_user: bool,
    ) -> Option<String> {
        let username = UserId::from_platform(resolved.username.clone());
        let olds: Vec<&ResolvedLogin> = self
            .current
            .values()
            .filter(|c| UserId::from_platform(c.username.clone()) == *old)
            .collect();
        if !same_user && username == *old {
            return Some(format!(
                "the new credential's username ({}) is the old user's, `{old}`: it must name the new API user",
                origin(&login.username)
            ));
        }
        // dotdigital refuses it: the person could not set it, and nothing would show why.
        if let Some(reason) = super::password::username_reason(
            resolved.password.expose(),
            &login.password,
            &resolved.username,
        ) {
            return Some(format!(
                "{reason}: put another password there (`relinker secret generate --provider dotdigital --out FILE` makes one)"
            ));
        }
        if olds
            .iter()
            .any(|c| c.password.expose() == resolved.password.expose())
        {
            return Some(format!(
                "the new password (`{}`) is the old one of `{old}`: the rotation would leave the old secret working",
                login.password
            ));
        }
        None
    }

    /// Whether `login`, the new credential of a rotation off `old`, authenticates to `account`
    /// now. A credential that cannot be read yet is not there yet; one that cannot be the new
    /// one, or that belongs to another account, is one the run cannot tell anything from: a
    /// person must fix what the plan's references name. Only another region is a conflict.
    async fn works(
        &self,
        login: &Login,
        old: &UserId,
        same_user: bool,
        account: u64,
    ) -> Result<Check, CheckError> {
        let resolved = match self.resolve(login) {
            Ok(resolved) => resolved,
            Err(reason) => {
                return Ok(Check::NotYet(format!(
                    "waiting for its credential: {reason}"
                )));
            }
        };
        if let Some(reason) = self.not_new(&resolved, login, old, same_user) {
            return Ok(Check::CannotTell(reason));
        }
        Ok(
            match self
                .client
                .access(&resolved.username, &resolved.password)
                .await?
            {
                Access::Account(found) if found.id == account => Check::Holds,
                Access::Account(found) => Check::CannotTell(format!(
                    "the credential with username `{}` belongs to account {}, not to account {account} the integrations use: it is not this rotation's new user",
                    resolved.username, found.id
                )),
                Access::Refused { reason } => Check::NotYet(format!(
                    "dotdigital refuses the credential with username `{}` ({reason})",
                    resolved.username
                )),
                Access::WrongRegion { reason } => Check::Conflict(format!(
                    "{} does not serve this account ({reason})",
                    self.client.base_url()
                )),
            },
        )
    }

    /// Whether a credential is refused.
    async fn refused(&self, login: &Login) -> Result<Check, CheckError> {
        let resolved = match self.resolve(login) {
            Ok(resolved) => resolved,
            Err(reason) => {
                return Ok(Check::CannotTell(format!(
                    "cannot read the credential: {reason}"
                )));
            }
        };
        Ok(
            match self
                .client
                .access(&resolved.username, &resolved.password)
                .await?
            {
                Access::Refused { .. } => Check::Holds,
                Access::Account(_) => Check::NotYet(format!(
                    "the credential with username `{}` still authenticates",
                    resolved.username
                )),
                Access::WrongRegion { reason } => Check::Conflict(format!(
                    "{} does not serve this account ({reason})",
                    self.client.base_url()
                )),
            },
        )
    }

    /// Whether the new user this run made is gone. Only what the run made is its to delete:
    /// a credential that cannot be read names nothing the run can delete, and one that is the
    /// old user's, or belongs to another account, is not the run's.
    async fn new_user_gone(
        &self,
        new: &Login,
        replaces: &UserId,
        account: Option<u64>,
        made_with: Option<&CredentialFingerprint>,
    ) -> Result<Check, CheckError> {
        let resolved = match self.resolve(new) {
            Ok(resolved) => resolved,
            Err(reason) => {
                // A user nobody can name is none the run made. One named by its username
                // whose password cannot be read may have been made (a person was asked to):
                // nothing shows it gone, so a person's word decides.
                return Ok(match self.commands.secrets().credential(&new.username) {
                    Ok(username) => Check::CannotTell(format!(
                        "the password of the new API user `{}` cannot be read now ({reason}), so nothing shows whether it was made or is gone; delete it in dotdigital if it exists (then attest this undo), or make the password readable",
                        username.expose()
                    )),
                    Err(_) => Check::Holds,
                });
            }
        };
        if UserId::from_platform(resolved.username.clone()) == *replaces {
            return Ok(Check::Holds);
        }
        // Only the credential the user was made with can show it gone: a refusal of another
        // (the password reference now names a different secret) says nothing of it.
        if let Some(made_with) = made_with
            && !made_with.matches(&[
                resolved.username.as_bytes(),
                resolved.password.expose().as_bytes(),
            ])
        {
            return Ok(Check::CannotTell(format!(
                "the password the plan's reference names now is not the one `{}` was made with, so a refusal would not show it gone; delete it in dotdigital (then attest this undo), or restore the reference",
                resolved.username
            )));
        }
        Ok(
            match self
                .client
                .access(&resolved.username, &resolved.password)
                .await?
            {
                Access::Account(found) if account.is_none_or(|a| a == found.id) => {
                    Check::NotYet(format!(
                        "the new API user `{}` still authenticates",
                        resolved.username
                    ))
                }
                Access::Account(_) | Access::Refused { .. } => Check::Holds,
                Access::WrongRegion { reason } => Check::Conflict(format!(
                    "{} does not serve this account ({reason})",
                    self.client.base_url()
                )),
            },
        )
    }

    /// Checks `op`. The account's calls of the hour used up (the older flat scheme) past the
    /// retry budget is no answer about the step: the run pauses, saying when to resume.
    async fn check_op(&self, op: &Op) -> Result<Check, CheckError> {
        match self.check_op_now(op).await {
            Err(CheckError::Read(error)) if error.code() == Some(USAGE_EXCEEDED) => {
                let after = chrono::Utc::now() + chrono::Duration::hours(1);
                Ok(Check::CannotTell(format!(
                    "dotdigital says the account's API calls of the hour are used up ({error}): on the older flat scheme (2,000 calls an hour) it does not say when they lift, and they did not within the retry budget (--give-up-after); resume after {} UTC, when the last hour's calls no longer count",
                    after.format("%Y-%m-%d %H:%M")
                )))
            }
            other => other,
        }
    }

    async fn check_op_now(&self, op: &Op) -> Result<Check, CheckError> {
        match op {
            Op::CreateUser {
                replaces,
                new,
                account,
            } => self.works(new, replaces, false, *account).await,
            Op::SetPassword {
                user, to, account, ..
            } => self.works(to, user, true, *account).await,
            Op::Enable { login, .. } => {
                // Enabled again: it authenticates to whichever account it belongs to.
                let resolved = match self.resolve(login) {
                    Ok(resolved) => resolved,
                    Err(reason) => {
                        return Ok(Check::CannotTell(format!(
                            "cannot read the credential: {reason}"
                        )));
                    }
                };
                Ok(
                    match self
                        .client
                        .access(&resolved.username, &resolved.password)
                        .await?
                    {
                        Access::Account(_) => Check::Holds,
                        _ => Check::NotYet("it is still refused".into()),
                    },
                )
            }
            Op::DeleteNewUser {
                new,
                replaces,
                account,
                made_with,
            } => {
                self.new_user_gone(new, replaces, *account, made_with.as_ref())
                    .await
            }
            Op::Disable { login, .. } => self.refused(login).await,
            Op::Switch {
                user,
                integration,
                to,
                ..
            } => self.switched(user, integration, to).await,
            Op::Verify {
                user,
                integrations,
                login,
                account,
            } => self.proven(user, integrations, login, *account).await,
            Op::Delete { .. } => Err(CheckError::Unusable(
                "a deletion cannot be observed: it is attested".into(),
            )),
        }
    }
}

impl DotdigitalPlatform {
    /// Whether an integration uses `to` now, as its check command tells.
    async fn switched(
        &self,
        user: &UserId,
        integration: &Integration,
        to: &Login,
    ) -> Result<Check, CheckError> {
        let Some(check) = &integration.check else {
            return Err(CheckError::Unusable(
                "a switch without a check command is attested, not checked".into(),
            ));
        };
        // An integration still on the old credential passes its check with it: a switch to
        // "the new one" proves nothing unless it is new. A switch back goes to a credential
        // the plan declares for an integration.
        let back = self.declared.contains(to);
        if !back && let Ok(resolved) = self.resolve(to) {
            let same_user = UserId::from_platform(resolved.username.clone()) == *user;
            if let Some(reason) = self.not_new(&resolved, to, user, same_user) {
                return Ok(Check::CannotTell(reason));
            }
        }
        self.commands
            .switched(&integration.service, check, to)
            .await
    }

    /// The rotation's proof, made with the credential as the plan's references name it now:
    /// anything short of "it works on this account" is not a proof, and only a check
    /// command's refusal is a wrong answer; the rest waits for a person.
    async fn proven(
        &self,
        user: &UserId,
        integrations: &[Integration],
        login: &Login,
        account: u64,
    ) -> Result<Check, CheckError> {
        let same_user = self
            .resolve(login)
            .is_ok_and(|r| UserId::from_platform(r.username) == *user);
        match self.works(login, user, same_user, account).await? {
            Check::Holds => {}
            Check::Conflict(why) => return Ok(Check::Conflict(why)),
            Check::NotYet(why) | Check::NeedsPerson(why) | Check::CannotTell(why) => {
                return Ok(Check::CannotTell(why));
            }
        }
        let checks: Vec<(&ServiceName, &CheckCommand)> = integrations
            .iter()
            .filter_map(|i| Some((&i.service, i.check.as_ref()?)))
            .collect();
        self.commands.all_pass(checks, login).await
    }
}

/// Where a username comes from, for messages: the plan's reference, or the plan itself.
fn origin(username: &crate::plan::Credential) -> String {
    match username {
        crate::plan::Credential::Literal(name) => format!("`{name}`, as the plan gives it"),
        crate::plan::Credential::Reference(reference) => format!("from `{reference}`"),
    }
}

/// Where a credential comes from, for instructions.
fn from(login: &Login) -> (String, String) {
    let username = match &login.username {
        crate::plan::Credential::Literal(name) => format!("`{name}`"),
        crate::plan::Credential::Reference(reference) => format!("the one `{reference}` names"),
    };
    (username, format!("`{}`", login.password))
}

/// What a person does in the UI for each operation.
fn instructions(op: &Op) -> ManualAction {
    let settings =
        "In dotdigital, open Settings (the person-and-cog icon, bottom left) > Access > API users.";
    match op {
        Op::CreateUser { replaces, new, .. } => {
            let (username, password) = from(new);
            ManualAction {
                summary: format!("create a new API user to replace `{replaces}`"),
                steps: vec![
                    settings.into(),
                    "Click New user. Do not edit the generated username (apiuser-…@apiconnector.com).".into(),
                    format!("Enter and confirm the password in {password} (`relinker secret generate --provider dotdigital --out FILE` writes one that meets the rules)."),
                    "Add a description naming the integration, tick Enabled, and click Save.".into(),
                    format!("Make the generated username available as {username}, so relinker can check the new credential."),
                ],
            }
        }
        Op::DeleteNewUser { new, .. } => {
            let (username, _) = from(new);
            ManualAction {
                summary: "delete the new API user this run had created".into(),
                steps: vec![
                    settings.into(),
                    format!("Tick the API user whose username is {username} and click Delete."),
                ],
            }
        }
        Op::SetPassword { user, to, .. } => {
            let (_, password) = from(to);
            ManualAction {
                summary: format!("set a new password on `{user}`"),
                steps: vec![
                    settings.into(),
                    format!("Click the Edit pencil next to `{user}`."),
                    format!(
                        "Enter and confirm the password in {password}, and click Save. Integrations using the old password stop working until they are switched."
                    ),
                ],
            }
        }
        Op::Switch {
            user,
            integration,
            to,
            ..
        } => {
            let (username, password) = from(to);
            // Undoing a switch goes back to the old user: the headline says so.
            let back = matches!(&to.username, Credential::Literal(name) if UserId::from_platform(name.clone()) == *user);
            let summary = if back {
                format!("switch `{}` back to `{user}`", integration.service)
            } else {
                format!("switch `{}` to the new credential", integration.service)
            };
            ManualAction {
                summary,
                steps: vec![
                    format!("In the settings of `{}`, set the dotdigital API username to {username} and the password to the one in {password}.", integration.service),
                    "Save, and let the integration make a call so the change is in effect. Do not disable the old API user yet.".into(),
                ],
            }
        }
        Op::Disable { user, .. } => ManualAction {
            summary: format!("disable the old API user `{user}`"),
            steps: vec![
                settings.into(),
                format!("Click the Edit pencil next to `{user}`, untick Enabled, and click Save."),
            ],
        },
        Op::Enable { user, .. } => ManualAction {
            summary: format!("enable `{user}` again"),
            steps: vec![
                settings.into(),
                format!("Click the Edit pencil next to `{user}`, tick Enabled, and click Save."),
            ],
        },
        Op::Delete { user, .. } => ManualAction {
            summary: format!("delete the old API user `{user}`"),
            steps: vec![
                settings.into(),
                format!(
                    "Tick `{user}` and click Delete. Deleting disables anything still using its credentials: the run proved the new credential works and saw this one refused, and an integration without a check command was switched on a person's word only."
                ),
            ],
        },
        Op::Verify { .. } => ManualAction {
            summary: crate::provider::Operation::describe(op),
            steps: Vec::new(),
        },
    }
}

impl Platform for DotdigitalPlatform {
    /// Its API users' permissions are the platform's, the same for every user: nothing to say.
    /// Every integration's credential of the run's start still authenticates: the old user
    /// the integrations were left on is there and enabled. A credential the references name
    /// differently now says nothing of it, and is not asked.
    fn as_found<'a>(
        &'a self,
        facts: &'a dyn crate::provider::RunFacts,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for (service, login) in &self.current {
                let same = facts.credential_at_start(service).is_some_and(|at_start| {
                    at_start.matches(&[
                        login.username.as_bytes(),
                        login.password.expose().as_bytes(),
                    ])
                });
                if !same {
                    continue;
                }
                match self.client.access(&login.username, &login.password).await {
                    Ok(Access::Account(_)) => {}
                    Ok(Access::Refused { reason } | Access::WrongRegion { reason }) => {
                        return Err(format!(
                            "`{service}`'s credential of the run's start (API user `{}`) is refused now ({reason}): the user was disabled or deleted since, by someone other than this run; enable it again in dotdigital, then roll back again (a deleted user cannot come back: the integrations need a new credential, and `relinker abandon` ends this run)",
                            login.username
                        ));
                    }
                    Err(error) => {
                        return Err(format!(
                            "whether `{service}`'s credential of the run's start (API user `{}`) still authenticates cannot be read now ({error}); roll back again",
                            login.username
                        ));
                    }
                }
            }
            Ok(())
        })
    }

    fn authenticate(&self) -> BoxFuture<'_, Vec<crate::provider::Authenticated>> {
        Box::pin(async move {
            let mut answers = Vec::new();
            for (service, login) in &self.current {
                let answer = match self.client.access(&login.username, &login.password).await {
                    Ok(Access::Account(account)) => Ok(format!(
                        "authenticates as `{}`, to account {}",
                        login.username, account.id
                    )),
                    Ok(Access::Refused { reason } | Access::WrongRegion { reason }) => Err(reason),
                    Err(error) => Err(error.to_string()),
                };
                answers.push(crate::provider::Authenticated {
                    credential: format!("service `{service}`"),
                    answer,
                });
            }
            answers
        })
    }

    fn cautions(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }

    fn made(&self, op: &crate::provider::Op) -> Option<crate::provider::Made> {
        match op.narrow::<Op>()? {
            Op::CreateUser { new, .. } => self.resolve(new).ok().map(|r| crate::provider::Made {
                credential: Some(r.fingerprint(&self.fingerprinter)),
                identity: r.username,
            }),
            _ => None,
        }
    }

    fn credential_fingerprints(&self) -> BTreeMap<ServiceName, CredentialFingerprint> {
        self.current
            .iter()
            .map(|(name, resolved)| (name.clone(), resolved.fingerprint(&self.fingerprinter)))
            .collect()
    }

    fn observe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<LiveState, ProviderError>> {
        Box::pin(async move {
            let crate::plan::Spec::Dotdigital(spec) = &plan.spec else {
                return Err(ProviderError::foreign_plan(plan, ProviderKind::Dotdigital));
            };
            self.observe_spec(spec).await.map(LiveState::Dotdigital)
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
                None => Err(CheckError::foreign(op, ProviderKind::Dotdigital)),
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
                Some(Op::Verify { .. }) => Ok(()),
                _ => Err(ProviderError::Config(
                    "on dotdigital, API users change only in the UI: this is a person's step"
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
