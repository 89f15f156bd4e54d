//! Rehearsals on a copy of production: `relinker sandbox --from-live` copies the instance a plan
//! names into a fixture (reading only), and the plan then runs against that copy with
//! `--sandbox` exactly as it would against the instance.

use serde_json::{Value, json};

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace, assert_no_secrets};

/// What a plan would do, step by step, as `plan --format json` says it.
fn steps(plan: &str) -> Vec<Value> {
    let plan: Value = serde_json::from_str(plan).expect("plan JSON");
    plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| json!([step["id"], step["description"], step["state"]]))
        .collect()
}

#[tokio::test]
async fn a_copy_of_live_plans_as_live_does_and_rehearses_without_touching_it() {
    let live = TestSandbox::start().await;
    // Production differs from the built-in fixture: someone made an API user last week.
    live.invite_api_user(
        "api.extra@acme.example",
        json!([{ "accessRoleId": 110, "workspaceId": 1 }]),
    )
    .await;
    let changes = live.requests().await["state_changing"].clone();
    let work = Workspace::new(&live, RENAME, POLICY);

    let copied = work
        .relinker(&["sandbox", "--from-live", "plan.yaml", "--out", "copy.yaml"])
        .run()
        .await;
    copied
        .code(0)
        .says("wrote copy.yaml")
        .says("4 known services")
        .says("rehearse with `sandbox: { fixture: copy.yaml }` in `plan.yaml`");
    let copy = std::fs::read_to_string(work.path().join("copy.yaml")).unwrap();
    assert_no_secrets(&[&copy, &copied.text()]);
    assert!(copy.contains("\"api.extra@acme.example\""), "{copy}");
    assert!(copy.contains("admin: true"), "{copy}");
    assert!(
        copy.contains("name: \"salesforce-sync\"")
            && copy.contains("user: \"jane.doe@acme.example\""),
        "{copy}"
    );
    assert_eq!(
        live.requests().await["state_changing"],
        changes,
        "copying only reads"
    );

    // The copy seeds a sandbox, and the plan says the same against it as against production.
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    std::fs::write(
        work.path().join("plan.yaml"),
        format!("{plan}sandbox:\n  fixture: copy.yaml\n"),
    )
    .unwrap();
    let against_live = work
        .relinker(&["plan", "plan.yaml", "--format", "json"])
        .run()
        .await;
    let against_copy = work
        .relinker(&["plan", "plan.yaml", "--format", "json", "--sandbox"])
        .run()
        .await;
    against_live.code(0);
    against_copy.code(0);
    let planned = steps(&against_live.stdout);
    assert!(planned.len() > 5, "{}", against_live.stdout);
    assert_eq!(planned, steps(&against_copy.stdout));

    // The whole rehearsal runs on the copy; production is not touched.
    work.relinker(&["apply", "plan.yaml", "--sandbox", "--yes"])
        .run()
        .await
        .code(0)
        .says("api.salesforce@acme.example");
    assert_eq!(live.requests().await["state_changing"], changes);
}

#[tokio::test]
async fn from_live_refuses_what_it_cannot_do_with_exit_2() {
    let live = TestSandbox::start().await;
    let work = Workspace::new(&live, RENAME, POLICY);
    work.relinker(&["sandbox", "--from-live", "plan.yaml"])
        .run()
        .await
        .code(2)
        .says("--out");
    work.relinker(&[
        "sandbox",
        "--from-live",
        "plan.yaml",
        "--out",
        "missing/copy.yaml",
    ])
    .run()
    .await
    .code(2)
    .says("folder `missing` does not exist");
    work.relinker(&[
        "sandbox",
        "--from-live",
        "plan.yaml",
        "--out",
        "copy.yaml",
        "--fixture",
        "x.yaml",
    ])
    .run()
    .await
    .code(2)
    .says("--fixture");
    // A live instance that does not answer: exit 1 and no file.
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    let base_url = live.handle.base_url();
    drop(live);
    std::fs::write(
        work.path().join("plan.yaml"),
        plan.replace(&base_url, "http://127.0.0.1:9"),
    )
    .unwrap();
    work.relinker(&[
        "sandbox",
        "--from-live",
        "plan.yaml",
        "--out",
        "copy.yaml",
        "--give-up-after",
        "1s",
    ])
    .run()
    .await
    .code(1)
    .says("cannot read the instance");
    assert!(!work.path().join("copy.yaml").exists());
}
