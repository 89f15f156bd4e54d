//! The inventory of an instance's API-only users: who they are, what roles they hold, which
//! known services run as them, and how many calls they made lately. Reads only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde::Serialize;

use super::api::Api;
use super::credentials::Credentials;
use super::types::{UserActivity, UserSummary, calls_by_user, pair_name};
use crate::ids::UserId;
use crate::provider::{ProviderError, ReadTally};

/// One API-only user.
#[derive(Debug, Clone, Serialize)]
pub struct ApiUser {
    /// Login id.
    pub userid: UserId,
    /// Mailbox.
    pub email: String,
    /// Role @ workspace, by name.
    pub roles: Vec<String>,
    /// The services relinker knows that run as it now.
    pub services: Vec<String>,
    /// Calls in the last 7 days; `None` when the usage statistics could not be read.
    pub calls_last_7_days: Option<u64>,
    /// When it last logged in (for an API-only user: last called the API); `None` if never.
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What the inventory found.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// Every API-only user, by userid.
    pub users: Vec<ApiUser>,
    /// What could not be read, in words (a service whose credentials fail, the statistics).
    pub warnings: Vec<String>,
}

/// Reads every API-only user of `listing` (the instance's user list, read first so the read
/// can be weighed against the day's quota), its roles, the known services linked to it and its
/// recent calls. Independent reads go out at once; the limiter keeps them within the
/// instance's limits.
pub async fn inventory<A: Api>(
    provider: &A,
    credentials: &Credentials,
    listing: &[UserSummary],
    tally: &ReadTally,
) -> Result<Inventory, ProviderError> {
    let mut warnings = Vec::new();
    let api_only: Vec<UserId> = listing
        .iter()
        .filter(|user| user.api_only)
        .map(|user| user.userid.clone())
        .collect();
    tally.expect(api_only.len());
    let records = try_join_all(api_only.iter().map(|userid| async move {
        let read = provider.user_activity(userid).await;
        tally.read_one();
        read
    }))
    .await?;
    let (linked, failed) = known_links(provider, credentials).await?;
    warnings.extend(failed);
    let calls = match recent_calls(provider).await {
        Ok(calls) => Some(calls),
        Err(warning) => {
            warnings.push(warning);
            None
        }
    };
    let names = provider.role_names();
    let mut users: Vec<ApiUser> = records
        .into_iter()
        .flatten()
        .map(
            |UserActivity {
                 record,
                 last_login_at,
             }| ApiUser {
                roles: record
                    .roles
                    .iter()
                    .map(|pair| pair_name(&names.roles, &names.workspaces, pair))
                    .collect(),
                services: linked.get(&record.userid).cloned().unwrap_or_default(),
                calls_last_7_days: calls
                    .as_ref()
                    .map(|calls| calls.get(&record.userid).copied().unwrap_or(0)),
                last_login_at,
                email: record.email,
                userid: record.userid,
            },
        )
        .collect();
    users.sort_by(|a, b| a.userid.cmp(&b.userid));
    Ok(Inventory { users, warnings })
}

/// The users the known services run as now, each with its services (sorted); and a warning for
/// each service whose credentials do not work, which tells nothing either way.
pub async fn known_links<A: Api>(
    provider: &A,
    credentials: &Credentials,
) -> Result<(BTreeMap<UserId, Vec<String>>, Vec<String>), ProviderError> {
    let links = futures_util::future::join_all(
        credentials
            .services
            .values()
            .map(|creds| async move { (creds.name.clone(), provider.linked_user(creds).await) }),
    )
    .await;
    let mut linked: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
    let mut warnings = Vec::new();
    for (name, link) in links {
        match link {
            Ok(userid) => linked.entry(userid).or_default().push(name.to_string()),
            Err(error @ ProviderError::BadCredentials { .. }) => {
                warnings.push(format!("service `{name}`: {error}"));
            }
            Err(error) => return Err(error),
        }
    }
    for services in linked.values_mut() {
        services.sort();
    }
    Ok((linked, warnings))
}

/// Calls per API user in the last 7 days; a warning when the usage statistics cannot be read
/// (they only add to a report: what reads them still stands without them).
pub async fn recent_calls<A: Api>(provider: &A) -> Result<BTreeMap<UserId, u64>, String> {
    provider
        .usage_last_7_days()
        .await
        .map(|days| calls_by_user(&days))
        .map_err(|error| {
            format!(
                "the usage statistics could not be read ({error}): calls in the last 7 days are unknown"
            )
        })
}
