//! The Marketo world: the rename of `jane.doe` through a temporary user (the harness's
//! `RENAME`), under whichever reading the sandbox plays. Its facts are who each service is
//! linked to, whether the temporary user exists, and Jane's user's names and roles.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::{Change, Facts, Site, StepModel, answer, change, same, step};
use crate::harness::{ADMIN_ID, ADMIN_SECRET, segment};

const TEMP: &str = "relinker-temp@acme.example";
const JANE: &str = "jane.doe@acme.example";
const SERVICES: [&str; 2] = ["salesforce-sync", "reporting-export"];

pub(super) const STEPS: [StepModel; 9] = [
    // A temporary user left by an earlier run is given the roles instead of being created.
    step("r0-add-roles-temporary-user", &[], false),
    step(
        "r0-create-temporary-user",
        &[change("temp", "absent", &["invited", "user"])],
        true,
    ),
    step(
        "r0-link-salesforce-sync-to-temporary-user",
        &[change("link:salesforce-sync", "jane", &["temp"])],
        true,
    ),
    step(
        "r0-link-reporting-export-to-temporary-user",
        &[change("link:reporting-export", "jane", &["temp"])],
        true,
    ),
    step(
        "r0-update-user",
        &[change("jane", "original", &["renamed"])],
        false,
    ),
    step(
        "r0-link-salesforce-sync-back",
        &[change("link:salesforce-sync", "temp", &["jane"])],
        true,
    ),
    step(
        "r0-link-reporting-export-back",
        &[change("link:reporting-export", "temp", &["jane"])],
        true,
    ),
    step("r0-verify", &[], false),
    step(
        "r0-delete-temporary-user",
        &[change("temp", "user", &["absent"])],
        false,
    ),
];

pub(super) const PLANNED: [(&str, &str); 4] = [
    ("temp", "absent"),
    ("link:salesforce-sync", "jane"),
    ("link:reporting-export", "jane"),
    ("jane", "renamed"),
];

pub(super) const VERIFIED: [(&str, &str); 3] = [
    ("link:salesforce-sync", "jane"),
    ("link:reporting-export", "jane"),
    ("jane", "renamed"),
];

/// The roles of Jane's user in the state dump's words, to tell later roles from them.
pub(super) fn jane_roles(state: &Value) -> String {
    user(state, JANE).map_or_else(String::new, |u| roles(&u))
}

pub(super) fn facts(site: &Site, state: &Value) -> Facts {
    let mut facts = Facts::new();
    let invited = state["invitations"]
        .as_array()
        .is_some_and(|all| all.iter().any(|i| same(&i["userid"], TEMP)));
    let temp = if user(state, TEMP).is_some() {
        "user"
    } else if invited {
        "invited"
    } else {
        "absent"
    };
    facts.insert("temp", temp.into());
    for service in SERVICES {
        let linked = state["services"]
            .as_array()
            .and_then(|all| all.iter().find(|s| s["name"] == service))
            .map(|s| s["linkedUser"].as_str().unwrap_or_default().to_lowercase())
            .unwrap_or_default();
        let value = match linked.as_str() {
            JANE => "jane".to_owned(),
            TEMP => "temp".to_owned(),
            other => format!("user {other}"),
        };
        facts.insert(
            if service == "salesforce-sync" {
                "link:salesforce-sync"
            } else {
                "link:reporting-export"
            },
            value,
        );
    }
    let jane = match user(state, JANE) {
        None => "absent".to_owned(),
        Some(user) => {
            let names = (
                user["emailAddress"].as_str().unwrap_or_default(),
                user["firstName"].as_str().unwrap_or_default(),
                user["lastName"].as_str().unwrap_or_default(),
            );
            let mut value = match names {
                ("jane.doe@acme.example", "Jane", "Doe") => "original".to_owned(),
                ("api.salesforce@acme.example", "Salesforce", "Integration") => {
                    "renamed".to_owned()
                }
                (email, first, last) => format!("{email} {first} {last}"),
            };
            let held = roles(&user);
            if held != site.jane_roles {
                let _ = write!(value, " with roles {held}");
            }
            value
        }
    };
    facts.insert("jane", jane);
    let mut others: Vec<String> = Vec::new();
    for user in state["users"].as_array().into_iter().flatten() {
        if !same(&user["userid"], JANE) && !same(&user["userid"], TEMP) {
            others.push(format!(
                "{} {} {} {} {}",
                user["userid"],
                user["emailAddress"],
                user["firstName"],
                user["lastName"],
                roles(user)
            ));
        }
    }
    // Other invitations lapse as the instance's clock moves: they are not the run's.
    for service in state["services"].as_array().into_iter().flatten() {
        let name = service["name"].as_str().unwrap_or_default();
        if !SERVICES.contains(&name) {
            others.push(format!("{name} -> {}", service["linkedUser"]));
        }
    }
    others.sort();
    facts.insert("others", others.join("; "));
    facts
}

/// A person's move for a step: accept the temporary user's invitation, relink a service (or
/// link it back), or have an admin delete the temporary user.
pub(super) async fn person(site: &Site, id: &str, undo: bool) -> String {
    match (id, undo) {
        ("r0-create-temporary-user", false) => {
            site.post(
                &format!("/_sandbox/invitations/{}/accept", segment(TEMP)),
                None,
            )
            .await
        }
        ("r0-create-temporary-user", true) => admin_deletes(site, TEMP).await,
        (id, _) if id.starts_with("r0-link-") => {
            let model = site.model(id).expect("a modelled step");
            let change: &Change = &model.changes[0];
            let service = change.fact.trim_start_matches("link:");
            let to = if undo { change.before } else { change.after[0] };
            let userid = if to == "temp" { TEMP } else { JANE };
            site.post(
                &format!("/_sandbox/services/{service}/link"),
                Some(json!({ "userid": userid })),
            )
            .await
        }
        _ => "nothing a person can do for it".into(),
    }
}

/// An admin deletes a user (or its pending invitation) through the User Management API, which
/// the walk's faults may refuse or cut off like any other call.
async fn admin_deletes(site: &Site, userid: &str) -> String {
    let identity = site
        .sandbox
        .http
        .get(site.sandbox.url("/identity/oauth/token"))
        .query(&[
            ("grant_type", "client_credentials"),
            ("client_id", ADMIN_ID),
            ("client_secret", ADMIN_SECRET),
        ])
        .send()
        .await;
    let token = match identity {
        Ok(answer) => answer.json::<Value>().await.ok(),
        Err(_) => None,
    };
    let Some(token) = token.and_then(|t| t["access_token"].as_str().map(str::to_owned)) else {
        return "the admin could not sign in".into();
    };
    let mut said = String::new();
    for path in ["delete.json", "invite/delete.json"] {
        let url = site.sandbox.url(&format!(
            "/userservice/management/v1/users/{}/{path}",
            segment(userid)
        ));
        said = answer(site.sandbox.http.post(url).bearer_auth(&token)).await;
        if !said.contains("1004") {
            break;
        }
    }
    said
}

fn user(state: &Value, userid: &str) -> Option<Value> {
    state["users"]
        .as_array()
        .and_then(|all| all.iter().find(|u| same(&u["userid"], userid)))
        .cloned()
}

fn roles(user: &Value) -> String {
    let mut pairs: Vec<String> = user["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect();
    pairs.sort();
    pairs.join(",")
}
