//! The Marketo provider against a real sandbox: every operation, every retry class, token
//! expiry, paging, odd userids and the limiter. (No secret in TRACE logs: tests/trace_logs.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

use relinker::limits::Limits;
use relinker::provider::marketo::{Api, RolePair, UserUpdate};
use relinker::provider::{Fence, LockLost, ProviderError};
use relinker::sandbox::marketo::SandboxConfig;
use relinker::secret::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{
    ACME, Held, TestSandbox, USERS, api_user, client, client_with, sync_service, uid,
};

/// Requests the sandbox logged for paths containing `fragment`.
async fn logged(sandbox: &TestSandbox, fragment: &str) -> Vec<Value> {
    sandbox.requests().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains(fragment))
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_operation_round_trips() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);

    let jane = marketo
        .user(&uid("jane.doe@acme.example"))
        .await
        .unwrap()
        .expect("jane exists");
    assert!(jane.api_only);
    assert_eq!(
        jane.roles,
        [
            RolePair {
                role_id: 101,
                workspace_id: 1008
            },
            RolePair {
                role_id: 110,
                workspace_id: 1
            }
        ]
    );
    assert_eq!(
        marketo
            .user_roles(&uid("jane.doe@acme.example"))
            .await
            .unwrap(),
        Some(jane.roles.clone())
    );
    assert_eq!(
        marketo.user(&uid("ghost@acme.example")).await.unwrap(),
        None
    );
    assert_eq!(
        marketo.user(&uid("new.hire@acme.example")).await.unwrap(),
        None,
        "pending is not a user"
    );
    let pending = marketo
        .invitation(&uid("new.hire@acme.example"))
        .await
        .unwrap()
        .expect("pending");
    assert!(pending.expires_at.is_some());
    assert_eq!(
        marketo
            .invitation(&uid("jane.doe@acme.example"))
            .await
            .unwrap(),
        None
    );
    assert!(
        marketo
            .roles()
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "API Integrations")
    );
    assert!(
        marketo
            .workspaces()
            .await
            .unwrap()
            .iter()
            .any(|w| w.id == 1008)
    );
    assert_eq!(marketo.all_users().await.unwrap().len(), 7);

    marketo
        .invite_api_user(&api_user("relinker-temp@acme.example"), &Held)
        .await
        .unwrap();
    let added = marketo
        .add_roles(
            &uid("relinker-temp@acme.example"),
            &[RolePair {
                role_id: 101,
                workspace_id: 1008,
            }],
            &Held,
        )
        .await
        .unwrap();
    assert_eq!(added, jane.roles);
    let remaining = marketo
        .remove_roles(
            &uid("relinker-temp@acme.example"),
            &[RolePair {
                role_id: 101,
                workspace_id: 1008,
            }],
            &Held,
        )
        .await
        .unwrap();
    assert_eq!(
        remaining,
        [RolePair {
            role_id: 110,
            workspace_id: 1
        }]
    );
    let expires = chrono::DateTime::parse_from_rfc3339("2031-06-30T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let update = UserUpdate {
        email: Some("api.temp@acme.example".into()),
        first_name: Some("Temporary".into()),
        last_name: None,
        expires_at: Some(expires),
    };
    marketo
        .update_user(&uid("relinker-temp@acme.example"), &update, &Held)
        .await
        .unwrap();
    let temp = marketo
        .user(&uid("relinker-temp@acme.example"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            temp.email.as_str(),
            temp.first_name.as_str(),
            temp.expires_at
        ),
        ("api.temp@acme.example", "Temporary", Some(expires))
    );
    marketo
        .delete_user(&uid("relinker-temp@acme.example"), &Held)
        .await
        .unwrap();
    assert_eq!(
        marketo
            .user(&uid("relinker-temp@acme.example"))
            .await
            .unwrap(),
        None
    );
    marketo
        .delete_invitation(&uid("new.hire@acme.example"), &Held)
        .await
        .unwrap();
    assert_eq!(
        marketo
            .invitation(&uid("new.hire@acme.example"))
            .await
            .unwrap(),
        None
    );

    // A linked user refuses edits; the error names the service.
    let refused = marketo
        .update_user(&uid("jane.doe@acme.example"), &update, &Held)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ProviderError::Api { status: 400, code: Some(c), .. } if c == "1003"),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("LaunchPoint service"),
        "{refused}"
    );

    // Services: scope names the linked user.
    let linked = marketo.linked_user(&sync_service()).await.unwrap();
    assert_eq!(linked.as_str(), "jane.doe@acme.example");
    let mut wrong = sync_service();
    wrong.client_secret = Secret::new("not-the-secret");
    let refused = marketo.linked_user(&wrong).await.unwrap_err();
    assert!(
        matches!(refused, ProviderError::BadCredentials { status: 401, .. }),
        "{refused}"
    );
    assert!(refused.to_string().contains("service `salesforce-sync`"));
    let action = marketo.relink_action(
        &relinker::ids::ServiceName::new("salesforce-sync"),
        &uid("relinker-temp@acme.example"),
    );
    assert!(action.steps.iter().any(|s| s.contains("LaunchPoint")));
}

#[tokio::test]
async fn pages_through_every_user() {
    let mut users = String::new();
    for i in 0..450 {
        writeln!(users, "  - {{ userid: u{i:03}@acme.example, first_name: U, last_name: '{i}', roles: [{{ role: Standard User, workspace: World }}] }}").unwrap();
    }
    let fixture = ACME.replace("\ninvitations:", &format!("\n{users}\ninvitations:"));
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let all = client(&sandbox).all_users().await.unwrap();
    assert_eq!(all.len(), 457);
    let mut ids: Vec<&str> = all.iter().map(|u| u.userid.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 457, "no user twice");
    // A probe at offset 1 tells which reading of `pageOffset` the instance uses; then the
    // pages of 200 + 200 + 57 users.
    assert_eq!(logged(&sandbox, "allusers.json").await.len(), 4);
}

#[tokio::test]
async fn odd_userids_are_encoded_as_one_path_segment() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    for userid in [
        "o'neil+ops@acme.example",
        "100%/sure?#x@acme.example",
        "a&b=c!$*{}|~^`@acme.example",
        "zoë@bücher.example",
    ] {
        let id = uid(userid);
        marketo
            .invite_api_user(&api_user(userid), &Held)
            .await
            .unwrap_or_else(|e| panic!("{userid}: {e}"));
        let user = marketo
            .user(&id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{userid} not found"));
        assert_eq!(user.userid.as_str(), userid);
        assert_eq!(
            marketo.user_roles(&id).await.unwrap().map(|r| r.len()),
            Some(1)
        );
        marketo.delete_user(&id, &Held).await.unwrap();
        assert_eq!(marketo.user(&id).await.unwrap(), None);
    }
}

#[tokio::test]
async fn retryable_answers_are_retried_until_they_succeed() {
    let sandbox = TestSandbox::start().await;
    // A 606 waits out a whole rate window: a one-second window keeps the test short.
    let marketo = client_with(
        &sandbox,
        Limits {
            rate: "100/1s".parse().unwrap(),
            concurrency: 10,
            ..Limits::default()
        },
    );
    let path = format!("{USERS}/roles.json");
    for (status, code) in [
        (429, "606"),
        (429, "615"),
        (503, "608"),
        (502, "611"),
        (500, "604"),
    ] {
        sandbox.add_fault(json!({"path": path, "action": {"kind": "error", "status": status, "code": code}, "times": 2})).await;
        assert!(!marketo.roles().await.unwrap().is_empty(), "{code}");
    }
    sandbox
        .add_fault(json!({"path": path, "action": {"kind": "drop"}, "times": 2}))
        .await;
    assert!(
        !marketo.roles().await.unwrap().is_empty(),
        "dropped connections"
    );
    sandbox
        .add_fault(json!({"path": path, "action": {"kind": "hang"}, "times": 1}))
        .await;
    assert!(
        !marketo.roles().await.unwrap().is_empty(),
        "a timed-out read"
    );
    // Each fault answered twice (once for hang) and the call after it succeeded.
    assert_eq!(logged(&sandbox, "/roles.json").await.len(), 5 * 3 + 3 + 2);

    // Retries run out: the last error is reported.
    sandbox
        .add_fault(json!({"path": path, "action": {"kind": "error", "status": 503, "code": "608"}}))
        .await;
    let error = marketo.roles().await.unwrap_err();
    assert_eq!(error.code(), Some("608"), "{error}");
}

/// A fence that holds for its first `holds` asks, then is lost.
struct LostAfter {
    holds: usize,
    asked: AtomicUsize,
}

impl Fence for LostAfter {
    fn still_held(&self) -> Result<(), LockLost> {
        if self.asked.fetch_add(1, Ordering::SeqCst) < self.holds {
            Ok(())
        } else {
            Err(LockLost {
                reason: "another runner took it".into(),
            })
        }
    }
}

/// The client sends a change again on its own when the first send provably did not apply (a
/// 608, a token renewed after 601): it asks the fence before each send, and stops with
/// nothing more sent once it says the run's lock was lost.
#[tokio::test]
async fn a_change_is_sent_again_only_while_the_fence_holds() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    let path = format!("{USERS}/invite.json");
    for (code, status) in [("608", 503), ("601", 401)] {
        let before = logged(&sandbox, "invite.json").await.len();
        sandbox.add_fault(json!({"path": path, "action": {"kind": "error", "status": status, "code": code}, "times": 1})).await;
        let fence = LostAfter {
            holds: 1,
            asked: AtomicUsize::new(0),
        };
        let userid = format!("fenced-{code}@acme.example");
        let error = marketo
            .invite_api_user(&api_user(&userid), &fence)
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProviderError::LockLost(_)),
            "{code}: {error}"
        );
        assert!(!error.may_have_applied(), "{code}");
        assert_eq!(fence.asked.load(Ordering::SeqCst), 2, "{code}");
        assert_eq!(
            logged(&sandbox, "invite.json").await.len(),
            before + 1,
            "{code}: sent once"
        );
        assert_eq!(marketo.user(&uid(&userid)).await.unwrap(), None, "{code}");
    }
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    let path = format!("{USERS}/workspaces.json");
    sandbox.add_fault(json!({"path": path, "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1})).await;
    let denied = marketo.workspaces().await.unwrap_err();
    assert_eq!(denied.code(), Some("603"));
    sandbox.add_fault(json!({"path": path, "action": {"kind": "error", "status": 429, "code": "607", "message": "Daily quota reached"}, "times": 1})).await;
    let quota = marketo.workspaces().await.unwrap_err();
    assert!(
        matches!(quota, ProviderError::QuotaExhausted { .. }),
        "{quota}"
    );
    assert!(quota.to_string().contains("resets at"), "{quota}");
    let invalid = marketo
        .invite_api_user(&api_user("not-an-email"), &Held)
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Some("1001"));
    assert_eq!(
        logged(&sandbox, "workspaces.json").await.len(),
        2,
        "one attempt each"
    );
    assert_eq!(logged(&sandbox, "invite.json").await.len(), 1);
}

#[tokio::test]
async fn rejected_tokens_are_renewed_once() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    assert!(
        marketo
            .user(&uid("jane.doe@acme.example"))
            .await
            .unwrap()
            .is_some()
    );
    // The instance's clock jumps past the token's lifetime: the cached token now answers 602.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/clock",
            Some(&json!({"advance_secs": 3700})),
        )
        .await;
    assert!(
        marketo
            .user(&uid("jane.doe@acme.example"))
            .await
            .unwrap()
            .is_some()
    );
    let codes: Vec<Value> = logged(&sandbox, "user.json")
        .await
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(codes, [Value::Null, json!("602"), Value::Null]);
    assert_eq!(logged(&sandbox, "/identity/").await.len(), 2, "one renewal");

    sandbox.add_fault(json!({"path": format!("{USERS}/roles.json"), "action": {"kind": "error", "status": 401, "code": "601"}, "times": 1})).await;
    assert!(!marketo.roles().await.unwrap().is_empty());
    assert_eq!(logged(&sandbox, "/identity/").await.len(), 3);
}

#[tokio::test]
async fn a_change_whose_answer_is_lost_is_never_resent() {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    for (kind, userid) in [
        ("drop-after", "lost1@acme.example"),
        ("hang-after", "lost2@acme.example"),
    ] {
        sandbox.add_fault(json!({"method": "POST", "path": format!("{USERS}/invite.json"), "action": {"kind": kind}, "times": 1})).await;
        let error = marketo
            .invite_api_user(&api_user(userid), &Held)
            .await
            .unwrap_err();
        assert!(error.is_outcome_unknown(), "{kind}: {error}");
        assert!(
            marketo.user(&uid(userid)).await.unwrap().is_some(),
            "{kind}: it did apply"
        );
    }
    // A 5xx on a change is just as unknowable.
    sandbox.add_fault(json!({"path": "/userservice/*/lost1@acme.example/update.json", "action": {"kind": "error", "status": 500, "code": "611"}, "times": 1})).await;
    let error = marketo
        .update_user(
            &uid("lost1@acme.example"),
            &UserUpdate {
                first_name: Some("X".into()),
                ..UserUpdate::default()
            },
            &Held,
        )
        .await
        .unwrap_err();
    assert!(error.is_outcome_unknown(), "{error}");
    assert_eq!(
        logged(&sandbox, "invite.json").await.len(),
        2,
        "each invite sent exactly once"
    );
    assert_eq!(logged(&sandbox, "update.json").await.len(), 1);

    // Refused before processing (606) or never sent (drop before applying): retried safely.
    sandbox.add_fault(json!({"path": format!("{USERS}/lost2@acme.example/delete.json"), "action": {"kind": "error", "status": 429, "code": "606"}, "times": 1})).await;
    marketo
        .delete_user(&uid("lost2@acme.example"), &Held)
        .await
        .unwrap();
    assert_eq!(
        marketo.user(&uid("lost2@acme.example")).await.unwrap(),
        None
    );
}
