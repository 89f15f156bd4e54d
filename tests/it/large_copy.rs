//! A copy of a large instance loads (issue #27): `sandbox --from-live --out copy.json` of 20,000
//! users writes a JSON fixture several times larger than the 1 MiB fixtures were once held to,
//! and the copy seeds a sandbox (`relinker sandbox --fixture`) and a rehearsal of the
//! offboarding scan (`offboard --sandbox`). A fixture over the limit, YAML or JSON, is refused
//! from its size, unread. (A YAML copy takes the same path with a slower parser: rehearsal.rs
//! round-trips a small one.)

use std::fmt::Write as _;

use relinker::sandbox::marketo::SandboxConfig;
use serde_json::{Value, json};

use crate::harness::{POLICY, RENAME, Ran, Relinker, SandboxProcess, TestSandbox, Workspace, flat};

/// Users in the instance, relinker's admin included; a fifth of them API-only.
const USERS: usize = 20_000;
/// Known services, each linked to an API-only user.
const SERVICES: usize = 100;

/// The instance: `person{i}@big.example` for i in 1..20,000, every fifth API-only, with a last
/// login and the calls of one day; `svc-{s}` runs as `person{5(s + 1)}`.
fn instance() -> String {
    let mut text = String::from(
        "users:\n  - { userid: admin@big.example, first_name: Relinker, last_name: Admin, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 1..USERS {
        let api_only = i % 5 == 0;
        writeln!(
            text,
            "  - {{ userid: person{i}@big.example, first_name: Person, last_name: '{i}', api_only: {api_only}, roles: [{{ role: Standard User, workspace: World }}], last_login_at: '2026-11-30T09:15:00.000t+0000' }}"
        )
        .unwrap();
    }
    text.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: live-secret-admin, user: admin@big.example, admin: true }\n");
    for s in 0..SERVICES {
        writeln!(
            text,
            "  - {{ name: svc-{s}, client_id: svc-{s}-id, client_secret: live-secret-{s}, user: person{}@big.example }}",
            5 * (s + 1)
        )
        .unwrap();
    }
    text.push_str("usage:\n");
    for i in (5..USERS).step_by(5) {
        writeln!(
            text,
            "  - {{ userid: person{i}@big.example, days_ago: 1, calls: {i} }}"
        )
        .unwrap();
    }
    text
}

/// An offboarding config for the instance at `base_url`, knowing every service.
fn config(base_url: &str, limits: &str) -> String {
    let mut text = format!(
        "version: 1\ninstance:\n  provider: marketo\n  base_url: {base_url}\n  client_id: admin-id\n  client_secret: ${{env:BIG_ADMIN_SECRET}}\n{limits}services:\n"
    );
    for s in 0..SERVICES {
        writeln!(
            text,
            "  - {{ name: svc-{s}, client_id: svc-{s}-id, client_secret: \"${{env:BIG_SECRET_{s}}}\" }}"
        )
        .unwrap();
    }
    text.push_str("naming: api.{service}@big.example\nstrategy: replace\nmax_rotations: 10\n");
    text
}

/// relinker in `dir` with the live secrets the config references.
fn relinker(dir: &std::path::Path, args: &[&str]) -> Relinker {
    let mut relinker = Relinker::new(args)
        .current_dir(dir)
        .env("RELINKER_STATE_DIR", "state")
        .env("BIG_ADMIN_SECRET", "live-secret-admin");
    for s in 0..SERVICES {
        relinker = relinker.env(&format!("BIG_SECRET_{s}"), format!("live-secret-{s}"));
    }
    relinker
}

/// Users as a sandbox's state lists them, without the ids it numbers them by, sorted.
fn users(state: &Value) -> Vec<Value> {
    let mut users: Vec<Value> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            json!([
                u["userid"],
                u["emailAddress"],
                u["firstName"],
                u["lastName"],
                u["apiOnly"],
                u["expiresAt"],
                u["roles"]
            ])
        })
        .collect();
    users.sort_by_key(ToString::to_string);
    users
}

/// Each service's name and the user it runs as; relinker's admin service as `admin`, whatever
/// its name (the copy names it as the config does).
fn links(state: &Value) -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = state["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap_or_default();
            let user = s["linkedUser"].as_str().unwrap_or_default().to_owned();
            let name = if user == "admin@big.example" {
                "admin".to_owned()
            } else {
                name.to_owned()
            };
            (name, user)
        })
        .collect();
    links.sort();
    links
}

#[tokio::test]
async fn a_copy_of_20000_users_loads_and_the_offboarding_scan_rehearses_on_it() {
    // The copy reads every user's record: a wide rate window keeps 20,000 reads to seconds.
    let wide = "  limits: { rate: 100000/20s, concurrency: 10 }\n";
    let live = TestSandbox::with(
        &instance(),
        SandboxConfig {
            rate_limit: "100000/20s".parse().unwrap(),
            daily_quota: 1_000_000,
            ..SandboxConfig::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(
        work.join("offboard.yaml"),
        config(&live.handle.base_url(), wide),
    )
    .unwrap();
    let copied = relinker(
        work,
        &[
            "sandbox",
            "--from-live",
            "offboard.yaml",
            "--out",
            "copy.json",
            // 20,000 reads are 40% of a fresh day's quota: more than a copy takes unasked.
            "--yes",
        ],
    )
    .run()
    .await;
    copied
        .code(0)
        .says("this read makes about 20,1")
        .says(&format!(
            "wrote copy.json: {USERS} users, 7 roles, 4 workspaces, {SERVICES} known services"
        ))
        .never_says("loads several times faster");
    let copy = std::fs::read_to_string(work.join("copy.json")).unwrap();
    let parsed: Value = serde_json::from_str(&copy).expect("the copy is JSON");
    assert_eq!(parsed["provider"], "marketo");
    assert_eq!(parsed["users"].as_array().map(Vec::len), Some(USERS));
    assert!(
        copy.len() > 3 * 1024 * 1024,
        "{} bytes: a copy this size was refused at 1 MiB",
        copy.len()
    );
    for text in [&copy, &copied.text()] {
        assert!(!text.contains("live-secret"), "a live secret was copied");
    }
    let live_state = live.state().await;
    drop(live);

    // The rehearsal scans the copy as Marketo's default limits allow (100 calls per 20 s: the
    // listing's 100 pages take one window's wait), while the copy is loaded a second time by
    // `relinker sandbox --fixture` to compare it with the instance it was made from.
    std::fs::write(
        work.join("offboard.yaml"),
        format!(
            "{}sandbox:\n  fixture: copy.json\n",
            config("https://123-ABC-456.mktorest.com", "")
        ),
    )
    .unwrap();
    std::fs::write(
        work.join("departed.csv"),
        "email\nperson5@big.example\nperson10@big.example\nperson505@big.example\nnobody@big.example\n",
    )
    .unwrap();
    let rehearsal = relinker(
        work,
        &[
            "offboard",
            "--config",
            "offboard.yaml",
            "--departed",
            "departed.csv",
            "--out",
            "rehearsed",
            "--format",
            "json",
            "--sandbox",
        ],
    )
    .spawn_captured();
    let served = {
        let copy_path = work.join("copy.json");
        let process = SandboxProcess::spawn(&[
            "--fixture",
            copy_path.to_str().unwrap(),
            "--rate-limit",
            "100000/20s",
        ]);
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_mins(1))
            .build()
            .unwrap();
        let state: Value = http
            .get(format!("{}/_sandbox/state", process.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        drop(process);
        state
    };
    assert_eq!(users(&served).len(), USERS);
    assert_eq!(
        users(&served),
        users(&live_state),
        "the copy has other users"
    );
    assert_eq!(links(&served).len(), SERVICES + 1);
    assert_eq!(
        links(&served),
        links(&live_state),
        "the copy links otherwise"
    );

    let output = rehearsal.wait_with_output().await.unwrap();
    let scanned = Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    scanned.code(0);
    assert!(!scanned.text().contains("live-secret"), "a secret leaked");
    let report: Value = serde_json::from_str(&scanned.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", scanned.text()));
    assert_eq!(report["users"], USERS);
    assert_eq!(report["api_users"], USERS / 5);
    let planned: Vec<(&str, &Value)> = report["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["userid"].as_str().unwrap(), &p["calls_last_7_days"]))
        .collect();
    assert_eq!(
        planned,
        [
            ("person10@big.example", &json!(10)),
            ("person5@big.example", &json!(5))
        ]
    );
    assert_eq!(report["unlinked"][0]["userid"], "person505@big.example");
    let markdown = std::fs::read_to_string(work.join("rehearsed/report.md")).unwrap();
    assert!(
        flat(&markdown).contains("the sandbox seeded from `copy.json` (a rehearsal:"),
        "{markdown}"
    );
}

#[tokio::test]
async fn a_fixture_over_the_limit_is_refused_unread_with_its_name_and_the_limit() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    // Either notation: the limit is checked before the file is read, let alone parsed.
    for huge in ["huge.yaml", "huge.json"] {
        std::fs::write(
            work.path().join("plan.yaml"),
            format!("{plan}sandbox:\n  fixture: {huge}\n"),
        )
        .unwrap();
        // 64 GiB, sparse: it takes no disk, and reading it whole would take 64 GiB of memory.
        std::fs::File::create(work.path().join(huge))
            .unwrap()
            .set_len(64 << 30)
            .unwrap();
        let refused =
            format!("fixture `{huge}` is larger than 40 MiB, the most relinker reads of a fixture");
        work.relinker(&["sandbox", "--listen", "127.0.0.1:0", "--fixture", huge])
            .run()
            .await
            .code(2)
            .says(&refused);
        let rehearsed = work
            .relinker(&["plan", "plan.yaml", "--sandbox"])
            .run()
            .await;
        rehearsed.code(2).says(huge).says("larger than 40 MiB");
    }
    assert_eq!(
        sandbox.requests().await["total"],
        0,
        "nothing was asked of the instance"
    );
}
