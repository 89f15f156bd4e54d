//! Each fault kind, observed over real HTTP: what the client sees and what the instance did.

use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{TestSandbox, USERS, error_code};

async fn invite(
    sandbox: &TestSandbox,
    token: &str,
    userid: &str,
) -> Result<(u16, Value), reqwest::Error> {
    let response = sandbox
        .http
        .post(sandbox.url(&format!("{USERS}/invite.json")))
        .bearer_auth(token)
        .timeout(Duration::from_millis(600))
        .json(&json!({
            "emailAddress": userid, "firstName": "F", "lastName": "L", "apiOnly": true,
            "userRoleWorkspaces": [{"accessRoleId": 110, "workspaceId": 1}]
        }))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

async fn exists(sandbox: &TestSandbox, userid: &str) -> bool {
    sandbox.state().await["users"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userid"] == userid)
}

fn last_request(report: &Value) -> &Value {
    report["requests"].as_array().unwrap().last().unwrap()
}

#[tokio::test]
async fn error_fault_answers_without_applying() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    sandbox
        .add_fault(json!({"method": "POST", "path": format!("{USERS}/invite.json"),
            "action": {"kind": "error", "status": 503, "code": "608", "message": "API Temporarily Unavailable"}, "times": 1}))
        .await;
    let (status, body) = invite(&sandbox, &token, "a@acme.example").await.unwrap();
    assert_eq!((status, error_code(&body)), (503, "608"));
    assert!(!exists(&sandbox, "a@acme.example").await);
    // times: 1 — the next call goes through.
    assert_eq!(
        invite(&sandbox, &token, "a@acme.example").await.unwrap().0,
        200
    );
    assert!(exists(&sandbox, "a@acme.example").await);
}

#[tokio::test]
async fn drop_closes_the_connection_before_applying() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    sandbox
        .add_fault(
            json!({"path": format!("{USERS}/invite.json"), "action": {"kind": "drop"}, "times": 1}),
        )
        .await;
    let error = invite(&sandbox, &token, "b@acme.example")
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert!(!exists(&sandbox, "b@acme.example").await);
    let report = sandbox.requests().await;
    assert_eq!(last_request(&report)["fault"], "drop");
    assert_eq!(last_request(&report)["changed_state"], false);
}

#[tokio::test]
async fn drop_after_applies_and_loses_the_answer() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    sandbox.add_fault(json!({"path": "/userservice/*/invite.json", "action": {"kind": "drop-after"}, "times": 1})).await;
    let error = invite(&sandbox, &token, "c@acme.example")
        .await
        .unwrap_err();
    assert!(!error.is_timeout(), "{error}");
    assert!(
        exists(&sandbox, "c@acme.example").await,
        "the request was applied"
    );
    let report = sandbox.requests().await;
    assert_eq!(last_request(&report)["changed_state"], true);
    assert_eq!(last_request(&report)["delivered"], false);
}

#[tokio::test]
async fn hang_and_hang_after_never_answer() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    sandbox
        .add_fault(
            json!({"path": format!("{USERS}/invite.json"), "action": {"kind": "hang"}, "times": 1}),
        )
        .await;
    let error = invite(&sandbox, &token, "d@acme.example")
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(!exists(&sandbox, "d@acme.example").await);

    sandbox.add_fault(json!({"path": format!("{USERS}/invite.json"), "action": {"kind": "hang-after"}, "times": 1})).await;
    let error = invite(&sandbox, &token, "e@acme.example")
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");
    assert!(
        exists(&sandbox, "e@acme.example").await,
        "applied before hanging"
    );
}

/// A released hang ends with its connection closed, no answer and nothing applied; a
/// released `hang-after` had applied its request before.
#[tokio::test]
async fn a_released_hang_closes_its_connection() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    for (kind, userid, applied) in [
        ("hang", "f@acme.example", false),
        ("hang-after", "g@acme.example", true),
    ] {
        sandbox
            .add_fault(json!({"path": format!("{USERS}/invite.json"), "action": {"kind": kind}, "times": 1}))
            .await;
        let body = json!({
            "emailAddress": userid, "firstName": "F", "lastName": "L", "apiOnly": true,
            "userRoleWorkspaces": [{"accessRoleId": 110, "workspaceId": 1}]
        });
        let sent = sandbox
            .http
            .post(sandbox.url(&format!("{USERS}/invite.json")))
            .bearer_auth(&token)
            .json(&body)
            .send();
        let released = async {
            while !sandbox.requests().await["requests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["fault"] == kind)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sandbox.release_hangs().await;
        };
        let (sent, ()) = tokio::join!(sent, released);
        let error = sent.unwrap_err();
        assert!(!error.is_timeout(), "{kind}: {error}");
        assert_eq!(exists(&sandbox, userid).await, applied, "{kind}");
        sandbox.clear_faults().await;
    }
}

#[tokio::test]
async fn latency_after_and_probability() {
    let sandbox = TestSandbox::start().await;
    let token = sandbox.admin_token().await;
    let path = format!("{USERS}/workspaces.json");
    // Skip the first match, then delay the second past the client's patience.
    sandbox.add_fault(json!({"path": path, "action": {"kind": "latency", "ms": 2000}, "after": 1, "times": 1})).await;
    let quick = sandbox
        .http
        .get(sandbox.url(&path))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(1500))
        .send()
        .await;
    assert!(quick.is_ok(), "first match is skipped");
    let slow = sandbox
        .http
        .get(sandbox.url(&path))
        .bearer_auth(&token)
        .timeout(Duration::from_millis(1500))
        .send()
        .await;
    assert!(slow.unwrap_err().is_timeout());

    sandbox
        .control(reqwest::Method::DELETE, "/_sandbox/faults", None)
        .await;
    sandbox
        .add_fault(json!({"path": path, "action": {"kind": "drop"}, "probability": 0.0}))
        .await;
    for _ in 0..5 {
        assert_eq!(sandbox.get(&token, &path).await.0, 200);
    }
    let rules = sandbox
        .control(reqwest::Method::GET, "/_sandbox/faults", None)
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1);

    let bad = sandbox
        .http
        .post(sandbox.url("/_sandbox/faults"))
        .json(&json!({"path": "/", "action": {"kind": "drop"}, "probability": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
