//! A fixture written from a copy of a live instance ([`Mirror`]), so a plan can be rehearsed
//! against production's users, roles and links before it runs there. Credentials are
//! placeholders made up here: a fixture never holds a live secret.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::NaiveDate;

use super::dates;
use super::model::ALL_ZONES_ID;
use super::world::USAGE_DAYS;
use crate::input::yaml_scalar as quoted;
use crate::provider::marketo::mirror::Mirror;

/// The fixture's text, and what could not be copied (beside the mirror's own warnings).
/// `source` says where the copy came from, for the header; `today` is the quota day the usage
/// statistics' days are counted back from.
pub fn fixture_from(mirror: &Mirror, source: &str, today: NaiveDate) -> (String, Vec<String>) {
    let mut warnings = Vec::new();
    let mut out = format!(
        "# A copy of {source}, written by `relinker sandbox --from-live` for rehearsals.\n\
         # Credentials are sandbox placeholders; no live secret is in this file.\n\
         # The roles relinker's admin service holds carry the User Management permissions,\n\
         # which the API does not list. Pending invitations are not listed by the API either.\n\
         provider: marketo\n"
    );
    let admin_roles: BTreeSet<u64> = mirror
        .users
        .iter()
        .filter(|user| user.record.userid == mirror.admin.1)
        .flat_map(|user| user.record.roles.iter().map(|pair| pair.role_id))
        .collect();
    out.push_str("roles:\n");
    for role in &mirror.roles {
        let _ = write!(
            out,
            "  - {{ id: {}, name: {}, description: {}, type: {}, only_all_zones: {}",
            role.id,
            quoted(&role.name),
            quoted(&role.description),
            quoted(&role.kind),
            role.only_all_zones
        );
        if admin_roles.contains(&role.id) {
            out.push_str(", permissions: [access_users, access_user_management_api]");
        }
        out.push_str(" }\n");
    }
    out.push_str("workspaces:\n");
    for workspace in &mirror.workspaces {
        let _ = writeln!(
            out,
            "  - {{ id: {}, name: {}, description: {} }}",
            workspace.id,
            quoted(&workspace.name),
            quoted(&workspace.description)
        );
    }
    users(&mut out, mirror, &mut warnings);
    services(&mut out, mirror);
    usage(&mut out, mirror, today);
    (out, warnings)
}

fn users(out: &mut String, mirror: &Mirror, warnings: &mut Vec<String>) {
    let roles: BTreeSet<u64> = mirror.roles.iter().map(|r| r.id).collect();
    let workspaces: BTreeSet<u64> = mirror.workspaces.iter().map(|w| w.id).collect();
    out.push_str("users:\n");
    for user in &mirror.users {
        let record = &user.record;
        let mut pairs = Vec::new();
        for pair in &record.roles {
            let workspace = if pair.workspace_id == ALL_ZONES_ID {
                Some("AllZones".to_owned())
            } else {
                workspaces
                    .contains(&pair.workspace_id)
                    .then(|| pair.workspace_id.to_string())
            };
            match workspace.filter(|_| roles.contains(&pair.role_id)) {
                Some(workspace) => {
                    pairs.push(format!(
                        "{{ role: {}, workspace: {workspace} }}",
                        pair.role_id
                    ));
                }
                None => warnings.push(format!(
                    "`{}`: role {} in workspace {} is not in the instance's lists; left out",
                    record.userid, pair.role_id, pair.workspace_id
                )),
            }
        }
        if pairs.is_empty() {
            warnings.push(format!(
                "`{}` is left out: it holds no role the instance lists",
                record.userid
            ));
            continue;
        }
        let _ = writeln!(out, "  - userid: {}", quoted(record.userid.as_str()));
        if record.email != record.userid.as_str() {
            let _ = writeln!(out, "    email: {}", quoted(&record.email));
        }
        let _ = writeln!(
            out,
            "    first_name: {}\n    last_name: {}\n    api_only: {}\n    roles: [{}]",
            quoted(&record.first_name),
            quoted(&record.last_name),
            record.api_only,
            pairs.join(", ")
        );
        if let Some(at) = record.expires_at {
            let _ = writeln!(out, "    expires_at: {}", quoted(&dates::user_record(at)));
        }
        if let Some(at) = user.last_login_at {
            let _ = writeln!(
                out,
                "    last_login_at: {}",
                quoted(&dates::user_record(at))
            );
        }
    }
}

/// The admin service first, then each known service, with made-up credentials that are unique
/// per service (the sandbox tells services apart by client id).
fn services(out: &mut String, mirror: &Mirror) {
    out.push_str("services:\n");
    let (admin, admin_user) = &mirror.admin;
    let _ = writeln!(
        out,
        "  - {{ name: {}, client_id: \"sandbox-client-0\", client_secret: \"sandbox-secret-0\", user: {}, admin: true }}",
        quoted(admin.as_str()),
        quoted(admin_user.as_str())
    );
    for (index, (service, user)) in mirror
        .services
        .iter()
        .filter(|(service, _)| *service != admin)
        .enumerate()
    {
        let n = index + 1;
        let _ = writeln!(
            out,
            "  - {{ name: {}, client_id: \"sandbox-client-{n}\", client_secret: \"sandbox-secret-{n}\", user: {} }}",
            quoted(service.as_str()),
            quoted(user.as_str())
        );
    }
}

/// Each day's calls per user, counted back from `today` (days the sandbox cannot report are
/// dropped).
fn usage(out: &mut String, mirror: &Mirror, today: NaiveDate) {
    let mut rows = String::new();
    for day in &mirror.usage {
        let days_ago = (today - day.date).num_days();
        if !(0..USAGE_DAYS).contains(&days_ago) {
            continue;
        }
        for (userid, calls) in day.calls.iter().filter(|(_, calls)| **calls > 0) {
            let _ = writeln!(
                rows,
                "  - {{ userid: {}, days_ago: {days_ago}, calls: {calls} }}",
                quoted(userid.as_str())
            );
        }
    }
    if !rows.is_empty() {
        out.push_str("usage:\n");
        out.push_str(&rows);
    }
}
