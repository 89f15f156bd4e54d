//! The User Management API as the planner and executor use it: reads they plan from, the
//! changes the API can make, and the identity read that tells which user a LaunchPoint service
//! is linked to. [`super::MarketoClient`] implements it over HTTP.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::types::{
    DailyUsage, Listing, NewApiUser, PendingInvitation, RoleInfo, RoleNames, RolePair,
    ServiceCredentials, UserActivity, UserRecord, UserSummary, UserUpdate, WorkspaceInfo,
};
use crate::ids::{ServiceName, UserId};
use crate::provider::{Fence, ManualAction, ProviderError};

/// Marketo's API users, as the planner and executor need them.
///
/// Reads answer `Ok(None)` for "there is no such thing". Changes answer
/// [`ProviderError::OutcomeUnknown`] when a request went out and no answer came back; callers
/// then re-read before deciding to send it again. A change takes the run's [`Fence`] and asks
/// it before every request it sends, re-sends included ([`ProviderError::LockLost`] when it
/// says no).
pub trait Api: Send + Sync {
    /// A user who can log in (or an API-only user).
    fn user(
        &self,
        userid: &UserId,
    ) -> impl Future<Output = Result<Option<UserRecord>, ProviderError>> + Send;
    /// A user's record with its last login (a read only the inventory needs).
    fn user_activity(
        &self,
        userid: &UserId,
    ) -> impl Future<Output = Result<Option<UserActivity>, ProviderError>> + Send;
    /// A pending invitation.
    fn invitation(
        &self,
        userid: &UserId,
    ) -> impl Future<Output = Result<Option<PendingInvitation>, ProviderError>> + Send;
    /// A user's role/workspace pairs.
    fn user_roles(
        &self,
        userid: &UserId,
    ) -> impl Future<Output = Result<Option<Vec<RolePair>>, ProviderError>> + Send;
    /// Every user, all pages.
    fn all_users(&self) -> impl Future<Output = Result<Vec<UserSummary>, ProviderError>> + Send;
    /// Every user, read at most once per client and kept current by the client's own changes:
    /// the plans of one command share one client per instance and plan from the same listing.
    fn listing(
        &self,
    ) -> impl Future<Output = Result<std::sync::Arc<Listing>, ProviderError>> + Send;
    /// The role and workspace names the answers so far have carried.
    fn role_names(&self) -> RoleNames;
    /// Every role.
    fn roles(&self) -> impl Future<Output = Result<Vec<RoleInfo>, ProviderError>> + Send;
    /// Every workspace.
    fn workspaces(&self) -> impl Future<Output = Result<Vec<WorkspaceInfo>, ProviderError>> + Send;
    /// Creates an API-only user, usable at once.
    fn invite_api_user(
        &self,
        user: &NewApiUser,
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Changes a user's attributes; answers the updated record when the answer is readable.
    fn update_user(
        &self,
        userid: &UserId,
        update: &UserUpdate,
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<Option<UserRecord>, ProviderError>> + Send;
    /// Deletes a user (irreversible).
    fn delete_user(
        &self,
        userid: &UserId,
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Deletes a pending invitation.
    fn delete_invitation(
        &self,
        userid: &UserId,
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Adds role/workspace pairs; answers every pair the user now holds.
    fn add_roles(
        &self,
        userid: &UserId,
        pairs: &[RolePair],
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<Vec<RolePair>, ProviderError>> + Send;
    /// Removes role/workspace pairs; answers the pairs that remain.
    fn remove_roles(
        &self,
        userid: &UserId,
        pairs: &[RolePair],
        fence: &dyn Fence,
    ) -> impl Future<Output = Result<Vec<RolePair>, ProviderError>> + Send;
    /// Which user a service is linked to, as [`Api::linked_user`] learns it, and when the
    /// token that says so was minted (from what is left of its lifetime). Marketo hands a
    /// service's token out again until it expires, on some instances with the scope it was
    /// minted with, so a link read from a token older than a relink may not show it.
    fn linked_user_minted(
        &self,
        service: &ServiceCredentials,
    ) -> impl Future<Output = Result<(UserId, Option<DateTime<Utc>>), ProviderError>> + Send;
    /// Which user a service is linked to, learned by minting a token with the service's own
    /// credentials; success also proves those credentials still work.
    fn linked_user(
        &self,
        service: &ServiceCredentials,
    ) -> impl Future<Output = Result<UserId, ProviderError>> + Send;
    /// The usage statistics of the last seven quota days, today included: calls per API user
    /// per day, which show whether an API user is still in use.
    fn usage_last_7_days(
        &self,
    ) -> impl Future<Output = Result<Vec<DailyUsage>, ProviderError>> + Send;
    /// How a person links a service to another user in the UI (no API can).
    fn relink_action(&self, service: &ServiceName, to_userid: &UserId) -> ManualAction;
}
