//! dotdigital's procedures. The credential is the user, so a rotation replaces it, as AWS's
//! "alternating users" do: a person creates the new credential, relinker verifies it
//! authenticates to the same account, a person switches each integration to it, relinker
//! verifies again (the pivot), then a person disables the old user, relinker sees its
//! credential refused, and, after an optional soak, a person deletes it (irreversible, last).
//! A password rotation is the same with a new password on the same user in place of a new user.
//! Pure: no I/O.

use super::live::{Seen, Snapshot};
use super::ops::{Integration, Op};
use crate::ids::{ServiceName, StepId, UserId};
use crate::plan::dotdigital::{Region, Retire, Rotation, Spec};
use crate::plan::{Credential, Login};
use crate::provider::command::Checked;
use crate::provider::{Compiled, Conflict, Readiness, Step};

/// Compiles a dotdigital plan against `live`.
pub fn compile(spec: &Spec, live: &Snapshot) -> Compiled {
    let mut out = Builder {
        spec,
        live,
        rotation: 0,
        steps: Vec::new(),
        warnings: live
            .undecided
            .iter()
            .map(|why| format!("{why}: the plan knows nothing of what it checks"))
            .collect(),
        conflicts: Vec::new(),
    };
    for (index, rotation) in spec.rotations.iter().enumerate() {
        out.rotation = index;
        out.rotation(rotation);
    }
    Compiled {
        steps: out.steps,
        warnings: out.warnings,
        conflicts: out.conflicts,
    }
}

struct Builder<'a> {
    spec: &'a Spec,
    live: &'a Snapshot,
    rotation: usize,
    steps: Vec<Step>,
    warnings: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// The API user a rotation's integrations use now.
struct Current {
    user: UserId,
    login: Login,
    account: u64,
    /// Its credential is refused now (the rotation may be finished).
    refused: bool,
}

impl Builder<'_> {
    fn conflict(&mut self, message: String) {
        self.conflicts.push(Conflict {
            rotation: Some(self.rotation),
            message,
        });
    }

    fn step(&mut self, name: &str, op: Op, readiness: Readiness) -> StepId {
        let id = StepId::new(format!("r{}-{name}", self.rotation));
        self.steps.push(Step {
            id: id.clone(),
            rotation: self.rotation,
            action: crate::provider::Op::Dotdigital(op),
            readiness,
        });
        id
    }

    /// The one API user every integration of the rotation uses now, and its account.
    fn current(&mut self, services: &[ServiceName], new_account: Option<u64>) -> Option<Current> {
        let mut found: Option<Current> = None;
        for service in services {
            let declared = self.spec.service(service)?;
            let (username, access) = match self.live.services.get(service) {
                Some(Seen::Checked {
                    username, access, ..
                }) => (username.clone(), access.clone()),
                Some(Seen::Unresolved { reason }) => {
                    self.conflict(format!(
                        "the credential of `{service}` cannot be read: {reason}"
                    ));
                    return None;
                }
                None => {
                    self.conflict(format!("`{service}`'s credential was not checked"));
                    return None;
                }
            };
            let (account, refused) = match access {
                super::client::Access::Account(account) => {
                    self.region(service, account.endpoint.as_deref());
                    (Some(account.id), false)
                }
                super::client::Access::Refused { reason } => {
                    // Refused is how a finished rotation's old credential looks.
                    if new_account.is_none() {
                        self.conflict(format!(
                            "dotdigital refuses the credential of `{service}` ({reason}): check its username and password, and that the API user is enabled"
                        ));
                        return None;
                    }
                    (new_account, true)
                }
                super::client::Access::WrongRegion { reason } => {
                    self.conflict(format!(
                        "{} does not serve the account of `{service}` (dotdigital: {reason}); set `instance.region` to the account's region (Settings > Access > API users shows it)",
                        self.spec.instance.base_url
                    ));
                    return None;
                }
            };
            let account = account?;
            match &found {
                None => {
                    found = Some(Current {
                        user: username,
                        login: declared.login.clone(),
                        account,
                        refused,
                    });
                }
                Some(current) if current.user != username => {
                    self.conflict(format!(
                        "the services of one rotation must use one API user: `{service}` uses `{username}`, not `{}`",
                        current.user
                    ));
                    return None;
                }
                Some(_) => {}
            }
        }
        found
    }

    /// Warns when the account lives in another region than the plan says.
    fn region(&mut self, service: &ServiceName, endpoint: Option<&str>) {
        let Some(actual) = endpoint.and_then(Region::of_endpoint) else {
            return;
        };
        let configured = self.spec.instance.region;
        if actual != configured {
            self.warnings.push(format!(
                "the account of `{service}` lives in region {}, and the plan names {}; {} answers for every region, but `instance.region: {}` is the account's own",
                actual.name(),
                configured.name(),
                Region::R1.name(),
                actual.name()
            ));
        }
    }

    fn integrations(&self, services: &[ServiceName]) -> Vec<Integration> {
        services
            .iter()
            .map(|service| Integration {
                service: service.clone(),
                check: self.spec.service(service).and_then(|s| s.check.clone()),
            })
            .collect()
    }

    /// The account the new credential authenticates to, when it can be read and does;
    /// conflicts when it belongs to another account, or is the old user's.
    fn new_account(&self) -> Option<u64> {
        let seen = self.live.new.get(&self.rotation)?;
        seen.account()
    }

    /// Says that a new credential not readable yet is waited for, not a problem.
    fn awaited(&mut self, step: &str) {
        if let Some(Seen::Unresolved { reason }) = self.live.new.get(&self.rotation) {
            self.warnings.push(format!(
                "rotations[{}]'s new credential cannot be read yet ({reason}): `r{}-{step}` waits until it can be read and authenticates",
                self.rotation, self.rotation
            ));
        }
    }

    fn rotation(&mut self, rotation: &Rotation) {
        match rotation {
            Rotation::Replace {
                services,
                with,
                retire,
            } => self.replace(services, with, *retire),
            Rotation::RotatePassword { services, password } => {
                self.rotate_password(services, password);
            }
        }
    }

    fn replace(&mut self, services: &[ServiceName], with: &Login, retire: Retire) {
        let new_account = self.new_account();
        let Some(current) = self.current(services, new_account) else {
            return;
        };
        if let Some(Seen::Checked { username, .. }) = self.live.new.get(&self.rotation) {
            if *username == current.user {
                self.conflict(format!(
                    "the new credential's username is the old user's (`{username}`): a replace needs a new API user; for a new password on the same user, use `rotate_password`"
                ));
                return;
            }
            if let Some(account) = new_account
                && account != current.account
            {
                self.conflict(format!(
                    "the new credential belongs to account {account}, not to account {} the integrations use: it would move them to another account",
                    current.account
                ));
                return;
            }
        }
        let integrations = self.integrations(services);
        if !current.refused && self.on_neither(&integrations) {
            return;
        }
        let verify = Op::Verify {
            user: current.user.clone(),
            integrations: integrations.clone(),
            login: with.clone(),
            account: current.account,
        };
        if current.refused {
            // Finished: the old credential is refused and the new one works. What cannot be
            // observed (that the old user was deleted) is said, not assumed.
            if matches!(retire, Retire::Delete { .. }) {
                self.warnings.push(format!(
                    "`{}` is refused now; whether it was deleted or only disabled cannot be observed: if it still shows in Settings > Access > API users, delete it there",
                    current.user
                ));
            }
            self.step("verify", verify, Readiness::Pending);
            return;
        }
        let created = if new_account == Some(current.account) {
            Readiness::AlreadySatisfied
        } else {
            self.awaited("create-new-user");
            Readiness::Pending
        };
        self.step(
            "create-new-user",
            Op::CreateUser {
                replaces: current.user.clone(),
                new: with.clone(),
                account: current.account,
            },
            created,
        );
        self.switches(&current, &integrations, with);
        self.step("verify", verify, Readiness::Pending);
        if retire == Retire::Keep {
            self.warnings.push(format!(
                "`{}` stays enabled after the integrations move off it (`retire: keep`)",
                current.user
            ));
            return;
        }
        let disabled = self.step(
            "disable-old-user",
            Op::Disable {
                user: current.user.clone(),
                login: current.login.clone(),
            },
            Readiness::Pending,
        );
        if let Retire::Delete { soak } = retire {
            self.step(
                "delete-old-user",
                Op::Delete {
                    user: current.user.clone(),
                    after: disabled,
                    soak,
                },
                Readiness::Pending,
            );
        }
    }

    /// Whether an integration's check command found it on neither the credential the plan
    /// gives it nor the rotation's new one (conflicts say so): a run cannot tell a switch it
    /// asks for from one made before it (an abandoned run's), and its rollback would switch
    /// the integration to a credential it was not on.
    fn on_neither(&mut self, integrations: &[Integration]) -> bool {
        let mut neither = false;
        for integration in integrations {
            let seen = self
                .live
                .integrations
                .get(&integration.service)
                .copied()
                .unwrap_or_default();
            if !seen.on_neither() {
                continue;
            }
            neither = true;
            let index = self
                .spec
                .service_index(&integration.service)
                .unwrap_or_default();
            let new = match (seen.new, self.live.new.get(&self.rotation)) {
                (Some(false), _) => "nor with the rotation's new one".to_owned(),
                (_, Some(Seen::Unresolved { reason })) => {
                    format!("and the rotation's new credential cannot be read yet ({reason})")
                }
                _ => "and says nothing of the rotation's new one".to_owned(),
            };
            self.conflict(format!(
                "the check command of `{}` does not pass with the credential `services[{index}]` gives it, {new}: if an earlier run switched it, make rotations[{}]'s new credential readable so relinker sees it switched; otherwise give `services[{index}]` the credential it uses",
                integration.service, self.rotation
            ));
        }
        neither
    }

    fn switches(&mut self, current: &Current, integrations: &[Integration], to: &Login) {
        for integration in integrations {
            // Found on the new credential: switched before this run, so not the run's to undo;
            // not read at all: found switched before the run asks, it is not the run's either.
            let seen = self.live.integrations.get(&integration.service);
            let readiness = match (seen, &integration.check) {
                (Some(_), _) => Checked::switch_readiness(seen),
                (None, Some(_)) => Readiness::Unknown,
                (None, None) => Readiness::Pending,
            };
            self.step(
                &format!("switch-{}", integration.service.slug()),
                Op::Switch {
                    user: current.user.clone(),
                    integration: integration.clone(),
                    to: to.clone(),
                    from: current.login.clone(),
                },
                readiness,
            );
        }
    }

    fn rotate_password(&mut self, services: &[ServiceName], password: &crate::plan::SecretRef) {
        let new_account = self.new_account();
        let Some(current) = self.current(services, new_account) else {
            return;
        };
        let to = Login {
            username: Credential::Literal(current.user.to_string()),
            password: password.clone(),
        };
        let integrations = self.integrations(services);
        if !current.refused && self.on_neither(&integrations) {
            return;
        }
        let verify = Op::Verify {
            user: current.user.clone(),
            integrations: integrations.clone(),
            login: to.clone(),
            account: current.account,
        };
        if current.refused {
            // The old password is refused and the new one works: the rotation is done.
            self.step("verify", verify, Readiness::Pending);
            return;
        }
        let set = if new_account == Some(current.account) {
            Readiness::AlreadySatisfied
        } else {
            self.awaited("set-new-password");
            Readiness::Pending
        };
        self.step(
            "set-new-password",
            Op::SetPassword {
                user: current.user.clone(),
                to: to.clone(),
                from: current.login.clone(),
                account: current.account,
            },
            set,
        );
        self.switches(&current, &integrations, &to);
        self.step("verify", verify, Readiness::Pending);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::provider::dotdigital::client::{Access, Account};
    use crate::provider::{Performer, Verification};
    use crate::secret::Fingerprinter;

    const PLAN: &str = "version: 1
name: t
instance: { provider: dotdigital, region: r1 }
services:
  - { name: magento, username: apiuser-old000000001@apiconnector.com, password: '${env:OLD}' }
rotations:
  - replace:
      services: [magento]
      with: { username: '${env:NEW_USER}', password: '${file:new.password}' }
      soak: 24h
";

    fn spec() -> Spec {
        let plan = crate::plan::parse(PLAN, "t.yaml", Path::new(".")).unwrap();
        let crate::plan::Spec::Dotdigital(spec) = plan.spec else {
            panic!("a dotdigital plan")
        };
        spec
    }

    fn checked(user: &str, access: Access) -> Seen {
        Seen::Checked {
            username: UserId::parse(user).unwrap(),
            credential: Fingerprinter::legacy().fingerprint(&[user.as_bytes()]),
            access,
        }
    }

    fn account(id: u64) -> Access {
        Access::Account(Account {
            id,
            name: None,
            endpoint: Some("https://r1-api.dotdigital.com".into()),
        })
    }

    fn live(old: Access, new: Option<Access>) -> Snapshot {
        let mut live = Snapshot::default();
        live.services.insert(
            ServiceName::new("magento"),
            checked("apiuser-old000000001@apiconnector.com", old),
        );
        if let Some(new) = new {
            live.new
                .insert(0, checked("apiuser-new000000002@apiconnector.com", new));
        }
        live
    }

    fn ids(compiled: &Compiled) -> Vec<&str> {
        compiled.steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_replace_creates_switches_verifies_then_disables_and_deletes() {
        let compiled = compile(&spec(), &live(account(7), None));
        assert_eq!(compiled.conflicts, []);
        assert_eq!(
            ids(&compiled),
            [
                "r0-create-new-user",
                "r0-switch-magento",
                "r0-verify",
                "r0-disable-old-user",
                "r0-delete-old-user"
            ]
        );
        let by: Vec<(Performer, Verification)> = compiled
            .steps
            .iter()
            .map(|s| (s.performer(), s.verification()))
            .collect();
        assert_eq!(
            by,
            [
                (Performer::Person, Verification::Observed),
                (Performer::Person, Verification::Attested),
                (Performer::Api, Verification::Observed),
                (Performer::Person, Verification::Observed),
                (Performer::Person, Verification::Attested),
            ]
        );
    }

    #[test]
    fn a_new_credential_of_another_account_is_a_conflict_and_a_finished_one_is_not() {
        let other = compile(&spec(), &live(account(7), Some(account(8))));
        assert!(
            other.conflicts[0]
                .message
                .contains("belongs to account 8, not to account 7"),
            "{:?}",
            other.conflicts
        );
        let refused = Access::Refused {
            reason: "ERROR_INVALID_LOGIN".into(),
        };
        let finished = compile(&spec(), &live(refused.clone(), Some(account(7))));
        assert_eq!(finished.conflicts, []);
        assert_eq!(ids(&finished), ["r0-verify"]);
        assert!(!finished.has_changes());
        let broken = compile(&spec(), &live(refused, None));
        assert!(
            broken.conflicts[0]
                .message
                .contains("refuses the credential of `magento`"),
            "{:?}",
            broken.conflicts
        );
    }

    #[test]
    fn an_integration_found_switched_is_done_and_one_on_neither_credential_a_conflict() {
        let seen = |current, new| {
            let mut live = live(account(7), Some(account(7)));
            live.integrations.insert(
                ServiceName::new("magento"),
                crate::provider::command::Checked { current, new },
            );
            live
        };
        let found = compile(&spec(), &seen(Some(false), Some(true)));
        assert_eq!(found.conflicts, []);
        let ready: Vec<(&str, Readiness)> = found
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.readiness))
            .collect();
        assert_eq!(ready[1], ("r0-switch-magento", Readiness::AlreadySatisfied));
        // On the old credential: the switch is the run's to ask for.
        for (current, new) in [(Some(true), Some(false)), (Some(true), None)] {
            let asked = compile(&spec(), &seen(current, new));
            assert_eq!(asked.conflicts, [], "{current:?} {new:?}");
            assert_eq!(asked.steps[1].readiness, Readiness::Pending);
        }
        // Nothing said (the command could not tell, or was not run): not known, so a switch
        // found made before the run asks is not the run's.
        let unread = compile(&spec(), &seen(None, None));
        assert_eq!(unread.conflicts, []);
        assert_eq!(unread.steps[1].readiness, Readiness::Unknown);
        for new in [Some(false), None] {
            let neither = compile(&spec(), &seen(Some(false), new));
            assert_eq!(neither.steps, [], "{new:?}");
            assert!(
                neither.conflicts[0]
                    .message
                    .contains("does not pass with the credential `services[0]` gives it"),
                "{:?}",
                neither.conflicts
            );
        }
    }
}
