//! The dotdigital world: the replace of the user `magento` (checked by command) and
//! `crm-connector` (attested) share, retiring it by deletion (tests/it/dotdigital.rs). Usernames
//! are generated, so the new user is whichever the platform named last.

use serde_json::{Value, json};

use super::{Facts, Site, StepModel, change, same, step};

pub(super) const STEPS: [StepModel; 6] = [
    step(
        "r0-create-new-user",
        &[change("new", "absent", &["enabled"])],
        true,
    ),
    step(
        "r0-switch-magento",
        &[change("int:magento", "old", &["new"])],
        true,
    ),
    step(
        "r0-switch-crm-connector",
        &[change("int:crm-connector", "old", &["new"])],
        true,
    ),
    step("r0-verify", &[], false),
    step(
        "r0-disable-old-user",
        &[change("old", "enabled", &["disabled"])],
        true,
    ),
    step(
        "r0-delete-old-user",
        &[change("old", "disabled", &["absent"])],
        true,
    ),
];

pub(super) const PLANNED: [(&str, &str); 4] = [
    ("new", "enabled"),
    ("int:magento", "new"),
    ("int:crm-connector", "new"),
    ("old", "absent"),
];

pub(super) const VERIFIED: [(&str, &str); 3] = [
    ("new", "enabled"),
    ("int:magento", "new"),
    ("int:crm-connector", "new"),
];

pub(super) const OLD_USER: &str = "apiuser-k3x9q2m7v1ab@apiconnector.com";
pub(super) const OLD_PASSWORD: &str = "sandbox-Old-7q";
pub(super) const NEW_PASSWORD: &str = "sandbox-New-4k";
pub(super) const OTHER_USER: &str = "apiuser-other0000001@apiconnector.com";
pub(super) const OTHER_PASSWORD: &str = "sandbox-Other-3x";
const ACCOUNT: u64 = 417_893;
/// The usernames the sandbox gives the users a person creates, in order.
pub(super) const NEXT: [&str; 3] = [
    "apiuser-n8w4p6r2t5cd@apiconnector.com",
    "apiuser-n8w4p6r2t5ce@apiconnector.com",
    "apiuser-n8w4p6r2t5cf@apiconnector.com",
];

pub(super) const FIXTURE: &str = r#"
provider: dotdigital
accounts:
  - { id: 417893, name: Acme Ltd, region: r1 }
  - { id: 500001, name: Other Co, region: r1 }
api_users:
  - { username: apiuser-k3x9q2m7v1ab@apiconnector.com, password: "sandbox-Old-7q", account: 417893 }
  - { username: apiuser-other0000001@apiconnector.com, password: "sandbox-Other-3x", account: 500001 }
integrations:
  - { name: magento, user: apiuser-k3x9q2m7v1ab@apiconnector.com }
  - { name: crm-connector, user: apiuser-k3x9q2m7v1ab@apiconnector.com }
next_usernames:
  - apiuser-n8w4p6r2t5cd@apiconnector.com
  - apiuser-n8w4p6r2t5ce@apiconnector.com
  - apiuser-n8w4p6r2t5cf@apiconnector.com
"#;

pub(super) fn plan(base_url: &str) -> String {
    format!(
        "version: 1
name: dd-replace
instance: {{ provider: dotdigital, base_url: '{base_url}' }}
services:
  - name: magento
    username: {OLD_USER}
    password: '${{env:DD_OLD}}'
    check: [relinker, check-credential, --path, /_sandbox/integrations/magento/check]
  - name: crm-connector
    username: {OLD_USER}
    password: '${{env:DD_OLD}}'
rotations:
  - replace:
      services: [magento, crm-connector]
      with: {{ username: '${{env:DD_NEW_USER}}', password: '${{file:new.password}}' }}
      retire: delete
policy:
  on_failure: rollback
  max_deletions: 1
"
    )
}
/// The user the walk's person (or the sandbox operator) made last: the one the run should use.
pub(super) fn made(site: &Site) -> Option<&'static str> {
    site.made.checked_sub(1).and_then(|i| NEXT.get(i)).copied()
}

pub(super) fn facts(site: &Site, state: &Value) -> Facts {
    let mut facts = Facts::new();
    let users: Vec<&Value> = state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let user_state = |name: Option<&str>| {
        name.and_then(|name| users.iter().find(|u| same(&u["username"], name)))
            .map_or("absent", |u| {
                if u["enabled"] == true {
                    "enabled"
                } else {
                    "disabled"
                }
            })
            .to_owned()
    };
    let made = made(site);
    facts.insert("old", user_state(Some(OLD_USER)));
    facts.insert("new", user_state(made));
    for integration in state["integrations"].as_array().into_iter().flatten() {
        let used = integration["username"].as_str().unwrap_or_default();
        let value = if used.eq_ignore_ascii_case(OLD_USER) {
            "old".to_owned()
        } else if made.is_some_and(|m| used.eq_ignore_ascii_case(m)) {
            "new".to_owned()
        } else {
            format!("user {used}")
        };
        match integration["name"].as_str() {
            Some("magento") => facts.insert("int:magento", value),
            Some("crm-connector") => facts.insert("int:crm-connector", value),
            _ => None,
        };
    }
    let mut others: Vec<String> = users
        .iter()
        .filter(|u| {
            let name = u["username"].as_str().unwrap_or_default();
            !name.eq_ignore_ascii_case(OLD_USER)
                && !made.is_some_and(|m| name.eq_ignore_ascii_case(m))
        })
        .map(|u| format!("{} {} {}", u["username"], u["enabled"], u["account"]))
        .collect();
    others.sort();
    facts.insert("others", others.join("; "));
    facts
}

/// A person's move for a step, in Settings > Access > API users or an integration's settings.
pub(super) async fn person(site: &Site, id: &str, undo: bool) -> String {
    match (id, undo) {
        ("r0-create-new-user", false) => {
            if facts(site, &site.sandbox.state().await)["new"] != "absent" {
                return "the new user is there already".into();
            }
            site.post(
                "/_sandbox/api-users",
                Some(json!({"password": NEW_PASSWORD, "account": ACCOUNT})),
            )
            .await
        }
        ("r0-create-new-user", true) => match made(site) {
            Some(made) => site.delete(&format!("/_sandbox/api-users/{made}")).await,
            None => "no new user to delete".into(),
        },
        ("r0-switch-magento" | "r0-switch-crm-connector", _) => {
            let integration = id.trim_start_matches("r0-switch-");
            let (username, password) = match (undo, made(site)) {
                (true, _) => (OLD_USER, OLD_PASSWORD),
                (false, Some(made)) => (made, NEW_PASSWORD),
                (false, None) => return "no new user to switch to".into(),
            };
            site.post(
                &format!("/_sandbox/integrations/{integration}/credential"),
                Some(json!({"username": username, "password": password})),
            )
            .await
        }
        ("r0-disable-old-user", _) => {
            site.post(
                &format!("/_sandbox/api-users/{OLD_USER}/enabled"),
                Some(json!({ "enabled": undo })),
            )
            .await
        }
        ("r0-delete-old-user", false) => {
            site.delete(&format!("/_sandbox/api-users/{OLD_USER}"))
                .await
        }
        _ => "nothing a person can do for it".into(),
    }
}
