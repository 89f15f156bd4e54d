//! Movius MultiLine end to end: the real binary against the Movius sandbox on 127.0.0.1:0.
//! relinker cannot observe Movius, so what is checked comes from a plan's check command and
//! everything else from a person's attestation; these tests hold it to that.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Ran, Relinker, TestSandbox, Workspace, assert_no_secrets, step};
use relinker::sandbox::movius::{Fixture, Sandbox};

pub(crate) const OLD_PASSWORD: &str = "sandbox-emailed-1";
pub(crate) const NEW_USERNAME: &str = "api-p4m8wz3nqt";
pub(crate) const NEW_PASSWORD: &str = "sandbox-emailed-2";

const FIXTURE: &str = r#"
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
"#;

pub(crate) async fn sandbox() -> TestSandbox {
    let fixture = Fixture::parse(FIXTURE, "test fixture").expect("test fixture is valid");
    TestSandbox::serve(Sandbox::new(&fixture)).await
}

/// A replace of Jane's API user: `salesforce` checked by command, `dialer` attested.
pub(crate) fn plan(base_url: &str) -> String {
    format!(
        "version: 1
name: movius-replace
instance: {{ provider: movius, base_url: '{base_url}' }}
services:
  - name: salesforce
    application: Salesforce
    username: api-7fq2kd9xmw
    password: '${{env:MV_OLD}}'
    check: [relinker, check-credential, --path, /_sandbox/integrations/salesforce/check]
  - name: dialer
    application: HttpApi
rotations:
  - replace:
      services: [salesforce, dialer]
      user: jane.doe@acme.example
      with: api.multiline@acme.example
      first_name: MultiLine
      last_name: Integrations
      login: {{ username: '${{env:MV_NEW_USER}}', password: '${{file:new.password}}' }}
policy:
  on_failure: rollback
  max_deletions: 1
"
    )
}

pub(crate) fn relinker(work: &Workspace, args: &[&str]) -> Relinker {
    work.relinker(args)
        .env("MV_OLD", OLD_PASSWORD)
        .env("MV_NEW_USER", NEW_USERNAME)
}

/// (integration -> API username, API user emails).
pub(crate) async fn world(sandbox: &TestSandbox) -> (Value, Vec<String>) {
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
    let emails = state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["email"].as_str().map(str::to_owned))
        .collect();
    (Value::Object(integrations), emails)
}

fn no_secrets(texts: &[&str]) {
    assert_no_secrets(texts);
    for text in texts {
        assert!(!text.contains(OLD_PASSWORD), "the old password leaked");
        assert!(!text.contains(NEW_PASSWORD), "the new password leaked");
    }
}

/// A person adds the plan's new API user in the Administrators tool; Movius emails its
/// credentials, which are stored where the plan says (`new.password`).
pub(crate) async fn person_adds_the_new_user(sandbox: &TestSandbox, work: &Workspace) {
    sandbox
        .control(
            Method::POST,
            "/_sandbox/api-users",
            Some(
                &json!({"first_name": "MultiLine", "last_name": "Integrations",
                "email": "api.multiline@acme.example", "applications": ["Salesforce", "HttpApi"]}),
            ),
        )
        .await;
    std::fs::write(work.path().join("new.password"), NEW_PASSWORD).unwrap();
}

pub(crate) async fn person_switches(sandbox: &TestSandbox, integration: &str, email: &str) {
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/integrations/{integration}/switch"),
            Some(&json!({ "email": email })),
        )
        .await;
}

#[tokio::test]
async fn the_plan_says_what_relinker_cannot_observe_and_how_each_step_is_known() {
    let sandbox = sandbox().await;
    let work = Workspace::with_files(&plan(&sandbox.handle.base_url()), &[]);
    let text = relinker(&work, &["plan", "plan.yaml"]).run().await;
    text.code(0);
    let second_line = text.stdout.lines().nth(1).unwrap_or_default();
    assert!(
        second_line.starts_with("Note: relinker cannot observe Movius"),
        "{}",
        text.stdout
    );
    let json = relinker(&work, &["plan", "plan.yaml", "--format", "json"])
        .run()
        .await;
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let how: Vec<(String, String, String)> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["mode"].as_str().unwrap().to_owned(),
                s["verification"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        // A check command passing with the new credential shows the new user was added.
        ("r0-add-new-user", "manual", "command"),
        ("r0-switch-salesforce", "manual", "command"),
        ("r0-switch-dialer", "manual", "attested"),
        ("r0-verify", "manual", "attested"),
        ("r0-delete-old-user", "manual", "attested"),
    ];
    assert_eq!(
        how,
        expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert!(
        json["caveat"]
            .as_str()
            .unwrap()
            .contains("cannot observe Movius")
    );
    // The check command reads only: planning changed nothing.
    assert_eq!(sandbox.state().await, self::sandbox().await.state().await);

    // Without check commands, every step is a person's word.
    let unchecked = plan(&sandbox.handle.base_url())
        .replace("    check: [relinker, check-credential, --path, /_sandbox/integrations/salesforce/check]\n", "");
    let work = Workspace::with_files(&unchecked, &[]);
    let markdown = relinker(&work, &["plan", "plan.yaml", "--format", "markdown"])
        .run()
        .await;
    markdown.code(0).never_says("| command |");
    assert_eq!(
        markdown
            .stdout
            .matches("**attested, not verified**")
            .count(),
        5,
        "{}",
        markdown.stdout
    );
}

#[tokio::test]
async fn unattended_with_a_check_command_attestations_a_kill_and_resume() {
    attestations_a_kill_and_resume(None).await;
}

#[tokio::test]
async fn on_postgres_attestations_a_kill_and_resume() {
    let Some(pg) = crate::pg::TestPostgres::start().await else {
        return;
    };
    attestations_a_kill_and_resume(Some(&pg)).await;
}

/// Unattended, with a check command, attestations, a kill -9 and resumes; with a database for
/// state, the attestations are kept there.
async fn attestations_a_kill_and_resume(store: Option<&crate::pg::TestPostgres>) {
    let url = store.map(crate::pg::TestPostgres::url);
    let sandbox = sandbox().await;
    let work =
        Workspace::with_files(&plan(&sandbox.handle.base_url()), &[]).with_state(url.as_deref());
    let mut outputs: Vec<String> = Vec::new();
    let mut keep = |ran: Ran| {
        outputs.push(ran.text());
        ran
    };

    let first = keep(
        relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
            .run()
            .await,
    );
    first.code(4).says("r0-add-new-user");
    let id = first.run_id();

    // A person adds the user; Movius emails its credentials, stored where the plan says.
    person_adds_the_new_user(&sandbox, &work).await;
    // An added user shows only once an integration authenticates with its credential: until
    // then relinker cannot tell, and without an attestation the run waits still.
    keep(relinker(&work, &["resume", &id, "--gate-wait", "0"]).run().await)
        .code(4)
        .says("relinker cannot tell r0-add-new-user from live state now: once done, confirm each with `relinker attest")
        .says("Nothing can observe r0-switch-dialer, r0-verify: once done, confirm each with `relinker attest");
    keep(
        relinker(
            &work,
            &["attest", &id, "r0-add-new-user", "--by", "Sam Admin"],
        )
        .run()
        .await,
    )
    .code(0);

    // The next phase: both switches and the proof; a kill -9 while it waits.
    let mut child = relinker(&work, &["resume", &id, "--gate-wait", "10m"]).spawn();
    let mut waiting = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let status = work.status(&id).await;
        if status["active"] == true && step(&status, "r0-add-new-user")["state"] == "applied" {
            waiting = true;
            break;
        }
    }
    assert!(waiting, "the run never reached the switches");
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    // The salesforce switch is checked by its command: attesting it would be refused.
    person_switches(&sandbox, "salesforce", "api.multiline@acme.example").await;
    keep(
        relinker(
            &work,
            &["attest", &id, "r0-switch-salesforce", "--by", "Sam Admin"],
        )
        .run()
        .await,
    )
    .code(2)
    .says("check command");
    person_switches(&sandbox, "dialer", "api.multiline@acme.example").await;
    keep(
        relinker(
            &work,
            &["attest", &id, "r0-switch-dialer", "--by", "Sam Admin"],
        )
        .run()
        .await,
    )
    .code(0);
    // The proof comes after the switches: it is due once the run has seen them hold.
    keep(
        relinker(&work, &["attest", &id, "r0-verify", "--by", "Sam Admin"])
            .run()
            .await,
    )
    .code(2)
    .says("not due");
    let after_kill = keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"])
            .run()
            .await,
    );
    after_kill
        .code(4)
        .says("r0-switch-salesforce: done (its check command passes)")
        .says("r0-switch-dialer: attested, not verified")
        .says("r0-verify");
    keep(
        relinker(&work, &["attest", &id, "r0-verify", "--by", "Sam Admin"])
            .run()
            .await,
    )
    .code(0);
    keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"])
            .run()
            .await,
    )
    .code(4)
    .says("r0-verify: attested, not verified")
    .says("r0-delete-old-user");
    sandbox
        .control(
            Method::DELETE,
            "/_sandbox/api-users/jane.doe@acme.example",
            None,
        )
        .await;
    keep(
        relinker(
            &work,
            &[
                "attest",
                &id,
                "r0-delete-old-user",
                "--by",
                "Sam Admin",
                "--note",
                "deleted in the portal",
            ],
        )
        .run()
        .await,
    )
    .code(0);
    keep(
        relinker(&work, &["resume", &id, "--gate-wait", "0"])
            .run()
            .await,
    )
    .code(0)
    .says(&format!("run {id} done"))
    .says("attested by a person, not verified");

    let (integrations, emails) = world(&sandbox).await;
    assert_eq!(integrations["salesforce"], NEW_USERNAME);
    assert_eq!(integrations["dialer"], NEW_USERNAME);
    assert_eq!(emails, ["api.multiline@acme.example"]);
    let status = work.status(&id).await;
    // The add is checked by command (its attestation stood in while the check could not
    // tell); the dialer's switch is known only by a person's word, and says so.
    assert_eq!(step(&status, "r0-add-new-user")["state"], "applied");
    assert_eq!(
        step(&status, "r0-switch-dialer")["attested"]["by"],
        "Sam Admin"
    );
    assert_eq!(
        step(&status, "r0-delete-old-user")["attested"]["note"],
        "deleted in the portal"
    );
    assert_eq!(
        step(&status, "r0-switch-salesforce")["attested"],
        Value::Null
    );
    let texts: Vec<&str> = outputs.iter().map(String::as_str).collect();
    no_secrets(&texts);
    let state = match store {
        Some(pg) => pg.dump().await,
        None => work.state_files(),
    };
    no_secrets(&[&state]);
}

#[tokio::test]
async fn rollback_switches_back_and_removes_the_added_user() {
    let sandbox = sandbox().await;
    let before = world(&sandbox).await;
    let work = Workspace::with_files(
        &plan(&sandbox.handle.base_url()),
        &[("new.password", NEW_PASSWORD)],
    );
    let first = relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first.code(4);
    let id = first.run_id();
    // A person adds the user and switches one integration of two; then the run is undone.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/api-users",
            Some(
                &json!({"first_name": "MultiLine", "last_name": "Integrations",
                "email": "api.multiline@acme.example", "applications": ["Salesforce", "HttpApi"]}),
            ),
        )
        .await;
    relinker(
        &work,
        &["attest", &id, "r0-add-new-user", "--by", "Sam Admin"],
    )
    .run()
    .await
    .code(0);
    relinker(&work, &["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("r0-switch-salesforce");
    person_switches(&sandbox, "salesforce", "api.multiline@acme.example").await;
    assert_ne!(world(&sandbox).await, before);
    let rolled = relinker(
        &work,
        &["rollback", &id, "--sandbox-operator", "--gate-wait", "0"],
    )
    .run()
    .await;
    rolled.code(0).says(&format!("run {id} rolled back"));
    assert_eq!(world(&sandbox).await, before);
    let status = work.status(&id).await;
    // Undoing the added user is a person's word too.
    assert_eq!(step(&status, "r0-add-new-user")["state"], "undone");
    assert_eq!(
        step(&status, "r0-add-new-user")["attested"]["by"],
        "the sandbox operator"
    );
    no_secrets(&[&rolled.text(), &work.state_files()]);
}

/// A new user that already exists (an earlier run, or a person, added it, and `salesforce`
/// authenticates with its credential) is seen, not asked for again: the plan says "already
/// done", the run does not ask a person to add it, and its rollback does not delete it. Before,
/// the run asked for the add (nothing observed it), and its rollback then asked a person to
/// delete a user it never made, which `salesforce` was using.
#[tokio::test]
async fn a_new_user_that_exists_is_seen_and_its_rollback_leaves_it() {
    let sandbox = sandbox().await;
    let work = Workspace::with_files(&plan(&sandbox.handle.base_url()), &[]);
    person_adds_the_new_user(&sandbox, &work).await;
    person_switches(&sandbox, "salesforce", "api.multiline@acme.example").await;
    let before = world(&sandbox).await;

    let first = relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first
        .code(4)
        .says("r0-add-new-user: already done")
        .never_says("manual (r0-add-new-user)");
    let id = first.run_id();
    let status = work.status(&id).await;
    assert_eq!(
        step(&status, "r0-add-new-user")["state"],
        "already_satisfied"
    );

    let rolled = relinker(&work, &["rollback", &id, "--gate-wait", "0"])
        .run()
        .await;
    let said = rolled.text();
    assert!(
        !said.contains("deletes the new API user"),
        "the rollback asks to delete a user it did not make: {said}"
    );
    // Switching back names what to do when the old user is gone (nothing here can see it).
    rolled.code(4).says(
        "If `jane.doe@acme.example` no longer exists in Administrators, nothing can switch `dialer` back to it",
    );
    // What the run asked for (the dialer's switch) is undone by a person's word; then the
    // rollback ends, and the user it found is still there.
    relinker(
        &work,
        &["attest", &id, "r0-switch-dialer", "--by", "Sam Admin"],
    )
    .run()
    .await
    .code(0);
    relinker(&work, &["rollback", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(world(&sandbox).await, before);
}

#[tokio::test]
async fn the_example_runs_end_to_end_on_the_embedded_sandbox() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let work = tempfile::tempdir().unwrap();
    for example in [
        "replace-movius-api-user.yaml",
        "replace-dotdigital-api-user.yaml",
    ] {
        let plan = examples.join(example);
        let ran = Relinker::new(&["apply", plan.to_str().unwrap(), "--sandbox", "--yes"])
            .current_dir(work.path())
            .env("RELINKER_STATE_DIR", "state")
            .run()
            .await;
        ran.code(0).says("done.").says("attested, not verified");
        // A --sandbox run resolves references from the fixture, never the environment.
        assert_no_secrets(&[&ran.text()]);
        for secret in [
            "sandbox-emailed-1",
            "sandbox-emailed-2",
            "sandbox-Old-7q",
            "sandbox-New-4k",
        ] {
            assert!(
                !ran.text().contains(secret),
                "{example}: a fixture secret leaked"
            );
        }
    }
}

/// A check that passes with the credential an integration is switched from proves nothing of
/// the switch (walk movius seeds 1, 4, 9: `login:` came to name the old credential, the
/// salesforce check passed with it, and the run recorded the switch done while salesforce kept
/// the old user). It cannot tell, says why, and waits.
#[tokio::test]
async fn a_login_that_is_the_old_credential_proves_no_switch() {
    let sandbox = sandbox().await;
    let work = Workspace::with_files(
        &plan(&sandbox.handle.base_url()),
        &[("new.password", OLD_PASSWORD)],
    );
    let ran = relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .env("MV_NEW_USER", "api-7fq2kd9xmw")
        .run()
        .await;
    // Nor of a new user: the add is not "already done" at planning, nor done at step time
    // (walk movius seed 4 saw "r0-add-new-user: done (its check command passes)").
    ran.code(4)
        .says("is the one `salesforce` is switched from")
        .says("shows nothing of `api.multiline@acme.example`")
        .never_says("✓ r0-switch-salesforce")
        .never_says("✓ r0-add-new-user")
        .never_says("already done");
    let status = work.status(&ran.run_id()).await;
    for id in ["r0-add-new-user", "r0-switch-salesforce"] {
        assert!(
            !matches!(
                step(&status, id)["state"].as_str(),
                Some("applied" | "already_satisfied")
            ),
            "{id}: {status:#}"
        );
    }
    assert_ne!(
        step(&status, "r0-switch-salesforce")["state"],
        "applied",
        "{status:#}"
    );
    assert_ne!(
        step(&status, "r0-switch-salesforce")["state"],
        "already_satisfied",
        "{status:#}"
    );
    let (integrations, _) = world(&sandbox).await;
    assert_eq!(integrations["salesforce"], "api-7fq2kd9xmw");
}
