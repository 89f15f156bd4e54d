//! The day's quota, weighed before a long read: `inventory` and `sandbox --from-live` read
//! one record per user, and Marketo's daily quota is the whole instance's. A sandbox whose
//! fixture spent most of today shows what relinker says, asks and spends.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Output, Stdio};

use relinker::sandbox::marketo::SandboxConfig;
use tokio::process::Command;

use crate::harness::TestSandbox;

fn fast() -> SandboxConfig {
    SandboxConfig {
        rate_limit: relinker::limits::RateLimit {
            calls: 2000,
            window: std::time::Duration::from_secs(1),
        },
        ..SandboxConfig::default()
    }
}

/// API-only users besides the admin: a read of about 400 calls.
const USERS: usize = 400;

/// An instance of `USERS` API-only users whose integrations made `spent` calls today.
fn fixture(spent: u64) -> String {
    let mut text = String::from(
        "users:\n  - { userid: admin@acme.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 0..USERS {
        writeln!(text, "  - {{ userid: bot{i}@acme.example, first_name: B, last_name: '{i}', api_only: true, roles: [{{ role: Standard User, workspace: World }}] }}").unwrap();
    }
    text.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@acme.example, admin: true }\n");
    if spent > 0 {
        writeln!(
            text,
            "usage:\n  - {{ userid: bot1@acme.example, days_ago: 0, calls: {spent} }}"
        )
        .unwrap();
    }
    text
}

fn plan(base_url: &str, daily: Option<u64>) -> String {
    // A fast instance: the read's 400 calls in well under a second of rate window.
    let daily = daily.map_or_else(String::new, |daily| format!(", daily: {daily}"));
    let limits = format!("  limits: {{ rate: 2000/1s{daily} }}\n");
    // An offboarding config: the inventory's and the copy's usual source.
    format!(
        "version: 1\ninstance:\n  provider: marketo\n  base_url: {base_url}\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\n{limits}services: []\nnaming: api.{{service}}@acme.example\nstrategy: replace\nretire: delete\nmax_rotations: 1\n"
    )
}

async fn relinker(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("ADMIN_SECRET", "admin-secret")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run relinker")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// User Management reads of one user's record the sandbox answered.
async fn user_reads(sandbox: &TestSandbox) -> usize {
    sandbox.requests().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/user.json") && p.contains("/users/"))
        })
        .count()
}

/// The calls the closing line says the command made, and the share of the day's quota.
fn closing(stderr: &str) -> (u64, String) {
    let line = stderr
        .lines()
        .find(|line| line.starts_with("read ") && line.contains("of the day's quota"))
        .unwrap_or_else(|| panic!("no closing line: {stderr}"));
    let calls = line
        .split(": ")
        .nth(1)
        .and_then(|cost| cost.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let share = line
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    (calls, share)
}

#[tokio::test]
async fn a_read_that_would_take_much_of_what_is_left_today_asks_first() {
    // 48,500 of 50,000 calls spent: the ~400 calls of the read are over a quarter of the rest.
    let sandbox = TestSandbox::with(&fixture(48_500), fast()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan(&sandbox.handle.base_url(), None),
    )
    .unwrap();

    let refused = relinker(dir.path(), &["inventory", "plan.yaml", "--format", "json"]).await;
    let said = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(refused.stdout.is_empty(), "no inventory was printed");
    // The calls before the read (the admin service's user, the list) count too.
    assert!(
        said.contains("this read makes about 402 calls: 27% of the 1,49")
            && said.contains("calls left of today's quota (48,50")
            && said.contains(" of 50,000 used)"),
        "{said}"
    );
    assert!(said.contains("no terminal to ask; pass --yes"), "{said}");
    assert_eq!(user_reads(&sandbox).await, 0, "nothing was read");

    // The same for a copy of the instance.
    let copy = relinker(
        dir.path(),
        &["sandbox", "--from-live", "plan.yaml", "--out", "copy.yaml"],
    )
    .await;
    assert_eq!(copy.status.code(), Some(2), "{}", stderr(&copy));
    assert!(!dir.path().join("copy.yaml").exists());
    assert_eq!(user_reads(&sandbox).await, 0, "nothing was read");

    // --yes reads it, and the closing line says what the read spent.
    let read = relinker(
        dir.path(),
        &["inventory", "plan.yaml", "--format", "json", "--yes"],
    )
    .await;
    let said = stderr(&read);
    assert_eq!(read.status.code(), Some(0), "{said}");
    let report: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(report["users"].as_array().unwrap().len(), USERS + 1);
    assert_eq!(user_reads(&sandbox).await, USERS + 1);
    let (calls, share) = closing(&said);
    assert!(
        (u64::try_from(USERS).unwrap()..=410).contains(&calls),
        "{said}"
    );
    assert_eq!(share, "0.8%", "{said}");

    // A larger share allowed: the copy goes on without asking.
    let copy = relinker(
        dir.path(),
        &[
            "sandbox",
            "--from-live",
            "plan.yaml",
            "--out",
            "copy.yaml",
            "--quota-share",
            "0.5",
        ],
    )
    .await;
    assert_eq!(copy.status.code(), Some(0), "{}", stderr(&copy));
    assert!(dir.path().join("copy.yaml").exists());
}

#[tokio::test]
async fn a_read_that_fits_goes_on_and_the_instances_own_daily_quota_counts() {
    let sandbox = TestSandbox::with(&fixture(0), fast()).await;
    let dir = tempfile::tempdir().unwrap();
    let base = sandbox.handle.base_url();
    std::fs::write(dir.path().join("plan.yaml"), plan(&base, None)).unwrap();
    let read = relinker(dir.path(), &["inventory", "plan.yaml"]).await;
    let said = stderr(&read);
    assert_eq!(read.status.code(), Some(0), "{said}");
    assert!(
        said.contains("this read makes about 402 calls: 0.8% of the 49,99")
            && said.contains(" of 50,000 used)"),
        "{said}"
    );
    let (calls, _) = closing(&said);
    let served = sandbox.requests().await["total"].as_u64().unwrap();
    assert!(calls >= 401 && calls <= served, "{said}: served {served}");

    // An instance that allows 1,000 calls a day: the same read is 40% of today's rest (its
    // first read spent about 400 of them).
    std::fs::write(dir.path().join("small.yaml"), plan(&base, Some(1_000))).unwrap();
    let refused = relinker(dir.path(), &["inventory", "small.yaml"]).await;
    let said = stderr(&refused);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("of today's quota"), "{said}");
    assert!(said.contains(" of 1,000 used)"), "{said}");

    // A daily quota of nothing is no quota.
    std::fs::write(dir.path().join("zero.yaml"), plan(&base, Some(0))).unwrap();
    let invalid = relinker(dir.path(), &["inventory", "zero.yaml"]).await;
    let said = stderr(&invalid);
    assert_eq!(invalid.status.code(), Some(2), "{said}");
    assert!(said.contains("instance.limits.daily"), "{said}");
}
