//! The scan: every user of the instance, which known service each is linked to, and who matches
//! the departed list. Reads only.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::Serialize;

use super::config::Config;
use super::departed::Departed;
use crate::ids::UserId;
use crate::provider::ProviderError;
use crate::provider::marketo::{Api, Credentials};

/// An API-only user tied to someone who left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Its userid.
    pub userid: String,
    /// Its mailbox.
    pub email: String,
    /// Known services linked to it, sorted.
    pub services: Vec<String>,
}

/// What a scan found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scan {
    /// Users in the instance.
    pub users: usize,
    /// API-only users among them.
    pub api_users: usize,
    /// Matched users with at least one known service: a plan is written for each.
    pub matched: Vec<Finding>,
    /// Matched users with no known service: a person must check them in the UI.
    pub unlinked: Vec<Finding>,
    /// Matched users that are protected, skipped.
    pub protected: Vec<String>,
    /// Known services whose credentials did not work.
    pub warnings: Vec<String>,
}

/// Scans the instance.
pub async fn scan<P: Api>(
    provider: &P,
    config: &Config,
    departed: &Departed,
    credentials: &Credentials,
) -> Result<Scan, ProviderError> {
    let admin_user = provider.linked_user(&credentials.admin).await?.userid;
    let users = provider.all_users().await?;
    let mut linked: BTreeMap<UserId, Vec<String>> = BTreeMap::new();
    let mut scan = Scan {
        users: users.len(),
        ..Scan::default()
    };
    let links = join_all(
        credentials
            .services
            .values()
            .map(|creds| async move { (creds.name.clone(), provider.linked_user(creds).await) }),
    )
    .await;
    for (name, link) in links {
        match link {
            Ok(link) => linked
                .entry(link.userid)
                .or_default()
                .push(name.to_string()),
            Err(error @ ProviderError::BadCredentials { .. }) => {
                scan.warnings.push(format!("service `{name}`: {error}"));
            }
            Err(error) => return Err(error),
        }
    }
    for user in users.into_iter().filter(|u| u.api_only) {
        scan.api_users += 1;
        if !departed.covers(user.userid.as_str()) && !departed.covers(&user.email) {
            continue;
        }
        let protected = user.userid == admin_user
            || config
                .protected
                .iter()
                .any(|p| p.covers(user.userid.as_str()) || p.covers(&user.email));
        if protected {
            scan.protected.push(user.userid.to_string());
            continue;
        }
        let mut services = linked.get(&user.userid).cloned().unwrap_or_default();
        services.sort();
        let finding = Finding {
            userid: user.userid.to_string(),
            email: user.email,
            services,
        };
        if finding.services.is_empty() {
            scan.unlinked.push(finding);
        } else {
            scan.matched.push(finding);
        }
    }
    scan.matched.sort_by(|a, b| a.userid.cmp(&b.userid));
    scan.unlinked.sort_by(|a, b| a.userid.cmp(&b.userid));
    scan.protected.sort();
    Ok(scan)
}
