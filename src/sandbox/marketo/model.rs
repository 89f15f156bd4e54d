//! The records the emulated instance holds, and the defaults the reference documents.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::secret::Secret;

/// The implicit workspace every instance has; `workspaces.json` does not list it, but role
/// assignments name it (`"workspaceId": 0, "workspaceName": "AllZones"`).
pub const ALL_ZONES_ID: u64 = 0;
/// Name of [`ALL_ZONES_ID`].
pub(crate) const ALL_ZONES_NAME: &str = "AllZones";

/// A permission the User Management API checks on the caller's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Permission {
    /// "Access Users" from the Access Admin group.
    AccessUsers,
    /// "Access User Management Api" from the Access API group.
    AccessUserManagementApi,
}

/// A role as `roles.json` lists it, plus the permissions the sandbox checks.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) kind: String,
    pub(crate) hidden: bool,
    pub(crate) only_all_zones: bool,
    pub(crate) permissions: BTreeSet<Permission>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A workspace as `workspaces.json` lists it.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) global_viz: u8,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// One role held in one workspace.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleAssignment {
    pub(crate) access_role_id: u64,
    pub(crate) workspace_id: u64,
}

/// A user who has accepted the invitation (or an API-only user, who needs none).
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) userid: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) api_only: bool,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) expires_at: Option<DateTime<Utc>>,
    pub(crate) last_login_at: Option<DateTime<Utc>>,
}

/// An invitation nobody has accepted yet: it cannot be edited and lapses after seven days.
#[derive(Debug, Clone)]
pub(crate) struct Invitation {
    pub(crate) id: u64,
    pub(crate) userid: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) roles: Vec<RoleAssignment>,
    pub(crate) user_expires_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    /// Whether it becomes an API-only user once accepted.
    pub(crate) api_only: bool,
}

/// A LaunchPoint custom service: credentials that belong to it, and the API-only user it acts as.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Secret,
    pub(crate) userid: String,
}

fn at(text: &str) -> DateTime<Utc> {
    super::dates::parse(text).unwrap_or_default()
}

/// The roles `roles.json` returns in the reference; Admin holds the User Management permissions.
pub(crate) fn reference_roles() -> Vec<Role> {
    let both: BTreeSet<Permission> =
        [Permission::AccessUsers, Permission::AccessUserManagementApi].into();
    let rows: [(u64, &str, &str, &str, bool, &str, &str); 7] = [
        (
            1,
            "Admin",
            "All permissions",
            "system",
            true,
            "20100327T18:27:42.0t+0000",
            "20100327T18:27:42.0t+0000",
        ),
        (
            2,
            "Standard User",
            "All permissions except Admin",
            "system",
            false,
            "20100327T18:27:42.0t+0000",
            "20180423T02:33:29.0t+0000",
        ),
        (
            24,
            "RTP Launcher",
            "Role required for launcher in RTP",
            "system",
            false,
            "20151024T01:45:40.0t+0000",
            "20171024T23:41:24.0t+0000",
        ),
        (
            25,
            "RTP Editor",
            "Role required for editor in RTP",
            "system",
            false,
            "20151024T01:45:40.0t+0000",
            "20171024T23:41:24.0t+0000",
        ),
        (
            101,
            "Analytics User",
            "Has access to Analytics",
            "custom",
            false,
            "20100327T18:27:42.0t+0000",
            "20180423T02:33:29.0t+0000",
        ),
        (
            102,
            "Marketing User",
            "All permissions except Admin",
            "custom",
            false,
            "20100327T18:27:42.0t+0000",
            "20100327T18:27:42.0t+0000",
        ),
        (
            103,
            "Web Designer",
            "Has access to Design Studio except approval permission",
            "custom",
            false,
            "20100327T18:27:42.0t+0000",
            "20180423T02:33:29.0t+0000",
        ),
    ];
    rows.into_iter()
        .map(
            |(id, name, description, kind, only_all_zones, created, updated)| Role {
                id,
                name: name.to_owned(),
                description: description.to_owned(),
                kind: kind.to_owned(),
                hidden: false,
                only_all_zones,
                permissions: if id == 1 {
                    both.clone()
                } else {
                    BTreeSet::new()
                },
                created_at: at(created),
                updated_at: at(updated),
            },
        )
        .collect()
}

/// The workspaces `workspaces.json` returns in the reference.
pub(crate) fn reference_workspaces() -> Vec<Workspace> {
    let rows: [(u64, &str, &str, u8, &str); 4] = [
        (
            1,
            "Default",
            "Initial workspace for Marketing Activities, Design Studio, and so on.",
            0,
            "20160910T23:08:05.0t+0000",
        ),
        (1008, "World", "", 0, "20181119T21:59:36.0t+0000"),
        (
            1009,
            "Reproduction - US English - All Leads",
            "A Workspace for recreating customer-reported problems.",
            1,
            "20190129T23:36:37.0t+0000",
        ),
        (
            1010,
            "US",
            "United States - Qualified Leads",
            0,
            "20190322T15:55:40.0t+0000",
        ),
    ];
    rows.into_iter()
        .map(|(id, name, description, global_viz, created)| Workspace {
            id,
            name: name.to_owned(),
            description: description.to_owned(),
            global_viz,
            created_at: at(created),
            updated_at: at(created),
        })
        .collect()
}
