//! `relinker offboard` on the real binary against a sandbox of a few hundred generated users:
//! matching rules, the report, protected users, the safety limit, idempotent output, and a whole
//! scheduled cycle (offboard -> apply -> a person links -> resume --all -> done).

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use relinker::offboard::normalize;
use relinker::sandbox::marketo::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::harness::TestSandbox;

/// API-only users of departed people (userid, emailAddress, service) and the services they run.
const AFFECTED: [(&str, &str, &str); 6] = [
    ("jane.doe@acme.example", "jane.doe@acme.example", "svc-a"),
    (
        "JOHN.ROE+crm@acme.example",
        "JOHN.ROE+crm@acme.example",
        "svc-b",
    ),
    ("api.x@acme.example", "mary.major@acme.example", "svc-c"),
    (
        "temp1@contractor.example",
        "temp1@contractor.example",
        "svc-d",
    ),
    (
        "break-glass-1@acme.example",
        "break-glass-1@acme.example",
        "svc-e",
    ),
    ("old.bot@acme.example", "old.bot@acme.example", "svc-z"),
];

const DEPARTED: &str = "name,email\nJane,jane.doe@acme.example\nJohn,john.roe@acme.example\nMary,Mary.Major@acme.example\nContractors,@contractor.example\nBreak glass,break-glass-1@acme.example\nOld bot owner,old.bot@acme.example\nA person,person7@acme.example\nAdmin owner,admin@acme.example\n";

fn fixture() -> String {
    let mut text = String::from(
        "users:\n  - { userid: admin@acme.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 0..280 {
        writeln!(text, "  - {{ userid: person{i}@acme.example, first_name: P, last_name: '{i}', roles: [{{ role: Standard User, workspace: World }}] }}").unwrap();
    }
    for i in 0..20 {
        writeln!(text, "  - {{ userid: api.other{i}@acme.example, first_name: O, last_name: '{i}', api_only: true, roles: [{{ role: Standard User, workspace: World }}] }}").unwrap();
    }
    for (userid, email, _) in AFFECTED {
        // Jane's integration last called in November; the inventory shows it.
        let login = if userid.starts_with("jane") {
            ", last_login_at: '2026-11-30T09:15:00.000t+0000'"
        } else {
            ""
        };
        writeln!(text, "  - {{ userid: '{userid}', email: '{email}', first_name: F, last_name: L, api_only: true, roles: [{{ role: Standard User, workspace: World }}]{login} }}").unwrap();
    }
    // A departed contractor's API user no service uses any more, and no one calls as.
    text.push_str("  - { userid: idle.bot@contractor.example, first_name: I, last_name: B, api_only: true, roles: [{ role: Standard User, workspace: World }] }\n");
    text.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@acme.example, admin: true }\n");
    for (userid, _, service) in AFFECTED {
        writeln!(text, "  - {{ name: {service}, client_id: {service}-id, client_secret: {service}-secret, user: '{userid}' }}").unwrap();
    }
    // svc-z, unknown to relinker, still calls as old.bot; svc-a calls as jane.
    text.push_str("usage:\n  - { userid: old.bot@acme.example, days_ago: 2, calls: 120 }\n  - { userid: old.bot@acme.example, days_ago: 0, calls: 5 }\n  - { userid: jane.doe@acme.example, days_ago: 1, calls: 40 }\n");
    text
}

fn config(base_url: &str, max_rotations: &str) -> String {
    let mut text = format!(
        "version: 1\ninstance:\n  provider: marketo\n  base_url: {base_url}\n  client_id: admin-id\n  client_secret: ${{env:OFF_ADMIN_SECRET}}\nservices:\n"
    );
    // svc-z is not known to relinker: its user is flagged, not planned.
    for service in ["svc-a", "svc-b", "svc-c", "svc-d", "svc-e"] {
        let var = service.replace('-', "_").to_uppercase();
        writeln!(text, "  - {{ name: {service}, client_id: {service}-id, client_secret: \"${{env:OFF_{var}_SECRET}}\" }}").unwrap();
    }
    write!(text, "naming: api.{{service}}@acme.example\nstrategy: replace\nretire: delete\nprotected:\n  - /^break-glass-.*@acme\\.example$/\nmax_rotations: {max_rotations}\n").unwrap();
    text
}

fn env() -> Vec<(String, String)> {
    let mut env = vec![("OFF_ADMIN_SECRET".to_owned(), "admin-secret".to_owned())];
    for service in ["svc-a", "svc-b", "svc-c", "svc-d", "svc-e"] {
        env.push((
            format!("OFF_{}_SECRET", service.replace('-', "_").to_uppercase()),
            format!("{service}-secret"),
        ));
    }
    env
}

async fn relinker(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("RELINKER_STATE_DIR", "state")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env() {
        command.env(name, value);
    }
    command.output().await.expect("run relinker")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn setup(max_rotations: &str) -> (TestSandbox, tempfile::TempDir) {
    let sandbox = TestSandbox::with(&fixture(), SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        config(&sandbox.handle.base_url(), max_rotations),
    )
    .unwrap();
    std::fs::write(dir.path().join("departed.csv"), DEPARTED).unwrap();
    (sandbox, dir)
}

async fn offboard(dir: &Path, format: &str) -> Output {
    offboard_to(dir, "out", &["--format", format]).await
}

/// `offboard` with the test's config and departed list, writing to `out`, with `extra`.
async fn offboard_to(dir: &Path, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "offboard",
        "--config",
        "offboard.yaml",
        "--departed",
        "departed.csv",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    relinker(dir, &args).await
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("out"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn matches_departed_people_and_reports_the_rest() {
    let (sandbox, dir) = setup("10").await;
    let output = offboard(dir.path(), "json").await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["users"], 308);
    assert_eq!(report["api_users"], 28);
    let planned: Vec<&str> = report["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userid"].as_str().unwrap())
        .collect();
    // Exact, plus-addressed and case-shifted, matched by emailAddress only, and by domain.
    assert_eq!(
        planned,
        [
            "JOHN.ROE+crm@acme.example",
            "api.x@acme.example",
            "jane.doe@acme.example",
            "temp1@contractor.example"
        ]
    );
    // No known service: a person checks them, the one still calling first.
    let unlinked: Vec<(&str, u64)> = report["unlinked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["userid"].as_str().unwrap(),
                f["calls_last_7_days"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        unlinked,
        [
            ("old.bot@acme.example", 125),
            ("idle.bot@contractor.example", 0)
        ]
    );
    let jane = report["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["userid"] == "jane.doe@acme.example")
        .unwrap();
    assert_eq!(jane["calls_last_7_days"], 40, "{jane}");
    assert_eq!(
        report["protected"],
        json!(["admin@acme.example", "break-glass-1@acme.example"]),
        "relinker's own user is always protected"
    );
    assert_eq!(
        listing(dir.path()),
        [
            "offboard-api-x-acme-example-52ca2fce8c.yaml",
            "offboard-jane-doe-acme-example-7f0da4d2d1.yaml",
            "offboard-john-roe-crm-acme-example-18d203f859.yaml",
            "offboard-temp1-contractor-example-1a99130cdf.yaml",
            "report.md"
        ]
    );
    let markdown = std::fs::read_to_string(dir.path().join("out/report.md")).unwrap();
    assert!(markdown.contains("## Plans written (4)"), "{markdown}");
    assert!(
        markdown.contains("| `offboard-jane-doe-acme-example-7f0da4d2d1.yaml` | `jane.doe@acme.example` | svc-a | `api.svc-a@acme.example` | 40 |"),
        "{markdown}"
    );
    // Why each matched, what each plan deletes, and the entries that matched nobody.
    assert!(
        markdown.contains("| userid matches `jane.doe@acme.example` | `jane.doe@acme.example`, once its services moved |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("email `mary.major@acme.example` matches `mary.major@acme.example`"),
        "{markdown}"
    );
    assert!(
        markdown.contains(
            "## Departed entries that matched no API-only user (1)\n\n- `person7@acme.example`"
        ),
        "{markdown}"
    );
    let still = markdown
        .find("- **still calling**: `old.bot@acme.example` (email `old.bot@acme.example`) made 125 calls in the last 7 days")
        .expect(&markdown);
    let idle = markdown
        .find("- `idle.bot@contractor.example` (email `idle.bot@contractor.example`), calls in the last 7 days: 0")
        .expect(&markdown);
    assert!(still < idle, "the user still calling is flagged first");
    // Every plan it writes is valid, references secrets only, and plans cleanly.
    let validate = relinker(
        dir.path(),
        &[
            "validate",
            "out/offboard-jane-doe-acme-example-7f0da4d2d1.yaml",
            "out/offboard-api-x-acme-example-52ca2fce8c.yaml",
        ],
    )
    .await;
    assert_eq!(validate.status.code(), Some(0), "{}", text(&validate));
    let plan = std::fs::read_to_string(
        dir.path()
            .join("out/offboard-api-x-acme-example-52ca2fce8c.yaml"),
    )
    .unwrap();
    assert!(
        plan.contains("with: \"api.{service}@acme.example\"") && !plan.contains("svc-c-secret"),
        "{plan}"
    );
    let planned = relinker(
        dir.path(),
        &[
            "plan",
            "out/offboard-api-x-acme-example-52ca2fce8c.yaml",
            "--detailed-exitcode",
        ],
    )
    .await;
    assert_eq!(planned.status.code(), Some(5), "{}", text(&planned));
    assert!(
        text(&planned).contains("replace `api.x@acme.example` with `api.svc-c@acme.example`"),
        "the plan fills `{{service}}` with its one service: {}",
        text(&planned)
    );
    assert_eq!(
        sandbox.requests().await["state_changing"],
        0,
        "offboarding only reads"
    );
}

#[tokio::test]
async fn output_is_stable_and_follows_the_departed_list() {
    let (_sandbox, dir) = setup("10").await;
    assert_eq!(offboard(dir.path(), "text").await.status.code(), Some(0));
    let read_all = |dir: &Path| {
        listing(dir)
            .iter()
            .map(|n| std::fs::read(dir.join("out").join(n)).unwrap())
            .collect::<Vec<_>>()
    };
    let first = read_all(dir.path());
    assert_eq!(
        offboard(dir.path(), "markdown").await.status.code(),
        Some(0)
    );
    assert_eq!(
        read_all(dir.path()),
        first,
        "a second run writes the same bytes"
    );
    // A plan a person put in the folder is theirs: scans never touch it.
    let mine = "version: 1\nname: offboard-by-hand\n# kept\n";
    std::fs::write(dir.path().join("out/offboard-by-hand.yaml"), mine).unwrap();
    // Jane is no longer on the list: her plan goes.
    std::fs::write(
        dir.path().join("departed.csv"),
        DEPARTED.replace("Jane,jane.doe@acme.example\n", ""),
    )
    .unwrap();
    assert_eq!(offboard(dir.path(), "text").await.status.code(), Some(0));
    assert!(
        !listing(dir.path()).contains(&"offboard-jane-doe-acme-example-7f0da4d2d1.yaml".to_owned())
    );
    assert_eq!(listing(dir.path()).len(), 5);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/offboard-by-hand.yaml")).unwrap(),
        mine
    );
}

#[tokio::test]
async fn users_whose_slugs_are_alike_get_a_plan_each() {
    // `jane-doe@` and `jane.doe@` share a slug; both left.
    let fixture = fixture().replace("api.x@acme.example", "jane-doe@acme.example");
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        config(&sandbox.handle.base_url(), "10"),
    )
    .unwrap();
    std::fs::write(dir.path().join("departed.csv"), DEPARTED).unwrap();
    let ran = offboard(dir.path(), "text").await;
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    let janes: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|name| name.starts_with("offboard-jane-doe-acme-example-"))
        .collect();
    assert_eq!(janes.len(), 2, "{janes:?}");
    let users: Vec<String> = janes
        .iter()
        .map(|name| std::fs::read_to_string(dir.path().join("out").join(name)).unwrap())
        .map(|plan| {
            plan.lines()
                .find_map(|l| l.trim().strip_prefix("user: ").map(str::to_owned))
                .unwrap_or(plan)
        })
        .collect();
    assert!(
        users.iter().any(|u| u.contains("jane-doe@"))
            && users.iter().any(|u| u.contains("jane.doe@")),
        "{users:?}"
    );
}

#[tokio::test]
async fn a_protected_address_protects_its_user_whatever_the_case_beyond_ascii() {
    // Jane's API user is Jörg's here; the config protects him in capitals.
    let fixture = fixture().replace("jane.doe@acme.example", "jörg@acme.example");
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&sandbox.handle.base_url(), "10")
        .replace("protected:\n", "protected:\n  - JÖRG@acme.example\n");
    std::fs::write(dir.path().join("offboard.yaml"), config).unwrap();
    let departed = DEPARTED.replace("jane.doe@acme.example", "jörg@acme.example");
    std::fs::write(dir.path().join("departed.csv"), departed).unwrap();
    let output = offboard(dir.path(), "json").await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["protected"],
        json!([
            "admin@acme.example",
            "break-glass-1@acme.example",
            "jörg@acme.example"
        ]),
        "{report}"
    );
    let planned: Vec<&str> = report["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userid"].as_str().unwrap())
        .collect();
    assert!(!planned.contains(&"jörg@acme.example"), "{planned:?}");
    assert!(
        !listing(dir.path())
            .iter()
            .any(|name| name.contains("rg-acme")),
        "{:?}",
        listing(dir.path())
    );
}

#[tokio::test]
async fn the_safety_limit_writes_nothing() {
    for limit in ["3", "10%"] {
        let (_sandbox, dir) = setup(limit).await;
        let output = offboard(dir.path(), "text").await;
        assert_eq!(output.status.code(), Some(1), "{limit}: {}", text(&output));
        assert!(
            text(&output).contains("4 users would be rotated, more than `max_rotations` allows"),
            "{}",
            text(&output)
        );
        assert!(listing(dir.path()).is_empty(), "{limit}: nothing written");
    }
}

#[tokio::test]
async fn an_empty_or_unreadable_departed_list_is_an_error() {
    let (_sandbox, dir) = setup("10").await;
    std::fs::write(dir.path().join("departed.csv"), "name,email\n").unwrap();
    let output = offboard(dir.path(), "text").await;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("names nobody"), "{}", text(&output));
    std::fs::remove_file(dir.path().join("departed.csv")).unwrap();
    let output = offboard(dir.path(), "text").await;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).contains("cannot read departed list"),
        "{}",
        text(&output)
    );
    assert!(listing(dir.path()).is_empty());
}

/// `link LaunchPoint service `svc-a` to API-only user `api.svc-a@acme.example`` -> the pair.
fn link_request(waiting_for: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = waiting_for.split('`').collect();
    (parts.len() >= 4).then(|| (parts[1].to_owned(), parts[3].to_owned()))
}

#[tokio::test]
async fn a_scheduled_cycle_removes_every_departed_mailbox() {
    let (sandbox, dir) = setup("10").await;
    assert_eq!(offboard(dir.path(), "text").await.status.code(), Some(0));
    let mut plans: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|n| Path::new(n).extension().is_some_and(|e| e == "yaml"))
        .map(|n| format!("out/{n}"))
        .collect();
    plans.sort();
    let mut args = vec!["apply", "--yes", "--gate-wait", "0"];
    args.extend(plans.iter().map(String::as_str));
    let applied = relinker(dir.path(), &args).await;
    assert_eq!(
        applied.status.code(),
        Some(4),
        "each run pauses at its first manual step: {}",
        text(&applied)
    );

    // The weekly job: a person does what the paused runs wait for; `resume --all` moves them on.
    let mut rounds = 0;
    loop {
        let status: Value = serde_json::from_slice(
            &relinker(dir.path(), &["status", "--format", "json"])
                .await
                .stdout,
        )
        .unwrap();
        let waiting: Vec<(String, String)> = status
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["waiting"].as_array().cloned().unwrap_or_default())
            .filter_map(|w| w["waiting_for"].as_str().and_then(link_request))
            .collect();
        for (service, userid) in &waiting {
            sandbox
                .control(
                    Method::POST,
                    &format!("/_sandbox/services/{service}/link"),
                    Some(&json!({"userid": userid})),
                )
                .await;
        }
        let resumed = relinker(dir.path(), &["resume", "--all", "--gate-wait", "0"]).await;
        rounds += 1;
        match resumed.status.code() {
            Some(0) => break,
            Some(4) if rounds < 5 => {}
            other => panic!("resume --all answered {other:?}: {}", text(&resumed)),
        }
    }
    let state = sandbox.state().await;
    let departed = [
        "jane.doe@acme.example",
        "john.roe@acme.example",
        "mary.major@acme.example",
    ];
    for user in state["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["apiOnly"] == true)
    {
        for field in ["userid", "emailAddress"] {
            let address = normalize(user[field].as_str().unwrap());
            // Users no known service runs as are left for a person to check.
            let protected_or_unknown = address.starts_with("break-glass")
                || address.starts_with("old.bot")
                || address.starts_with("idle.bot")
                || address.starts_with("admin@");
            assert!(
                protected_or_unknown
                    || (!departed.contains(&address.as_str())
                        && !address.ends_with("@contractor.example")),
                "{address} is still an API user"
            );
        }
    }
    // Every service still authenticates with its unchanged credentials, as its new user.
    for service in ["svc-a", "svc-b", "svc-c", "svc-d"] {
        let grant = sandbox
            .token(&format!("{service}-id"), &format!("{service}-secret"))
            .await;
        assert_eq!(grant["scope"], format!("api.{service}@acme.example"));
    }
}

#[tokio::test]
async fn every_shape_problem_in_the_config_is_reported_before_any_call() {
    let (sandbox, dir) = setup("10").await;
    let path = dir.path().join("offboard.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    let broken = format!("{config}schedule: weekly\n").replacen("version: 1", "version: one", 1);
    std::fs::write(&path, broken).unwrap();
    let output = offboard(dir.path(), "text").await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(2), "{out}");
    assert!(
        out.contains("offboard.yaml:1:10: `version`: expected a whole number, found text"),
        "{out}"
    );
    assert!(
        out.contains("`schedule`: unknown field `schedule`"),
        "{out}"
    );
    assert!(listing(dir.path()).is_empty(), "nothing written");
    assert_eq!(sandbox.requests().await["total"], 0, "no call was made");
}

/// Without usage statistics (the admin service may not read them, say) the scan still
/// stands: the calls are unknown, and the report says why.
#[tokio::test]
async fn a_scan_without_usage_statistics_says_the_calls_are_unknown() {
    let (sandbox, dir) = setup("10").await;
    sandbox
        .add_fault(json!({"path": "/rest/v1/stats/*", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}}))
        .await;
    let output = offboard(dir.path(), "text").await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let said = text(&output);
    assert!(
        said.contains("warning: the usage statistics could not be read (") && said.contains("603"),
        "{said}"
    );
    assert!(
        said.contains("`old.bot@acme.example` is tied to someone who left but linked to no known service; calls in the last 7 days: unknown"),
        "{said}"
    );
    assert!(!said.contains("STILL CALLING"), "{said}");
}

#[tokio::test]
async fn the_configs_webhook_reference_goes_into_every_plan() {
    let (_sandbox, dir) = setup("10").await;
    let config = dir.path().join("offboard.yaml");
    let original = std::fs::read_to_string(&config).unwrap();
    // A URL is refused: the config is reviewed like a plan.
    std::fs::write(
        &config,
        format!("{original}notify: https://hooks.example/T/B/x\n"),
    )
    .unwrap();
    let refused = offboard(dir.path(), "text").await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        !text(&refused).contains("hooks.example"),
        "{}",
        text(&refused)
    );
    std::fs::write(&config, format!("{original}notify: ${{env:OFF_HOOK}}\n")).unwrap();
    let ran = offboard(dir.path(), "text").await;
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    let plans: Vec<String> = listing(dir.path())
        .into_iter()
        .filter(|name| name.starts_with("offboard-"))
        .collect();
    assert!(!plans.is_empty());
    for name in &plans {
        let plan = std::fs::read_to_string(dir.path().join("out").join(name)).unwrap();
        assert!(plan.contains("notify: \"${env:OFF_HOOK}\""), "{plan}");
    }
    let validate = relinker(
        dir.path(),
        &[
            &["validate"][..],
            &plans
                .iter()
                .map(|p| format!("out/{p}"))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ]
        .concat(),
    )
    .await;
    assert_eq!(validate.status.code(), Some(0), "{}", text(&validate));
}

#[tokio::test]
async fn inventory_lists_every_api_only_user_with_roles_services_and_calls() {
    let (sandbox, dir) = setup("10").await;
    let json = relinker(
        dir.path(),
        &["inventory", "offboard.yaml", "--format", "json"],
    )
    .await;
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    let users = report["users"].as_array().unwrap();
    // admin, 20 others, the 6 affected and the idle contractor bot; no person.
    assert_eq!(users.len(), 28, "{report}");
    assert!(
        users
            .iter()
            .all(|u| !u["userid"].as_str().unwrap().starts_with("person"))
    );
    let jane = users
        .iter()
        .find(|u| u["userid"] == "jane.doe@acme.example")
        .unwrap();
    assert_eq!(jane["services"], json!(["svc-a"]));
    assert_eq!(jane["roles"], json!(["Standard User @ World"]));
    assert_eq!(jane["calls_last_7_days"], 40);
    assert_eq!(jane["last_login_at"], "2026-11-30T09:15:00Z");
    let never = users
        .iter()
        .filter(|u| u["last_login_at"].is_null())
        .count();
    assert_eq!(never, 27, "only jane ever logged in: {report}");
    let csv = relinker(
        dir.path(),
        &["inventory", "offboard.yaml", "--format", "csv"],
    )
    .await;
    let csv = String::from_utf8_lossy(&csv.stdout).into_owned();
    assert!(
        csv.starts_with("userid,email,roles,services,calls_last_7_days,last_login_at\n"),
        "{csv}"
    );
    assert!(
        csv.contains("jane.doe@acme.example,jane.doe@acme.example,Standard User @ World,svc-a,40,2026-11-30T09:15:00Z\n"),
        "{csv}"
    );
    let markdown = relinker(
        dir.path(),
        &["inventory", "offboard.yaml", "--format", "markdown"],
    )
    .await;
    let markdown = String::from_utf8_lossy(&markdown.stdout).into_owned();
    assert!(markdown.contains("### API-only users (28)"), "{markdown}");
    assert!(
        markdown.contains("| 40 | 2026-11-30 09:15 UTC |"),
        "{markdown}"
    );
    let plain = relinker(dir.path(), &["inventory", "offboard.yaml"]).await;
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(
        plain.contains("email: old.bot@acme.example; last login: never"),
        "{plain}"
    );
    assert_eq!(
        sandbox.requests().await["state_changing"],
        0,
        "inventory only reads"
    );
}

#[tokio::test]
async fn a_scan_rehearses_on_a_copy_of_live_and_writes_what_live_would() {
    // The copy reads every user's record: a wider rate window keeps 300 reads quick.
    let sandbox = TestSandbox::with(
        &fixture(),
        SandboxConfig {
            rate_limit: "2000/20s".parse().unwrap(),
            ..SandboxConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        config(&sandbox.handle.base_url(), "10").replace(
            "provider: marketo\n",
            "provider: marketo\n  limits: { rate: 2000/20s, concurrency: 10 }\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("departed.csv"), DEPARTED).unwrap();
    let copied = relinker(
        dir.path(),
        &[
            "sandbox",
            "--from-live",
            "offboard.yaml",
            "--out",
            "copy.yaml",
        ],
    )
    .await;
    assert_eq!(copied.status.code(), Some(0), "{}", text(&copied));
    let config = std::fs::read_to_string(dir.path().join("offboard.yaml")).unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        format!("{config}sandbox:\n  fixture: copy.yaml\n"),
    )
    .unwrap();
    let live = offboard_to(dir.path(), "live", &[]).await;
    assert_eq!(live.status.code(), Some(0), "{}", text(&live));
    let changes = sandbox.requests().await["state_changing"].clone();
    drop(sandbox);
    // Production is gone: the rehearsal reads only the copy.
    let rehearsed = offboard_to(dir.path(), "rehearsed", &["--sandbox"]).await;
    assert_eq!(rehearsed.status.code(), Some(0), "{}", text(&rehearsed));
    assert_eq!(changes, 0, "scans only read");
    let files = |out: &str| {
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(out))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(files("live"), files("rehearsed"));
    assert!(files("live").len() > 3, "{:?}", files("live"));
    for name in files("live").iter().filter(|n| n.starts_with("offboard-")) {
        assert_eq!(
            std::fs::read_to_string(dir.path().join("live").join(name)).unwrap(),
            std::fs::read_to_string(dir.path().join("rehearsed").join(name)).unwrap(),
            "{name}"
        );
    }
    let report = std::fs::read_to_string(dir.path().join("rehearsed/report.md")).unwrap();
    assert!(
        report.contains("of the sandbox seeded from `copy.yaml` (a rehearsal:"),
        "{report}"
    );
    // Both reports list the same matches, whatever they scanned.
    let live_report = std::fs::read_to_string(dir.path().join("live/report.md")).unwrap();
    let body = |r: &str| r.split_once("\n## ").unwrap().1.to_owned();
    assert_eq!(body(&live_report), body(&report));
}

#[tokio::test]
async fn a_rehearsal_needs_the_configs_fixture() {
    let (_sandbox, dir) = setup("10").await;
    let ran = offboard_to(dir.path(), "out", &["--sandbox"]).await;
    assert_eq!(ran.status.code(), Some(2), "{}", text(&ran));
    assert!(
        text(&ran)
            .contains("config `offboard.yaml` has no `sandbox.fixture`, which --sandbox needs"),
        "{}",
        text(&ran)
    );
    assert!(!dir.path().join("out").exists());
}

#[tokio::test]
async fn the_service_naming_gives_each_service_of_a_user_its_own_new_user() {
    // Jane runs two integrations; the others run one each.
    let mut fixture = String::from(
        "users:\n  - { userid: admin@acme.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n  - { userid: jane.doe@acme.example, first_name: J, last_name: D, api_only: true, roles: [{ role: Standard User, workspace: World }] }\n  - { userid: api.other@acme.example, first_name: O, last_name: T, api_only: true, roles: [{ role: Standard User, workspace: World }] }\nservices:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@acme.example, admin: true }\n",
    );
    for (service, user) in [
        ("svc-a", "jane.doe@acme.example"),
        ("svc-b", "jane.doe@acme.example"),
        ("svc-c", "api.other@acme.example"),
        ("svc-d", "api.other@acme.example"),
        ("svc-e", "api.other@acme.example"),
    ] {
        writeln!(fixture, "  - {{ name: {service}, client_id: {service}-id, client_secret: {service}-secret, user: {user} }}").unwrap();
    }
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        config(&sandbox.handle.base_url(), "10"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("departed.csv"),
        "email\njane.doe@acme.example\n",
    )
    .unwrap();

    let scanned = offboard(dir.path(), "json").await;
    assert_eq!(scanned.status.code(), Some(0), "{}", text(&scanned));
    let report: Value = serde_json::from_slice(&scanned.stdout).unwrap();
    let planned = &report["plans"][0];
    assert_eq!(
        planned["moves_to_by_service"],
        json!({ "svc-a": "api.svc-a@acme.example", "svc-b": "api.svc-b@acme.example" }),
        "{report}"
    );
    assert_eq!(
        planned["moves_to"],
        "api.svc-a@acme.example (svc-a), api.svc-b@acme.example (svc-b)"
    );
    let file = planned["file"].as_str().unwrap();
    let plan = std::fs::read_to_string(dir.path().join("out").join(file)).unwrap();
    assert!(
        plan.contains("with: \"api.{service}@acme.example\""),
        "{plan}"
    );

    // Applied as written: each service ends with its own user, and jane is gone.
    let plan_path = format!("out/{file}");
    let applied = relinker(
        dir.path(),
        &[
            "apply",
            &plan_path,
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "30s",
        ],
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let world = crate::harness::World::of(&sandbox).await;
    assert!(world.user("jane.doe@acme.example").is_none());
    for service in ["svc-a", "svc-b"] {
        assert!(
            world.user(&format!("api.{service}@acme.example")).is_some(),
            "{service}'s own user"
        );
    }
    let links = sandbox.state().await["services"].clone();
    for service in ["svc-a", "svc-b"] {
        let link = links
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == service)
            .unwrap();
        assert_eq!(
            link["linkedUser"],
            format!("api.{service}@acme.example"),
            "{links}"
        );
    }
}

#[tokio::test]
async fn a_long_read_shows_its_progress_and_what_it_cost() {
    // A slow instance: 10 calls a second, so reading 28 API-only users takes seconds.
    let slow = SandboxConfig {
        rate_limit: relinker::limits::RateLimit {
            calls: 10,
            window: std::time::Duration::from_secs(1),
        },
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(&fixture(), slow).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("offboard.yaml"),
        config(&sandbox.handle.base_url(), "10"),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args(["inventory", "offboard.yaml", "--format", "json"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("RELINKER_PROGRESS_INTERVAL", "0.4")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env() {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // Progress goes to stderr: stdout is still exactly the JSON.
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["users"].as_array().unwrap().len(), 28);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let counts: Vec<usize> = stderr
        .lines()
        .filter_map(|line| line.split_once("reading API-only users: "))
        .map(|(_, rest)| rest.split('/').next().unwrap().parse().unwrap())
        .collect();
    assert!(counts.len() >= 2, "a line every 0.4 s: {stderr}");
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(
        stderr
            .lines()
            .filter(|line| line.contains("reading API-only users: "))
            .all(|line| line.contains("/28 after ") && line.contains(" waiting for the rate limit")),
        "{stderr}"
    );
    let last = stderr
        .lines()
        .find(|line| line.starts_with("read 28 API-only users in "))
        .unwrap_or_else(|| panic!("no closing line: {stderr}"));
    let calls: u64 = last
        .split(": ")
        .nth(1)
        .and_then(|cost| cost.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    let served = sandbox.requests().await["total"].as_u64().unwrap();
    assert!(
        calls >= 28 && calls <= served,
        "{last}: the sandbox served {served}"
    );
}

#[tokio::test]
async fn doctor_checks_an_offboarding_config_before_the_first_scheduled_scan() {
    let (sandbox, dir) = setup("10").await;
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let ran = relinker(dir.path(), &["doctor", "offboard.yaml"]).await;
    let out = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    assert!(
        out.contains("✓ offboarding config: offboard.yaml: valid, 5 known services"),
        "{out}"
    );
    assert!(
        out.contains("answered, and 6 credentials the config names authenticated"),
        "{out}"
    );
    assert!(
        out.contains("✓ state store: `state`: reachable and writable"),
        "{out}"
    );
    assert_eq!(
        sandbox.requests().await["state_changing"],
        0,
        "doctor changed something"
    );

    // One service's secret is wrong: its line says which, and the doctor fails.
    let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args(["doctor", "offboard.yaml"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .env("RELINKER_STATE_DIR", "state")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env() {
        command.env(name, value);
    }
    command.env("OFF_SVC_B_SECRET", "wrong");
    let failed = command.output().await.unwrap();
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed));
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("✗ instance and credentials:") && l.contains("svc-b")),
        "{out}"
    );
    assert!(!text(&failed).contains("svc-b-secret"), "a secret leaked");
}
