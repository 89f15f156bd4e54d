//! What a run spends of the instance's daily quota: every call but the identity endpoint's
//! counts, and the quota is shared with every integration on the instance.

use serde_json::{Value, json};

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace, World};

/// The rate-counted calls the sandbox logged, as `METHOD path`, in order.
async fn counted_calls(sandbox: &TestSandbox) -> Vec<String> {
    sandbox.requests().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["path"].as_str().unwrap().starts_with("/identity/"))
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_rename_reads_each_user_once_and_trusts_marketos_answers() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&[]).run().await.code(0);
    let users = "/userservice/management/v1/users";
    let jane = format!("{users}/jane.doe@acme.example");
    let temp = format!("{users}/relinker-temp@acme.example");
    assert_eq!(
        counted_calls(&sandbox).await,
        [
            // Planning: the listing says jane exists and the temporary user does not, so jane
            // is read in full and the temporary user only looked up as an invitation.
            format!("GET {users}/allusers.json"),
            format!("GET {jane}/user.json"),
            format!("GET {temp}/invite.json"),
            // Create: planning found no such user, so the invite goes out at once; whether
            // an invitation becomes a user at once differs by instance, so it is read.
            format!("POST {users}/invite.json"),
            format!("GET {temp}/user.json"),
            // Rename: Marketo answers the update with the record, which proves it.
            format!("POST {jane}/update.json"),
            // Verify: always against live state.
            format!("GET {jane}/roles.json"),
            // Delete: Marketo's answer proves it.
            format!("POST {temp}/delete.json"),
        ]
    );
}

#[tokio::test]
async fn a_user_made_by_someone_else_after_planning_is_found_not_fought_and_not_undone() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // Hold the planning read of the temporary user, so a person can create it in between:
    // planning remembers it absent, and the create step acts on that memory.
    sandbox
        .add_fault(json!({"method": "GET", "path": "/userservice/management/v1/users/relinker-temp@acme.example/invite.json", "action": {"kind": "latency", "ms": 1500}, "times": 1}))
        .await;
    let run = tokio::spawn(work.apply(&[]).run());
    let mut listed = false;
    for _ in 0..400 {
        if !sandbox
            .logged("GET", "/users/allusers.json")
            .await
            .is_empty()
        {
            listed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(listed, "planning never read the listing");
    sandbox
        .invite_api_user(
            "relinker-temp@acme.example",
            json!([{"accessRoleId": 110, "workspaceId": 1}]),
        )
        .await;
    let ran = run.await.unwrap();
    ran.code(0);
    let refused: Vec<Value> = sandbox.logged("POST", "/users/invite.json").await;
    assert_eq!(
        refused.last().unwrap()["code"],
        "1005",
        "the run's invite was refused: {refused:?}"
    );
    // Someone else's user: found holding, and neither deleted by the run at its end nor
    // counted as the run's.
    assert!(
        World::of(&sandbox)
            .await
            .user("relinker-temp@acme.example")
            .is_some(),
        "{}",
        ran.text()
    );
    assert_eq!(
        World::of(&sandbox)
            .await
            .user("jane.doe@acme.example")
            .unwrap()["emailAddress"],
        "api.salesforce@acme.example"
    );
}
