//! Sandbox fixtures: the YAML (or JSON, with the same fields) that seeds an emulated instance.
//!
//! ```yaml
//! users:
//!   - userid: api.sync@acme.example
//!     first_name: Salesforce
//!     last_name: Sync
//!     api_only: true
//!     roles: [{ role: API Integrations, workspace: Default }]
//! services:
//!   - name: salesforce-sync
//!     client_id: 3f1c...
//!     client_secret: 9b2e...
//!     user: api.sync@acme.example
//! ```
//!
//! Roles and workspaces default to the reference's. docs/sandbox.md documents every field.
//! Reading either notation is `crate::sandbox::fixture`'s; this module validates what was read.
//! A fixture holds sandbox credentials in clear: they exist only inside the emulator.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::behaviours::{Behaviours, Setting};
use super::dates::{self, quota_day};
use super::model::{
    ALL_ZONES_ID, ALL_ZONES_NAME, Invitation, Permission, Role, RoleAssignment, Service, User,
    Workspace, reference_roles, reference_workspaces,
};
use super::world::{USAGE_DAYS, World, key};
use crate::diagnostic::Diagnostic;
use crate::sandbox::fixture as shared;
pub use crate::sandbox::fixture::FixtureError;
use crate::secret::Secret;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    /// `marketo`, when given.
    #[serde(default)]
    provider: Option<Spanned<String>>,
    #[serde(default)]
    subscription_id: Option<u64>,
    #[serde(default)]
    roles: Option<Vec<RawRole>>,
    #[serde(default)]
    workspaces: Option<Vec<RawWorkspace>>,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    invitations: Vec<RawInvitation>,
    #[serde(default)]
    services: Vec<RawService>,
    /// Readings of what the reference leaves open: `token-scope-after-relink: minted`.
    #[serde(default)]
    behaviours: Option<Spanned<shared::Entries>>,
    /// Calls API users made before the sandbox started (usage statistics).
    #[serde(default)]
    usage: Vec<RawUsage>,
}

/// Calls one API user made on one earlier day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUsage {
    userid: Spanned<String>,
    /// Quota days before today (0..=6): older days no statistic reports.
    #[serde(default)]
    days_ago: Option<Spanned<u32>>,
    calls: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    id: u64,
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "custom", rename = "type")]
    kind: String,
    #[serde(default)]
    only_all_zones: bool,
    #[serde(default)]
    permissions: BTreeSet<Permission>,
}

fn custom() -> String {
    "custom".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkspace {
    id: u64,
    name: Spanned<String>,
    #[serde(default)]
    description: String,
}

/// A role or workspace named by its name or its id.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum NameOrId {
    Id(u64),
    Name(String),
}

impl std::fmt::Display for NameOrId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameOrId::Id(id) => write!(f, "{id}"),
            NameOrId::Name(name) => f.write_str(name),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    role: NameOrId,
    workspace: NameOrId,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    userid: Spanned<String>,
    #[serde(default)]
    email: Option<Spanned<String>>,
    first_name: String,
    last_name: String,
    #[serde(default)]
    api_only: bool,
    roles: Spanned<Vec<Spanned<RawAssignment>>>,
    #[serde(default)]
    expires_at: Option<Spanned<String>>,
    /// When the user last logged in (API-only users log in by calling the API).
    #[serde(default)]
    last_login_at: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvitation {
    userid: Spanned<String>,
    #[serde(default)]
    email: Option<Spanned<String>>,
    first_name: String,
    last_name: String,
    roles: Spanned<Vec<Spanned<RawAssignment>>>,
    /// Days since the invitation was sent (0..=6); it lapses at 7.
    #[serde(default)]
    sent_days_ago: Option<Spanned<u32>>,
    /// An API-only user's pending invitation (`api-only-invitations: pending`).
    #[serde(default)]
    api_only: bool,
}

/// A date-time field of a fixture, in any format Marketo writes; a problem names `field.name`.
fn date(
    text: Option<Spanned<String>>,
    field: &str,
    name: &str,
    problems: &mut Vec<Diagnostic>,
) -> Option<DateTime<Utc>> {
    let text = text?;
    dates::parse(&text.value)
        .map_err(|e| {
            problems.push(Diagnostic::at(
                text.referenced,
                format!("{field}.{name}"),
                e.to_string(),
            ));
        })
        .ok()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Spanned<String>,
    client_id: Spanned<String>,
    client_secret: String,
    user: Spanned<String>,
    #[serde(default)]
    admin: bool,
}

/// A LaunchPoint service declared by a fixture, credentials included.
#[derive(Debug, Clone)]
pub struct FixtureService {
    /// Service name as the UI shows it.
    pub name: String,
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: Secret,
    /// Userid of the API-only user it is linked to.
    pub user: String,
    /// Whether relinker acts as this service when the sandbox runs a plan.
    pub admin: bool,
}

/// A validated fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    subscription_id: u64,
    roles: Vec<Role>,
    workspaces: Vec<Workspace>,
    users: Vec<User>,
    invitations: Vec<(Invitation, u32)>,
    services: Vec<FixtureService>,
    behaviours: Vec<Setting>,
    /// Calls per userid, by quota days before today.
    usage: Vec<(String, u32, u64)>,
}

impl Default for Fixture {
    /// An instance with the reference's roles and workspaces and nothing else.
    fn default() -> Self {
        Self {
            subscription_id: 3381,
            roles: reference_roles(),
            workspaces: reference_workspaces(),
            users: Vec::new(),
            invitations: Vec::new(),
            services: Vec::new(),
            behaviours: Vec::new(),
            usage: Vec::new(),
        }
    }
}

/// The roles and workspaces a fixture's role pairs may name, indexed once: a copy of a large
/// instance names them hundreds of thousands of times. Names match regardless of ASCII case; of
/// two roles (or workspaces) with one name or id, the first is meant, as the lists' order says.
struct Names {
    roles_by_id: HashMap<u64, usize>,
    roles_by_name: HashMap<String, usize>,
    workspaces_by_id: HashSet<u64>,
    workspaces_by_name: HashMap<String, u64>,
    /// Where the roles were listed in a hint already: later hints point there, so a file with
    /// many unknown roles is not answered with the whole list each time.
    roles_listed_at: Option<String>,
    /// The same for workspaces.
    workspaces_listed_at: Option<String>,
}

impl Names {
    fn of(fixture: &Fixture) -> Self {
        let mut names = Self {
            roles_by_id: HashMap::with_capacity(fixture.roles.len()),
            roles_by_name: HashMap::with_capacity(fixture.roles.len()),
            workspaces_by_id: HashSet::with_capacity(fixture.workspaces.len()),
            workspaces_by_name: HashMap::with_capacity(fixture.workspaces.len()),
            roles_listed_at: None,
            workspaces_listed_at: None,
        };
        for (at, role) in fixture.roles.iter().enumerate() {
            names.roles_by_id.entry(role.id).or_insert(at);
            names
                .roles_by_name
                .entry(role.name.to_ascii_lowercase())
                .or_insert(at);
        }
        for workspace in &fixture.workspaces {
            names.workspaces_by_id.insert(workspace.id);
            names
                .workspaces_by_name
                .entry(workspace.name.to_ascii_lowercase())
                .or_insert(workspace.id);
        }
        names
    }

    /// Where the role a pair names is in the fixture's list.
    fn role(&self, named: &NameOrId) -> Option<usize> {
        match named {
            NameOrId::Id(id) => self.roles_by_id.get(id).copied(),
            NameOrId::Name(name) => self.roles_by_name.get(&name.to_ascii_lowercase()).copied(),
        }
    }

    /// The id of the workspace a pair names; `AllZones` always exists.
    fn workspace(&self, named: &NameOrId) -> Option<u64> {
        match named {
            NameOrId::Id(id) if *id == ALL_ZONES_ID => Some(ALL_ZONES_ID),
            NameOrId::Name(name) if name.eq_ignore_ascii_case(ALL_ZONES_NAME) => Some(ALL_ZONES_ID),
            NameOrId::Id(id) => self.workspaces_by_id.contains(id).then_some(*id),
            NameOrId::Name(name) => self
                .workspaces_by_name
                .get(&name.to_ascii_lowercase())
                .copied(),
        }
    }

    /// The hint for an unknown role at `here`: the roles, the first time.
    fn roles_hint(&mut self, roles: &[Role], here: &str) -> String {
        if let Some(listed) = &self.roles_listed_at {
            return format!("the roles are listed at `{listed}`");
        }
        self.roles_listed_at = Some(format!("{here}.role"));
        format!(
            "roles are: {}",
            roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// The hint for an unknown workspace at `here`: the workspaces, the first time.
    fn workspaces_hint(&mut self, workspaces: &[Workspace], here: &str) -> String {
        if let Some(listed) = &self.workspaces_listed_at {
            return format!("the workspaces are listed at `{listed}`");
        }
        self.workspaces_listed_at = Some(format!("{here}.workspace"));
        format!(
            "workspaces are: {ALL_ZONES_NAME}, {}",
            workspaces
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl Fixture {
    /// Reads and validates a fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        Self::parse(&shared::read(path)?, &path.display().to_string())
    }

    /// Validates fixture text; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self, FixtureError> {
        shared::parse_with(text, origin, Self::validate)
    }

    /// The services the fixture declares.
    pub fn services(&self) -> &[FixtureService] {
        &self.services
    }

    /// The service relinker acts as (`admin: true`).
    pub fn admin_service(&self) -> Option<&FixtureService> {
        self.services.iter().find(|s| s.admin)
    }

    fn validate(raw: RawFixture, problems: &mut Vec<Diagnostic>) -> Self {
        if let Some(provider) = raw.provider.filter(|p| p.value.trim() != "marketo") {
            problems.push(Diagnostic::at(
                provider.referenced,
                "provider",
                format!("this is a marketo fixture, not `{}`", provider.value),
            ));
        }
        let mut seen = BTreeSet::new();
        for (index, role) in raw.roles.iter().flatten().enumerate() {
            if !seen.insert(role.id) {
                problems.push(Diagnostic::at(
                    role.name.referenced,
                    format!("roles[{index}].id"),
                    format!("role id {} is declared twice", role.id),
                ));
            }
        }
        seen.clear();
        for (index, workspace) in raw.workspaces.iter().flatten().enumerate() {
            if !seen.insert(workspace.id) {
                problems.push(Diagnostic::at(
                    workspace.name.referenced,
                    format!("workspaces[{index}].id"),
                    format!("workspace id {} is declared twice", workspace.id),
                ));
            }
        }
        let roles = match raw.roles {
            None => reference_roles(),
            Some(raw_roles) => raw_roles
                .into_iter()
                .map(|r| Role {
                    id: r.id,
                    name: r.name.value,
                    description: r.description,
                    kind: r.kind,
                    hidden: false,
                    only_all_zones: r.only_all_zones,
                    permissions: r.permissions,
                    created_at: DateTime::UNIX_EPOCH,
                    updated_at: DateTime::UNIX_EPOCH,
                })
                .collect(),
        };
        let workspaces = match raw.workspaces {
            None => reference_workspaces(),
            Some(raw_workspaces) => raw_workspaces
                .into_iter()
                .map(|w| Workspace {
                    id: w.id,
                    name: w.name.value,
                    description: w.description,
                    global_viz: 0,
                    created_at: DateTime::UNIX_EPOCH,
                    updated_at: DateTime::UNIX_EPOCH,
                })
                .collect(),
        };
        let mut fixture = Fixture {
            subscription_id: raw.subscription_id.unwrap_or(3381),
            roles,
            workspaces,
            ..Fixture::default()
        };
        if let Some(behaviours) = raw.behaviours {
            for (key, value) in behaviours.value.0 {
                match Setting::new(&key, &value) {
                    Ok(setting) => fixture.behaviours.push(setting),
                    Err(error) => problems.push(Diagnostic::at(
                        behaviours.referenced,
                        format!("behaviours.{key}"),
                        error.to_string(),
                    )),
                }
            }
        }
        let mut taken = BTreeSet::new();
        let mut names = Names::of(&fixture);
        fixture.add_users(raw.users, &mut names, &mut taken, problems);
        fixture.add_invitations(raw.invitations, &mut names, &mut taken, problems);
        fixture.add_services(raw.services, problems);
        fixture.add_usage(raw.usage, problems);
        fixture
    }

    fn add_usage(&mut self, usage: Vec<RawUsage>, problems: &mut Vec<Diagnostic>) {
        for (index, day) in usage.into_iter().enumerate() {
            let days_ago = day.days_ago.as_ref().map_or(0, |d| d.value);
            if let Some(at) = day.days_ago.filter(|d| i64::from(d.value) >= USAGE_DAYS) {
                problems.push(Diagnostic::at(
                    at.referenced,
                    format!("usage[{index}].days_ago"),
                    format!(
                        "{days_ago} days ago is beyond the {USAGE_DAYS} days the usage statistics report (0 to {})",
                        USAGE_DAYS - 1
                    ),
                ));
                continue;
            }
            if let Err(reason) = crate::address::check(&day.userid.value) {
                problems.push(Diagnostic::at(
                    day.userid.referenced,
                    format!("usage[{index}].userid"),
                    reason.to_string(),
                ));
                continue;
            }
            self.usage.push((day.userid.value, days_ago, day.calls));
        }
    }

    fn add_users(
        &mut self,
        users: Vec<RawUser>,
        names: &mut Names,
        taken: &mut BTreeSet<String>,
        problems: &mut Vec<Diagnostic>,
    ) {
        for (index, user) in users.into_iter().enumerate() {
            let field = format!("users[{index}]");
            let (userid, email) =
                Self::identity(&field, &user.userid, user.email.as_ref(), taken, problems);
            let roles = self.assignments(&field, &user.roles, names, problems);
            let expires_at = date(user.expires_at, &field, "expires_at", problems);
            let last_login_at = date(user.last_login_at, &field, "last_login_at", problems);
            self.users.push(User {
                id: 0,
                userid,
                email,
                first_name: user.first_name,
                last_name: user.last_name,
                api_only: user.api_only,
                roles,
                expires_at,
                last_login_at,
            });
        }
    }

    fn add_invitations(
        &mut self,
        invitations: Vec<RawInvitation>,
        names: &mut Names,
        taken: &mut BTreeSet<String>,
        problems: &mut Vec<Diagnostic>,
    ) {
        for (index, invitation) in invitations.into_iter().enumerate() {
            let field = format!("invitations[{index}]");
            let (userid, email) = Self::identity(
                &field,
                &invitation.userid,
                invitation.email.as_ref(),
                taken,
                problems,
            );
            let roles = self.assignments(&field, &invitation.roles, names, problems);
            let days_ago = invitation.sent_days_ago.as_ref().map_or(0, |d| d.value);
            if let Some(sent) = invitation.sent_days_ago.as_ref().filter(|d| d.value >= 7) {
                problems.push(
                    Diagnostic::at(
                        sent.referenced,
                        format!("{field}.sent_days_ago"),
                        "an invitation lapses seven days after it is sent",
                    )
                    .with_hint("use 0 to 6"),
                );
            }
            let placeholder = DateTime::UNIX_EPOCH;
            self.invitations.push((
                Invitation {
                    id: 0,
                    userid,
                    email,
                    first_name: invitation.first_name,
                    last_name: invitation.last_name,
                    roles,
                    user_expires_at: None,
                    created_at: placeholder,
                    expires_at: placeholder,
                    api_only: invitation.api_only,
                },
                days_ago,
            ));
        }
    }

    fn add_services(&mut self, services: Vec<RawService>, problems: &mut Vec<Diagnostic>) {
        let mut names = BTreeSet::new();
        let mut client_ids = HashSet::new();
        // Whether each user is API-only, by lookup key (the first of a userid given twice).
        let mut api_only = HashMap::with_capacity(self.users.len());
        for user in &self.users {
            api_only.entry(key(&user.userid)).or_insert(user.api_only);
        }
        for (index, service) in services.into_iter().enumerate() {
            let field = format!("services[{index}]");
            if !names.insert(service.name.value.clone()) {
                problems.push(Diagnostic::at(
                    service.name.referenced,
                    format!("{field}.name"),
                    format!("service `{}` is declared twice", service.name.value),
                ));
            }
            if !client_ids.insert(service.client_id.value.clone()) {
                problems.push(Diagnostic::at(
                    service.client_id.referenced,
                    format!("{field}.client_id"),
                    "another service already has this client id",
                ));
            }
            match api_only.get(&key(&service.user.value)) {
                Some(true) => {}
                Some(false) => problems.push(
                    Diagnostic::at(
                        service.user.referenced,
                        format!("{field}.user"),
                        format!("user `{}` is not API-only", service.user.value),
                    )
                    .with_hint("a LaunchPoint service can only be linked to an API-only user (`api_only: true`)"),
                ),
                None => problems.push(
                    Diagnostic::at(
                        service.user.referenced,
                        format!("{field}.user"),
                        format!("user `{}` is not declared under `users`", service.user.value),
                    ),
                ),
            }
            self.services.push(FixtureService {
                name: service.name.value,
                client_id: service.client_id.value,
                client_secret: Secret::new(service.client_secret),
                user: service.user.value,
                admin: service.admin,
            });
        }
        if self.services.iter().filter(|s| s.admin).count() > 1 {
            problems.push(Diagnostic {
                line: 0,
                column: 0,
                field: "services".into(),
                message: "more than one service is marked `admin: true`".into(),
                hint: Some("mark only the service relinker authenticates as".into()),
            });
        }
    }

    fn identity(
        field: &str,
        userid: &Spanned<String>,
        email: Option<&Spanned<String>>,
        taken: &mut BTreeSet<String>,
        problems: &mut Vec<Diagnostic>,
    ) -> (String, String) {
        if let Err(why) = crate::address::check(&userid.value) {
            problems.push(Diagnostic::at(
                userid.referenced,
                format!("{field}.userid"),
                format!(
                    "{} is not an email address: {why}",
                    crate::address::shown(&userid.value)
                ),
            ));
        } else if !taken.insert(key(&userid.value)) {
            problems.push(Diagnostic::at(
                userid.referenced,
                format!("{field}.userid"),
                format!("userid `{}` is declared twice", userid.value),
            ));
        }
        let email = match email.map(|e| (e, crate::address::check(&e.value))) {
            Some((email, Err(why))) => {
                problems.push(Diagnostic::at(
                    email.referenced,
                    format!("{field}.email"),
                    format!(
                        "{} is not an email address: {why}",
                        crate::address::shown(&email.value)
                    ),
                ));
                email.value.clone()
            }
            Some((email, Ok(()))) => email.value.clone(),
            None => userid.value.clone(),
        };
        (userid.value.clone(), email)
    }

    fn assignments(
        &self,
        field: &str,
        raw: &Spanned<Vec<Spanned<RawAssignment>>>,
        names: &mut Names,
        problems: &mut Vec<Diagnostic>,
    ) -> Vec<RoleAssignment> {
        if raw.value.is_empty() {
            problems.push(Diagnostic::at(
                raw.referenced,
                format!("{field}.roles"),
                "a user needs at least one role",
            ));
        }
        let mut pairs = Vec::new();
        for (index, pair) in raw.value.iter().enumerate() {
            let here = format!("{field}.roles[{index}]");
            let role = names.role(&pair.value.role).map(|at| &self.roles[at]);
            let workspace = names.workspace(&pair.value.workspace);
            match (role, workspace) {
                (None, _) => {
                    let hint = names.roles_hint(&self.roles, &here);
                    problems.push(
                        Diagnostic::at(
                            pair.referenced,
                            format!("{here}.role"),
                            format!("no role `{}`", pair.value.role),
                        )
                        .with_hint(hint),
                    );
                }
                (_, None) => {
                    let hint = names.workspaces_hint(&self.workspaces, &here);
                    problems.push(
                        Diagnostic::at(
                            pair.referenced,
                            format!("{here}.workspace"),
                            format!("no workspace `{}`", pair.value.workspace),
                        )
                        .with_hint(hint),
                    );
                }
                (Some(role), Some(workspace))
                    if role.only_all_zones && workspace != ALL_ZONES_ID =>
                {
                    problems.push(Diagnostic::at(
                        pair.referenced,
                        format!("{here}.workspace"),
                        format!("role `{}` can only be held in {ALL_ZONES_NAME}", role.name),
                    ));
                }
                (Some(role), Some(workspace)) => pairs.push(RoleAssignment {
                    access_role_id: role.id,
                    workspace_id: workspace,
                }),
            }
        }
        pairs
    }

    /// The instance this fixture describes, as of `now`.
    /// The instance the fixture describes, playing its behaviours with `overrides` over them.
    pub(crate) fn to_world(&self, now: DateTime<Utc>, overrides: &[Setting]) -> World {
        let mut world = World::new(
            self.subscription_id,
            self.roles.clone(),
            self.workspaces.clone(),
        );
        world.behaviours = Behaviours::default().with(&self.behaviours).with(overrides);
        for user in &self.users {
            world.insert_user(user.clone());
        }
        for (invitation, days_ago) in &self.invitations {
            let mut invitation = invitation.clone();
            invitation.created_at = now - Duration::days(i64::from(*days_ago));
            invitation.expires_at = invitation.created_at + Duration::days(7);
            world.insert_invitation(invitation);
        }
        let today = quota_day(now);
        for (userid, days_ago, calls) in &self.usage {
            let day = today - Duration::days(i64::from(*days_ago));
            world.count_calls(userid, day, *calls);
        }
        for service in &self.services {
            world.insert_service(Service {
                name: service.name.clone(),
                client_id: service.client_id.clone(),
                client_secret: service.client_secret.clone(),
                userid: service.user.clone(),
            });
        }
        world
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    const GOOD: &str = "
users:
  - userid: admin@acme.example
    first_name: Relinker
    last_name: Admin
    api_only: true
    roles: [{ role: Admin, workspace: AllZones }]
  - userid: api@acme.example
    first_name: Sync
    last_name: User
    api_only: true
    roles: [{ role: Standard User, workspace: World }, { role: 102, workspace: 1 }]
invitations:
  - userid: new@acme.example
    first_name: New
    last_name: Hire
    roles: [{ role: Standard User, workspace: Default }]
    sent_days_ago: 2
services:
  - { name: admin, client_id: a, client_secret: s1, user: admin@acme.example, admin: true }
  - { name: sync, client_id: b, client_secret: s2, user: api@acme.example }
";

    #[test]
    fn a_good_fixture_seeds_a_world() {
        let fixture = Fixture::parse(GOOD, "good.yaml").unwrap();
        assert_eq!(
            fixture.admin_service().map(|s| s.name.as_str()),
            Some("admin")
        );
        let world = fixture.to_world(Utc::now(), &[]);
        assert_eq!(world.users.len(), 2);
        assert_eq!(world.user("api@acme.example").unwrap().roles.len(), 2);
        assert!(world.invitation("new@acme.example").is_ok());
    }

    #[track_caller]
    fn problems(text: &str) -> String {
        problems_in(text, "bad.yaml")
    }

    #[track_caller]
    fn problems_in(text: &str, origin: &str) -> String {
        match Fixture::parse(text, origin) {
            Err(FixtureError::Invalid(diagnostics)) => diagnostics.to_string(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = GOOD
            .replace("userid: api@acme.example", "userid: not-an-email")
            .replace("role: 102", "role: Nope")
            .replace("user: api@acme.example", "user: ghost@acme.example");
        let report = problems(&text);
        assert!(
            report.contains(
                "bad.yaml:8:13: `users[1].userid`: `not-an-email` is not an email address"
            ),
            "{report}"
        );
        assert!(
            report.contains("`users[1].roles[1].role`: no role `Nope`"),
            "{report}"
        );
        assert!(
            report.contains("`services[1].user`: user `ghost@acme.example` is not declared"),
            "{report}"
        );
    }

    #[test]
    fn the_roles_are_listed_once_however_many_pairs_name_none() {
        let text = GOOD
            .replace("role: 102", "role: Nope")
            .replace("role: Admin", "role: Wizard")
            .replace("workspace: 1 }", "workspace: Mars }");
        let report = problems(&text);
        assert_eq!(
            report.matches("hint: roles are: Admin, ").count(),
            1,
            "{report}"
        );
        assert!(
            report.contains(
                "`users[1].roles[1].role`: no role `Nope`\n  hint: the roles are listed at `users[0].roles[0].role`"
            ),
            "{report}"
        );
        // Names match whatever their ASCII case, as before.
        let shouted = GOOD.replace(
            "role: Standard User, workspace: World",
            "role: STANDARD user, workspace: world",
        );
        let shouted = Fixture::parse(&shouted, "good.yaml").unwrap();
        let plain = Fixture::parse(GOOD, "good.yaml").unwrap();
        assert_eq!(shouted.users[1].roles, plain.users[1].roles);
        assert_eq!(plain.users[1].roles.len(), 2);
    }

    #[test]
    fn a_fixture_beyond_the_parsers_default_budget_loads() {
        // 16 YAML nodes a user: 16,000 users are over the 250,000 nodes the parser allows by
        // default, and a small part of what the fixture limit admits.
        let mut text = String::from(
            "users:\n  - { userid: admin@big.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
        );
        for i in 0..16_000 {
            let _ = writeln!(
                text,
                "  - {{ userid: u{i}@big.example, first_name: U, last_name: '{i}', api_only: false, roles: [{{ role: Standard User, workspace: World }}] }}"
            );
        }
        text.push_str("services:\n  - { name: admin, client_id: a, client_secret: s, user: admin@big.example, admin: true }\n");
        let fixture = Fixture::parse(&text, "big.yaml").unwrap();
        assert_eq!(fixture.users.len(), 16_001);
        assert_eq!(fixture.to_world(Utc::now(), &[]).users.len(), 16_001);
    }

    #[test]
    fn a_fixture_for_another_platform_is_not_read_as_marketo() {
        let report = problems(&format!("provider: movius\n{GOOD}"));
        assert!(
            report.contains("bad.yaml:1:11: `provider`: this is a marketo fixture, not `movius`"),
            "{report}"
        );
        assert!(Fixture::parse(&format!("provider: marketo\n{GOOD}"), "good.yaml").is_ok());
    }

    /// [`GOOD`] in JSON, an item a line as `--from-live` writes it.
    const GOOD_JSON: &str = r#"{
  "users": [
    {"userid": "admin@acme.example", "first_name": "Relinker", "last_name": "Admin", "api_only": true, "roles": [{"role": "Admin", "workspace": "AllZones"}]},
    {"userid": "api@acme.example", "first_name": "Sync", "last_name": "User", "api_only": true, "roles": [{"role": "Standard User", "workspace": "World"}, {"role": 102, "workspace": 1}]}
  ],
  "invitations": [
    {"userid": "new@acme.example", "first_name": "New", "last_name": "Hire", "roles": [{"role": "Standard User", "workspace": "Default"}], "sent_days_ago": 2}
  ],
  "services": [
    {"name": "admin", "client_id": "a", "client_secret": "s1", "user": "admin@acme.example", "admin": true},
    {"name": "sync", "client_id": "b", "client_secret": "s2", "user": "api@acme.example"}
  ]
}
"#;

    #[test]
    fn a_json_fixture_seeds_the_world_its_yaml_does() {
        let now = Utc::now();
        let json = Fixture::parse(GOOD_JSON, "good.json").unwrap();
        let yaml = Fixture::parse(GOOD, "good.yaml").unwrap();
        let (json, yaml) = (json.to_world(now, &[]), yaml.to_world(now, &[]));
        assert_eq!(json.users.len(), 2);
        assert_eq!(
            format!("{:?}", json.users),
            format!("{:?}", yaml.users),
            "the same users, roles by name and by id alike"
        );
        assert_eq!(
            format!("{:?}", json.invitation("new@acme.example").unwrap()),
            format!("{:?}", yaml.invitation("new@acme.example").unwrap())
        );
    }

    #[test]
    fn json_mistakes_name_their_line_column_and_field() {
        // A shape mistake: serde_json's message, where it is, and the field it is in.
        let report = problems_in(
            &GOOD_JSON.replace(r#""sent_days_ago": 2"#, r#""sent_days_ago": "two""#),
            "bad.json",
        );
        assert!(
            report.starts_with("bad.json:7:"),
            "the line of the invitation: {report}"
        );
        assert!(
            report.contains(": `invitations[0].sent_days_ago`: invalid type: string \"two\""),
            "{report}"
        );
        assert!(!report.contains(" at line "), "{report}");
        let report = problems_in(
            &GOOD_JSON.replace(
                r#""api_only": true, "roles": [{"role": "Standard"#,
                r#""colour": "blue", "roles": [{"role": "Standard"#,
            ),
            "bad.json",
        );
        assert!(report.starts_with("bad.json:4:"), "{report}");
        assert!(report.contains("unknown field `colour`"), "{report}");
        assert!(report.contains("`users[1]"), "{report}");
        // A syntax mistake: where, and why the file was read as JSON.
        let report = problems_in(
            &GOOD_JSON.replace("]},\n    {\"userid\": \"api", "]}\n    {\"userid\": \"api"),
            "bad.json",
        );
        assert!(
            report.starts_with("bad.json:4:5: `users`: expected `,` or `]`"),
            "{report}"
        );
        assert!(
            report.contains("hint: the fixture is read as JSON"),
            "{report}"
        );
    }

    #[test]
    fn problems_in_a_json_fixture_are_placed_as_in_yaml() {
        let report = problems_in(
            &GOOD_JSON
                .replace(
                    r#""userid": "api@acme.example""#,
                    r#""userid": "not-an-email""#,
                )
                .replace(r#""role": 102"#, r#""role": "Nope""#),
            "bad.json",
        );
        assert!(
            report.contains(
                "bad.json:4:16: `users[1].userid`: `not-an-email` is not an email address"
            ),
            "{report}"
        );
        assert!(
            report.contains("bad.json:4:152: `users[1].roles[1].role`: no role `Nope`"),
            "{report}"
        );
        // A key given twice in a map is refused in JSON as in YAML.
        let twice = GOOD_JSON.replace(
            "\n  \"services\"",
            "\n  \"behaviours\": {\"page-offset\": \"pages\", \"page-offset\": \"entries\"},\n  \"services\"",
        );
        let report = problems_in(&twice, "bad.json");
        assert!(
            report.starts_with("bad.json:9:66:")
                && report.contains(": `behaviours`: `page-offset` is given twice"),
            "{report}"
        );
    }

    #[test]
    fn yaml_mistakes_are_pinned_too() {
        let report = problems(
            "users:\n  - userid: a@b.co\n    first_name: A\n    last_name: B\n    roles: []\n    colour: blue\n",
        );
        assert!(report.starts_with("bad.yaml:6:5: "), "{report}");
        assert!(report.contains("colour"), "{report}");
        let report = problems("subscription_id: 1\nsubscription_id: 2\n");
        assert!(report.contains("bad.yaml:2:"), "{report}");
    }
}
