//! Messages that match the state: what relinker prints states the real state of the run and
//! the next command, when a plan cannot run, when an `apply` is refused before its run exists,
//! when another run claims a user, and when a rollback waits.

use reqwest::StatusCode;

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace};
use crate::notify::Receiver;

/// A plan a conflict stops is not "nothing to change".
#[tokio::test]
async fn a_conflicted_plan_is_headlined_as_stopped_not_as_nothing_to_change() {
    let r2 = crate::dotdigital::FIXTURE
        .replace("provider: dotdigital", "provider: dotdigital\nregion: r2");
    let sandbox = crate::dotdigital::sandbox(&r2).await;
    let work = Workspace::with_files(
        &crate::dotdigital::plan(&sandbox.handle.base_url(), "delete"),
        &[],
    );
    for command in [
        vec!["plan", "plan.yaml"],
        vec!["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
    ] {
        crate::dotdigital::relinker(&work, &command, None)
            .run()
            .await
            .code(1)
            .says("1 rotation: a conflict stops it")
            .says("does not serve the account of `magento`")
            .never_says("nothing to change");
    }
    assert!(work.run_dirs().is_empty(), "no run was started");
}

/// An `apply` refused before its run exists says the id it printed names no run; a claim by a
/// run whose process was killed calls it interrupted, as `status` does.
#[tokio::test]
async fn a_refused_apply_says_no_run_started_and_an_interrupted_claim_says_so() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // The first run waits at its first gate; its process is then killed.
    let mut child = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--run-id",
            "first",
            "--gate-wait",
            "10m",
        ])
        .spawn();
    let mut waiting = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Until the run is recorded (it first plans, and fingerprints its credentials, which
        // is slow on purpose), `status` says there is no such run.
        let status = work
            .relinker(&["status", "first", "--format", "json"])
            .run()
            .await;
        if status.stdout.contains("\"in_doubt\"") {
            waiting = true;
            break;
        }
    }
    assert!(waiting, "the first run never reached its gate");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    work.relinker(&["status", "first"])
        .run()
        .await
        .code(0)
        .says("interrupted");

    let second = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--run-id",
            "second",
            "--gate-wait",
            "0",
        ])
        .run()
        .await;
    second
        .code(3)
        .says("run second was not started")
        .says("claimed by run `first`, which is interrupted")
        .never_says("which is running");
    assert_eq!(work.run_ids().await, ["first"]);
}

/// A rollback that waits for a person says so once, in the notice too.
#[tokio::test]
async fn a_paused_rollback_is_notified_as_a_rollback_that_waits() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first.code(4);
    let id = first.run_id();
    for service in ["salesforce-sync", "reporting-export"] {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4);
    work.relinker(&[
        "rollback",
        &id,
        "--gate-wait",
        "0",
        "--notify",
        &receiver.url,
    ])
    .run()
    .await
    .code(4)
    .says("rollback waits for a person");
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let text = bodies[0]["text"].as_str().unwrap();
    assert!(
        text.contains("(plan `acme-rotation`): its rollback waits for a person to do"),
        "{text}"
    );
    assert!(!text.contains("its rollback; its rollback"), "{text}");
    assert_eq!(bodies[0]["relinker"]["event"], "paused");
    assert_eq!(bodies[0]["relinker"]["rolling_back"], true);
    assert_eq!(
        bodies[0]["relinker"]["next"],
        format!("relinker rollback {id}")
    );
}
