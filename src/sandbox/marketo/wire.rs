//! The JSON shapes the emulated endpoints answer with, field for field as in the reference.

use serde::Serialize;

use super::dates;
use super::model::{Invitation, Role, RoleAssignment, User, Workspace};
use super::world::World;

/// One role/workspace pair with names, as `roles.json` and `user.json` show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleWorkspace {
    access_role_id: u64,
    access_role_name: String,
    workspace_id: u64,
    workspace_name: String,
}

/// A full user record (`user.json`, `update.json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserRecord {
    userid: String,
    first_name: String,
    last_name: String,
    email_address: String,
    opted_in: bool,
    failed_logins: u32,
    failed_device_code: u32,
    is_locked: bool,
    locked_reason: Option<String>,
    id: u64,
    api_only: bool,
    user_role_workspaces: Vec<RoleWorkspace>,
    expires_at: Option<String>,
    last_login_at: Option<String>,
}

/// A row of `allusers.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserSummary {
    userid: String,
    first_name: String,
    last_name: String,
    email_address: String,
    id: u64,
    api_only: bool,
}

/// A pending invitation (`invite.json`); note the reference's `userId` spelling here.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InvitationRecord {
    id: u64,
    first_name: String,
    last_name: String,
    email_address: String,
    user_id: String,
    subscription_id: u64,
    status: &'static str,
    expires_at: String,
    created_at: String,
    updated_at: String,
}

/// A row of the instance-wide `roles.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleRecord {
    id: u64,
    name: String,
    description: String,
    #[serde(rename = "type")]
    kind: String,
    hidden: bool,
    only_all_zones: bool,
    created_at: String,
    updated_at: String,
}

/// A row of `workspaces.json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkspaceRecord {
    id: u64,
    name: String,
    description: String,
    global_viz: u8,
    status: &'static str,
    currency_info: Option<String>,
    created_at: String,
    updated_at: String,
}

pub(crate) fn role_workspaces(world: &World, pairs: &[RoleAssignment]) -> Vec<RoleWorkspace> {
    pairs
        .iter()
        .map(|pair| RoleWorkspace {
            access_role_id: pair.access_role_id,
            access_role_name: world
                .role(pair.access_role_id)
                .map(|r| r.name.clone())
                .unwrap_or_default(),
            workspace_id: pair.workspace_id,
            workspace_name: world
                .workspace_name(pair.workspace_id)
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

pub(crate) fn user_record(world: &World, user: &User) -> UserRecord {
    UserRecord {
        userid: user.userid.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email_address: user.email.clone(),
        opted_in: false,
        failed_logins: 0,
        failed_device_code: 0,
        is_locked: false,
        locked_reason: None,
        id: user.id,
        api_only: user.api_only,
        user_role_workspaces: role_workspaces(world, &user.roles),
        expires_at: user.expires_at.map(dates::user_record),
        last_login_at: user.last_login_at.map(dates::user_record),
    }
}

pub(crate) fn user_summary(user: &User) -> UserSummary {
    UserSummary {
        userid: user.userid.clone(),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        email_address: user.email.clone(),
        id: user.id,
        api_only: user.api_only,
    }
}

pub(crate) fn invitation_record(world: &World, invitation: &Invitation) -> InvitationRecord {
    InvitationRecord {
        id: invitation.id,
        first_name: invitation.first_name.clone(),
        last_name: invitation.last_name.clone(),
        email_address: invitation.email.clone(),
        user_id: invitation.userid.clone(),
        subscription_id: world.subscription_id,
        status: "pending",
        expires_at: dates::compact(invitation.expires_at),
        created_at: dates::compact(invitation.created_at),
        updated_at: dates::compact(invitation.created_at),
    }
}

pub(crate) fn role_record(role: &Role) -> RoleRecord {
    RoleRecord {
        id: role.id,
        name: role.name.clone(),
        description: role.description.clone(),
        kind: role.kind.clone(),
        hidden: role.hidden,
        only_all_zones: role.only_all_zones,
        created_at: dates::compact(role.created_at),
        updated_at: dates::compact(role.updated_at),
    }
}

pub(crate) fn workspace_record(workspace: &Workspace) -> WorkspaceRecord {
    WorkspaceRecord {
        id: workspace.id,
        name: workspace.name.clone(),
        description: workspace.description.clone(),
        global_viz: workspace.global_viz,
        status: "active",
        currency_info: None,
        created_at: dates::compact(workspace.created_at),
        updated_at: dates::compact(workspace.updated_at),
    }
}
