//! A fixture written from a copy of a live instance ([`Mirror`]), so a plan can be rehearsed
//! against production's users, roles and links before it runs there. Credentials are
//! placeholders made up here: a fixture never holds a live secret.
//!
//! The copy is gathered once into items (a role, a user, a day's calls) and written in either
//! notation a fixture may have: YAML, with a header saying what the file is, or JSON, which
//! has no comments and loads many times faster (docs/performance.md). Both put one item on a
//! line, so a message about a copy points at the line of the user it is about.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::input::yaml_scalar as quoted;
use crate::provider::marketo::dates;
use crate::provider::marketo::mirror::Mirror;
use crate::sandbox::Notation;
use crate::sandbox::marketo::{ALL_ZONES_ID, USAGE_DAYS};

/// A value of the copy: what YAML's flow style and JSON write alike but for quoting.
enum Value {
    Text(String),
    Number(u64),
    Bool(bool),
    /// A fixed word, bare in YAML (`AllZones`, `access_users`) and quoted in JSON.
    Word(&'static str),
    List(Vec<Value>),
    Item(Item),
}

/// A mapping of the copy, its keys in the order written.
type Item = Vec<(&'static str, Value)>;

impl Value {
    fn write(&self, out: &mut String, notation: Notation) {
        match self {
            Value::Text(text) => out.push_str(&quoted(text)),
            Value::Number(number) => {
                let _ = write!(out, "{number}");
            }
            Value::Bool(flag) => {
                let _ = write!(out, "{flag}");
            }
            Value::Word(word) => match notation {
                Notation::Yaml => out.push_str(word),
                Notation::Json => out.push_str(&quoted(word)),
            },
            Value::List(values) => {
                out.push('[');
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    value.write(out, notation);
                }
                out.push(']');
            }
            Value::Item(item) => write_item(out, item, notation),
        }
    }
}

/// `{ key: value, … }` in YAML, `{"key": value, …}` in JSON.
fn write_item(out: &mut String, item: &Item, notation: Notation) {
    out.push_str(match notation {
        Notation::Yaml => "{ ",
        Notation::Json => "{",
    });
    for (index, (key, value)) in item.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        match notation {
            Notation::Yaml => out.push_str(key),
            Notation::Json => out.push_str(&quoted(key)),
        }
        out.push_str(": ");
        value.write(out, notation);
    }
    out.push_str(match notation {
        Notation::Yaml => " }",
        Notation::Json => "}",
    });
}

/// What the copy holds, section by section, in the order written.
struct Copy {
    roles: Vec<Item>,
    workspaces: Vec<Item>,
    users: Vec<Item>,
    services: Vec<Item>,
    usage: Vec<Item>,
}

impl Copy {
    /// The sections in the order written: the lists always (even empty, as copies always had
    /// them), usage statistics only when there are any.
    fn sections(&self) -> impl Iterator<Item = (&'static str, &[Item])> {
        [
            ("roles", &self.roles),
            ("workspaces", &self.workspaces),
            ("users", &self.users),
            ("services", &self.services),
            ("usage", &self.usage),
        ]
        .into_iter()
        .filter(|(name, items)| *name != "usage" || !items.is_empty())
        .map(|(name, items)| (name, items.as_slice()))
    }
}

/// The fixture's text in `notation`, and what could not be copied (beside the mirror's own
/// warnings). `source` says where the copy came from, for the YAML header; `today` is the quota
/// day the usage statistics' days are counted back from.
pub fn fixture_from(
    mirror: &Mirror,
    source: &str,
    today: NaiveDate,
    notation: Notation,
) -> (String, Vec<String>) {
    let mut warnings = Vec::new();
    let copy = Copy {
        roles: roles(mirror),
        workspaces: mirror
            .workspaces
            .iter()
            .map(|workspace| {
                vec![
                    ("id", Value::Number(workspace.id)),
                    ("name", Value::Text(workspace.name.clone())),
                    ("description", Value::Text(workspace.description.clone())),
                ]
            })
            .collect(),
        users: users(mirror, &mut warnings),
        services: services(mirror),
        usage: usage(mirror, today),
    };
    let text = match notation {
        Notation::Yaml => yaml(&copy, source),
        Notation::Json => json(&copy),
    };
    (text, warnings)
}

/// The copy in YAML: a header saying what it is, users in block style (a field a line), every
/// other item in flow style on a line of its own.
fn yaml(copy: &Copy, source: &str) -> String {
    let mut out = format!(
        "# A copy of {source}, written by `relinker sandbox --from-live` for rehearsals.\n\
         # Credentials are sandbox placeholders; no live secret is in this file.\n\
         # The roles relinker's admin service holds carry the User Management permissions,\n\
         # which the API does not list. Pending invitations are not listed by the API either.\n\
         provider: marketo\n"
    );
    for (name, items) in copy.sections() {
        let _ = writeln!(out, "{name}:");
        for item in items {
            if name == "users" {
                for (index, (key, value)) in item.iter().enumerate() {
                    out.push_str(if index == 0 { "  - " } else { "    " });
                    out.push_str(key);
                    out.push_str(": ");
                    value.write(&mut out, Notation::Yaml);
                    out.push('\n');
                }
            } else {
                out.push_str("  - ");
                write_item(&mut out, item, Notation::Yaml);
                out.push('\n');
            }
        }
    }
    out
}

/// The copy in JSON: one object, `provider` first (so the platform is read without parsing the
/// file), an item a line.
fn json(copy: &Copy) -> String {
    let mut out = String::from("{\n  \"provider\": \"marketo\"");
    for (name, items) in copy.sections() {
        let _ = write!(out, ",\n  \"{name}\": [");
        for (index, item) in items.iter().enumerate() {
            out.push_str(if index == 0 { "\n    " } else { ",\n    " });
            write_item(&mut out, item, Notation::Json);
        }
        out.push_str(if items.is_empty() { "]" } else { "\n  ]" });
    }
    out.push_str("\n}\n");
    out
}

/// Every role; the roles relinker's admin service holds get the User Management permissions.
fn roles(mirror: &Mirror) -> Vec<Item> {
    let admin_roles: BTreeSet<u64> = mirror
        .users
        .iter()
        .filter(|user| user.record.userid == mirror.admin.1)
        .flat_map(|user| user.record.roles.iter().map(|pair| pair.role_id))
        .collect();
    mirror
        .roles
        .iter()
        .map(|role| {
            let mut item = vec![
                ("id", Value::Number(role.id)),
                ("name", Value::Text(role.name.clone())),
                ("description", Value::Text(role.description.clone())),
                ("type", Value::Text(role.kind.clone())),
                ("only_all_zones", Value::Bool(role.only_all_zones)),
            ];
            if admin_roles.contains(&role.id) {
                item.push((
                    "permissions",
                    Value::List(vec![
                        Value::Word("access_users"),
                        Value::Word("access_user_management_api"),
                    ]),
                ));
            }
            item
        })
        .collect()
}

fn users(mirror: &Mirror, warnings: &mut Vec<String>) -> Vec<Item> {
    let roles: BTreeSet<u64> = mirror.roles.iter().map(|r| r.id).collect();
    let workspaces: BTreeSet<u64> = mirror.workspaces.iter().map(|w| w.id).collect();
    let mut items = Vec::with_capacity(mirror.users.len());
    for user in &mirror.users {
        let record = &user.record;
        let mut pairs = Vec::new();
        for pair in &record.roles {
            let workspace = if pair.workspace_id == ALL_ZONES_ID {
                Some(Value::Word("AllZones"))
            } else {
                workspaces
                    .contains(&pair.workspace_id)
                    .then_some(Value::Number(pair.workspace_id))
            };
            match workspace.filter(|_| roles.contains(&pair.role_id)) {
                Some(workspace) => pairs.push(Value::Item(vec![
                    ("role", Value::Number(pair.role_id)),
                    ("workspace", workspace),
                ])),
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
        let mut item = vec![("userid", Value::Text(record.userid.as_str().to_owned()))];
        if record.email != record.userid.as_str() {
            item.push(("email", Value::Text(record.email.clone())));
        }
        item.extend([
            ("first_name", Value::Text(record.first_name.clone())),
            ("last_name", Value::Text(record.last_name.clone())),
            ("api_only", Value::Bool(record.api_only)),
            ("roles", Value::List(pairs)),
        ]);
        if let Some(at) = record.expires_at {
            item.push(("expires_at", Value::Text(dates::format_user_record(at))));
        }
        if let Some(at) = user.last_login_at {
            item.push(("last_login_at", Value::Text(dates::format_user_record(at))));
        }
        items.push(item);
    }
    items
}

/// The admin service first, then each known service, with made-up credentials that are unique
/// per service (the sandbox tells services apart by client id).
fn services(mirror: &Mirror) -> Vec<Item> {
    let (admin, admin_user) = &mirror.admin;
    let service = |name: &str, n: usize, user: &str| {
        vec![
            ("name", Value::Text(name.to_owned())),
            ("client_id", Value::Text(format!("sandbox-client-{n}"))),
            ("client_secret", Value::Text(format!("sandbox-secret-{n}"))),
            ("user", Value::Text(user.to_owned())),
        ]
    };
    let mut items = vec![service(admin.as_str(), 0, admin_user.as_str())];
    items[0].push(("admin", Value::Bool(true)));
    items.extend(
        mirror
            .services
            .iter()
            .filter(|(service, _)| *service != admin)
            .enumerate()
            .map(|(index, (name, user))| service(name.as_str(), index + 1, user.as_str())),
    );
    items
}

/// Each day's calls per user, counted back from `today` (days the sandbox cannot report are
/// dropped).
fn usage(mirror: &Mirror, today: NaiveDate) -> Vec<Item> {
    let mut items = Vec::new();
    for day in &mirror.usage {
        let days_ago = (today - day.date).num_days();
        if !(0..USAGE_DAYS).contains(&days_ago) {
            continue;
        }
        let days_ago = days_ago.unsigned_abs();
        for (userid, calls) in day.calls.iter().filter(|(_, calls)| **calls > 0) {
            items.push(vec![
                ("userid", Value::Text(userid.as_str().to_owned())),
                ("days_ago", Value::Number(days_ago)),
                ("calls", Value::Number(*calls)),
            ]);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::ids::{ServiceName, UserId};
    use crate::provider::marketo::{
        DailyUsage, RoleInfo, RolePair, UserActivity, UserRecord, WorkspaceInfo,
    };
    use crate::sandbox::marketo::Fixture;

    fn user(userid: &str, api_only: bool, roles: &[(u64, u64)]) -> UserActivity {
        UserActivity {
            record: UserRecord {
                userid: UserId::from_platform(userid),
                email: userid.replace('@', "+mail@"),
                first_name: "Jo \"JJ\"".into(),
                last_name: "Ünal: the second".into(),
                api_only,
                roles: roles
                    .iter()
                    .map(|&(role_id, workspace_id)| RolePair {
                        role_id,
                        workspace_id,
                    })
                    .collect(),
                expires_at: Utc.with_ymd_and_hms(2027, 6, 30, 0, 0, 0).single(),
            },
            last_login_at: Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 0).single(),
        }
    }

    /// An instance with a bit of everything a copy holds, and one pair it cannot copy.
    fn instance(today: NaiveDate) -> Mirror {
        let admin = UserId::from_platform("admin@acme.example");
        Mirror {
            roles: vec![
                RoleInfo {
                    id: 101,
                    name: "Admin".into(),
                    description: "All of it, \"really\"".into(),
                    kind: "system".into(),
                    only_all_zones: true,
                },
                RoleInfo {
                    id: 1001,
                    name: "Ops: EMEA".into(),
                    description: String::new(),
                    kind: "custom".into(),
                    only_all_zones: false,
                },
            ],
            workspaces: vec![WorkspaceInfo {
                id: 1,
                name: "Default".into(),
                description: "# not a comment".into(),
            }],
            users: vec![
                user("admin@acme.example", true, &[(101, 0)]),
                user("api@acme.example", true, &[(1001, 1), (1001, 9)]),
                user("person@acme.example", false, &[(1001, 1)]),
            ],
            admin: (ServiceName::new("relinker-admin"), admin),
            services: BTreeMap::from([(
                ServiceName::new("sync"),
                UserId::from_platform("api@acme.example"),
            )]),
            usage: vec![DailyUsage {
                date: today - chrono::Duration::days(2),
                calls: BTreeMap::from([(UserId::from_platform("api@acme.example"), 340)]),
            }],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn both_notations_copy_the_same_instance() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let mirror = instance(today);
        let (yaml, yaml_left_out) = fixture_from(&mirror, "`live`", today, Notation::Yaml);
        let (json, json_left_out) = fixture_from(&mirror, "`live`", today, Notation::Json);
        assert_eq!(yaml_left_out, json_left_out);
        assert_eq!(
            yaml_left_out,
            [
                "`api@acme.example`: role 1001 in workspace 9 is not in the instance's lists; left out"
            ]
        );
        assert!(yaml.starts_with("# A copy of `live`"), "{yaml}");
        // The YAML is as it was before JSON was written too (checked byte for byte against the
        // earlier writer when the two were split).
        for line in [
            "  - userid: \"api@acme.example\"\n    email: \"api+mail@acme.example\"\n",
            "    roles: [{ role: 1001, workspace: 1 }]\n",
            "  - { id: 101, name: \"Admin\", description: \"All of it, \\\"really\\\"\", type: \"system\", only_all_zones: true, permissions: [access_users, access_user_management_api] }\n",
            "  - { userid: \"api@acme.example\", days_ago: 2, calls: 340 }\n",
        ] {
            assert!(yaml.contains(line), "{line}\n{yaml}");
        }
        assert!(
            json.starts_with("{\n  \"provider\": \"marketo\",\n  \"roles\": [\n    {\"id\": 101, "),
            "{json}"
        );
        serde_json::from_str::<serde_json::Value>(&json).expect("JSON");
        let now = Utc::now();
        let world = |text: &str, origin: &str| {
            let fixture = Fixture::parse(text, origin).unwrap_or_else(|e| panic!("{e}\n{text}"));
            format!("{:?}\n{:?}", fixture.to_world(now, &[]), fixture.services())
        };
        let copied = world(&yaml, "copy.yaml");
        assert_eq!(copied, world(&json, "copy.json"));
        assert!(
            copied.contains("Ops: EMEA") && copied.contains("340"),
            "{copied}"
        );
    }
}
