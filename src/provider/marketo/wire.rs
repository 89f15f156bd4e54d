//! Marketo's JSON as it arrives: lenient about missing fields and about error codes given as
//! strings or numbers, strict about nothing the planner does not need.

use crate::ids::UserId;
use chrono::Utc;
use serde::{Deserialize, Deserializer};

use super::dates;
use super::types::{
    DailyUsage, PendingInvitation, RoleInfo, RoleNames, RolePair, UserActivity, UserRecord,
    UserSummary, WorkspaceInfo,
};

/// `{"errors":[{"code","message"}]}`, and the standard REST envelope's `success: false` form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorEnvelope {
    #[serde(default)]
    pub(crate) success: Option<bool>,
    #[serde(default)]
    pub(crate) errors: Vec<ErrorEntry>,
}

/// One entry of an `errors` array.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEntry {
    #[serde(default, deserialize_with = "code_as_string")]
    pub(crate) code: Option<String>,
    #[serde(default)]
    pub(crate) message: String,
}

/// The page writes codes as strings (`"606"`), the published spec as integers: take both.
fn code_as_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Code {
        Text(String),
        Number(i64),
    }
    Ok(
        Option::<Code>::deserialize(deserializer)?.map(|code| match code {
            Code::Text(text) => text,
            Code::Number(number) => number.to_string(),
        }),
    )
}

/// The identity endpoint's answer.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenGrant {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<i64>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

/// The identity endpoint's refusal (`{"error","error_description"}`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenRefusal {
    #[serde(default)]
    pub(crate) error: Option<String>,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

/// A role/workspace pair as the API writes it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireRolePair {
    access_role_id: u64,
    workspace_id: u64,
    #[serde(default)]
    access_role_name: Option<String>,
    #[serde(default)]
    workspace_name: Option<String>,
}

/// The role and workspace names a list of pairs carries (user records and role answers do).
pub(crate) fn role_names(pairs: &[WireRolePair]) -> RoleNames {
    let mut names = RoleNames::default();
    for pair in pairs {
        if let Some(name) = &pair.access_role_name {
            names.roles.insert(pair.access_role_id, name.clone());
        }
        if let Some(name) = &pair.workspace_name {
            names.workspaces.insert(pair.workspace_id, name.clone());
        }
    }
    names
}

pub(crate) fn role_pairs(pairs: Vec<WireRolePair>) -> Vec<RolePair> {
    let mut pairs: Vec<RolePair> = pairs
        .into_iter()
        .map(|p| RolePair {
            role_id: p.access_role_id,
            workspace_id: p.workspace_id,
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

fn date(text: Option<String>) -> Option<chrono::DateTime<Utc>> {
    text.and_then(|t| match dates::parse(&t) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(error) => {
            tracing::warn!(%error, "ignoring an unreadable date-time from Marketo");
            None
        }
    })
}

/// `user.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUser {
    userid: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email_address: Option<String>,
    #[serde(default)]
    api_only: bool,
    #[serde(default)]
    user_role_workspaces: Vec<WireRolePair>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    last_login_at: Option<String>,
}

impl WireUser {
    /// The names of the roles and workspaces the user holds.
    pub(crate) fn role_names(&self) -> RoleNames {
        role_names(&self.user_role_workspaces)
    }

    /// The record and the last login.
    pub(crate) fn activity(mut self) -> UserActivity {
        let last_login_at = date(self.last_login_at.take());
        UserActivity {
            record: UserRecord::from(self),
            last_login_at,
        }
    }
}

impl From<WireUser> for UserRecord {
    fn from(user: WireUser) -> Self {
        UserRecord {
            email: user.email_address.unwrap_or_else(|| user.userid.clone()),
            userid: UserId::from_platform(user.userid),
            first_name: user.first_name.unwrap_or_default(),
            last_name: user.last_name.unwrap_or_default(),
            api_only: user.api_only,
            roles: role_pairs(user.user_role_workspaces),
            expires_at: date(user.expires_at),
        }
    }
}

/// A row of `allusers.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUserSummary {
    userid: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email_address: Option<String>,
    #[serde(default)]
    api_only: bool,
}

impl From<WireUserSummary> for UserSummary {
    fn from(user: WireUserSummary) -> Self {
        UserSummary {
            email: user.email_address.unwrap_or_else(|| user.userid.clone()),
            userid: UserId::from_platform(user.userid),
            first_name: user.first_name.unwrap_or_default(),
            last_name: user.last_name.unwrap_or_default(),
            api_only: user.api_only,
        }
    }
}

/// `invite.json` (GET); note `userId`, not `userid`, in the reference.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireInvitation {
    #[serde(alias = "userid")]
    user_id: String,
    #[serde(default)]
    email_address: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
}

impl From<WireInvitation> for PendingInvitation {
    fn from(invitation: WireInvitation) -> Self {
        PendingInvitation {
            email: invitation
                .email_address
                .unwrap_or_else(|| invitation.user_id.clone()),
            userid: UserId::from_platform(invitation.user_id),
            expires_at: date(invitation.expires_at),
        }
    }
}

/// A row of `roles.json` or `workspaces.json` (a workspace has no `type` or `onlyAllZones`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireNamed {
    id: u64,
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    only_all_zones: bool,
}

impl From<WireNamed> for RoleInfo {
    fn from(role: WireNamed) -> Self {
        RoleInfo {
            id: role.id,
            name: role.name,
            description: role.description.unwrap_or_default(),
            kind: role.kind.unwrap_or_else(|| "custom".to_owned()),
            only_all_zones: role.only_all_zones,
        }
    }
}

impl From<WireNamed> for WorkspaceInfo {
    fn from(workspace: WireNamed) -> Self {
        WorkspaceInfo {
            id: workspace.id,
            name: workspace.name,
            description: workspace.description.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's `user.json` example, verbatim.
    const USER_EXAMPLE: &str = r#"{
"userid": "jamie@houselannister.com",
"firstName": "Jamie",
"lastName": "Lannister",
"emailAddress": "jamie@lannister.com",
"optedIn": false,
"failedLogins": 0,
"failedDeviceCode": 0,
"isLocked": false,
"lockedReason": null,
"id": 0,
"apiOnly": false,
"userRoleWorkspaces": [
{
"accessRoleId": 1,
"accessRoleName": "Admin",
"workspaceId": 0,
"workspaceName": "AllZones"
},
{
"accessRoleId": 2,
"accessRoleName":
"Standard User",
"workspaceId": 1008,
"workspaceName": "World"
}
],
"expiresAt": "2020-12-31T08:00:00.000t+0000",
"lastLoginAt": "2020-02-05T01:02:23.000t+0000"
}"#;

    #[test]
    fn reads_the_reference_user_example() {
        let user: UserRecord = serde_json::from_str::<WireUser>(USER_EXAMPLE)
            .unwrap()
            .into();
        assert_eq!(user.userid.as_str(), "jamie@houselannister.com");
        assert_eq!(user.email, "jamie@lannister.com");
        assert_eq!(
            user.roles,
            [
                RolePair {
                    role_id: 1,
                    workspace_id: 0
                },
                RolePair {
                    role_id: 2,
                    workspace_id: 1008
                }
            ]
        );
        assert_eq!(
            user.expires_at.map(|d| d.to_rfc3339()),
            Some("2020-12-31T08:00:00+00:00".into())
        );
        let activity = serde_json::from_str::<WireUser>(USER_EXAMPLE)
            .unwrap()
            .activity();
        assert_eq!(
            activity.record, user,
            "the login time stays out of the record"
        );
        assert_eq!(
            activity.last_login_at.map(|d| d.to_rfc3339()),
            Some("2020-02-05T01:02:23+00:00".into())
        );
    }

    /// The reference's `roles.json` rows, with their type and `onlyAllZones`.
    #[test]
    fn reads_the_reference_role_rows() {
        let roles: Vec<WireNamed> = serde_json::from_str(
            r#"[{"id": 1, "name": "Admin", "description": "All permissions", "type": "system", "hidden": false,
                 "onlyAllZones": true, "createdAt": "20100327T18:27:42.0t+0000", "updatedAt": "20100327T18:27:42.0t+0000"},
                {"id": 101, "name": "Analytics User", "description": "Has access to Analytics", "type": "custom",
                 "hidden": false, "onlyAllZones": false}]"#,
        )
        .unwrap();
        let roles: Vec<RoleInfo> = roles.into_iter().map(RoleInfo::from).collect();
        assert!(roles[0].only_all_zones && roles[0].kind == "system");
        assert_eq!(roles[1].description, "Has access to Analytics");
        assert!(!roles[1].only_all_zones && roles[1].kind == "custom");
    }

    #[test]
    fn reads_the_reference_invitation_and_listing_examples() {
        let invitation: PendingInvitation = serde_json::from_str::<WireInvitation>(
            r#"{"id": 25112, "firstName": "Jamie", "lastName": "Lannister", "emailAddress": "jamie@lannister.com",
               "userId": "jamie@lannister.com", "subscriptionId": 3381, "status": "pending",
               "expiresAt": "20200807T20:49:54.0t+0000", "createdAt": "20200731T20:49:54.0t+0000",
               "updatedAt": "20200731T20:49:54.0t+0000"}"#,
        )
        .unwrap()
        .into();
        assert_eq!(invitation.userid.as_str(), "jamie@lannister.com");
        assert!(invitation.expires_at.is_some());
        let users: Vec<WireUserSummary> = serde_json::from_str(
            r#"[{"userid": "02226aae-9f54-45d1-bc26-8305c8f55ec7@adobe.com", "firstName": "Aparna", "lastName": "Ghosh",
                 "emailAddress": "aparna.ghosh@ericsson.com", "id": 5222, "apiOnly": false}]"#,
        )
        .unwrap();
        let user = UserSummary::from(users.into_iter().next().unwrap());
        assert_eq!(user.email, "aparna.ghosh@ericsson.com");
    }

    #[test]
    fn error_codes_as_strings_or_numbers() {
        let text: ErrorEnvelope =
            serde_json::from_str(r#"{"errors":[{"code":"606","message":"m"}]}"#).unwrap();
        let number: ErrorEnvelope =
            serde_json::from_str(r#"{"success":false,"errors":[{"code":606,"message":"m"}]}"#)
                .unwrap();
        assert_eq!(text.errors[0].code.as_deref(), Some("606"));
        assert_eq!(number.errors[0].code.as_deref(), Some("606"));
        assert_eq!(number.success, Some(false));
    }
}

/// The usage statistics' envelope: `{"requestId", "success", "result": [day, ...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) result: Vec<WireUsageDay>,
}

/// One day: `{"date": "2015-10-17", "total": 1120, "users": [{"userId", "count"}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct WireUsageDay {
    date: String,
    #[serde(default)]
    users: Vec<WireUsageUser>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUsageUser {
    user_id: String,
    count: u64,
}

impl WireUsageDay {
    /// The day, read from `2015-10-17` or a date-time that starts with one.
    pub(crate) fn into_usage(self) -> Result<DailyUsage, String> {
        let date = self
            .date
            .get(..10)
            .and_then(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
            .ok_or_else(|| format!("`{}` is not a date", self.date))?;
        let mut calls = std::collections::BTreeMap::new();
        for user in self.users {
            *calls
                .entry(UserId::from_platform(user.user_id))
                .or_default() += user.count;
        }
        Ok(DailyUsage { date, calls })
    }
}
