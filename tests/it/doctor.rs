//! `relinker doctor PLAN` (#26 item 7): one line per check, exit 0 only if all pass, nothing
//! changed on the platform; each failure names what is wrong.

use axum::http::StatusCode;
use serde_json::Value;

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace};
use crate::notify::Receiver;

fn line<'a>(text: &'a str, check: &str) -> &'a str {
    text.lines()
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{check}: ")))
        })
        .unwrap_or_else(|| panic!("no `{check}` line in:\n{text}"))
}

#[tokio::test]
async fn a_ready_plan_passes_every_check_and_changes_nothing() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    std::fs::create_dir(work.path().join("state")).unwrap();
    let ran = work
        .relinker(&["doctor", "plan.yaml", "--notify", "${env:HOOK}"])
        .env("HOOK", &receiver.url)
        .run()
        .await;
    ran.code(0);
    let out = &ran.stdout;
    assert!(
        line(out, "plan").starts_with("✓ plan: `acme-rotation` (plan.yaml): valid, 1 rotation")
    );
    assert!(line(out, "runner configuration").starts_with("! "), "{out}");
    assert!(
        line(out, "instance and credentials")
            .contains("answered, and 5 credentials the plan names authenticated"),
        "{out}"
    );
    assert_eq!(
        line(out, "plan against live state"),
        "✓ plan against live state: 8 steps to run"
    );
    assert_eq!(
        line(out, "webhook"),
        "✓ webhook: it answered a test message"
    );
    assert!(
        line(out, "state store")
            .starts_with("✓ state store: `state`: reachable and writable, 0 runs"),
        "{out}"
    );
    let told = receiver.bodies();
    assert_eq!(told.len(), 1);
    assert!(
        told[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("relinker doctor: this webhook works")
    );
    assert!(
        !ran.text().contains("secret-token"),
        "the webhook URL leaked"
    );
    assert_eq!(
        sandbox.requests().await["state_changing"],
        0,
        "doctor changed something"
    );
}

#[tokio::test]
async fn each_problem_is_a_failed_line_and_exit_1() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // A service's secret is wrong, the state directory is missing, the webhook refuses.
    let receiver = Receiver::start(StatusCode::FORBIDDEN).await;
    let ran = work
        .relinker(&[
            "doctor",
            "plan.yaml",
            "--notify",
            "${env:HOOK}",
            "--format",
            "json",
        ])
        .env("HOOK", &receiver.url)
        .env("T_SFDC_SECRET", "not-the-secret")
        .run()
        .await;
    ran.code(1);
    let report: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let verdict = |check: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == check)
            .unwrap_or_else(|| panic!("no {check}: {report:#}"))
            .clone()
    };
    assert_eq!(verdict("plan")["verdict"], "pass");
    let credentials = verdict("instance and credentials");
    assert_eq!(credentials["verdict"], "fail", "{credentials}");
    assert!(
        credentials["detail"]
            .as_str()
            .unwrap()
            .contains("salesforce-sync"),
        "{credentials}"
    );
    assert_ne!(verdict("plan against live state")["verdict"], "pass");
    assert_eq!(verdict("webhook")["verdict"], "fail");
    let state = verdict("state store");
    assert_eq!(state["verdict"], "fail");
    assert!(
        state["detail"].as_str().unwrap().contains("state"),
        "{state}"
    );
    assert!(!ran.text().contains("not-the-secret"), "a secret leaked");

    // An invalid plan: its problem, and the checks that need a plan skipped.
    std::fs::write(
        work.path().join("bad.yaml"),
        "version: 1\nname: x\nrotations: []\n",
    )
    .unwrap();
    let bad = work.relinker(&["doctor", "bad.yaml"]).run().await;
    bad.code(1);
    assert!(
        line(&bad.stdout, "plan").starts_with("✗ plan: "),
        "{}",
        bad.stdout
    );
    assert!(
        line(&bad.stdout, "instance and credentials").starts_with("- "),
        "{}",
        bad.stdout
    );
}

#[tokio::test]
async fn a_database_state_store_is_checked_for_the_privilege_to_write() {
    let Some(database) = crate::pg::TestPostgres::start().await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&database.url()));
    let ran = work.relinker(&["doctor", "plan.yaml"]).run().await;
    ran.code(0);
    assert!(
        line(&ran.stdout, "state store").contains("reachable and writable, 0 runs"),
        "{}",
        ran.stdout
    );

    // A database user that may read relinker's tables but not write them.
    for sql in [
        "CREATE ROLE auditor LOGIN",
        "GRANT USAGE ON SCHEMA relinker TO auditor",
        "GRANT SELECT ON ALL TABLES IN SCHEMA relinker TO auditor",
    ] {
        database.query(sql).await;
    }
    let reader = database.url().replace("postgres@", "auditor@");
    let refused = work
        .relinker(&["doctor", "plan.yaml"])
        .env("RELINKER_STATE", &reader)
        .run()
        .await;
    refused.code(1);
    assert!(
        {
            // Refused at the schema check on connecting, or by the table privileges.
            let state = line(&refused.stdout, "state store");
            state.starts_with("✗ state store: ")
                && (state.contains("permission denied")
                    || state.ends_with("may read but not write runs there"))
        },
        "{}",
        refused.text()
    );
}
