//! Several plans in one command: `apply A B C` runs them at once, each its own run, through one
//! client per instance (one token, one limiter, the instance-wide reads made once).

use reqwest::Method;

use crate::harness::{POLICY, RELINK, RENAME, REPLACE, TestSandbox, Workspace, World, plan_text};

#[tokio::test]
async fn several_plans_run_at_once_through_one_client() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let base = sandbox.handle.base_url();
    for (file, name, rotation) in [
        ("replace.yaml", "acme-replace", REPLACE),
        ("relink.yaml", "acme-relink", RELINK),
    ] {
        let text = plan_text(&base, rotation, POLICY)
            .replace("name: acme-rotation", &format!("name: {name}"));
        std::fs::write(work.path().join(file), text).unwrap();
    }
    sandbox
        .control(Method::DELETE, "/_sandbox/requests", None)
        .await;
    let ran = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "replace.yaml",
            "relink.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ])
        .run()
        .await;
    ran.code(0);
    for name in ["acme-rotation", "acme-replace", "acme-relink"] {
        let done = ran
            .stdout
            .lines()
            .filter(|line| line.starts_with(&format!("run {name}-")) && line.ends_with(" done."))
            .count();
        assert_eq!(done, 1, "{name}: {}", ran.text());
        // Progress lines of runs going at once say whose they are.
        assert!(
            ran.stdout
                .lines()
                .any(|line| line.starts_with(&format!("[{name}-"))),
            "{}",
            ran.text()
        );
    }

    let world = World::of(&sandbox).await;
    assert_eq!(
        world.user("jane.doe@acme.example").unwrap()["emailAddress"],
        "api.salesforce@acme.example"
    );
    assert!(world.user("bob@acme.example").is_none());
    assert_eq!(world.linked("webinar-bridge"), "api.webinar@acme.example");

    let log = sandbox.requests().await;
    let paths: Vec<&str> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    let count = |suffix: &str| paths.iter().filter(|p| p.ends_with(suffix)).count();
    // Read once for the three plans, not once each.
    assert_eq!(count("/users/allusers.json"), 1, "{paths:?}");
    // Role and workspace names come with the user records: the lists are never read.
    assert_eq!(count("/v1/users/roles.json"), 0, "{paths:?}");
    assert_eq!(count("/users/workspaces.json"), 0, "{paths:?}");
    // At once, not one after another: the replace invites its new user before the rename has
    // deleted its temporary user (its last step).
    let position = |suffix: &str| paths.iter().position(|p| p.ends_with(suffix));
    let invites: Vec<usize> = paths
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ends_with("/users/invite.json"))
        .map(|(i, _)| i)
        .collect();
    let temp_deleted = position("/users/relinker-temp@acme.example/delete.json").unwrap();
    assert_eq!(invites.len(), 2, "{paths:?}");
    assert!(invites.iter().all(|i| *i < temp_deleted), "{paths:?}");
}
