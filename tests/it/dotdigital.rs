//! dotdigital end to end: the real binary against the dotdigital sandbox on 127.0.0.1:0. The
//! paths an operator takes: unattended with a person in the UI and `relinker attest`, a kill -9
//! at a gate and `resume`, a rollback of what a person did, the conflicts a plan must refuse,
//! and the sandbox's fidelity to the v2 API (Basic auth, errors, regions, rate limits).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Ran, TestSandbox, Workspace, assert_no_secrets, step};
use relinker::sandbox::dotdigital::{Fixture, Sandbox};

pub(crate) const OLD_USER: &str = "apiuser-k3x9q2m7v1ab@apiconnector.com";
pub(crate) const OLD_PASSWORD: &str = "sandbox-Old-7q";
pub(crate) const ACCOUNT: u64 = 417_893;
pub(crate) const OTHER_USER: &str = "apiuser-other0000001@apiconnector.com";
pub(crate) const OTHER_PASSWORD: &str = "sandbox-Other-3x";

pub(crate) const FIXTURE: &str = r#"
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
"#;

pub(crate) async fn sandbox(fixture: &str) -> TestSandbox {
    let fixture = Fixture::parse(fixture, "test fixture").expect("test fixture is valid");
    TestSandbox::serve(Sandbox::new(&fixture)).await
}

/// A replace of the shared user: `magento` checked by command, `crm-connector` attested.
pub(crate) fn plan(base_url: &str, retire: &str) -> String {
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
      retire: {retire}
policy:
  on_failure: rollback
  max_deletions: 1
"
    )
}

pub(crate) fn workspace(sandbox: &TestSandbox) -> Workspace {
    Workspace::with_files(&plan(&sandbox.handle.base_url(), "delete"), &[])
}

/// relinker in the workspace with the old password in its environment and, once a person has
/// made it, the new username.
pub(crate) fn relinker(
    work: &Workspace,
    args: &[&str],
    new_user: Option<&str>,
) -> crate::harness::Relinker {
    let command = work.relinker(args).env("DD_OLD", OLD_PASSWORD);
    match new_user {
        Some(user) => command.env("DD_NEW_USER", user),
        None => command,
    }
}

/// A person creates an API user in Settings > Access > API users.
pub(crate) async fn person_creates_user(sandbox: &TestSandbox, password: &str) -> String {
    let created = sandbox
        .control(
            Method::POST,
            "/_sandbox/api-users",
            Some(&json!({ "password": password, "account": ACCOUNT, "description": "new" })),
        )
        .await;
    created["username"].as_str().expect("a username").to_owned()
}

/// A person types a credential into an integration's settings.
pub(crate) async fn person_configures(
    sandbox: &TestSandbox,
    integration: &str,
    username: &str,
    password: &str,
) {
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/integrations/{integration}/credential"),
            Some(&json!({ "username": username, "password": password })),
        )
        .await;
}

/// What the sandbox holds: (integration -> username), and each API user -> enabled.
pub(crate) async fn world(sandbox: &TestSandbox) -> (Value, Value) {
    let state = sandbox.state().await;
    let integrations: serde_json::Map<String, Value> = state["integrations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["name"].as_str().unwrap_or_default().to_owned(),
                i["username"].clone(),
            )
        })
        .collect();
    let users: serde_json::Map<String, Value> = state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or_default().to_owned(),
                u["enabled"].clone(),
            )
        })
        .collect();
    (Value::Object(integrations), Value::Object(users))
}

pub(crate) fn no_secrets(texts: &[&str], new_password: &str) {
    assert_no_secrets(texts);
    for text in texts {
        assert!(!text.contains(OLD_PASSWORD), "the old password leaked");
        assert!(!text.contains(new_password), "the new password leaked");
    }
}

#[tokio::test]
async fn unattended_a_person_acts_in_the_ui_attests_and_resume_finishes() {
    let sandbox = sandbox(FIXTURE).await;
    let work = workspace(&sandbox);
    let mut outputs: Vec<String> = Vec::new();
    let mut keep = |ran: Ran| {
        outputs.push(ran.text());
        ran
    };

    // The new password: generated, 0600, never printed.
    let generated = keep(
        relinker(
            &work,
            &[
                "secret",
                "generate",
                "--provider",
                "dotdigital",
                "--out",
                "new.password",
            ],
            None,
        )
        .run()
        .await,
    );
    generated.code(0).says("new.password");
    let password_file = work.path().join("new.password");
    let new_password = std::fs::read_to_string(&password_file).unwrap();
    assert!(new_password.len() >= 8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&password_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The plan says the new credential is waited for; nothing is read of it yet.
    keep(relinker(&work, &["plan", "plan.yaml"], None).run().await)
        .code(0)
        .says("r0-create-new-user` waits until it can be read and authenticates")
        .says("manual attested")
        .says("manual command");

    // Unattended: the gate is checked once, the run pauses (exit 4).
    let first = keep(
        relinker(
            &work,
            &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
            None,
        )
        .run()
        .await,
    );
    first.code(4).says("r0-create-new-user");
    let id = first.run_id();

    // A person creates the user; relinker finds it once the username reaches it.
    let new_user = person_creates_user(&sandbox, &new_password).await;
    let second = keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
            .run()
            .await,
    );
    second
        .code(4)
        .says("r0-create-new-user: done (seen through the API)")
        .says("r0-switch-magento")
        .says("r0-switch-crm-connector");

    // Two switches at once; one is checked by its command, the other a person attests.
    person_configures(&sandbox, "magento", &new_user, &new_password).await;
    person_configures(&sandbox, "crm-connector", &new_user, &new_password).await;
    keep(
        relinker(
            &work,
            &[
                "attest",
                &id,
                "r0-switch-crm-connector",
                "--by",
                "Dana Ops",
                "--note",
                "pasted into the CRM",
            ],
            None,
        )
        .run()
        .await,
    )
    .code(0);
    let third = keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
            .run()
            .await,
    );
    third
        .code(4)
        .says("r0-switch-magento: done (its check command passes)")
        .says("r0-switch-crm-connector: attested, not verified")
        .says("r0-verify: verified")
        .says("r0-disable-old-user")
        // Deleting is irreversible: it is asked for only once the disable is seen.
        .never_says("manual (r0-delete-old-user)");

    // The old user is disabled; relinker sees its credential refused.
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/api-users/{OLD_USER}/enabled"),
            Some(&json!({ "enabled": false })),
        )
        .await;
    let fourth = keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
            .run()
            .await,
    );
    fourth
        .code(4)
        .says("r0-disable-old-user: done (seen through the API)")
        .says("r0-delete-old-user");

    sandbox
        .control(
            Method::DELETE,
            &format!("/_sandbox/api-users/{OLD_USER}"),
            None,
        )
        .await;
    keep(
        relinker(
            &work,
            &["attest", &id, "r0-delete-old-user", "--by", "Dana Ops"],
            None,
        )
        .run()
        .await,
    )
    .code(0);
    let last = keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
            .run()
            .await,
    );
    last.code(0).says(&format!("run {id} done")).says(&format!(
        "dotdigital refuses the old credential of `{OLD_USER}`"
    ));

    let (integrations, users) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert_eq!(integrations["crm-connector"], new_user.as_str());
    assert!(users.get(OLD_USER).is_none(), "{users}");
    assert_eq!(users[new_user.as_str()], true);

    let status = work.status(&id).await;
    assert_eq!(status["status"], "done");
    let crm = step(&status, "r0-switch-crm-connector");
    assert_eq!(crm["verification"], "attested");
    assert_eq!(crm["attested"]["by"], "Dana Ops");
    assert_eq!(crm["attested"]["note"], "pasted into the CRM");
    let magento = step(&status, "r0-switch-magento");
    assert_eq!(magento["verification"], "command");
    assert_eq!(magento["attested"], Value::Null);
    // Whatever the person did was asked for by the run: it is the run's effect.
    assert_eq!(step(&status, "r0-create-new-user")["state"], "applied");
    let shown = keep(relinker(&work, &["status", &id], None).run().await);
    shown.says("attested by Dana Ops at").says("not verified");

    let texts: Vec<&str> = outputs.iter().map(String::as_str).collect();
    no_secrets(&texts, &new_password);
    no_secrets(&[&work.state_files()], &new_password);
}

#[tokio::test]
async fn a_kill_at_a_gate_then_resume_converges() {
    let sandbox = sandbox(FIXTURE).await;
    let work = workspace(&sandbox);
    let new_password = "sandbox-New-4k";
    std::fs::write(work.path().join("new.password"), new_password).unwrap();

    // A person is expected at the first gate; the process is killed while it waits.
    let mut child = relinker(
        &work,
        &[
            "apply",
            "plan.yaml",
            "--yes",
            "--run-id",
            "killed",
            "--gate-wait",
            "10m",
        ],
        None,
    )
    .spawn();
    let mut announced = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let status = relinker(&work, &["status", "killed", "--format", "json"], None)
            .run()
            .await;
        if status.stdout.contains("\"in_doubt\"") {
            announced = true;
            break;
        }
    }
    assert!(announced, "the run never reached its first gate");
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // The person did the first step after the crash; the run picks it up as its own.
    let new_user = person_creates_user(&sandbox, new_password).await;
    let resumed = relinker(
        &work,
        &["resume", "killed", "--sandbox-operator", "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    resumed.code(0).says("run killed done");
    let (integrations, users) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert_eq!(integrations["crm-connector"], new_user.as_str());
    assert!(users.get(OLD_USER).is_none(), "{users}");
    let status = work.status("killed").await;
    assert_eq!(step(&status, "r0-create-new-user")["state"], "applied");
    // The operator played the person for the rest, and attested what nothing observes.
    assert_eq!(
        step(&status, "r0-delete-old-user")["attested"]["by"],
        "the sandbox operator"
    );
    no_secrets(&[&resumed.text(), &work.state_files()], new_password);
}

#[tokio::test]
async fn rollback_undoes_what_a_person_did_for_the_run() {
    let sandbox = sandbox(FIXTURE).await;
    let before = world(&sandbox).await;
    let work = workspace(&sandbox);
    let new_password = "sandbox-New-4k";
    std::fs::write(work.path().join("new.password"), new_password).unwrap();

    let first = relinker(
        &work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await;
    first.code(4);
    let id = first.run_id();
    let new_user = person_creates_user(&sandbox, new_password).await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-switch-magento");
    // The person switched one integration of two, then the operator decides to go back.
    person_configures(&sandbox, "magento", &new_user, new_password).await;

    let dry = relinker(&work, &["rollback", &id, "--dry-run"], Some(&new_user))
        .run()
        .await;
    dry.code(0)
        .says("r0-switch-magento")
        .says("r0-create-new-user");
    let rolled = relinker(
        &work,
        &["rollback", &id, "--sandbox-operator", "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    rolled.code(0).says(&format!("run {id} rolled back"));

    // Back to the start: both integrations on the old user, the new user gone.
    assert_eq!(world(&sandbox).await, before);
    assert_eq!(work.status(&id).await["status"], "rolled back");
    no_secrets(
        &[&rolled.text(), &dry.text(), &work.state_files()],
        new_password,
    );
}

#[tokio::test]
async fn a_new_credential_of_another_account_is_a_conflict_and_a_wrong_region_is_named() {
    let sandbox = sandbox(FIXTURE).await;
    let work = workspace(&sandbox);
    std::fs::write(work.path().join("new.password"), OTHER_PASSWORD).unwrap();
    // The new credential authenticates, but to another account: never "verified".
    let planned = relinker(&work, &["plan", "plan.yaml"], Some(OTHER_USER))
        .run()
        .await;
    planned
        .code(1)
        .says("belongs to account 500001, not to account 417893");
    let applied = relinker(
        &work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await;
    applied.code(1);
    assert!(
        work.run_dirs().is_empty(),
        "a conflicted plan starts no run"
    );

    // A host of another region than the account's answers 403.
    let r2 = FIXTURE.replace("provider: dotdigital", "provider: dotdigital\nregion: r2");
    let elsewhere = self::sandbox(&r2).await;
    let work = workspace(&elsewhere);
    relinker(&work, &["plan", "plan.yaml"], None)
        .run()
        .await
        .code(1)
        .says("does not serve the account of `magento`")
        .says("instance.region");
}

#[tokio::test]
async fn the_check_command_is_the_only_way_a_switch_is_checked_and_never_gets_argv_secrets() {
    let sandbox = sandbox(FIXTURE).await;
    let work = workspace(&sandbox);
    std::fs::write(work.path().join("new.password"), "sandbox-New-4k").unwrap();
    let new_user = person_creates_user(&sandbox, "sandbox-New-4k").await;
    // The check command, run by hand as relinker runs it: credential in the environment.
    let check = |user: &str, password: &str| {
        work.relinker(&[
            "check-credential",
            "--path",
            "/_sandbox/integrations/magento/check",
        ])
        .env("RELINKER_BASE_URL", sandbox.handle.base_url())
        .env("RELINKER_USERNAME", user)
        .env("RELINKER_PASSWORD", password)
        .run()
    };
    check(OLD_USER, OLD_PASSWORD).await.code(0);
    // The new credential works, but magento does not use it yet.
    check(&new_user, "sandbox-New-4k")
        .await
        .code(1)
        .says("refused");
    person_configures(&sandbox, "magento", &new_user, "sandbox-New-4k").await;
    check(&new_user, "sandbox-New-4k").await.code(0);
    check(OLD_USER, OLD_PASSWORD).await.code(1);
    // Without a base URL it cannot check anything, and says why (exit 2).
    work.relinker(&["check-credential", "--path", "/x"])
        .env("RELINKER_USERNAME", "u")
        .env("RELINKER_PASSWORD", "p")
        .run()
        .await
        .code(2)
        .says("RELINKER_BASE_URL");
}

#[tokio::test]
async fn the_sandbox_speaks_the_v2_api() {
    let fixture = FIXTURE.replace(
        "provider: dotdigital",
        "provider: dotdigital\nrate_limit: 3/60s",
    );
    let sandbox = sandbox(&fixture).await;
    let (status, headers, body) = sandbox
        .basic_get("/v2/account-info", OLD_USER, OLD_PASSWORD)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], ACCOUNT);
    let endpoint = body["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ApiEndpoint")
        .unwrap();
    assert_eq!(endpoint["value"], "https://r1-api.dotdigital.com");
    assert_eq!(headers["x-ratelimit-limit"], "3");
    assert_eq!(headers["x-ratelimit-remaining"], "2");
    assert!(headers.contains_key("x-ratelimit-reset"));
    assert!(headers.contains_key("x-ratelimit-scope"));

    let (status, _, time) = sandbox
        .basic_get("/v2/server-time", OLD_USER, OLD_PASSWORD)
        .await;
    assert_eq!(status, 200);
    assert!(time.as_str().is_some_and(|t| t.ends_with('Z')), "{time}");

    // Bad password, unknown user: 401 with the v2 error shape.
    let (status, _, body) = sandbox
        .basic_get("/v2/account-info", OLD_USER, "wrong-1")
        .await;
    assert_eq!(status, 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ERROR_INVALID_LOGIN"),
        "{body}"
    );

    // The third call is the last in the window; the fourth is throttled, with the headers.
    let (status, _, _) = sandbox
        .basic_get("/v2/account-info", OLD_USER, OLD_PASSWORD)
        .await;
    assert_eq!(status, 200);
    let (status, headers, body) = sandbox
        .basic_get("/v2/account-info", OLD_USER, OLD_PASSWORD)
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let reset: i64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > chrono::Utc::now().timestamp() - 1);

    // A disabled user is refused like a wrong password.
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/api-users/{OTHER_USER}/enabled"),
            Some(&json!({ "enabled": false })),
        )
        .await;
    let (status, _, body) = sandbox
        .basic_get("/v2/account-info", OTHER_USER, OTHER_PASSWORD)
        .await;
    assert_eq!(status, 401, "{body}");

    // The UI refuses weak passwords and never shows one.
    let (status, body) = sandbox
        .control_refused(
            Method::POST,
            "/_sandbox/api-users",
            &json!({ "password": "onlyletters", "account": ACCOUNT }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let state = sandbox.state().await.to_string();
    assert!(!state.contains(OLD_PASSWORD), "{state}");

    // A 403 from another region's host.
    let r3 = FIXTURE.replace("provider: dotdigital", "provider: dotdigital\nregion: r3");
    let elsewhere = self::sandbox(&r3).await;
    let (status, _, body) = elsewhere
        .basic_get("/v2/account-info", OLD_USER, OLD_PASSWORD)
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Access is denied"),
        "{body}"
    );
}

#[tokio::test]
async fn a_throttled_call_is_retried_and_the_plan_still_reads() {
    let sandbox = sandbox(FIXTURE).await;
    let work = workspace(&sandbox);
    sandbox
        .add_fault(json!({"path": "/v2/account-info", "action": {"kind": "error", "status": 429, "code": "ERROR_RATE_LIMIT_EXCEEDED"}, "times": 2}))
        .await;
    relinker(&work, &["plan", "plan.yaml"], None)
        .run()
        .await
        .code(0);
    let log = sandbox.requests().await;
    assert_eq!(log["codes"]["ERROR_RATE_LIMIT_EXCEEDED"], 2, "{log}");
}
