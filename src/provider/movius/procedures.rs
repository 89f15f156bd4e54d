//! Movius MultiLine's procedures. A rename is one person's edit in the Administrators tool. A
//! replace adds a new API user for the same external applications, switches each integration
//! to it, proves they work (the pivot), and only then deletes the old user: deleting the only
//! API user of an application stops its integration. What check commands can tell shapes the
//! plan (an integration already switched is not asked again); everything else is a person's
//! word. Pure: no I/O.

use super::live::{Checked, Snapshot};
use super::ops::{Integration, Op};
use crate::ids::{ServiceName, StepId, UserId};
use crate::plan::Login;
use crate::plan::movius::{Rotation, Spec};
use crate::provider::{Compiled, Conflict, Readiness, Step};

/// Compiles a Movius plan against what its check commands said.
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
        match rotation {
            Rotation::Rename {
                user,
                email,
                first_name,
                last_name,
            } => out.rename(user, email, first_name.clone(), last_name.clone()),
            Rotation::Replace {
                services,
                user,
                with,
                first_name,
                last_name,
                login,
            } => out.replace(
                services,
                (user, with),
                (first_name, last_name),
                login.as_ref(),
            ),
        }
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

impl Builder<'_> {
    fn step(&mut self, name: &str, op: Op, readiness: Readiness) {
        self.steps.push(Step {
            id: StepId::new(format!("r{}-{name}", self.rotation)),
            rotation: self.rotation,
            action: crate::provider::Op::Movius(op),
            readiness,
        });
    }

    fn seen(&self, service: &ServiceName) -> Checked {
        self.live.services.get(service).copied().unwrap_or_default()
    }

    /// Whether an integration's check command found it on neither the credential the plan
    /// gives it nor the rotation's new one (conflicts say so): a run cannot tell a switch it
    /// asks for from one made before it (an abandoned run's), and its rollback would switch
    /// the integration to a credential it was not on. `has_login` says the rotation gives
    /// the new credential.
    fn on_neither(&mut self, integrations: &[Integration], has_login: bool) -> bool {
        let mut neither = false;
        for integration in integrations {
            let seen = self.seen(&integration.service);
            if !seen.on_neither() {
                continue;
            }
            neither = true;
            let index = self
                .spec
                .service_index(&integration.service)
                .unwrap_or_default();
            let r = self.rotation;
            let (new, fix) = match (seen.new, has_login) {
                (Some(false), _) => (
                    "nor with the rotation's new one",
                    format!("make rotations[{r}].login the credential it was switched to"),
                ),
                (_, true) => (
                    "and the rotation's new credential (`login:`) cannot be read yet",
                    format!("make rotations[{r}].login readable so relinker sees it switched"),
                ),
                (_, false) => (
                    "and the rotation gives no `login:` to check the new one with",
                    format!("give rotations[{r}] the new `login:` so relinker sees it switched"),
                ),
            };
            self.conflicts.push(Conflict {
                rotation: Some(r),
                message: format!(
                    "the check command of `{}` does not pass with the credential `services[{index}]` gives it, {new}: if an earlier run switched it, {fix}; otherwise give `services[{index}]` the credential it uses",
                    integration.service
                ),
            });
        }
        neither
    }

    fn rename(
        &mut self,
        user: &UserId,
        email: &UserId,
        first_name: Option<String>,
        last_name: Option<String>,
    ) {
        self.step(
            "rename-user",
            Op::Rename {
                user: user.clone(),
                to: email.clone(),
                first_name,
                last_name,
                back: false,
            },
            Readiness::Pending,
        );
    }

    fn replace(
        &mut self,
        services: &[ServiceName],
        (user, with): (&UserId, &UserId),
        (first_name, last_name): (&str, &str),
        login: Option<&Login>,
    ) {
        let integrations: Vec<Integration> = services
            .iter()
            .filter_map(|name| self.spec.service(name))
            .map(|declared| Integration {
                service: declared.name.clone(),
                application: declared.application.clone(),
                check: declared.check.clone(),
            })
            .collect();
        let mut applications: Vec<String> = Vec::new();
        for integration in &integrations {
            if !applications.contains(&integration.application) {
                applications.push(integration.application.clone());
            }
        }
        if self.on_neither(&integrations, login.is_some()) {
            return;
        }
        let checked = integrations.iter().filter(|i| i.check.is_some()).count();
        if checked > 0 && login.is_none() {
            self.warnings.push(format!(
                "{checked} of the integrations have check commands, but the rotation gives no `login:` for `{with}`: their switches are attested, not checked"
            ));
        }
        // A check command that passes with the new credential has proved the new user exists.
        let switched: Vec<bool> = integrations
            .iter()
            .map(|i| self.seen(&i.service).new == Some(true))
            .collect();
        let added = if switched.iter().any(|s| *s) {
            Readiness::AlreadySatisfied
        } else {
            Readiness::Pending
        };
        self.step(
            "add-new-user",
            Op::AddUser {
                replaces: user.clone(),
                user: with.clone(),
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
                applications: applications.clone(),
                proven_by: integrations
                    .iter()
                    .filter(|i| i.check.is_some())
                    .cloned()
                    .collect(),
                login: login.cloned(),
                current: integrations
                    .iter()
                    .filter_map(|i| self.spec.service(&i.service).and_then(|d| d.login.clone()))
                    .collect(),
            },
            added,
        );
        for integration in &integrations {
            // Checked by command: read at planning, or not known (then found switched before
            // the run asks, it is not the run's to undo). Attested: the run asks for it.
            let seen = self.live.services.get(&integration.service);
            let readiness = match (seen, &integration.check, login) {
                (Some(_), _, _) => Checked::switch_readiness(seen),
                (None, Some(_), Some(_)) => Readiness::Unknown,
                _ => Readiness::Pending,
            };
            let from_login = self
                .spec
                .service(&integration.service)
                .and_then(|d| d.login.clone());
            self.step(
                &format!("switch-{}", integration.service.slug()),
                Op::Switch {
                    user: user.clone(),
                    integration: integration.clone(),
                    to: with.clone(),
                    from: user.clone(),
                    to_login: login.cloned(),
                    from_login,
                },
                readiness,
            );
        }
        self.step(
            "verify",
            Op::Verify {
                user: user.clone(),
                with: with.clone(),
                integrations,
                login: login.cloned(),
            },
            Readiness::Pending,
        );
        self.step(
            "delete-old-user",
            Op::DeleteUser {
                user: user.clone(),
                applications,
            },
            Readiness::Pending,
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::provider::{Performer, Verification};

    const PLAN: &str = "version: 1
name: t
instance: { provider: movius }
services:
  - name: crm
    application: Salesforce
    username: api.old@acme.example
    password: '${env:OLD}'
    check: [relinker, check-credential, --path, /check]
  - { name: dialer, application: HttpApi }
rotations:
  - rename: { user: api.bob@acme.example, email: api.team@acme.example }
  - replace:
      services: [crm, dialer]
      user: api.old@acme.example
      with: api.new@acme.example
      first_name: Api
      last_name: New
      login: { username: '${env:NEW_USER}', password: '${file:new.password}' }
";

    fn spec() -> Spec {
        let plan = crate::plan::parse(PLAN, "t.yaml", Path::new(".")).unwrap();
        let crate::plan::Spec::Movius(spec) = plan.spec else {
            panic!("a Movius plan")
        };
        spec
    }

    fn by(compiled: &Compiled) -> Vec<(&str, Performer, Verification, Readiness)> {
        compiled
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.performer(), s.verification(), s.readiness))
            .collect()
    }

    #[test]
    fn a_check_command_checks_its_switch_and_the_new_user_and_everything_else_is_attested() {
        use Performer::Person;
        use Readiness::{Pending, Unknown};
        use Verification::{Attested, CheckedByCommand};
        let compiled = compile(&spec(), &Snapshot::default());
        assert_eq!(compiled.conflicts, []);
        assert_eq!(
            by(&compiled),
            [
                ("r0-rename-user", Person, Attested, Pending),
                ("r1-add-new-user", Person, CheckedByCommand, Pending),
                // Its check command was not read at planning: whether it is switched is not
                // known until its turn.
                ("r1-switch-crm", Person, CheckedByCommand, Unknown),
                ("r1-switch-dialer", Person, Attested, Pending),
                // Not every integration can be checked, so the proof is a person's word.
                ("r1-verify", Person, Attested, Pending),
                ("r1-delete-old-user", Person, Attested, Pending),
            ]
        );
    }

    #[test]
    fn an_integration_already_switched_proves_the_new_user_exists() {
        let mut live = Snapshot::default();
        live.services.insert(
            ServiceName::new("crm"),
            Checked {
                current: Some(false),
                new: Some(true),
            },
        );
        let compiled = compile(&spec(), &live);
        let ready: Vec<(&str, Readiness)> = compiled
            .steps
            .iter()
            .map(|s| (s.id.as_str(), s.readiness))
            .collect();
        assert_eq!(ready[1], ("r1-add-new-user", Readiness::AlreadySatisfied));
        assert_eq!(ready[2], ("r1-switch-crm", Readiness::AlreadySatisfied));
        assert_eq!(ready[3], ("r1-switch-dialer", Readiness::Pending));
    }

    #[test]
    fn every_integration_checked_makes_the_proof_relinkers() {
        let mut spec = spec();
        spec.rotations.remove(0);
        spec.services.retain(|s| s.name.as_str() == "crm");
        let crate::plan::movius::Rotation::Replace { services, .. } = &mut spec.rotations[0] else {
            panic!("a replace")
        };
        services.retain(|s| s.as_str() == "crm");
        let compiled = compile(&spec, &Snapshot::default());
        let verify = compiled
            .steps
            .iter()
            .find(|s| s.id.as_str() == "r0-verify")
            .unwrap();
        assert_eq!(verify.performer(), Performer::Api);
        assert_eq!(verify.verification(), Verification::CheckedByCommand);
    }

    #[test]
    fn the_old_user_is_deleted_last_and_deleting_cannot_be_undone() {
        let compiled = compile(&spec(), &Snapshot::default());
        let last = compiled.steps.last().unwrap();
        assert_eq!(last.id.as_str(), "r1-delete-old-user");
        assert!(last.action.deletes());
        assert!(last.action.compensation().is_none());
    }

    #[test]
    fn an_integration_on_neither_credential_is_a_conflict() {
        for new in [Some(false), None] {
            let mut live = Snapshot::default();
            live.services.insert(
                ServiceName::new("crm"),
                Checked {
                    current: Some(false),
                    new,
                },
            );
            let compiled = compile(&spec(), &live);
            assert_eq!(compiled.conflicts.len(), 1, "{new:?}");
            assert!(
                compiled.conflicts[0]
                    .message
                    .contains("the check command of `crm` does not pass with the credential `services[0]` gives it"),
                "{:?}",
                compiled.conflicts
            );
            // The rename before it is not in question.
            assert_eq!(compiled.steps.len(), 1);
        }
    }
}
