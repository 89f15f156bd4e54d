//! Compilation: a validated plan plus a live snapshot becomes ordered steps, warnings and
//! conflicts. Pure: no I/O, so every rule here is unit-tested on hand-made snapshots.
//!
//! Per rotation, steps follow ../shared/DESIGN.md: set up the holding user, move the services,
//! change, move back, verify, and only then anything irreversible.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::live::{LinkObservation, LiveState};
use super::model::{Plan, Retire, Rotation, TemporaryUser, UserId};
use super::step::{Action, Readiness, Step};
use crate::provider::{RolePair, UserRecord, UserUpdate};

/// Something that stops the plan from running as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The rotation it concerns, if one.
    pub rotation: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The compiled plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compiled {
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Things a reviewer should know that do not stop the plan.
    pub warnings: Vec<String>,
    /// Things that stop it.
    pub conflicts: Vec<Conflict>,
}

impl Compiled {
    /// Whether any step has work to do.
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| {
            s.readiness == Readiness::Pending
                && s.action.reversibility() != super::step::Reversibility::ReadOnly
        })
    }
}

/// Compiles `plan` against `live`.
pub fn compile(plan: &Plan, live: &LiveState) -> Compiled {
    let mut out = Builder::default();
    for (index, rotation) in plan.rotations.iter().enumerate() {
        out.rotation = index;
        match rotation {
            Rotation::Rename {
                user,
                email,
                first_name,
                last_name,
                temporary_user,
                temporary,
                services,
            } => {
                out.rename(
                    live,
                    user,
                    email,
                    (first_name.as_deref(), last_name.as_deref()),
                    (temporary_user, *temporary),
                    services,
                );
            }
            Rotation::Replace {
                user,
                with,
                services,
                retire,
            } => out.replace(live, user, with, services, *retire),
            Rotation::Relink { services, to } => out.relink(live, services, to),
        }
    }
    let deletions = out
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::DeleteUser { .. }))
        .count();
    if deletions > plan.policy.max_deletions as usize {
        out.conflicts.push(Conflict {
            rotation: None,
            message: format!(
                "the plan would delete {deletions} users, more than `policy.max_deletions` ({})",
                plan.policy.max_deletions
            ),
        });
    }
    Compiled {
        steps: out.steps,
        warnings: out.warnings,
        conflicts: out.conflicts,
    }
}

#[derive(Default)]
struct Builder {
    rotation: usize,
    steps: Vec<Step>,
    warnings: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// Which part a user plays when it is made to hold a rotation's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Holds them while the original user is edited, then lets them go.
    Temporary,
    /// Keeps them: it must end with exactly the original user's roles.
    Final,
}

/// The short form of a userid used in step ids: its local part, made id-safe.
fn slug(text: &str) -> String {
    let local = text.split('@').next().unwrap_or(text);
    local
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_owned()
}

impl Builder {
    fn conflict(&mut self, message: String) {
        self.conflicts.push(Conflict {
            rotation: Some(self.rotation),
            message,
        });
    }

    fn step(&mut self, name: &str, action: Action, satisfied: bool) {
        self.steps.push(Step {
            id: format!("r{}-{name}", self.rotation),
            rotation: self.rotation,
            action,
            readiness: if satisfied {
                Readiness::AlreadySatisfied
            } else {
                Readiness::Pending
            },
        });
    }

    /// The rotated user: must exist, be accepted, be API-only, and not be relinker's own.
    fn rotated_user<'a>(
        &mut self,
        live: &'a LiveState,
        user: &UserId,
        what: &str,
    ) -> Option<&'a UserRecord> {
        if live.is_pending(user.as_str()) {
            self.conflict(format!(
                "`{user}` is a pending invitation, not a user; it cannot be {what}"
            ));
            return None;
        }
        let Some(record) = live.user(user.as_str()) else {
            self.conflict(format!("user `{user}` does not exist"));
            return None;
        };
        if !record.api_only {
            self.conflict(format!(
                "user `{user}` is not an API-only user; relinker rotates API-only users only"
            ));
        }
        if live.admin_user.eq_ignore_ascii_case(user.as_str()) {
            self.conflict(format!(
                "`{user}` is the user relinker's own admin service is linked to; rotating it would cut relinker off mid-run"
            ));
        }
        Some(record)
    }

    /// Where each service is linked now; conflicts when it is neither `expected` nor `holding`.
    fn current_links(
        &mut self,
        live: &LiveState,
        services: &[super::model::ServiceRef],
        expected: &str,
        holding: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut links = Vec::new();
        for service in services {
            match live.links.get(service.as_str()) {
                Some(LinkObservation::Linked(link)) => {
                    let fits = link.userid.eq_ignore_ascii_case(expected)
                        || holding.is_some_and(|h| link.userid.eq_ignore_ascii_case(h));
                    if !fits {
                        self.conflict(format!(
                            "service `{service}` is linked to `{}`, not `{expected}` as the plan expects",
                            link.userid
                        ));
                    }
                    links.push((service.as_str().to_owned(), link.userid.clone()));
                }
                Some(LinkObservation::Refused { reason }) => {
                    self.conflict(format!(
                        "the credentials of service `{service}` do not work: {reason}"
                    ));
                }
                None => self.conflict(format!(
                    "service `{service}` has no credentials to verify it with"
                )),
            }
        }
        links
    }

    /// Ensures `holder` exists as an API-only user with `roles`: create it, or add what it lacks.
    /// Answers whether this run creates it.
    fn ensure_holder(
        &mut self,
        live: &LiveState,
        holder: &UserId,
        roles: &[RolePair],
        kind: Holder,
    ) -> bool {
        let (name, last_name) = match kind {
            Holder::Temporary => ("temporary-user", "temporary user"),
            Holder::Final => ("new-user", "integration user"),
        };
        if live.is_pending(holder.as_str()) {
            self.conflict(format!(
                "`{holder}` is a pending invitation; it cannot hold services"
            ));
            return false;
        }
        match live.user(holder.as_str()) {
            None => {
                if let Some(owner) = live.addresses.get(&holder.as_str().to_lowercase()) {
                    self.conflict(format!(
                        "`{holder}` is already the email address of `{owner}`"
                    ));
                }
                self.step(
                    &format!("create-{name}"),
                    Action::CreateUser {
                        user: holder.as_str().to_owned(),
                        first_name: "relinker".into(),
                        last_name: last_name.to_owned(),
                        roles: roles.to_vec(),
                    },
                    false,
                );
                true
            }
            Some(existing) => {
                if !existing.api_only {
                    self.conflict(format!("`{holder}` exists and is not an API-only user; a service can only be linked to one"));
                }
                let held: BTreeSet<&RolePair> = existing.roles.iter().collect();
                let missing: Vec<RolePair> = roles
                    .iter()
                    .filter(|r| !held.contains(r))
                    .copied()
                    .collect();
                let wanted: BTreeSet<&RolePair> = roles.iter().collect();
                let extra: Vec<&RolePair> = existing
                    .roles
                    .iter()
                    .filter(|r| !wanted.contains(r))
                    .collect();
                match kind {
                    _ if extra.is_empty() => {}
                    Holder::Temporary => self.warnings.push(format!(
                        "`{holder}` already holds {} role/workspace pair(s) the original user does not; the services will run with them while linked to it",
                        extra.len()
                    )),
                    // The promise is that services end up with exactly the original roles;
                    // taking roles from a user this run did not create is a person's call.
                    Holder::Final => self.conflict(format!(
                        "`{holder}` already holds {} role/workspace pair(s) the original user does not; the services would gain them. Remove them in Admin > Users & Roles, or choose another user",
                        extra.len()
                    )),
                }
                self.step(
                    &format!("add-roles-{name}"),
                    Action::AddRoles {
                        user: holder.as_str().to_owned(),
                        roles: missing.clone(),
                    },
                    missing.is_empty(),
                );
                false
            }
        }
    }

    fn links_to(&mut self, links: &[(String, String)], from: &str, to: &str, name: &str) {
        for (service, current) in links {
            self.step(
                &format!("link-{}-{name}", slug(service)),
                Action::LinkService {
                    service: service.clone(),
                    from: from.to_owned(),
                    to: to.to_owned(),
                },
                current.eq_ignore_ascii_case(to),
            );
        }
    }

    fn verify(&mut self, links: &[(String, String)], user: &str, roles: &[RolePair]) {
        self.step(
            "verify",
            Action::Verify {
                services: links.iter().map(|(s, _)| s.clone()).collect(),
                user: user.to_owned(),
                roles: roles.to_vec(),
            },
            false,
        );
    }

    fn rename(
        &mut self,
        live: &LiveState,
        user: &UserId,
        email: &UserId,
        (first_name, last_name): (Option<&str>, Option<&str>),
        (temporary_user, temporary): (&UserId, TemporaryUser),
        services: &[super::model::ServiceRef],
    ) {
        let Some(record) = self.rotated_user(live, user, "renamed") else {
            return;
        };
        let record = record.clone();
        let links =
            self.current_links(live, services, user.as_str(), Some(temporary_user.as_str()));
        if let Some(owner) = live.addresses.get(&email.as_str().to_lowercase())
            && !owner.eq_ignore_ascii_case(user.as_str())
        {
            self.conflict(format!("email `{email}` is already used by `{owner}`"));
        }
        let created = self.ensure_holder(live, temporary_user, &record.roles, Holder::Temporary);
        self.links_to(
            &links,
            user.as_str(),
            temporary_user.as_str(),
            "to-temporary-user",
        );
        let change = UserUpdate {
            email: (!record.email.eq_ignore_ascii_case(email.as_str()))
                .then(|| email.as_str().to_owned()),
            first_name: first_name
                .filter(|f| *f != record.first_name)
                .map(str::to_owned),
            last_name: last_name
                .filter(|l| *l != record.last_name)
                .map(str::to_owned),
            expires_at: None,
        };
        let previous = UserUpdate {
            email: change.email.as_ref().map(|_| record.email.clone()),
            first_name: change
                .first_name
                .as_ref()
                .map(|_| record.first_name.clone()),
            last_name: change.last_name.as_ref().map(|_| record.last_name.clone()),
            expires_at: None,
        };
        let satisfied = change.is_empty();
        // Nothing to change still records the step, so reviewers see the rename is already done.
        let change = if satisfied {
            UserUpdate {
                email: Some(email.as_str().to_owned()),
                ..UserUpdate::default()
            }
        } else {
            change
        };
        self.step(
            "update-user",
            Action::UpdateUser {
                user: user.as_str().to_owned(),
                change,
                previous,
            },
            satisfied,
        );
        for (service, _) in &links {
            self.step(
                &format!("link-{}-back", slug(service)),
                Action::LinkService {
                    service: service.clone(),
                    from: temporary_user.as_str().to_owned(),
                    to: user.as_str().to_owned(),
                },
                false,
            );
        }
        self.verify(&links, user.as_str(), &record.roles);
        if created && temporary == TemporaryUser::DeleteIfCreated {
            self.step(
                "delete-temporary-user",
                Action::DeleteUser {
                    user: temporary_user.as_str().to_owned(),
                },
                false,
            );
        }
    }

    fn replace(
        &mut self,
        live: &LiveState,
        user: &UserId,
        with: &UserId,
        services: &[super::model::ServiceRef],
        retire: Retire,
    ) {
        let Some(record) = self.rotated_user(live, user, "replaced") else {
            return;
        };
        let record = record.clone();
        let links = self.current_links(live, services, user.as_str(), Some(with.as_str()));
        self.ensure_holder(live, with, &record.roles, Holder::Final);
        self.links_to(&links, user.as_str(), with.as_str(), "to-new-user");
        self.verify(&links, with.as_str(), &record.roles);
        match retire {
            Retire::Delete => self.step(
                "delete-old-user",
                Action::DeleteUser {
                    user: user.as_str().to_owned(),
                },
                false,
            ),
            Retire::Expire => self.step(
                "expire-old-user",
                Action::ExpireUser {
                    user: user.as_str().to_owned(),
                },
                false,
            ),
            Retire::Keep => self.warnings.push(format!(
                "`{user}` is kept after the services move off it (`retire: keep`)"
            )),
        }
    }

    fn relink(&mut self, live: &LiveState, services: &[super::model::ServiceRef], to: &UserId) {
        let Some(target) = live.user(to.as_str()) else {
            let what = if live.is_pending(to.as_str()) {
                "is a pending invitation"
            } else {
                "does not exist"
            };
            self.conflict(format!(
                "user `{to}` {what}; `relink` moves services to an existing API-only user"
            ));
            return;
        };
        if !target.api_only {
            self.conflict(format!(
                "user `{to}` is not an API-only user; a service can only be linked to one"
            ));
        }
        let roles = target.roles.clone();
        let mut links = Vec::new();
        for service in services {
            match live.links.get(service.as_str()) {
                Some(LinkObservation::Linked(link)) => {
                    links.push((service.as_str().to_owned(), link.userid.clone()));
                }
                Some(LinkObservation::Refused { reason }) => {
                    self.conflict(format!(
                        "the credentials of service `{service}` do not work: {reason}"
                    ));
                }
                None => self.conflict(format!(
                    "service `{service}` has no credentials to verify it with"
                )),
            }
        }
        for (service, from) in &links {
            self.step(
                &format!("link-{}", slug(service)),
                Action::LinkService {
                    service: service.clone(),
                    from: from.clone(),
                    to: to.as_str().to_owned(),
                },
                from.eq_ignore_ascii_case(to.as_str()),
            );
        }
        self.verify(&links, to.as_str(), &roles);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::step::{Mode, Reversibility};
    use crate::provider::ServiceLink;
    use crate::secret::Fingerprint;

    const PLAN: &str = "version: 1
name: t
instance: { provider: marketo, base_url: https://x.mktorest.com, client_id: a, client_secret: '${env:S}' }
services:
  - { name: sync, client_id: a, client_secret: '${env:A}' }
  - { name: export, client_id: b, client_secret: '${env:B}' }
  - { name: crm, client_id: c, client_secret: '${env:C}' }
  - { name: web, client_id: d, client_secret: '${env:D}' }
rotations:
  - rename: { user: jane@acme.example, email: api.sync@acme.example, first_name: Sync,
              temporary_user: temp@acme.example, services: [sync, export] }
  - replace: { user: bob@acme.example, with: api.crm@acme.example, services: [crm] }
  - relink: { services: [web], to: api.web@acme.example }
policy: { max_deletions: 2 }
";

    fn pair(role: u64, workspace: u64) -> RolePair {
        RolePair {
            role_id: role,
            workspace_id: workspace,
        }
    }

    fn user(userid: &str, api_only: bool, roles: &[RolePair]) -> UserRecord {
        UserRecord {
            userid: userid.into(),
            email: userid.into(),
            first_name: "F".into(),
            last_name: "L".into(),
            api_only,
            roles: roles.to_vec(),
            expires_at: None,
        }
    }

    fn linked(userid: &str) -> LinkObservation {
        LinkObservation::Linked(ServiceLink {
            userid: userid.into(),
            credentials: Fingerprint::of(b"x"),
        })
    }

    /// The live state the plan was written for.
    fn live() -> LiveState {
        let mut live = LiveState {
            admin_user: "admin@acme.example".into(),
            ..LiveState::default()
        };
        for record in [
            user("jane@acme.example", true, &[pair(110, 1), pair(101, 1008)]),
            user("bob@acme.example", true, &[pair(110, 1010)]),
            user("api.web@acme.example", true, &[pair(110, 1)]),
            user("admin@acme.example", true, &[pair(1, 0)]),
        ] {
            live.addresses
                .insert(record.userid.clone(), record.userid.clone());
            live.users.insert(record.userid.clone(), record);
        }
        for (service, to) in [
            ("sync", "jane@acme.example"),
            ("export", "jane@acme.example"),
            ("crm", "bob@acme.example"),
            ("web", "carol@acme.example"),
        ] {
            live.links.insert(service.into(), linked(to));
        }
        live
    }

    fn plan() -> Plan {
        crate::plan::parse(PLAN, "t.yaml", Path::new(".")).unwrap()
    }

    fn ids(compiled: &Compiled) -> Vec<&str> {
        compiled.steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[track_caller]
    fn conflicts_with(live: &LiveState, expected: &str) {
        let compiled = compile(&plan(), live);
        assert!(
            compiled
                .conflicts
                .iter()
                .any(|c| c.message.contains(expected)),
            "expected a conflict containing {expected:?}, got {:?}",
            compiled.conflicts
        );
    }

    #[test]
    fn compiles_each_intent_in_the_designed_order() {
        let compiled = compile(&plan(), &live());
        assert_eq!(compiled.conflicts, []);
        assert_eq!(
            ids(&compiled),
            [
                "r0-create-temporary-user",
                "r0-link-sync-to-temporary-user",
                "r0-link-export-to-temporary-user",
                "r0-update-user",
                "r0-link-sync-back",
                "r0-link-export-back",
                "r0-verify",
                "r0-delete-temporary-user",
                "r1-create-new-user",
                "r1-link-crm-to-new-user",
                "r1-verify",
                "r1-delete-old-user",
                "r2-link-web",
                "r2-verify",
            ]
        );
        let modes: Vec<Mode> = compiled.steps.iter().map(Step::mode).collect();
        assert_eq!(modes.iter().filter(|m| **m == Mode::Manual).count(), 6);
        // Irreversible steps come after their rotation's verification.
        for (index, step) in compiled.steps.iter().enumerate() {
            if step.reversibility() == Reversibility::Irreversible {
                assert!(
                    matches!(compiled.steps[index - 1].action, Action::Verify { .. }),
                    "{}",
                    step.id
                );
            }
        }
        let Action::CreateUser { roles, .. } = &compiled.steps[0].action else {
            panic!()
        };
        assert_eq!(
            roles,
            &[pair(110, 1), pair(101, 1008)],
            "the temporary user gets exactly the user's roles"
        );
        let Action::UpdateUser {
            change, previous, ..
        } = &compiled.steps[3].action
        else {
            panic!()
        };
        assert_eq!(
            (change.email.as_deref(), change.first_name.as_deref()),
            (Some("api.sync@acme.example"), Some("Sync"))
        );
        assert_eq!(previous.email.as_deref(), Some("jane@acme.example"));
        assert!(compiled.has_changes());
    }

    #[test]
    fn existing_holders_get_only_missing_roles_and_are_kept() {
        let mut live = live();
        live.users.insert(
            "temp@acme.example".into(),
            user("temp@acme.example", true, &[pair(110, 1), pair(2, 1)]),
        );
        let compiled = compile(&plan(), &live);
        assert_eq!(compiled.steps[0].id, "r0-add-roles-temporary-user");
        assert_eq!(
            compiled.steps[0].action,
            Action::AddRoles {
                user: "temp@acme.example".into(),
                roles: vec![pair(101, 1008)]
            }
        );
        assert!(
            !ids(&compiled).contains(&"r0-delete-temporary-user"),
            "a user this run did not create is never deleted"
        );
        assert!(
            compiled
                .warnings
                .iter()
                .any(|w| w.contains("temp@acme.example")),
            "{:?}",
            compiled.warnings
        );
    }

    #[test]
    fn a_new_user_with_roles_beyond_the_original_is_a_conflict() {
        let mut live = live();
        live.users.insert(
            "api.crm@acme.example".into(),
            user("api.crm@acme.example", true, &[pair(110, 1010), pair(1, 0)]),
        );
        conflicts_with(
            &live,
            "`api.crm@acme.example` already holds 1 role/workspace pair(s) the original user does not",
        );
    }

    #[test]
    fn already_done_steps_are_marked() {
        let mut live = live();
        live.links
            .insert("web".into(), linked("api.web@acme.example"));
        if let Some(jane) = live.users.get_mut("jane@acme.example") {
            jane.email = "api.sync@acme.example".into();
            jane.first_name = "Sync".into();
        }
        let compiled = compile(&plan(), &live);
        let readiness = |id: &str| {
            compiled
                .steps
                .iter()
                .find(|s| s.id == id)
                .map(|s| s.readiness)
        };
        assert_eq!(readiness("r2-link-web"), Some(Readiness::AlreadySatisfied));
        assert_eq!(
            readiness("r0-update-user"),
            Some(Readiness::AlreadySatisfied)
        );
    }

    #[test]
    fn every_conflict_is_detected() {
        let mut missing = live();
        missing.users.remove("jane@acme.example");
        conflicts_with(&missing, "user `jane@acme.example` does not exist");

        let mut pending = missing.clone();
        pending.pending.insert("jane@acme.example".into());
        conflicts_with(&pending, "is a pending invitation");

        let mut human = live();
        human.users.insert(
            "bob@acme.example".into(),
            user("bob@acme.example", false, &[pair(2, 1)]),
        );
        conflicts_with(&human, "`bob@acme.example` is not an API-only user");

        let mut elsewhere = live();
        elsewhere
            .links
            .insert("export".into(), linked("carol@acme.example"));
        conflicts_with(
            &elsewhere,
            "service `export` is linked to `carol@acme.example`, not `jane@acme.example`",
        );

        let mut refused = live();
        refused.links.insert(
            "crm".into(),
            LinkObservation::Refused {
                reason: "HTTP 401".into(),
            },
        );
        conflicts_with(&refused, "the credentials of service `crm` do not work");

        let mut taken = live();
        taken.addresses.insert(
            "api.sync@acme.example".into(),
            "someone@acme.example".into(),
        );
        conflicts_with(
            &taken,
            "email `api.sync@acme.example` is already used by `someone@acme.example`",
        );

        let mut not_api = live();
        not_api.users.insert(
            "api.crm@acme.example".into(),
            user("api.crm@acme.example", false, &[]),
        );
        conflicts_with(
            &not_api,
            "`api.crm@acme.example` exists and is not an API-only user",
        );

        let mut own = live();
        own.admin_user = "bob@acme.example".into();
        conflicts_with(&own, "relinker's own admin service");

        let mut no_target = live();
        no_target.users.remove("api.web@acme.example");
        conflicts_with(&no_target, "user `api.web@acme.example` does not exist");

        let mut strict = plan();
        strict.policy.max_deletions = 1;
        let compiled = compile(&strict, &live());
        assert!(
            compiled
                .conflicts
                .iter()
                .any(|c| c.message.contains("would delete 2 users")),
            "{:?}",
            compiled.conflicts
        );
    }

    #[test]
    fn step_ids_are_safe_slugs() {
        assert_eq!(slug("Salesforce Sync+EU"), "salesforce-sync-eu");
        assert_eq!(slug("api.web@acme.example"), "api-web");
    }
}
