//! The smaller leaks of issue 25, each shut and tried through the binary against fake servers
//! on 127.0.0.1: credential fingerprints nobody can guess offline, identity answers and proxies
//! that never carry the client secret off, redirects never followed, `--notify` never in
//! clear to another host, CSV cells a spreadsheet never evaluates, and a sandbox that says so
//! when its unauthenticated control API listens beyond loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::dotdigital::{OLD_PASSWORD, OLD_USER};
use crate::harness::{ACME, ADMIN_SECRET, ENV, POLICY, RELINK, Relinker, TestSandbox, Workspace};

/// A fake HTTP server on 127.0.0.1:0 that keeps every request line (method and target, with
/// its query) and answers each with `answer`; stopped when dropped.
struct Fake {
    base_url: String,
    seen: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Fake {
    async fn start(
        answer: impl Fn(&str) -> Response<Body> + Clone + Send + Sync + 'static,
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let kept = seen.clone();
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let answer = answer.clone();
            let kept = kept.clone();
            async move {
                let line = format!("{} {}", request.method(), request.uri());
                kept.lock().unwrap().push(line.clone());
                answer(&line)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url,
            seen,
            task,
        }
    }

    /// A server that answers every request with a redirect to `location`.
    async fn redirecting(location: String) -> Self {
        Self::start(move |_| {
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", location.as_str())
                .body(Body::empty())
                .unwrap()
        })
        .await
    }

    /// A server that answers every request 200 with an empty JSON object.
    async fn collector() -> Self {
        Self::start(|_| Response::new(Body::from("{}"))).await
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Marketo plan whose instance is `base_url`.
fn marketo_plan(base_url: &str) -> Workspace {
    Workspace::with_files(
        &crate::harness::plan_text(base_url, RELINK, POLICY),
        &[("crm.secret", "sandbox-secret-crm-Lw45\n")],
    )
}

/// Everything a run printed holds no secret of the plan's.
#[track_caller]
fn no_plan_secret(text: &str) {
    for (name, secret) in ENV {
        assert!(
            !text.contains(secret),
            "the secret in {name} leaked:\n{text}"
        );
    }
}

/// The hex digest of `sha256(username NUL password)`: what saved plans and journals held.
fn unsalted(username: &str, password: &str) -> String {
    relinker::secret::Fingerprint::of(format!("{username}\0{password}").as_bytes())
        .as_str()
        .trim_start_matches("sha256:")
        .to_owned()
}

/// Every string value at a key named `credential` or `credentials` (fingerprints), in order.
fn fingerprints(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("credential" | "credentials", Value::String(print)) => {
                        out.push(print.clone());
                    }
                    _ => fingerprints(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| fingerprints(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn saved_plans_and_journals_hold_no_credential_fingerprint_a_dictionary_can_find() {
    let sandbox = crate::dotdigital::sandbox(crate::dotdigital::FIXTURE).await;
    let work = crate::dotdigital::workspace(&sandbox);
    let plan_out =
        |out: &str| crate::dotdigital::relinker(&work, &["plan", "plan.yaml", "--out", out], None);
    plan_out("saved.json").run().await.code(0);
    plan_out("again.json").run().await.code(0);
    let read = |name: &str| std::fs::read_to_string(work.path().join(name)).unwrap();
    let (saved, again) = (read("saved.json"), read("again.json"));
    let old_credential = unsalted(OLD_USER, OLD_PASSWORD);
    assert!(
        !saved.contains(&old_credential),
        "the saved plan holds sha256(username NUL password), which a dictionary finds"
    );
    let prints = |text: &str| {
        let mut out = Vec::new();
        fingerprints(&serde_json::from_str(text).unwrap(), &mut out);
        out
    };
    let (saved_prints, again_prints) = (prints(&saved), prints(&again));
    // Both integrations use the old credential: one fingerprint within a saved plan, a salted
    // argon2id, and another one in another saved plan.
    assert_eq!(saved_prints.len(), 2, "{saved}");
    assert_eq!(saved_prints[0], saved_prints[1]);
    assert!(saved_prints[0].starts_with("$argon2id$v=19$"), "{saved}");
    assert_ne!(
        saved_prints[0], again_prints[0],
        "two saved plans, two salts"
    );

    // The saved plan applies: its apply fingerprints the same credential the same way, and the
    // run's journal records it so, never unsalted.
    let applied = crate::dotdigital::relinker(
        &work,
        &["apply", "saved.json", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await;
    applied.code(4).never_says("live state changed");
    let journal = work.state_files();
    assert!(
        !journal.contains(&old_credential),
        "the journal holds sha256(username NUL password)"
    );
    assert!(
        journal.contains(&saved_prints[0]),
        "the run records the saved plan's fingerprints"
    );
}

#[tokio::test]
async fn a_saved_plan_of_an_older_relinker_is_compared_the_old_way_with_a_warning() {
    let sandbox = crate::dotdigital::sandbox(crate::dotdigital::FIXTURE).await;
    let work = crate::dotdigital::workspace(&sandbox);
    crate::dotdigital::relinker(&work, &["plan", "plan.yaml", "--out", "saved.json"], None)
        .run()
        .await
        .code(0);
    // What an older relinker wrote: unsalted SHA-256, and no derivation recorded.
    let path = work.path().join("saved.json");
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    saved
        .as_object_mut()
        .unwrap()
        .remove("credential_fingerprints");
    let mut prints = Vec::new();
    fingerprints(&saved, &mut prints);
    let old = format!("sha256:{}", unsalted(OLD_USER, OLD_PASSWORD));
    let text = prints.iter().fold(saved.to_string(), |text, print| {
        text.replace(print.as_str(), &old)
    });
    std::fs::write(&path, text).unwrap();
    crate::dotdigital::relinker(
        &work,
        &["apply", "saved.json", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await
    .code(4)
    .says("holds unsalted SHA-256 credential fingerprints (an older relinker saved it)")
    .never_says("live state changed");
}

#[tokio::test]
async fn no_identity_answer_body_is_ever_shown() {
    // A proxy's error page that echoes the request (and with it the client secret), and a
    // refusal whose description does the same.
    let echoing = Fake::start(|line| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(format!("{line} could not be forwarded")))
            .unwrap()
    })
    .await;
    let refusing = Fake::start(|line| {
        let body = serde_json::json!({
            "error": "invalid_client",
            "error_description": format!("no client for {line}"),
        });
        Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    })
    .await;
    for (fake, says) in [
        (&echoing, "HTTP 502: an answer that is not Marketo's"),
        (&refusing, "client_secret=[redacted]"),
    ] {
        let work = marketo_plan(&fake.base_url);
        let ran = work
            .relinker(&["plan", "plan.yaml", "--give-up-after", "1s"])
            .run()
            .await;
        ran.code(1).says(says);
        assert!(
            fake.seen().iter().any(|line| line.contains(ADMIN_SECRET)),
            "test bug: the identity call carries the secret in its query"
        );
        no_plan_secret(&ran.text());
    }
}

#[tokio::test]
async fn loopback_calls_never_go_through_a_proxy() {
    let sandbox = TestSandbox::start().await;
    let proxy = Fake::start(|line| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(format!("proxy could not forward {line}")))
            .unwrap()
    })
    .await;
    let work = marketo_plan(&sandbox.handle.base_url());
    let mut command = work.relinker(&["plan", "plan.yaml", "--give-up-after", "2s"]);
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command = command.env(name, &proxy.base_url);
    }
    let ran = command.env("NO_PROXY", "").env("no_proxy", "").run().await;
    ran.code(0);
    assert_eq!(
        proxy.seen(),
        Vec::<String>::new(),
        "the proxy saw the sandbox's traffic"
    );
    no_plan_secret(&ran.text());
}

#[tokio::test]
async fn platform_calls_follow_no_redirect_and_name_where_it_pointed() {
    let collector = Fake::collector().await;
    let location = format!(
        "{}/collect?client_secret=leaked-by-location",
        collector.base_url
    );
    let redirecting = Fake::redirecting(location).await;
    let target = format!("redirect to `{}/collect`", collector.base_url);

    // Marketo: the identity call, whose query carries the client secret.
    let work = marketo_plan(&redirecting.base_url);
    let ran = work
        .relinker(&["plan", "plan.yaml", "--give-up-after", "1s"])
        .run()
        .await;
    ran.code(1)
        .says("GET /identity/oauth/token: Marketo answered HTTP 302")
        .says(&target)
        .never_says("leaked-by-location");
    no_plan_secret(&ran.text());

    // dotdigital: Basic auth on every call.
    let work = Workspace::with_files(
        &crate::dotdigital::plan(&redirecting.base_url, "delete"),
        &[],
    );
    let ran =
        crate::dotdigital::relinker(&work, &["plan", "plan.yaml", "--give-up-after", "1s"], None)
            .run()
            .await;
    ran.code(1)
        .says("GET /v2/account-info: dotdigital answered HTTP 302")
        .says(&target)
        .never_says(OLD_PASSWORD);

    // A check command: a 2xx from wherever a redirect leads would vouch for nothing.
    let ran = Relinker::new(&[
        "check-credential",
        "--url",
        &format!("{}/v2/account-info", redirecting.base_url),
    ])
    .env("RELINKER_USERNAME", OLD_USER)
    .env("RELINKER_PASSWORD", OLD_PASSWORD)
    .run()
    .await;
    ran.code(2).says(&target).never_says("leaked-by-location");

    assert_eq!(
        collector.seen(),
        Vec::<String>::new(),
        "a redirect was followed"
    );
    assert!(redirecting.seen().len() >= 3);
}

#[tokio::test]
async fn notifications_follow_no_redirect_and_never_go_in_clear_to_another_host() {
    let sandbox = TestSandbox::start().await;
    let collector = Fake::collector().await;
    let receiver =
        Fake::redirecting(format!("{}/hooks/other-secret-token", collector.base_url)).await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let hook = format!("{}/hooks/T000/B000/secret-token", receiver.base_url);
    let ran = work
        .apply(&["--notify", "${env:HOOK}"])
        .env("HOOK", &hook)
        .run()
        .await;
    ran.code(0)
        .says(&format!(
            "the notification receiver answered HTTP 302, a redirect to `{}`",
            collector.base_url
        ))
        .never_says("secret-token");
    assert_eq!(receiver.seen().len(), 1);
    assert_eq!(
        collector.seen(),
        Vec::<String>::new(),
        "the redirect was followed"
    );

    // Plain http to a host that is not loopback: refused before anything runs (TEST-NET-1,
    // never contacted: a dry run sends no notice).
    let ran = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--dry-run",
            "--notify",
            "http://192.0.2.1/hooks/T000/B000/secret-token",
        ])
        .run()
        .await;
    ran.code(2)
        .says("--notify: the notification webhook uses http:// to a non-loopback host")
        .never_says("secret-token")
        .never_says("192.0.2.1");
}

#[tokio::test]
async fn inventory_csv_cells_are_never_formulas() {
    let fixture = ACME.replacen(
        "users:\n",
        "users:\n  - userid: \"=2+5@acme.example\"\n    email: \"-2+3@acme.example\"\n    first_name: Formula\n    last_name: Cell\n    api_only: true\n    roles: [{ role: API Integrations, workspace: Default }]\n",
        1,
    );
    let sandbox = TestSandbox::with(
        &fixture,
        relinker::sandbox::marketo::SandboxConfig::default(),
    )
    .await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let ran = work
        .relinker(&["inventory", "plan.yaml", "--format", "csv"])
        .run()
        .await;
    ran.code(0);
    let row = ran
        .stdout
        .lines()
        .find(|line| line.contains("2+5@acme.example"))
        .unwrap_or_else(|| panic!("no row for the user:\n{}", ran.stdout));
    assert!(
        row.starts_with("'=2+5@acme.example,'-2+3@acme.example,API Integrations @ Default,"),
        "{row}"
    );
    for line in ran.stdout.lines() {
        for cell in line.split(',') {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{line}"
            );
        }
    }
}

#[tokio::test]
async fn a_sandbox_listening_beyond_loopback_warns_its_control_api_is_open() {
    // Read the first stdout line (the address), then stderr until the warning, or 10 s.
    async fn listen(address: &str) -> (String, String) {
        let mut child = Relinker::new(&["sandbox", "--listen", address]).spawn_captured();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the sandbox started")
            .unwrap()
            .unwrap_or_default();
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut said = String::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(
            Duration::from_secs(if address.starts_with("127.") { 1 } else { 10 }),
            stderr.next_line(),
        )
        .await
        {
            said.push_str(&line);
            said.push('\n');
            if line.contains("unauthenticated") {
                break;
            }
        }
        child.kill().await.unwrap();
        (first, said)
    }

    let (first, said) = listen("0.0.0.0:0").await;
    assert!(first.starts_with("listening on http://0.0.0.0:"), "{first}");
    assert!(
        said.contains("listening on 0.0.0.0:")
            && said.contains("not a loopback address")
            && said.contains("control API")
            && said.contains("unauthenticated"),
        "{said}"
    );
    let (first, said) = listen("127.0.0.1:0").await;
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );
    assert!(!said.contains("unauthenticated"), "{said}");
}
