//! Shared test harness: real sandboxes on 127.0.0.1:0, in-process or as the compiled binary,
//! always stopped when the test ends, pass or fail.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use relinker::ids::{ServiceName, UserId};
use relinker::limits::Limits;
use relinker::provider::marketo::{MarketoClient, MarketoConfig};
use relinker::provider::marketo::{NewApiUser, RolePair, ServiceCredentials};
use relinker::provider::{Fence, LockLost};
use relinker::retry::RetryPolicy;
use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};
use relinker::sandbox::{Emulator, SandboxHandle};
use relinker::secret::{Fingerprinter, Secret};
use serde_json::Value;

/// The acme fixture every example plan uses.
pub const ACME: &str = include_str!("../../plans/fixtures/acme.yaml");
/// The admin service's credentials in the acme fixture.
pub const ADMIN_ID: &str = "0a1b2c3d-0000-4000-8000-00000000a0a0";
pub const ADMIN_SECRET: &str = "sandbox-secret-admin-7Qm2";
/// Prefix of the User Management API.
pub const USERS: &str = "/userservice/management/v1/users";

// ---- plans against the acme fixture, secrets from the environment ----

/// Secrets the plans reference, passed to the child process only.
pub const ENV: [(&str, &str); 5] = [
    ("T_ADMIN_SECRET", "sandbox-secret-admin-7Qm2"),
    ("T_SFDC_SECRET", "sandbox-secret-sfdc-K8v3"),
    ("T_REPORT_SECRET", "sandbox-secret-report-Xp91"),
    ("T_CRM_SECRET", "sandbox-secret-crm-Lw45"),
    ("T_WEB_SECRET", "sandbox-secret-webinar-Hd72"),
];

pub fn plan_text(base_url: &str, rotations: &str, policy: &str) -> String {
    format!(
        "version: 1
name: acme-rotation
description: Move integrations off departed people's mailboxes.
instance:
  provider: marketo
  base_url: {base_url}
  client_id: {ADMIN_ID}
  client_secret: ${{env:T_ADMIN_SECRET}}
services:
  - {{ name: salesforce-sync, client_id: 5f0e4c1a-1111-4111-8111-000000005f5f, client_secret: \"${{env:T_SFDC_SECRET}}\" }}
  - {{ name: reporting-export, client_id: 7c2d9e4b-2222-4222-8222-000000007c7c, client_secret: \"${{env:T_REPORT_SECRET}}\" }}
  - {{ name: crm-connector, client_id: 9a8b7c6d-3333-4333-8333-000000009a9a, client_secret: \"${{file:crm.secret}}\" }}
  - {{ name: webinar-bridge, client_id: 3e4f5a6b-4444-4444-8444-000000003e3e, client_secret: \"${{env:T_WEB_SECRET}}\" }}
rotations:
{rotations}
policy:
{policy}
"
    )
}

pub const RENAME: &str = "  - rename:
      user: jane.doe@acme.example
      email: api.salesforce@acme.example
      first_name: Salesforce
      last_name: Integration
      temporary_user: relinker-temp@acme.example
      services: [salesforce-sync, reporting-export]";
pub const REPLACE: &str = "  - replace:
      user: bob@acme.example
      with: api.crm@acme.example
      services: [crm-connector]
      retire: delete";
pub const RELINK: &str = "  - relink:
      services: [webinar-bridge]
      to: api.webinar@acme.example";
pub const POLICY: &str = "  on_failure: rollback\n  max_deletions: 2";

/// How an identity request carries its parameters.
#[derive(Debug, Clone, Copy)]
pub enum TokenRequest {
    /// GET with a query string (the documented form).
    GetQuery,
    /// POST with a query string.
    PostQuery,
    /// POST with a form body.
    PostForm,
}

/// An in-process sandbox; dropping it stops the server.
pub struct TestSandbox {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
}

impl TestSandbox {
    pub async fn start() -> Self {
        Self::with(ACME, SandboxConfig::default()).await
    }

    pub async fn with(fixture: &str, config: SandboxConfig) -> Self {
        let fixture = Fixture::parse(fixture, "test fixture").expect("test fixture is valid");
        Self::serve(Sandbox::new(config, &fixture)).await
    }

    /// Any platform's emulator, served on 127.0.0.1:0.
    pub async fn serve(emulator: impl Emulator) -> Self {
        let handle = SandboxHandle::start(emulator, "127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        Self { handle, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// A token for the admin service.
    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_ID, ADMIN_SECRET).await["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// The identity response for these credentials.
    pub async fn token(&self, client_id: &str, secret: &str) -> Value {
        let response = self
            .identity(TokenRequest::GetQuery, client_id, secret)
            .await;
        response.json().await.expect("identity json")
    }

    /// An identity call in one of the accepted request styles.
    pub async fn identity(
        &self,
        style: TokenRequest,
        client_id: &str,
        secret: &str,
    ) -> reqwest::Response {
        let params = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ];
        let url = self.url("/identity/oauth/token");
        let request = match style {
            TokenRequest::GetQuery => self.http.get(url).query(&params),
            TokenRequest::PostQuery => self.http.post(url).query(&params),
            TokenRequest::PostForm => self.http.post(url).form(&params),
        };
        request.send().await.expect("identity call")
    }

    /// GET with a bearer token; answers (status, body).
    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        split(response).await
    }

    /// POST a JSON body with a bearer token.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST");
        split(response).await
    }

    /// POST with a bearer token and no body.
    pub async fn post_empty(&self, token: &str, path: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("POST");
        split(response).await
    }

    /// A control API call.
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("control call");
        let status = response.status();
        let text = response.text().await.expect("control body");
        assert!(
            status.is_success(),
            "control {path} answered {status}: {text}"
        );
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("control json")
        }
    }

    pub async fn state(&self) -> Value {
        self.control(reqwest::Method::GET, "/_sandbox/state", None)
            .await
    }

    pub async fn requests(&self) -> Value {
        self.control(reqwest::Method::GET, "/_sandbox/requests", None)
            .await
    }

    /// Invites an API-only user through the User Management API (usable at once), as an admin
    /// would before a run; `pairs` are `{"accessRoleId", "workspaceId"}` objects.
    pub async fn invite_api_user(&self, userid: &str, pairs: Value) {
        let token = self.admin_token().await;
        let (status, body) = self
            .post(
                &token,
                &format!("{USERS}/invite.json"),
                &serde_json::json!({"emailAddress": userid, "firstName": "Already", "lastName": "There",
                        "apiOnly": true, "userRoleWorkspaces": pairs}),
            )
            .await;
        assert_eq!(status, 200, "invite {userid}: {body}");
    }

    pub async fn add_fault(&self, rule: Value) {
        self.control(reqwest::Method::POST, "/_sandbox/faults", Some(&rule))
            .await;
    }
}

async fn split(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// The first error code of a Marketo error body.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or_default()
}

/// Percent-encodes a userid as one path segment.
pub fn segment(userid: &str) -> String {
    percent_encoding::utf8_percent_encode(userid, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `relinker sandbox` as a child process; killed when dropped.
pub struct SandboxProcess {
    pub child: Child,
    pub base_url: String,
}

impl SandboxProcess {
    pub fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_relinker"))
            .arg("sandbox")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn relinker sandbox");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("first line");
        let base_url = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Self { child, base_url }
    }

    /// What the sandbox says of itself (`/_sandbox/info`).
    pub async fn info(&self) -> serde_json::Value {
        reqwest::get(format!("{}/_sandbox/info", self.base_url))
            .await
            .expect("sandbox info")
            .json()
            .await
            .expect("sandbox info is JSON")
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- Marketo clients and values for provider-level tests ----

/// A fence that always holds: provider-level tests change the sandbox outside any run.
pub struct Held;

impl Fence for Held {
    fn still_held(&self) -> Result<(), LockLost> {
        Ok(())
    }
}

/// A Marketo client for the acme admin service, with the default limits.
pub fn client(sandbox: &TestSandbox) -> MarketoClient {
    client_with(sandbox, Limits::default())
}

/// A Marketo client for the acme admin service, with short timeouts and retry delays.
pub fn client_with(sandbox: &TestSandbox, limits: Limits) -> MarketoClient {
    let mut config = MarketoConfig::new(
        sandbox.handle.base_url(),
        ADMIN_ID,
        Secret::new(ADMIN_SECRET),
    );
    config.limits = limits;
    config.timeout = Duration::from_millis(800);
    config.retry = RetryPolicy {
        give_up_after: Duration::from_secs(3),
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    };
    MarketoClient::new(config).expect("client")
}

/// The acme fixture's `salesforce-sync` service.
pub fn sync_service() -> ServiceCredentials {
    ServiceCredentials::new(
        ServiceName::new("salesforce-sync"),
        "5f0e4c1a-1111-4111-8111-000000005f5f".into(),
        Secret::new("sandbox-secret-sfdc-K8v3"),
        &Fingerprinter::fresh(),
    )
}

/// A userid for a test: a valid address.
pub fn uid(text: &str) -> UserId {
    UserId::parse(text).expect("test userid")
}

/// An API-only user with one role in the default workspace.
pub fn api_user(userid: &str) -> NewApiUser {
    NewApiUser {
        // Not parsed: tests also send addresses the platform must refuse.
        userid: UserId::from_platform(userid),
        email: userid.into(),
        first_name: "Temp".into(),
        last_name: "User".into(),
        roles: vec![RolePair {
            role_id: 110,
            workspace_id: 1,
        }],
        reason: Some("relinker test".into()),
    }
}

// ---- the compiled binary, run in a workspace ----

/// A working directory with a plan in it (and the `crm.secret` file it references); relinker
/// runs there with its state in `state/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// A PostgreSQL state store (`RELINKER_STATE`) in place of `state/`.
    pub state: Option<String>,
}

impl Workspace {
    /// A workspace with `plan.yaml` and these other files.
    pub fn with_files(plan: &str, files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("plan.yaml"), plan).expect("write plan");
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write file");
        }
        Self { dir, state: None }
    }

    /// A workspace whose `plan.yaml` has these rotations and policy against `sandbox`.
    pub fn new(sandbox: &TestSandbox, rotations: &str, policy: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("plan.yaml"),
            plan_text(&sandbox.handle.base_url(), rotations, policy),
        )
        .expect("write plan");
        std::fs::write(dir.path().join("crm.secret"), "sandbox-secret-crm-Lw45\n")
            .expect("write secret");
        Self { dir, state: None }
    }

    /// The same workspace with its state in `store` (a PostgreSQL URL) instead of `state/`.
    pub fn with_state(mut self, store: Option<&str>) -> Self {
        self.state = store.map(str::to_owned);
        self
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// relinker with these arguments, in the workspace, with the plans' secrets in its
    /// environment, stdin closed, and `RELINKER_STATE_DIR=state` (or `RELINKER_STATE`, the
    /// workspace's database).
    pub fn relinker(&self, args: &[&str]) -> Relinker {
        let relinker = Relinker::new(args)
            .current_dir(self.path())
            .env("RELINKER_STATE_DIR", "state");
        match &self.state {
            Some(url) => relinker.env("RELINKER_STATE", url),
            None => relinker,
        }
    }

    /// The ids of the runs `status` lists, sorted (whichever store holds them).
    pub async fn run_ids(&self) -> Vec<String> {
        let ran = self.relinker(&["status", "--format", "json"]).run().await;
        let all: Value = serde_json::from_str(&ran.stdout)
            .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", ran.text()));
        let mut ids: Vec<String> = all
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|run| run["run_id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// `apply plan.yaml --yes --sandbox-operator --gate-wait 0` and `extra`.
    pub fn apply(&self, extra: &[&str]) -> Relinker {
        let mut args = vec![
            "apply",
            "plan.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ];
        args.extend_from_slice(extra);
        self.relinker(&args)
    }

    /// Every file under the state directory, concatenated.
    pub fn state_files(&self) -> String {
        fn walk(dir: &std::path::Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        let mut out = String::new();
        walk(&self.path().join("state"), &mut out);
        out
    }

    /// The run ids in the state directory.
    pub fn run_dirs(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.path().join("state/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    }

    /// `status RUN --format json`, the run's object.
    pub async fn status(&self, run_id: &str) -> Value {
        let ran = self
            .relinker(&["status", run_id, "--format", "json"])
            .run()
            .await;
        let all: Value = serde_json::from_str(&ran.stdout)
            .unwrap_or_else(|e| panic!("status is not JSON ({e}): {}", ran.text()));
        all[0].clone()
    }
}

/// One step of `status RUN --format json`'s run object.
#[track_caller]
pub fn step<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {status}"))
}

/// The compiled binary, about to run: a builder in the manner of just's test harness.
#[must_use]
pub struct Relinker {
    command: tokio::process::Command,
}

impl Relinker {
    pub fn new(args: &[&str]) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("RELINKER_STATE_DIR")
            .env_remove("RELINKER_STATE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in ENV {
            command.env(name, value);
        }
        Self { command }
    }

    pub fn current_dir(mut self, dir: impl AsRef<std::path::Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    /// Without this variable (one the harness sets, or one inherited).
    pub fn env_remove(mut self, name: &str) -> Self {
        self.command.env_remove(name);
        self
    }

    /// Runs it to the end.
    pub async fn run(mut self) -> Ran {
        let output = self.command.output().await.expect("run relinker");
        Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Starts it and leaves it running, its output kept for `wait_with_output`; it is killed
    /// when dropped.
    pub fn spawn_captured(mut self) -> tokio::process::Child {
        self.command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn relinker")
    }

    /// Starts it and leaves it running (output discarded); it is killed when dropped.
    pub fn spawn(mut self) -> tokio::process::Child {
        self.command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn relinker")
    }
}

/// `text` with every run of whitespace (a line wrapped at 100 columns, its indentation) as one
/// space: what output says, however the renderer wrapped it.
pub fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How a run of the binary ended.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Everything it printed.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "{}", self.text());
        self
    }

    /// Asserts the output says `needle`.
    #[track_caller]
    pub fn says(&self, needle: &str) -> &Self {
        assert!(
            flat(&self.text()).contains(&flat(needle)),
            "expected {needle:?} in:\n{}",
            self.text()
        );
        self
    }

    /// Asserts the output does not say `needle`.
    #[track_caller]
    pub fn never_says(&self, needle: &str) -> &Self {
        assert!(
            !flat(&self.text()).contains(&flat(needle)),
            "did not expect {needle:?} in:\n{}",
            self.text()
        );
        self
    }

    /// The run id from the first line (`run <id> ...`).
    pub fn run_id(&self) -> String {
        let first = self.stdout.lines().next().unwrap_or_default();
        first
            .strip_prefix("run ")
            .unwrap_or_default()
            .split(' ')
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

/// No secret and no access token in any of these texts. Tokens end in `:int`.
#[track_caller]
pub fn assert_no_secrets(texts: &[&str]) {
    for text in texts {
        for (name, secret) in ENV {
            assert!(!text.contains(secret), "the secret in {name} leaked");
        }
        assert!(!text.contains(":int"), "an access token leaked");
    }
}

/// The sandbox's state, read through its control API, with typed questions.
pub struct World(pub Value);

impl World {
    pub async fn of(sandbox: &TestSandbox) -> Self {
        Self(sandbox.state().await)
    }

    pub fn users(&self) -> &[Value] {
        self.0["users"].as_array().map_or(&[], Vec::as_slice)
    }

    pub fn user(&self, userid: &str) -> Option<&Value> {
        self.users().iter().find(|u| {
            u["userid"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(userid))
        })
    }

    /// The user a service is linked to.
    pub fn linked(&self, service: &str) -> String {
        self.0["services"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == service))
            .and_then(|s| s["linkedUser"].as_str())
            .unwrap_or_else(|| panic!("no service {service}"))
            .to_owned()
    }

    /// Users and links, without volatile fields: what a rollback must restore.
    pub fn essentials(&self) -> Value {
        serde_json::json!({
            "users": self.users().iter().map(|u| serde_json::json!([u["userid"], u["emailAddress"], u["firstName"], u["lastName"], u["roles"]])).collect::<Vec<_>>(),
            "services": self.0["services"],
        })
    }
}

impl TestSandbox {
    /// A control API call that the sandbox refuses; its status and body.
    pub async fn control_refused(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .expect("control call");
        split(response).await
    }

    /// A GET with HTTP Basic auth; status, `X-RateLimit-*` headers, body.
    pub async fn basic_get(
        &self,
        path: &str,
        username: &str,
        password: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .get(self.url(path))
            .basic_auth(username, Some(password))
            .send()
            .await
            .expect("GET");
        let headers = response.headers().clone();
        let (status, body) = split(response).await;
        (status, headers, body)
    }

    /// Advances the sandbox's clock: tokens age, and expire after an hour.
    pub async fn time_passes(&self, secs: u64) {
        self.control(
            reqwest::Method::POST,
            "/_sandbox/clock",
            Some(&serde_json::json!({ "advance_secs": secs })),
        )
        .await;
    }

    /// A person relinks a service in the UI.
    pub async fn person_links(&self, service: &str, userid: &str) {
        self.control(
            reqwest::Method::POST,
            &format!("/_sandbox/services/{service}/link"),
            Some(&serde_json::json!({ "userid": userid })),
        )
        .await;
    }

    pub async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "/_sandbox/faults", None)
            .await;
    }

    /// Ends every request a `hang` fault holds: its connection closes without an answer.
    pub async fn release_hangs(&self) {
        self.control(reqwest::Method::POST, "/_sandbox/faults/release", None)
            .await;
    }

    /// How many `invite.json` calls the sandbox took (answered 200): a user invited twice is
    /// a duplicate.
    pub async fn invites_taken(&self) -> usize {
        self.logged("POST", "/invite.json")
            .await
            .iter()
            .filter(|r| r["status"] == 200)
            .count()
    }

    /// Requests the sandbox logged that match.
    pub async fn logged(&self, method: &str, path_suffix: &str) -> Vec<Value> {
        self.requests().await["requests"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|r| {
                        r["method"] == method
                            && r["path"].as_str().is_some_and(|p| p.ends_with(path_suffix))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}
