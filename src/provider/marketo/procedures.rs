//! Marketo's procedures: what rename, replace and relink compile to against a live snapshot.
//! Pure: no I/O, so every rule here is unit-tested on hand-made snapshots.
//!
//! Per rotation, steps follow the design's order: set up the holding user, move the services,
//! change, move back, verify, and only then anything irreversible. A linked user cannot be
//! edited, so a rename moves its services to a temporary user first. A rotation whose end state
//! already holds compiles to its verification alone, so a finished plan plans as "no changes".

use std::collections::BTreeSet;

use super::live::{LinkObservation, Snapshot, UsageObservation};
use super::ops::Op;
use super::types::{RolePair, UserRecord, UserUpdate};
use crate::address;
use crate::ids::{ServiceName, StepId, UserId};
use crate::plan::marketo::{Retire, Rotation, Spec, Successor, TemporaryUser};
use crate::provider::{Compiled, Conflict, Leftovers, Readiness, Step};

/// Compiles a Marketo plan against `live`.
pub fn compile(spec: &Spec, live: &Snapshot, leftovers: &Leftovers) -> Compiled {
    let mut out = Builder {
        live,
        leftovers,
        rotation: 0,
        steps: Vec::new(),
        warnings: Vec::new(),
        conflicts: Vec::new(),
    };
    for (index, rotation) in spec.rotations.iter().enumerate() {
        out.rotation = index;
        out.no_self_harm(rotation);
        out.no_hidden_relinks(rotation);
        match rotation {
            Rotation::Rename { .. } => out.rename(rotation),
            Rotation::Replace {
                user, with, retire, ..
            } => out.replace(user, with, *retire),
            Rotation::Relink { services, to } => out.relink(services, to),
        }
    }
    Compiled {
        steps: out.steps,
        warnings: out.warnings,
        conflicts: out.conflicts,
    }
}

struct Builder<'a> {
    live: &'a Snapshot,
    /// What abandoned runs left: a holder among them is this run's to take over.
    leftovers: &'a Leftovers,
    rotation: usize,
    steps: Vec<Step>,
    warnings: Vec<String>,
    conflicts: Vec<Conflict>,
}

/// Creating a user relinker makes to hold services: named for what it is, with `roles`.
fn create(holder: &UserId, last_name: &str, roles: &[RolePair]) -> Op {
    Op::CreateUser {
        user: holder.clone(),
        first_name: "relinker".into(),
        last_name: last_name.to_owned(),
        roles: roles.to_vec(),
    }
}

/// Which part a user plays when it is made to hold a rotation's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// Holds them while the original user is edited, then lets them go.
    Temporary,
    /// Keeps them: it must end with exactly the original user's roles.
    Final,
}

/// A service and the user it is linked to now.
type Link = (ServiceName, UserId);

impl Builder<'_> {
    fn conflict(&mut self, message: String) {
        self.conflicts.push(Conflict {
            rotation: Some(self.rotation),
            message,
        });
    }

    fn step(&mut self, name: &str, op: Op, readiness: Readiness) {
        self.steps.push(Step {
            id: StepId::new(format!("r{}-{name}", self.rotation)),
            rotation: self.rotation,
            action: crate::provider::Op::Marketo(op),
            readiness,
        });
    }

    /// Refuses to plan from a link that may hide a relink an earlier run asked a person for:
    /// read from a token minted before the ask, it may show the link as it was before the
    /// person acted (some instances show a relink only once the token expires), and a plan
    /// would take that for the state to start from and to restore.
    fn no_hidden_relinks(&mut self, rotation: &Rotation) {
        for service in rotation.services() {
            let Some(ask) = self.leftovers.relink_asked(service) else {
                continue;
            };
            // A link that shows the relink was read after it, or shows it live.
            if self.live.linked_user(service) != Some(&ask.away_from)
                || !self.live.link_read_before(service, ask.until)
            {
                continue;
            }
            let at = |t: chrono::DateTime<chrono::Utc>| {
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            };
            self.conflict(format!(
                "the link of service `{service}` cannot be read yet: run `{run}` had asked a person to relink it away from `{away}` when it was abandoned at {until}, and Marketo's access token for `{service}`, which names `{away}`, is older than that, so it may not show the relink (Marketo may show one only once the token expires); plan again once it has, by {by} at the latest",
                run = ask.run,
                away = ask.away_from,
                until = at(ask.until),
                by = at(ask.until + chrono::Duration::hours(1)),
            ));
        }
    }

    /// Refuses what would cut relinker off from the instance or hand an integration
    /// relinker's own powers: moving the admin service, linking a service to the admin
    /// service's user, or a temporary user that holds a service already or is the new email.
    fn no_self_harm(&mut self, rotation: &Rotation) {
        for service in rotation.services() {
            if self.live.admin_services.contains(service) {
                self.conflict(format!(
                    "service `{service}` is relinker's own admin service (its client id is `instance.client_id`): relinking it would cut relinker off from the instance"
                ));
            }
        }
        let targets: Vec<(&UserId, &str)> = match rotation {
            Rotation::Rename { temporary_user, .. } => vec![(temporary_user, "the temporary user")],
            Rotation::Replace { with, .. } => {
                with.iter().map(|s| (&s.user, "the new user")).collect()
            }
            Rotation::Relink { to, .. } => vec![(to, "the target user")],
        };
        for (target, role) in targets {
            if self.live.is_admin_user(target) {
                self.conflict(format!(
                    "{role} `{target}` is the user relinker's own admin service is linked to: the services would run with User Management rights"
                ));
            }
        }
        let Rotation::Rename {
            email,
            temporary_user,
            services,
            ..
        } = rotation
        else {
            return;
        };
        if email == temporary_user {
            self.conflict(format!(
                "the temporary user `{temporary_user}` is also the rename's new email: the rename would collide with it"
            ));
        }
        // Services of this rotation may hold the temporary user mid-rotation; any other
        // service of the plan holding it would lose its user when it is deleted.
        for (service, link) in &self.live.links {
            if let LinkObservation::Linked(link) = link
                && link.userid == *temporary_user
                && !services.contains(service)
            {
                self.conflict(format!(
                    "the temporary user `{temporary_user}` is the user service `{service}` is linked to: a temporary user must hold no other service"
                ));
            }
        }
    }

    /// The rotated user: must exist, be accepted, be API-only, and not be relinker's own.
    fn rotated_user(&mut self, user: &UserId, what: &str) -> Option<UserRecord> {
        if self.live.is_pending(user) {
            self.conflict(format!(
                "`{user}` is a pending invitation, not a user; it cannot be {what}"
            ));
            return None;
        }
        let Some(record) = self.live.user(user).cloned() else {
            self.conflict(format!("user `{user}` does not exist"));
            return None;
        };
        if !record.api_only {
            self.conflict(format!(
                "user `{user}` is not an API-only user; relinker rotates API-only users only"
            ));
        }
        if self.live.is_admin_user(user) {
            self.conflict(format!(
                "`{user}` is the user relinker's own admin service is linked to; rotating it would cut relinker off mid-run"
            ));
        }
        Some(record)
    }

    /// Where each service is linked now. When `fits` names users, a service linked to anyone
    /// else is a conflict (the plan was written for another state).
    fn current_links(&mut self, services: &[ServiceName], fits: &[&UserId]) -> Vec<Link> {
        let mut links = Vec::new();
        for service in services {
            match self.live.links.get(service) {
                Some(LinkObservation::Linked(link)) => {
                    if let Some(expected) = fits.first()
                        && !fits.contains(&&link.userid)
                    {
                        self.conflict(format!(
                            "service `{service}` is linked to `{}`, not `{expected}` as the plan expects",
                            link.userid
                        ));
                    }
                    links.push((service.clone(), link.userid.clone()));
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

    /// Takes `holder` over if an abandoned run made it and left it: its creating step `id` holds
    /// already, as this run's. Answers whether it did.
    fn take_over(
        &mut self,
        holder: &UserId,
        id: &str,
        last_name: &str,
        roles: &[RolePair],
    ) -> bool {
        let Some(run) = self.leftovers.left_by(holder) else {
            return false;
        };
        self.warnings.push(format!(
            "`{holder}` was made by run {run}, which was abandoned with it in place: this run takes it over as its own"
        ));
        self.step(
            id,
            create(holder, last_name, roles),
            Readiness::AlreadySatisfied,
        );
        true
    }

    /// Ensures `holder` exists as an API-only user with `roles`: create it, or add what it lacks.
    /// Answers whether this run creates it.
    /// `tag` ends its step names, to tell several new users of one rotation apart.
    fn ensure_holder(
        &mut self,
        holder: &UserId,
        roles: &[RolePair],
        kind: Holder,
        tag: &str,
    ) -> bool {
        let (name, last_name) = match kind {
            Holder::Temporary => ("temporary-user", "temporary user"),
            Holder::Final => ("new-user", "integration user"),
        };
        if self.live.is_pending(holder) {
            let whose = self.leftovers.left_by(holder).map_or_else(String::new, |run| {
                format!(
                    " (run {run} sent it and was abandoned): once it is accepted, this plan takes the user over; or delete the invitation in Admin > Users & Roles"
                )
            });
            self.conflict(format!(
                "`{holder}` is a pending invitation; it cannot hold services{whose}"
            ));
            return false;
        }
        let Some(existing) = self.live.user(holder).cloned() else {
            if let Some(owner) = self.live.addresses.get(holder) {
                self.conflict(format!(
                    "`{holder}` is already the email address of `{owner}`"
                ));
            }
            self.step(
                &format!("create-{name}{tag}"),
                create(holder, last_name, roles),
                Readiness::Pending,
            );
            return true;
        };
        if !existing.api_only {
            self.conflict(format!(
                "`{holder}` exists and is not an API-only user; a service can only be linked to one"
            ));
        }
        // Made by a run a person gave up: relinker's own, so this run takes it over as if it
        // made it, and deletes it where the plan deletes what it makes.
        let taken_over = self.take_over(holder, &format!("create-{name}{tag}"), last_name, roles);
        let held: BTreeSet<&RolePair> = existing.roles.iter().collect();
        let missing: Vec<RolePair> = roles
            .iter()
            .filter(|r| !held.contains(r))
            .copied()
            .collect();
        let wanted: BTreeSet<&RolePair> = roles.iter().collect();
        let extra = existing
            .roles
            .iter()
            .filter(|r| !wanted.contains(r))
            .count();
        match kind {
            _ if extra == 0 => {}
            Holder::Temporary => self.warnings.push(format!(
                "`{holder}` already holds {extra} role/workspace pair(s) the original user does not; the services will run with them while linked to it"
            )),
            // The promise is that services end up with exactly the original roles; taking
            // roles from a user this run did not create is a person's call.
            Holder::Final => self.conflict(format!(
                "`{holder}` already holds {extra} role/workspace pair(s) the original user does not; the services would gain them. Remove them in Admin > Users & Roles, or choose another user"
            )),
        }
        if taken_over && missing.is_empty() {
            return true;
        }
        let readiness = if missing.is_empty() {
            Readiness::AlreadySatisfied
        } else {
            Readiness::Pending
        };
        self.step(
            &format!("add-roles-{name}{tag}"),
            Op::AddRoles {
                user: holder.clone(),
                roles: missing,
            },
            readiness,
        );
        taken_over
    }

    fn links_to(&mut self, links: &[Link], from: &UserId, to: &UserId, name: &str) {
        for (service, current) in links {
            let readiness = if current == to {
                Readiness::AlreadySatisfied
            } else {
                Readiness::Pending
            };
            self.step(
                &format!("link-{}-{name}", service.slug()),
                Op::LinkService {
                    service: service.clone(),
                    from: from.clone(),
                    to: to.clone(),
                },
                readiness,
            );
        }
    }

    /// The rotation's proof. `email` is the user's mailbox once the rotation is done, which
    /// the proof names beside the userid where they differ; `tag` ends the step's name.
    fn verify(
        &mut self,
        links: &[Link],
        user: &UserId,
        roles: &[RolePair],
        email: &str,
        tag: &str,
    ) {
        self.step(
            &format!("verify{tag}"),
            Op::Verify {
                services: links.iter().map(|(s, _)| s.clone()).collect(),
                user: user.clone(),
                roles: roles.to_vec(),
                email: (!address::same(email, user.as_str())).then(|| email.to_owned()),
            },
            Readiness::Pending,
        );
    }

    fn rename(&mut self, rotation: &Rotation) {
        let Rotation::Rename {
            user,
            email,
            first_name,
            last_name,
            temporary_user,
            temporary,
            services,
        } = rotation
        else {
            return;
        };
        let Some(record) = self.rotated_user(user, "renamed") else {
            return;
        };
        let links = self.current_links(services, &[user, temporary_user]);
        if let Some(owner) = self.live.addresses.get(email)
            && owner != user
        {
            self.conflict(format!("email `{email}` is already used by `{owner}`"));
        }
        let change = UserUpdate {
            email: (!address::same(&record.email, email.as_str())).then(|| email.to_string()),
            first_name: first_name
                .as_deref()
                .filter(|f| *f != record.first_name)
                .map(str::to_owned),
            last_name: last_name
                .as_deref()
                .filter(|l| *l != record.last_name)
                .map(str::to_owned),
            expires_at: None,
        };
        let updated = change.is_empty();
        if updated && links.iter().all(|(_, at)| at == user) {
            // Finished: the user already has its new attributes and every service runs as it.
            // Only the proof remains, and the temporary user an abandoned run left part way.
            let leftover = self.finished_temporary(*temporary, temporary_user, &record.roles);
            self.verify(&links, user, &record.roles, email.as_str(), "");
            if leftover {
                self.delete_temporary(temporary_user);
            }
            return;
        }
        let previous = UserUpdate {
            email: change.email.as_ref().map(|_| record.email.clone()),
            first_name: change
                .first_name
                .as_ref()
                .map(|_| record.first_name.clone()),
            last_name: change.last_name.as_ref().map(|_| record.last_name.clone()),
            expires_at: None,
        };
        let created = self.ensure_holder(temporary_user, &record.roles, Holder::Temporary, "");
        self.links_to(&links, user, temporary_user, "to-temporary-user");
        // Nothing to change still records the step, so reviewers see the rename is already done.
        let (change, readiness) = if updated {
            let change = UserUpdate {
                email: Some(email.to_string()),
                ..UserUpdate::default()
            };
            (change, Readiness::AlreadySatisfied)
        } else {
            (change, Readiness::Pending)
        };
        self.step(
            "update-user",
            Op::UpdateUser {
                user: user.clone(),
                change,
                previous,
            },
            readiness,
        );
        for (service, _) in &links {
            self.step(
                &format!("link-{}-back", service.slug()),
                Op::LinkService {
                    service: service.clone(),
                    from: temporary_user.clone(),
                    to: user.clone(),
                },
                Readiness::Pending,
            );
        }
        self.verify(&links, user, &record.roles, email.as_str(), "");
        if created && *temporary == TemporaryUser::DeleteIfCreated {
            self.delete_temporary(temporary_user);
        }
    }

    /// The temporary user of a rename that is already finished, if it exists: one an abandoned
    /// run left is taken over (answers true: the run deletes it after the proof); anyone
    /// else's is kept.
    fn finished_temporary(
        &mut self,
        temporary: TemporaryUser,
        temporary_user: &UserId,
        roles: &[RolePair],
    ) -> bool {
        if temporary != TemporaryUser::DeleteIfCreated || self.live.user(temporary_user).is_none() {
            return false;
        }
        if self.take_over(
            temporary_user,
            "create-temporary-user",
            "temporary user",
            roles,
        ) {
            return true;
        }
        self.warnings.push(format!(
            "`{temporary_user}` exists, but this run does not create it, so it is kept"
        ));
        false
    }

    /// Deletes the temporary user the rotation made or took over, once its proof passed.
    fn delete_temporary(&mut self, temporary_user: &UserId) {
        self.step(
            "delete-temporary-user",
            Op::DeleteUser {
                user: temporary_user.clone(),
            },
            Readiness::Pending,
        );
    }

    /// A replace whose old user is gone and whose services all run as their new users is
    /// finished: only the proofs remain.
    fn replaced_already(&mut self, user: &UserId, with: &[Successor]) -> bool {
        if self.live.user(user).is_some() || self.live.is_pending(user) {
            return false;
        }
        let done = with.iter().all(|successor| {
            self.live.user(&successor.user).is_some()
                && successor
                    .services
                    .iter()
                    .all(|s| self.live.linked_user(s) == Some(&successor.user))
        });
        if !done {
            return false;
        }
        for successor in with {
            let Some(new) = self.live.user(&successor.user).cloned() else {
                continue;
            };
            let links = self.current_links(&successor.services, &[&successor.user]);
            self.verify(
                &links,
                &successor.user,
                &new.roles,
                &new.email,
                &Self::tag(with, successor),
            );
        }
        true
    }

    /// What tells apart the steps of one successor from another's: nothing for a single
    /// successor (its steps keep their plain names), else its first service's slug.
    fn tag(with: &[Successor], successor: &Successor) -> String {
        match (with.len(), successor.services.first()) {
            (2.., Some(service)) => format!("-{}", service.slug()),
            _ => String::new(),
        }
    }

    fn replace(&mut self, user: &UserId, with: &[Successor], retire: Retire) {
        if retire == Retire::Delete && self.replaced_already(user, with) {
            return;
        }
        let Some(record) = self.rotated_user(user, "replaced") else {
            return;
        };
        if retire != Retire::Keep {
            self.still_in_use(user);
        }
        // Every new user is set up, then every service moved (the relinks are one sitting for
        // a person), then every proof: the last proof is the rotation's pivot, so nothing is
        // kept before every service runs as its own user.
        for successor in with {
            let tag = Self::tag(with, successor);
            self.ensure_holder(&successor.user, &record.roles, Holder::Final, &tag);
        }
        let moves: Vec<(Vec<Link>, &Successor)> = with
            .iter()
            .map(|successor| {
                let links = self.current_links(&successor.services, &[user, &successor.user]);
                (links, successor)
            })
            .collect();
        for (links, successor) in &moves {
            self.links_to(links, user, &successor.user, "to-new-user");
        }
        for (links, successor) in &moves {
            let email = self
                .live
                .user(&successor.user)
                .map_or_else(|| successor.user.to_string(), |user| user.email.clone());
            let tag = Self::tag(with, successor);
            self.verify(links, &successor.user, &record.roles, &email, &tag);
        }
        match retire {
            Retire::Delete => self.step(
                "delete-old-user",
                Op::DeleteUser { user: user.clone() },
                Readiness::Pending,
            ),
            Retire::Expire => {
                let expired = record
                    .expires_at
                    .zip(self.live.observed_at)
                    .is_some_and(|(at, now)| at <= now);
                let readiness = if expired {
                    Readiness::AlreadySatisfied
                } else {
                    Readiness::Pending
                };
                self.step(
                    "expire-old-user",
                    Op::ExpireUser { user: user.clone() },
                    readiness,
                );
            }
            Retire::Keep => self.warnings.push(format!(
                "`{user}` is kept after the services move off it (`retire: keep`)"
            )),
        }
    }

    /// Warns when `user`, about to be retired, made calls in the last seven days that no
    /// service of the plan explains: an integration relinker has no credentials for may still
    /// run as it, and would stop.
    fn still_in_use(&mut self, user: &UserId) {
        let calls = match &self.live.usage {
            UsageObservation::NotRead => return,
            UsageObservation::Unreadable(reason) => {
                self.warnings.push(format!(
                    "the usage statistics could not be read ({reason}): whether an integration relinker does not know still calls as `{user}` is unknown"
                ));
                return;
            }
            UsageObservation::Calls(calls) => calls.get(user).copied().unwrap_or(0),
        };
        let explained = self
            .live
            .links
            .values()
            .any(|link| matches!(link, LinkObservation::Linked(link) if link.userid == *user));
        if calls > 0 && !explained {
            self.warnings.push(format!(
                "`{user}` made {calls} calls in the last 7 days, yet no service of this plan runs as it: an integration relinker has no credentials for may still depend on it (calls from before a relink also count for 7 days)"
            ));
        }
    }

    fn relink(&mut self, services: &[ServiceName], to: &UserId) {
        let Some(target) = self.live.user(to).cloned() else {
            let what = if self.live.is_pending(to) {
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
        let links = self.current_links(services, &[]);
        for (service, from) in &links {
            let readiness = if from == to {
                Readiness::AlreadySatisfied
            } else {
                Readiness::Pending
            };
            self.step(
                &format!("link-{}", service.slug()),
                Op::LinkService {
                    service: service.clone(),
                    from: from.clone(),
                    to: to.clone(),
                },
                readiness,
            );
        }
        self.verify(&links, to, &target.roles, &target.email.clone(), "");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::plan::Plan;
    use crate::provider::marketo::ServiceLink;
    use crate::provider::{Performer, Reversibility};
    use crate::secret::Fingerprinter;

    /// The Marketo operation of a step.
    fn op(step: &Step) -> &Op {
        let crate::provider::Op::Marketo(op) = &step.action else {
            panic!("a Marketo step")
        };
        op
    }

    const PLAN: &str = "version: 1
name: t
instance: { provider: marketo, base_url: https://x.mktorest.com, client_id: adm, client_secret: '${env:S}' }
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

    fn uid(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    fn user(userid: &str, api_only: bool, roles: &[RolePair]) -> UserRecord {
        UserRecord {
            userid: uid(userid),
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
            userid: uid(userid),
            credentials: Fingerprinter::legacy().fingerprint(&[b"x"]),
        })
    }

    /// The live state the plan was written for.
    fn live() -> Snapshot {
        let mut live = Snapshot {
            admin_user: Some(uid("admin@acme.example")),
            ..Snapshot::default()
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
            live.links.insert(ServiceName::new(service), linked(to));
        }
        live
    }

    fn spec(plan: &Plan) -> &Spec {
        let crate::plan::Spec::Marketo(spec) = &plan.spec else {
            panic!("a Marketo plan")
        };
        spec
    }

    fn plan() -> Plan {
        crate::plan::parse(PLAN, "t.yaml", Path::new(".")).unwrap()
    }

    fn ids(compiled: &Compiled) -> Vec<&str> {
        compiled.steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[track_caller]
    fn conflicts_with(live: &Snapshot, expected: &str) {
        let compiled = compile(spec(&plan()), live, &Leftovers::default());
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
    fn a_retired_user_still_called_as_by_no_known_service_is_a_warning() {
        let still_used = |live: &Snapshot| {
            compile(spec(&plan()), live, &Leftovers::default())
                .warnings
                .into_iter()
                .filter(|w| w.contains("bob@acme.example"))
                .collect::<Vec<_>>()
        };
        let calls = |n| UsageObservation::Calls([(uid("bob@acme.example"), n)].into());
        let mut live = live();
        // `crm` runs as bob: its calls explain bob's.
        live.usage = calls(340);
        assert_eq!(still_used(&live), Vec::<String>::new());
        live.links
            .insert(ServiceName::new("crm"), linked("api.crm@acme.example"));
        live.usage = calls(0);
        assert_eq!(still_used(&live), Vec::<String>::new());
        live.usage = calls(340);
        let warned = still_used(&live);
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].starts_with("`bob@acme.example` made 340 calls in the last 7 days, yet no service of this plan runs as it"),
            "{warned:?}"
        );
        live.usage = UsageObservation::Unreadable("603 Access denied".into());
        let warned = still_used(&live);
        assert!(
            warned.len() == 1 && warned[0].contains("could not be read (603 Access denied)"),
            "{warned:?}"
        );
    }

    /// `with: api.{service}@…`: each service gets a new user of its own, every proof comes
    /// before the deletion, and a finished replace plans as its proofs alone.
    #[test]
    fn a_replace_gives_each_service_its_own_user_with_the_service_placeholder() {
        let text = PLAN.replace(
            "  - rename: { user: jane@acme.example, email: api.sync@acme.example, first_name: Sync,\n              temporary_user: temp@acme.example, services: [sync, export] }\n  - replace: { user: bob@acme.example, with: api.crm@acme.example, services: [crm] }\n  - relink: { services: [web], to: api.web@acme.example }",
            "  - replace: { user: jane@acme.example, with: 'api.{service}@acme.example', services: [sync, export] }",
        );
        let plan = crate::plan::parse(&text, "t.yaml", Path::new(".")).unwrap();
        let compiled = compile(spec(&plan), &live(), &Leftovers::default());
        assert_eq!(compiled.conflicts, []);
        assert_eq!(
            ids(&compiled),
            [
                "r0-create-new-user-sync",
                "r0-create-new-user-export",
                "r0-link-sync-to-new-user",
                "r0-link-export-to-new-user",
                "r0-verify-sync",
                "r0-verify-export",
                "r0-delete-old-user",
            ]
        );
        let Op::LinkService { to, .. } = op(&compiled.steps[3]) else {
            panic!("a link")
        };
        assert_eq!(to.as_str(), "api.export@acme.example");
        assert_eq!(
            [spec(&plan).rotations[0].heading()],
            [
                "replace `jane@acme.example` with `api.sync@acme.example` (`sync`), `api.export@acme.example` (`export`) (retire: delete)"
            ]
        );

        // Finished: jane is gone, each service runs as its own user.
        let mut done = live();
        done.users.remove(&uid("jane@acme.example"));
        for (service, userid) in [
            ("sync", "api.sync@acme.example"),
            ("export", "api.export@acme.example"),
        ] {
            let record = user(userid, true, &[pair(110, 1), pair(101, 1008)]);
            done.users.insert(record.userid.clone(), record);
            done.links.insert(ServiceName::new(service), linked(userid));
        }
        let again = compile(spec(&plan), &done, &Leftovers::default());
        assert_eq!(again.conflicts, []);
        assert_eq!(ids(&again), ["r0-verify-sync", "r0-verify-export"]);
    }

    #[test]
    fn compiles_each_intent_in_the_designed_order() {
        let compiled = compile(spec(&plan()), &live(), &Leftovers::default());
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
        let people = compiled
            .steps
            .iter()
            .filter(|s| s.performer() == Performer::Person)
            .count();
        assert_eq!(people, 6);
        // Irreversible steps come after their rotation's verification.
        for (index, step) in compiled.steps.iter().enumerate() {
            if step.reversibility() == Reversibility::Irreversible {
                assert!(
                    matches!(op(&compiled.steps[index - 1]), Op::Verify { .. }),
                    "{}",
                    step.id
                );
            }
        }
        let Op::CreateUser { roles, .. } = op(&compiled.steps[0]) else {
            panic!()
        };
        assert_eq!(
            roles,
            &[pair(110, 1), pair(101, 1008)],
            "the temporary user gets exactly the user's roles"
        );
        let Op::UpdateUser {
            change, previous, ..
        } = op(&compiled.steps[3])
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
            uid("temp@acme.example"),
            user("temp@acme.example", true, &[pair(110, 1), pair(2, 1)]),
        );
        let compiled = compile(spec(&plan()), &live, &Leftovers::default());
        assert_eq!(compiled.steps[0].id.as_str(), "r0-add-roles-temporary-user");
        assert_eq!(
            op(&compiled.steps[0]),
            &Op::AddRoles {
                user: uid("temp@acme.example"),
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
            uid("api.crm@acme.example"),
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
            .insert(ServiceName::new("web"), linked("api.web@acme.example"));
        // A rename half done: the services wait on the temporary user, the user is updated.
        if let Some(jane) = live.users.get_mut(&uid("jane@acme.example")) {
            jane.email = "api.sync@acme.example".into();
            jane.first_name = "Sync".into();
        }
        live.users.insert(
            uid("temp@acme.example"),
            user("temp@acme.example", true, &[pair(110, 1), pair(101, 1008)]),
        );
        for service in ["sync", "export"] {
            live.links
                .insert(ServiceName::new(service), linked("temp@acme.example"));
        }
        let compiled = compile(spec(&plan()), &live, &Leftovers::default());
        let readiness = |id: &str| {
            compiled
                .steps
                .iter()
                .find(|s| s.id.as_str() == id)
                .map(|s| s.readiness)
        };
        assert_eq!(readiness("r2-link-web"), Some(Readiness::AlreadySatisfied));
        for id in [
            "r0-add-roles-temporary-user",
            "r0-link-sync-to-temporary-user",
            "r0-update-user",
        ] {
            assert_eq!(readiness(id), Some(Readiness::AlreadySatisfied), "{id}");
        }
        assert_eq!(readiness("r0-link-sync-back"), Some(Readiness::Pending));
        assert_eq!(
            readiness("r0-delete-temporary-user"),
            None,
            "not created by this run"
        );
    }

    #[test]
    fn every_conflict_is_detected() {
        let mut missing = live();
        missing.users.remove(&uid("jane@acme.example"));
        conflicts_with(&missing, "user `jane@acme.example` does not exist");

        let mut pending = missing.clone();
        pending.pending.insert(uid("jane@acme.example"));
        conflicts_with(&pending, "is a pending invitation");

        let mut human = live();
        human.users.insert(
            uid("bob@acme.example"),
            user("bob@acme.example", false, &[pair(2, 1)]),
        );
        conflicts_with(&human, "`bob@acme.example` is not an API-only user");

        let mut elsewhere = live();
        elsewhere
            .links
            .insert(ServiceName::new("export"), linked("carol@acme.example"));
        conflicts_with(
            &elsewhere,
            "service `export` is linked to `carol@acme.example`, not `jane@acme.example`",
        );

        let mut refused = live();
        refused.links.insert(
            ServiceName::new("crm"),
            LinkObservation::Refused {
                reason: "HTTP 401".into(),
            },
        );
        conflicts_with(&refused, "the credentials of service `crm` do not work");

        let mut taken = live();
        taken
            .addresses
            .insert(uid("api.sync@acme.example"), uid("someone@acme.example"));
        conflicts_with(
            &taken,
            "email `api.sync@acme.example` is already used by `someone@acme.example`",
        );

        let mut not_api = live();
        not_api.users.insert(
            uid("api.crm@acme.example"),
            user("api.crm@acme.example", false, &[]),
        );
        conflicts_with(
            &not_api,
            "`api.crm@acme.example` exists and is not an API-only user",
        );

        let mut own = live();
        own.admin_user = Some(uid("bob@acme.example"));
        conflicts_with(&own, "relinker's own admin service");

        let mut no_target = live();
        no_target.users.remove(&uid("api.web@acme.example"));
        conflicts_with(&no_target, "user `api.web@acme.example` does not exist");

        let mut strict = plan();
        strict.policy.max_deletions = 1;
        let compiled = crate::provider::compile(
            &strict,
            &crate::provider::LiveState::Marketo(live()),
            &Leftovers::default(),
        );
        assert!(
            compiled
                .conflicts
                .iter()
                .any(|c| c.message.contains("would delete 2 users")),
            "{:?}",
            compiled.conflicts
        );
    }

    /// The live state once the whole plan has run.
    fn finished() -> Snapshot {
        let mut live = live();
        if let Some(jane) = live.users.get_mut(&uid("jane@acme.example")) {
            jane.email = "api.sync@acme.example".into();
            jane.first_name = "Sync".into();
        }
        live.addresses
            .insert(uid("api.sync@acme.example"), uid("jane@acme.example"));
        let bob = live.users.remove(&uid("bob@acme.example")).unwrap();
        live.addresses.remove(&uid("bob@acme.example"));
        live.users.insert(
            uid("api.crm@acme.example"),
            user("api.crm@acme.example", true, &bob.roles),
        );
        for (service, to) in [
            ("crm", "api.crm@acme.example"),
            ("web", "api.web@acme.example"),
        ] {
            live.links.insert(ServiceName::new(service), linked(to));
        }
        live
    }

    #[test]
    fn a_finished_plan_compiles_to_its_proofs_alone() {
        let compiled = compile(spec(&plan()), &finished(), &Leftovers::default());
        assert_eq!(compiled.conflicts, []);
        assert_eq!(
            ids(&compiled),
            ["r0-verify", "r1-verify", "r2-link-web", "r2-verify"]
        );
        assert_eq!(compiled.steps[2].readiness, Readiness::AlreadySatisfied);
        assert!(!compiled.has_changes());
        let Op::Verify { user, roles, .. } = op(&compiled.steps[1]) else {
            panic!()
        };
        assert_eq!((user.as_str(), roles.len()), ("api.crm@acme.example", 1));
    }

    #[test]
    fn a_rename_spelled_in_another_case_matches_its_user() {
        let mut live = live();
        let jane = live.users.remove(&uid("jane@acme.example")).unwrap();
        let jorg = UserRecord {
            userid: uid("jörg@acme.example"),
            email: "jörg@acme.example".into(),
            ..jane
        };
        live.users.insert(jorg.userid.clone(), jorg);
        for service in ["sync", "export"] {
            live.links
                .insert(ServiceName::new(service), linked("jörg@acme.example"));
        }
        let plan = crate::plan::parse(
            &PLAN.replace("user: jane@acme.example", "user: JÖRG@acme.example"),
            "t.yaml",
            Path::new("."),
        )
        .unwrap();
        let compiled = compile(spec(&plan), &live, &Leftovers::default());
        assert_eq!(compiled.conflicts, [], "one user, however it is spelled");
    }

    #[test]
    fn nothing_cuts_relinker_off_or_hands_out_its_powers() {
        // Moving relinker's own admin service.
        let mut admin_service = live();
        admin_service.admin_services.insert(ServiceName::new("web"));
        conflicts_with(
            &admin_service,
            "service `web` is relinker's own admin service",
        );

        // Linking any service to the admin service's user.
        for (target, role) in [
            ("api.web@acme.example", "the target user"),
            ("api.crm@acme.example", "the new user"),
            ("temp@acme.example", "the temporary user"),
        ] {
            let mut powers = live();
            powers.admin_user = Some(uid(target));
            conflicts_with(
                &powers,
                &format!("{role} `{target}` is the user relinker's own admin service is linked to"),
            );
        }

        // A temporary user another service of the plan is linked to.
        let mut held = live();
        held.links
            .insert(ServiceName::new("crm"), linked("temp@acme.example"));
        conflicts_with(
            &held,
            "the temporary user `temp@acme.example` is the user service `crm` is linked to",
        );

        // A temporary user that is the rename's new email.
        let same = PLAN.replace(
            "temporary_user: temp@acme.example",
            "temporary_user: api.sync@acme.example",
        );
        let colliding = crate::plan::parse(&same, "t.yaml", Path::new(".")).unwrap();
        let compiled = compile(spec(&colliding), &live(), &Leftovers::default());
        assert!(
            compiled
                .conflicts
                .iter()
                .any(|c| c.message.contains("is also the rename's new email")),
            "{:?}",
            compiled.conflicts
        );

        // The plan as written harms nothing.
        assert_eq!(
            compile(spec(&plan()), &live(), &Leftovers::default()).conflicts,
            []
        );
    }
}
