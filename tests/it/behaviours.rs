//! relinker under every reading of what Marketo's reference leaves open: one standard run of a
//! rename, a replace and a relink per value of every sandbox behaviour, each reaching the
//! planned end state; and full user listings that are complete whatever `pageOffset` counts.

use std::fmt::Write as _;

use relinker::provider::marketo::Api;
use relinker::sandbox::marketo::{SandboxConfig, Setting};
use reqwest::Method;
use serde_json::json;

use crate::harness::{
    ACME, POLICY, RELINK, RENAME, REPLACE, Ran, TestSandbox, Workspace, World, assert_no_secrets,
};

/// Every value that is not today's default, one run each.
const READINGS: [&str; 8] = [
    "token-scope-after-relink=minted",
    "token-scope-after-relink=revoked",
    "api-only-invitations=pending",
    "error-codes=integer",
    "error-status=200",
    "linked-user-edit=603",
    "linked-user-edit=accepted",
    "page-offset=pages",
];

/// Applies the standard plan until it is done: the operator plays the person; when the run
/// pauses (a relink Marketo does not show yet), time passes on the instance and it resumes.
async fn run_to_the_end(sandbox: &TestSandbox, work: &Workspace, reading: &str) -> Vec<Ran> {
    let mut outputs = vec![work.apply(&["--run-id", "standard"]).run().await];
    for _ in 0..8 {
        let last = outputs.last().expect("a run");
        match last.code {
            Some(0) => return outputs,
            Some(4) => {}
            _ => panic!("{reading}: the run stopped: {}", last.text()),
        }
        // The longest the platform may hide a relink: one token lifetime.
        sandbox
            .control(
                Method::POST,
                "/_sandbox/clock",
                Some(&json!({ "advance_secs": 3600 })),
            )
            .await;
        outputs.push(
            work.relinker(&[
                "resume",
                "standard",
                "--sandbox-operator",
                "--gate-wait",
                "0",
            ])
            .run()
            .await,
        );
    }
    panic!("{reading}: the run never finished");
}

#[tokio::test]
async fn every_reading_reaches_the_planned_end_state() {
    for reading in READINGS {
        let setting: Setting = reading.parse().unwrap();
        let config = SandboxConfig {
            behaviours: vec![setting],
            ..SandboxConfig::default()
        };
        let sandbox = TestSandbox::with(ACME, config).await;
        let info = sandbox.control(Method::GET, "/_sandbox/info", None).await;
        assert!(
            info["behaviours"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b == reading),
            "{info}"
        );
        let work = Workspace::new(&sandbox, &[RENAME, REPLACE, RELINK].join("\n"), POLICY);
        let outputs = run_to_the_end(&sandbox, &work, reading).await;
        let last = outputs.last().unwrap();
        last.says("run standard done");

        let world = World::of(&sandbox).await;
        for service in ["salesforce-sync", "reporting-export"] {
            assert_eq!(world.linked(service), "jane.doe@acme.example", "{reading}");
        }
        let jane = world.user("jane.doe@acme.example").expect("jane");
        assert_eq!(
            jane["emailAddress"], "api.salesforce@acme.example",
            "{reading}"
        );
        assert!(
            world.user("relinker-temp@acme.example").is_none(),
            "{reading}"
        );
        assert_eq!(
            world.linked("crm-connector"),
            "api.crm@acme.example",
            "{reading}"
        );
        assert!(world.user("bob@acme.example").is_none(), "{reading}");
        assert_eq!(
            world.linked("webinar-bridge"),
            "api.webinar@acme.example",
            "{reading}"
        );
        let texts: Vec<String> = outputs.iter().map(Ran::text).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        assert_no_secrets(&texts);
    }
}

/// A full listing is complete whether `pageOffset` counts users or pages, for a page count
/// that ends on a full page and one that does not.
#[tokio::test]
async fn full_listings_are_complete_under_either_paging() {
    // The acme fixture has 7 users: 400 in all ends on a full page, 401 does not.
    for extra in [393, 394] {
        let mut users = String::from("users:\n");
        for i in 0..extra {
            writeln!(
                users,
                "  - {{ userid: listed{i}@acme.example, first_name: L, last_name: '{i}', roles: [{{ role: Standard User, workspace: World }}] }}"
            )
            .unwrap();
        }
        let fixture = ACME.replacen("users:\n", &users, 1);
        let mut listings = Vec::new();
        for paging in ["page-offset=entries", "page-offset=pages"] {
            let config = SandboxConfig {
                behaviours: vec![paging.parse().unwrap()],
                ..SandboxConfig::default()
            };
            let sandbox = TestSandbox::with(&fixture, config).await;
            let expected = sandbox.state().await["users"].as_array().unwrap().len();
            let mut listed: Vec<String> = crate::harness::client(&sandbox)
                .all_users()
                .await
                .unwrap_or_else(|e| panic!("{paging}: {e}"))
                .into_iter()
                .map(|u| u.userid.to_string())
                .collect();
            assert_eq!(listed.len(), expected, "{paging}: every user, once");
            listed.sort();
            listed.dedup();
            assert_eq!(listed.len(), expected, "{paging}: no user twice");
            listings.push(listed);
        }
        assert_eq!(listings[0], listings[1]);
    }
}

/// With `minted` scopes a token can name a user its service has left: the plan then believes
/// the services moved. Marketo refusing to edit the user (still linked) sends the run to a
/// person with an explanation (exit 4), never fails it; once the person relinks, it finishes.
#[tokio::test]
async fn a_refused_edit_of_a_still_linked_user_waits_for_a_person() {
    let minted: Setting = "token-scope-after-relink=minted".parse().unwrap();
    let config = SandboxConfig {
        behaviours: vec![minted],
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(ACME, config).await;
    let pairs = json!([{"accessRoleId": 110, "workspaceId": 1}, {"accessRoleId": 101, "workspaceId": 1008}]);
    sandbox
        .invite_api_user("relinker-temp@acme.example", pairs)
        .await;
    let services = [
        (
            "salesforce-sync",
            "5f0e4c1a-1111-4111-8111-000000005f5f",
            "sandbox-secret-sfdc-K8v3",
        ),
        (
            "reporting-export",
            "7c2d9e4b-2222-4222-8222-000000007c7c",
            "sandbox-secret-report-Xp91",
        ),
    ];
    // The services spend a moment on the temporary user and go back: their cached tokens
    // still name it.
    for (service, id, secret) in services {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
        assert_eq!(
            sandbox.token(id, secret).await["scope"],
            "relinker-temp@acme.example"
        );
        sandbox.person_links(service, "jane.doe@acme.example").await;
        assert_eq!(
            sandbox.token(id, secret).await["scope"],
            "relinker-temp@acme.example"
        );
    }
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "0",
            "--run-id",
            "stale",
        ])
        .run()
        .await;
    first
        .code(4)
        .says("Marketo refuses to change `jane.doe@acme.example`")
        .says("at most an hour");
    assert_eq!(work.status("stale").await["status"], "paused");

    // The person moves the services for real; the edit goes through on resume.
    for (service, _, _) in services {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    let mut last = work
        .relinker(&["resume", "stale", "--gate-wait", "0"])
        .run()
        .await;
    for _ in 0..4 {
        if last.code == Some(0) {
            break;
        }
        assert_eq!(last.code, Some(4), "{}", last.text());
        for (service, _, _) in services {
            sandbox.person_links(service, "jane.doe@acme.example").await;
        }
        sandbox
            .control(
                Method::POST,
                "/_sandbox/clock",
                Some(&json!({"advance_secs": 3600})),
            )
            .await;
        last = work
            .relinker(&["resume", "stale", "--gate-wait", "0"])
            .run()
            .await;
    }
    last.code(0).says("run stale done");
    let world = World::of(&sandbox).await;
    assert_eq!(
        world.user("jane.doe@acme.example").unwrap()["emailAddress"],
        "api.salesforce@acme.example"
    );
    for (service, _, _) in services {
        assert_eq!(world.linked(service), "jane.doe@acme.example");
    }
}
