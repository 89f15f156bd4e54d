//! The Movius worlds: the replace of Jane's API user by a new one (`salesforce` checked by
//! command, `dialer` attested; tests/it/movius.rs), and a new email on Jane's user. relinker
//! observes nothing there but the check command, which the invariants take into account.

use serde_json::{Value, json};

use super::{Facts, Procedure, Site, StepModel, change, same, step};

pub(super) const STEPS: [StepModel; 5] = [
    step(
        "r0-add-new-user",
        &[change("new", "absent", &["present"])],
        true,
    ),
    step(
        "r0-switch-salesforce",
        &[change("int:salesforce", "old", &["new"])],
        true,
    ),
    step(
        "r0-switch-dialer",
        &[change("int:dialer", "old", &["new"])],
        true,
    ),
    step("r0-verify", &[], false),
    step(
        "r0-delete-old-user",
        &[change("old", "present", &["absent"])],
        true,
    ),
];

pub(super) const RENAME_STEPS: [StepModel; 1] = [step(
    "r0-rename-user",
    &[change("jane", "original", &["renamed"])],
    true,
)];

pub(super) const PLANNED: [(&str, &str); 4] = [
    ("new", "present"),
    ("int:salesforce", "new"),
    ("int:dialer", "new"),
    ("old", "absent"),
];

pub(super) const VERIFIED: [(&str, &str); 3] = [
    ("new", "present"),
    ("int:salesforce", "new"),
    ("int:dialer", "new"),
];

pub(super) const RENAMED: [(&str, &str); 1] = [("jane", "renamed")];

pub(super) const OLD_USERNAME: &str = "api-7fq2kd9xmw";
pub(super) const OLD_PASSWORD: &str = "sandbox-emailed-1";
pub(super) const NEW_PASSWORD: &str = "sandbox-emailed-2";
const OLD_EMAIL: &str = "jane.doe@acme.example";
const NEW_EMAIL: &str = "api.multiline@acme.example";
/// The usernames Movius emails the users a person adds, in order.
pub(super) const NEXT: [&str; 3] = ["api-p4m8wz3nqt", "api-p4m8wz3nqu", "api-p4m8wz3nqv"];

pub(super) const FIXTURE: &str = r#"
provider: movius
api_users:
  - email: jane.doe@acme.example
    first_name: Jane
    last_name: Doe
    applications: [Salesforce, HttpApi]
    username: api-7fq2kd9xmw
    password: "sandbox-emailed-1"
integrations:
  - { name: salesforce, application: Salesforce, user: jane.doe@acme.example }
  - { name: dialer, application: HttpApi, user: jane.doe@acme.example }
next_credentials:
  - { username: api-p4m8wz3nqt, password: "sandbox-emailed-2" }
  - { username: api-p4m8wz3nqu, password: "sandbox-emailed-2" }
  - { username: api-p4m8wz3nqv, password: "sandbox-emailed-2" }
"#;

pub(super) fn plan(base_url: &str, procedure: Procedure) -> String {
    let rotation = if procedure == Procedure::MoviusRename {
        "  - rename:
      user: jane.doe@acme.example
      email: api.team@acme.example
      first_name: Api
      last_name: Team"
    } else {
        "  - replace:
      services: [salesforce, dialer]
      user: jane.doe@acme.example
      with: api.multiline@acme.example
      first_name: MultiLine
      last_name: Integrations
      login: { username: '${env:MV_NEW_USER}', password: '${file:new.password}' }"
    };
    format!(
        "version: 1
name: movius-walk
instance: {{ provider: movius, base_url: '{base_url}' }}
services:
  - name: salesforce
    application: Salesforce
    username: {OLD_USERNAME}
    password: '${{env:MV_OLD}}'
    check: [relinker, check-credential, --path, /_sandbox/integrations/salesforce/check]
  - name: dialer
    application: HttpApi
rotations:
{rotation}
policy:
  on_failure: rollback
  max_deletions: 1
"
    )
}
/// A person's move for a step, in the Administrators tool or an integration's settings.
pub(super) async fn person(site: &Site, id: &str, undo: bool) -> String {
    match (id, undo) {
        ("r0-add-new-user", false) => {
            site.post(
                "/_sandbox/api-users",
                Some(
                    json!({"first_name": "MultiLine", "last_name": "Integrations",
                    "email": NEW_EMAIL, "applications": ["Salesforce", "HttpApi"]}),
                ),
            )
            .await
        }
        ("r0-add-new-user", true) => {
            site.delete(&format!("/_sandbox/api-users/{NEW_EMAIL}"))
                .await
        }
        ("r0-switch-salesforce" | "r0-switch-dialer", _) => {
            let integration = id.trim_start_matches("r0-switch-");
            let email = if undo { OLD_EMAIL } else { NEW_EMAIL };
            site.post(
                &format!("/_sandbox/integrations/{integration}/switch"),
                Some(json!({ "email": email })),
            )
            .await
        }
        ("r0-delete-old-user", false) => {
            site.delete(&format!("/_sandbox/api-users/{OLD_EMAIL}"))
                .await
        }
        ("r0-rename-user", _) => {
            let (from, to) = if undo {
                (
                    "api.team@acme.example",
                    json!({"email": OLD_EMAIL, "first_name": "Jane", "last_name": "Doe"}),
                )
            } else {
                (
                    OLD_EMAIL,
                    json!({"email": "api.team@acme.example", "first_name": "Api", "last_name": "Team"}),
                )
            };
            site.post(&format!("/_sandbox/api-users/{from}/edit"), Some(to))
                .await
        }
        _ => "nothing a person can do for it".into(),
    }
}

pub(super) fn facts(state: &Value) -> Facts {
    let mut facts = Facts::new();
    let users: Vec<&Value> = state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let by_email = |email: &str| users.iter().find(|u| same(&u["email"], email)).copied();
    let new = by_email(NEW_EMAIL);
    let new_username = new.and_then(|u| u["username"].as_str());
    facts.insert(
        "new",
        if new.is_some() { "present" } else { "absent" }.into(),
    );
    facts.insert(
        "old",
        if by_email(OLD_EMAIL).is_some() {
            "present"
        } else {
            "absent"
        }
        .into(),
    );
    for integration in state["integrations"].as_array().into_iter().flatten() {
        let used = integration["username"].as_str().unwrap_or_default();
        let value = if used == OLD_USERNAME {
            "old".to_owned()
        } else if Some(used) == new_username {
            "new".to_owned()
        } else {
            format!("user {used}")
        };
        match integration["name"].as_str() {
            Some("salesforce") => facts.insert("int:salesforce", value),
            Some("dialer") => facts.insert("int:dialer", value),
            _ => None,
        };
    }
    let mut others: Vec<String> = users
        .iter()
        .filter(|u| !same(&u["email"], NEW_EMAIL) && !same(&u["email"], OLD_EMAIL))
        .map(|u| format!("{} {}", u["email"], u["username"]))
        .collect();
    others.sort();
    facts.insert("others", others.join("; "));
    facts
}

pub(super) fn rename_facts(state: &Value) -> Facts {
    let mut facts = Facts::new();
    let users: Vec<&Value> = state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let jane = users
        .iter()
        .find(|u| u["username"] == OLD_USERNAME)
        .map_or_else(
            || "absent".to_owned(),
            |u| match (
                u["email"].as_str().unwrap_or_default(),
                u["first_name"].as_str().unwrap_or_default(),
                u["last_name"].as_str().unwrap_or_default(),
            ) {
                ("jane.doe@acme.example", "Jane", "Doe") => "original".to_owned(),
                ("api.team@acme.example", "Api", "Team") => "renamed".to_owned(),
                (email, first, last) => format!("{email} {first} {last}"),
            },
        );
    facts.insert("jane", jane);
    let mut others: Vec<String> = users
        .iter()
        .filter(|u| u["username"] != OLD_USERNAME)
        .map(|u| format!("{} {}", u["email"], u["username"]))
        .collect();
    for integration in state["integrations"].as_array().into_iter().flatten() {
        others.push(format!(
            "{} -> {}",
            integration["name"], integration["username"]
        ));
    }
    others.sort();
    facts.insert("others", others.join("; "));
    facts
}
