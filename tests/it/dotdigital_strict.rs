//! The dotdigital sandbox as strict as dotdigital (issue #27 item 4), and relinker under it:
//! every error in the v2 shape (a wrong method too), the partner-only endpoint that refuses an
//! ordinary account, a description edited after creation, a password that is the user's own
//! username refused by the UI and never sent by relinker, and the older flat rate-limit scheme
//! (400 `ERROR_APIUSAGE_EXCEEDED`) waited out or paused on.

use reqwest::Method;
use serde_json::{Value, json};

use crate::dotdigital::{ACCOUNT, FIXTURE, OLD_PASSWORD, OLD_USER, sandbox};
use crate::harness::TestSandbox;

/// The username the fixture's next New user gets, where a test names it.
const NEW_USER: &str = "apiuser-n8w4p6r2t5cd@apiconnector.com";

/// The `ERROR_*` token a v2 error body ends with; panics when the body is not one.
#[track_caller]
fn v2_token(body: &Value) -> String {
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not a v2 error body: {body}"));
    message
        .rsplit(' ')
        .next()
        .filter(|t| t.starts_with("ERROR_"))
        .unwrap_or_else(|| panic!("no ERROR_ token: {body}"))
        .to_owned()
}

/// A request with Basic auth as the fixture's old user; its status and body.
async fn call(
    sandbox: &TestSandbox,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = sandbox
        .http
        .request(method, sandbox.url(path))
        .basic_auth(OLD_USER, Some(OLD_PASSWORD));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Item 5: a known path asked with a method it does not take answers 405 in the v2 error shape,
/// on the API and on the control API; so does a control body that is not JSON.
#[tokio::test]
async fn a_wrong_method_or_body_is_answered_in_the_v2_error_shape() {
    let sandbox = sandbox(FIXTURE).await;
    for (method, path) in [
        (Method::POST, "/v2/account-info"),
        (Method::DELETE, "/v2/server-time"),
        (Method::GET, &*format!("/v2/accounts/{ACCOUNT}/api-users")),
        (Method::GET, "/_sandbox/api-users"),
    ] {
        let (status, body) = call(&sandbox, method.clone(), path, None).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(
            v2_token(&body),
            "ERROR_METHOD_NOT_ALLOWED",
            "{method} {path}"
        );
        assert!(
            body["message"].as_str().unwrap().contains(method.as_str()),
            "{body}"
        );
    }
    let (status, body) = sandbox
        .control_refused(
            Method::POST,
            "/_sandbox/api-users",
            &json!({ "pasword": "x" }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(v2_token(&body), "ERROR_PARAMETER_INVALID");
}

/// Item 4: `POST /v2/accounts/{id}/api-users` exists (for partners); an ordinary account's
/// credential is refused with 403 in the v2 shape, not told there is no such resource, and
/// nothing is created. A bad credential is refused as everywhere (401).
#[tokio::test]
async fn the_partner_endpoint_refuses_an_ordinary_account() {
    let sandbox = sandbox(FIXTURE).await;
    let before = sandbox.state().await;
    let path = format!("/v2/accounts/{ACCOUNT}/api-users");
    let (status, body) = call(
        &sandbox,
        Method::POST,
        &path,
        Some(&json!({ "password": "sandbox-New-4k", "description": "via the API" })),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(v2_token(&body), "ERROR_ACCESS_DENIED");
    assert!(
        body["message"].as_str().unwrap().contains("partner"),
        "{body}"
    );
    assert_eq!(sandbox.state().await, before);

    let response = sandbox
        .http
        .post(sandbox.url(&path))
        .basic_auth(OLD_USER, Some("wrong-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(v2_token(&body), "ERROR_INVALID_LOGIN");
}

/// Each API user's description, by username.
async fn descriptions(sandbox: &TestSandbox) -> Value {
    let state = sandbox.state().await;
    state["api_users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or_default().to_owned(),
                u["description"].clone(),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// Item 2: the Edit pencil edits a description after creation (the reference: "edit their
/// description and password, plus you can disable and re-enable them"), alone or with the rest
/// of the page; a page with a refused password saves nothing; the credential stays as it was.
#[tokio::test]
async fn a_description_is_edited_after_creation() {
    let sandbox = sandbox(FIXTURE).await;
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/api-users/{OLD_USER}/description"),
            Some(&json!({ "description": "Magento store (EU)" })),
        )
        .await;
    assert_eq!(descriptions(&sandbox).await[OLD_USER], "Magento store (EU)");
    let (status, _) = call(&sandbox, Method::GET, "/v2/account-info", None).await;
    assert_eq!(status, 200, "the credential is untouched");

    // The whole page: a description and Enabled, saved at once.
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/api-users/{OLD_USER}/edit"),
            Some(&json!({ "description": "Magento (retired)", "enabled": false })),
        )
        .await;
    assert_eq!(descriptions(&sandbox).await[OLD_USER], "Magento (retired)");
    let (status, _) = call(&sandbox, Method::GET, "/v2/account-info", None).await;
    assert_eq!(status, 401, "disabled by the same Save");

    // A refused password saves nothing of the page.
    let (status, body) = sandbox
        .control_refused(
            Method::POST,
            &format!("/_sandbox/api-users/{OLD_USER}/edit"),
            &json!({ "description": "never saved", "password": "short1", "enabled": true }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(v2_token(&body), "ERROR_PARAMETER_INVALID");
    assert_eq!(descriptions(&sandbox).await[OLD_USER], "Magento (retired)");

    let (status, body) = sandbox
        .control_refused(
            Method::POST,
            "/_sandbox/api-users/apiuser-nobody000001@apiconnector.com/description",
            &json!({ "description": "x" }),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(v2_token(&body), "ERROR_RESOURCE_NOT_FOUND");
}

/// Item 1, the sandbox: a password that is (or contains) the API user's username, its email
/// address, in any case, is refused as dotdigital's UI refuses it: 400 in the v2 shape, on a
/// new user (against the username the page generated) and on the Edit pencil; the password
/// never appears in the answer.
#[tokio::test]
async fn the_ui_refuses_a_password_that_is_the_users_own_username() {
    let fixture = format!("{FIXTURE}next_usernames: [{NEW_USER}]\n");
    let sandbox = sandbox(&fixture).await;
    for password in [OLD_USER.to_owned(), OLD_USER.to_uppercase()] {
        for path in ["password", "edit"] {
            let (status, body) = sandbox
                .control_refused(
                    Method::POST,
                    &format!("/_sandbox/api-users/{OLD_USER}/{path}"),
                    &json!({ "password": password }),
                )
                .await;
            assert_eq!(status, 400, "{path}: {body}");
            assert_eq!(v2_token(&body), "ERROR_PARAMETER_INVALID");
            assert!(
                body["message"].as_str().unwrap().contains("email address"),
                "{body}"
            );
        }
    }
    let (status, _) = call(&sandbox, Method::GET, "/v2/account-info", None).await;
    assert_eq!(status, 200, "the old password still works");

    // New user: the page shows the generated username, and the password may not be it.
    let (status, body) = sandbox
        .control_refused(
            Method::POST,
            "/_sandbox/api-users",
            &json!({ "password": NEW_USER, "account": ACCOUNT }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(v2_token(&body), "ERROR_PARAMETER_INVALID");
    // The refusal used up no username: the next New user gets it.
    let created = crate::dotdigital::person_creates_user(&sandbox, "sandbox-New-4k").await;
    assert_eq!(created, NEW_USER);
}

/// A password rotation of the user `magento` uses, its new password in `new.password`.
fn rotate_plan(base_url: &str) -> String {
    format!(
        "version: 1
name: dd-rotate
instance: {{ provider: dotdigital, base_url: '{base_url}' }}
services:
  - name: magento
    username: {OLD_USER}
    password: '${{env:DD_OLD}}'
rotations:
  - rotate_password:
      services: [magento]
      password: '${{file:new.password}}'
"
    )
}

/// Item 1, relinker at plan time: a new password that can be read when the plan is made and
/// contains the username it would be set on is invalid input (exit 2) pinned to the file, line
/// and field, for `plan` and for `apply`, before any request; in any case, for a password
/// rotation (the user's own username) and a replace (the new user's, once it can be read).
#[tokio::test]
async fn a_password_containing_its_username_is_refused_at_plan_time() {
    let sandbox = sandbox(FIXTURE).await;
    let work = crate::harness::Workspace::with_files(
        &rotate_plan(&sandbox.handle.base_url()),
        &[("new.password", &format!("{}\n", OLD_USER.to_uppercase()))],
    );
    for command in [&["plan", "plan.yaml"][..], &["apply", "plan.yaml", "--yes"]] {
        let ran = crate::dotdigital::relinker(&work, command, None)
            .run()
            .await;
        ran.code(2)
            .says("plan.yaml:11:17: `rotations[0].rotate_password.password`")
            .says(&format!(
                "the password `${{file:new.password}}` names contains the API user's username `{OLD_USER}`"
            ))
            .says("relinker secret generate --provider dotdigital")
            .never_says(OLD_PASSWORD)
            .never_says("rolling back");
    }
    assert_eq!(sandbox.requests().await["total"], 0, "no request was sent");

    // A replace whose new username can be read already.
    let replace = crate::harness::Workspace::with_files(
        &crate::dotdigital::plan(&sandbox.handle.base_url(), "delete"),
        &[("new.password", &format!("x-{NEW_USER}-9"))],
    );
    crate::dotdigital::relinker(&replace, &["plan", "plan.yaml"], Some(NEW_USER))
        .run()
        .await
        .code(2)
        .says("`rotations[0].replace.with.password`")
        .says(&format!("contains the API user's username `{NEW_USER}`"));
}

/// Item 1, relinker at step time: a new password read only when its step runs, containing the
/// user's username, pauses the run with the reason (exit 4): never sent (the sandbox operator
/// does not type it in, the old password keeps working), never verified, never rolled back.
#[tokio::test]
async fn a_password_containing_its_username_read_at_step_time_pauses_the_run() {
    let sandbox = sandbox(FIXTURE).await;
    let work = crate::harness::Workspace::with_files(&rotate_plan(&sandbox.handle.base_url()), &[]);
    let first = crate::dotdigital_facts::apply_unattended(&work).await;
    first.code(4).says("r0-set-new-password");
    let id = first.run_id();

    std::fs::write(work.path().join("new.password"), OLD_USER).unwrap();
    let resumed = crate::dotdigital::relinker(
        &work,
        &["resume", &id, "--sandbox-operator", "--gate-wait", "0"],
        None,
    )
    .run()
    .await;
    resumed
        .code(4)
        .says("r0-set-new-password")
        .says(&format!("contains the API user's username `{OLD_USER}`"))
        .never_says("r0-set-new-password: done")
        .never_says("r0-verify: verified")
        .never_says("rolling back")
        .never_says(OLD_PASSWORD);
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused");
    let (code, _) = call(&sandbox, Method::GET, "/v2/account-info", None).await;
    assert_eq!(code, 200, "the old password still works: nothing was sent");
}

/// The fixture on the older flat rate-limit scheme, at `rate` calls per account.
fn flat_fixture(rate: &str) -> String {
    FIXTURE.replace(
        "provider: dotdigital",
        &format!(
            "provider: dotdigital\nrate_limit: {rate}\nbehaviours: {{ rate-limit-scheme: flat }}"
        ),
    )
}

/// Item 3, the sandbox: `relinker sandbox --behaviour rate-limit-scheme=flat` plays the older
/// flat scheme: no `X-RateLimit-*` headers, and past the hour's calls 400
/// `ERROR_APIUSAGE_EXCEEDED` in the v2 shape; `/_sandbox/info` lists the reading. The default
/// is today's tiered scheme.
#[tokio::test]
async fn the_flat_rate_limit_scheme_is_a_sandbox_behaviour() {
    let process = crate::harness::SandboxProcess::spawn(&[
        "--provider",
        "dotdigital",
        "--behaviour",
        "rate-limit-scheme=flat",
        "--rate-limit",
        "2/1h",
    ]);
    let http = reqwest::Client::new();
    let info = process.info().await;
    assert_eq!(
        info["behaviours"],
        json!(["rate-limit-scheme=flat"]),
        "{info}"
    );
    let get = || {
        http.get(format!("{}/v2/account-info", process.base_url))
            .basic_auth(OLD_USER, Some(OLD_PASSWORD))
            .send()
    };
    for _ in 0..2 {
        let answer = get().await.unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert!(answer.headers().get("x-ratelimit-limit").is_none());
    }
    let refused = get().await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.headers().get("x-ratelimit-reset").is_none());
    let body: Value = refused.json().await.unwrap();
    assert_eq!(v2_token(&body), "ERROR_APIUSAGE_EXCEEDED");

    let tiered = sandbox(FIXTURE).await;
    let info = tiered.control(Method::GET, "/_sandbox/info", None).await;
    assert_eq!(
        info["behaviours"],
        json!(["rate-limit-scheme=tiered"]),
        "{info}"
    );
}

/// Item 3, relinker: under the flat scheme a call refused with `ERROR_APIUSAGE_EXCEEDED` is
/// asked again, backing off, and the plan reads once the limit lifts within the retry budget.
#[tokio::test]
async fn the_flat_schemes_limit_is_waited_out_within_the_retry_budget() {
    let sandbox = sandbox(&flat_fixture("1/3s")).await;
    let work = crate::dotdigital::workspace(&sandbox);
    // Start right after a window begins, so both calls of the plan fall in one window.
    let now = chrono::Utc::now().timestamp_millis();
    let into = u64::try_from(now.rem_euclid(3000)).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(3000 - into + 50)).await;
    crate::dotdigital::relinker(&work, &["plan", "plan.yaml"], None)
        .run()
        .await
        .code(0)
        .says("ERROR_APIUSAGE_EXCEEDED")
        .says("waiting");
    let log = sandbox.requests().await;
    assert!(
        log["codes"]["ERROR_APIUSAGE_EXCEEDED"].as_u64() >= Some(1),
        "{log}"
    );
}

/// Item 3, relinker: when the hour's calls stay used up past the retry budget, the step's check
/// pauses the run (exit 4), naming what dotdigital said and when to resume; nothing is marked
/// done, failed or rolled back.
#[tokio::test]
async fn the_flat_schemes_limit_past_the_budget_pauses_the_run() {
    let sandbox = sandbox(&flat_fixture("2/1h")).await;
    let work = crate::dotdigital::workspace(&sandbox);
    std::fs::write(work.path().join("new.password"), "sandbox-New-4k").unwrap();
    let first = crate::dotdigital_facts::apply_unattended(&work).await;
    first.code(4).says("r0-create-new-user");
    let id = first.run_id();
    let new_user = crate::dotdigital::person_creates_user(&sandbox, "sandbox-New-4k").await;

    let resumed =
        crate::dotdigital::relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
            .env("RELINKER_GIVE_UP_AFTER", "1s")
            .run()
            .await;
    resumed
        .code(4)
        .says("ERROR_APIUSAGE_EXCEEDED")
        .says("resume after")
        .says("UTC")
        .never_says("r0-create-new-user: done")
        .never_says("rolling back")
        .never_says("sandbox-New-4k")
        .never_says(OLD_PASSWORD);
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused", "{status}");
    assert_ne!(
        crate::harness::step(&status, "r0-create-new-user")["state"],
        "applied"
    );
}
