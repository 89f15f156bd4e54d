//! A read-only copy of an instance, for rehearsing a plan against it: the roles, workspaces and
//! users (each with its roles), which user each known service runs as, and the usage statistics.
//! What `relinker sandbox --from-live` turns into a sandbox fixture. Reads only.

use std::collections::BTreeMap;

use futures_util::future::try_join_all;

use super::api::Api;
use super::credentials::Credentials;
use super::types::{DailyUsage, RoleInfo, UserActivity, UserSummary, WorkspaceInfo};
use crate::ids::{ServiceName, UserId};
use crate::provider::{ProviderError, ReadTally};

/// What was read.
#[derive(Debug, Clone)]
pub struct Mirror {
    /// Every role, as the instance lists it.
    pub roles: Vec<RoleInfo>,
    /// Every workspace.
    pub workspaces: Vec<WorkspaceInfo>,
    /// Every user with its roles, by userid.
    pub users: Vec<UserActivity>,
    /// relinker's own admin service and the user it runs as.
    pub admin: (ServiceName, UserId),
    /// Each known service whose credentials work, and the user it runs as.
    pub services: BTreeMap<ServiceName, UserId>,
    /// The usage statistics' days; empty when they could not be read.
    pub usage: Vec<DailyUsage>,
    /// What could not be copied, in words.
    pub warnings: Vec<String>,
}

/// Reads the instance, its users those of `listing` (the user list, read first so the read can
/// be weighed against the day's quota). Independent reads go out at once; the limiter keeps them within the
/// instance's limits. A service whose credentials fail is left out with a warning, as are the
/// usage statistics when the admin service's role cannot read them; pending invitations are
/// not listed by the API and cannot be copied.
pub async fn mirror<A: Api>(
    provider: &A,
    credentials: &Credentials,
    listing: &[UserSummary],
    tally: &ReadTally,
) -> Result<Mirror, ProviderError> {
    let (roles, workspaces, admin) = futures_util::try_join!(
        provider.roles(),
        provider.workspaces(),
        provider.linked_user(&credentials.admin),
    )?;
    tally.expect(listing.len());
    let reads = listing.iter().map(|user| async move {
        let read = provider.user_activity(&user.userid).await;
        tally.read_one();
        read
    });
    let mut users: Vec<UserActivity> = try_join_all(reads).await?.into_iter().flatten().collect();
    users.sort_by(|a, b| a.record.userid.cmp(&b.record.userid));

    // The users the known services run as (shared with the inventory), turned round.
    let (linked, failed) = super::inventory::known_links(provider, credentials).await?;
    let services: BTreeMap<ServiceName, UserId> = linked
        .into_iter()
        .flat_map(|(user, names)| {
            names
                .into_iter()
                .map(move |name| (ServiceName::new(name), user.clone()))
        })
        .collect();
    let mut warnings: Vec<String> = failed
        .into_iter()
        .map(|failure| {
            format!("{failure}; it is left out, and a rehearsal of a plan that moves it stops at the fixture")
        })
        .collect();
    let usage = match provider.usage_last_7_days().await {
        Ok(days) => days,
        Err(error) => {
            warnings.push(format!(
                "the usage statistics could not be read ({error}): the copy has no calls, so a rehearsal warns of no user still in use"
            ));
            Vec::new()
        }
    };
    Ok(Mirror {
        roles,
        workspaces,
        users,
        admin: (credentials.admin.name.clone(), admin),
        services,
        usage,
        warnings,
    })
}
