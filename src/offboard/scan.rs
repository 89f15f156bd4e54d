//! The scan: every user of the instance, which known service each is linked to, and who matches
//! the departed list. Reads only.

use serde::Serialize;

use super::config::Config;
use super::departed::Departed;
use crate::provider::ProviderError;
use crate::provider::marketo::inventory::{known_links, recent_calls};
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
    /// Its calls in the last seven days, from the usage statistics; `None` when they could
    /// not be read.
    pub calls_last_7_days: Option<u64>,
    /// Why it matched: `userid` or `email`, and the departed entry that covers it.
    pub matched_by: String,
}

impl Finding {
    /// Linked to no known service, yet calling: an integration relinker has no credentials
    /// for still runs as it.
    pub fn still_calling(&self) -> bool {
        self.services.is_empty() && self.calls_last_7_days.is_some_and(|calls| calls > 0)
    }
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
    /// Matched users with no known service: a person must check them in the UI. Those still
    /// making calls come first, the busiest first.
    pub unlinked: Vec<Finding>,
    /// Matched users that are protected, skipped.
    pub protected: Vec<String>,
    /// Known services whose credentials did not work.
    pub warnings: Vec<String>,
    /// Entries of the departed list that matched no API-only user (a typo, or someone whose
    /// integrations are already moved).
    pub unmatched: Vec<String>,
}

/// Scans the instance.
pub async fn scan<P: Api>(
    provider: &P,
    config: &Config,
    departed: &Departed,
    credentials: &Credentials,
) -> Result<Scan, ProviderError> {
    let admin_user = provider.linked_user(&credentials.admin).await?;
    let users = provider.all_users().await?;
    let mut scan = Scan {
        users: users.len(),
        ..Scan::default()
    };
    let (linked, failed) = known_links(provider, credentials).await?;
    scan.warnings.extend(failed);
    let calls = match recent_calls(provider).await {
        Ok(calls) => Some(calls),
        Err(warning) => {
            scan.warnings.push(warning);
            None
        }
    };
    let mut used = std::collections::BTreeSet::new();
    for user in users.into_iter().filter(|u| u.api_only) {
        scan.api_users += 1;
        let matched_by = match (
            departed.entry_for(user.userid.as_str()),
            departed.entry_for(&user.email),
        ) {
            (Some(entry), _) => {
                used.insert(entry.clone());
                format!("userid matches `{entry}`")
            }
            (None, Some(entry)) => {
                used.insert(entry.clone());
                format!("email `{}` matches `{entry}`", user.email)
            }
            (None, None) => continue,
        };
        let protected = user.userid == admin_user
            || config
                .protected
                .iter()
                .any(|p| p.covers(user.userid.as_str()) || p.covers(&user.email));
        if protected {
            scan.protected.push(user.userid.to_string());
            continue;
        }
        let services = linked.get(&user.userid).cloned().unwrap_or_default();
        let finding = Finding {
            userid: user.userid.to_string(),
            email: user.email,
            services,
            calls_last_7_days: calls
                .as_ref()
                .map(|calls| calls.get(&user.userid).copied().unwrap_or(0)),
            matched_by,
        };
        if finding.services.is_empty() {
            scan.unlinked.push(finding);
        } else {
            scan.matched.push(finding);
        }
    }
    scan.matched.sort_by(|a, b| a.userid.cmp(&b.userid));
    scan.unlinked.sort_by(|a, b| {
        (b.calls_last_7_days.unwrap_or(0), &a.userid)
            .cmp(&(a.calls_last_7_days.unwrap_or(0), &b.userid))
    });
    scan.protected.sort();
    scan.unmatched = departed.entries().filter(|e| !used.contains(e)).collect();
    Ok(scan)
}
