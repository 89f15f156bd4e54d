//! Secret stores (`${store:STORE/PATH#KEY}`, docs/secrets.md) through the binary: a program
//! the runner configuration names (the tests write small scripts), AWS Secrets Manager (moto's
//! server mode, and a test server that throttles). Each secret is read once per command; a
//! store that cannot be read stops the command before any change, naming the reference and
//! never a value; a reference the runner does not declare is refused before anything runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{ADMIN_SECRET, POLICY, RENAME, TestSandbox, Workspace, assert_no_secrets};
use crate::moto::{Moto, REGION};

/// The sandbox's plan with the admin secret (and, when given, salesforce-sync's) read from
/// these references.
fn plan_with(work: &Workspace, admin: &str, sfdc: Option<&str>) {
    let path = work.path().join("plan.yaml");
    let mut plan = std::fs::read_to_string(&path)
        .unwrap()
        .replace("${env:T_ADMIN_SECRET}", admin);
    if let Some(sfdc) = sfdc {
        plan = plan.replace("${env:T_SFDC_SECRET}", sfdc);
    }
    std::fs::write(path, plan).unwrap();
}

/// A runner configuration for `sandbox` whose `secrets:` also declares `stores`.
fn runner(sandbox: &TestSandbox, stores: &str) -> String {
    format!(
        "version: 1
instances:
  - name: acme
    provider: marketo
    base_url: {}
secrets:
  env: ['T_*_SECRET']
  files: ['{{dir}}']
  stores:
{stores}",
        sandbox.handle.base_url()
    )
}

/// relinker in `work` with `config` as its runner configuration (`{dir}` in it: the
/// workspace), without the admin secret in its environment and with no AWS settings but the
/// tests'.
fn with_runner(work: &Workspace, args: &[&str], config: &str) -> crate::harness::Relinker {
    let dir = std::fs::canonicalize(work.path()).unwrap();
    std::fs::write(
        work.path().join("runner.yaml"),
        config.replace("{dir}", &dir.display().to_string()),
    )
    .unwrap();
    let mut relinker = work
        .relinker(args)
        .env("RELINKER_RUNNER_CONFIG", "runner.yaml")
        .env_remove("T_ADMIN_SECRET")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", REGION);
    for name in [
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        relinker = relinker.env_remove(name);
    }
    relinker
}

/// A script in `work` that stands for a store's program: it counts its runs in `calls`, keeps
/// its environment in `env.txt`, and for its first argument:
/// - `marketo`: prints a JSON object with the admin and salesforce-sync secrets;
/// - `admin`: prints the admin secret alone;
/// - `broken`: prints a secret on stderr and exits 3;
/// - `slow`: leaves a `sleep` in the background (its pid in `bg.pid`) and waits.
fn store_script(work: &Workspace) -> String {
    let path = std::fs::canonicalize(work.path()).unwrap().join("store.sh");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh
echo \"$1\" >> calls
env > env.txt
case \"$1\" in
  marketo) printf '{{\"admin\": \"{ADMIN_SECRET}\", \"sfdc\": \"sandbox-secret-sfdc-K8v3\"}}\\n' ;;
  admin) echo '{ADMIN_SECRET}' ;;
  broken) echo '{ADMIN_SECRET}' >&2; exit 3 ;;
  slow) sleep 30 & echo $! > bg.pid; wait ;;
  *) exit 4 ;;
esac
"
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&path, permissions).unwrap();
    path.display().to_string()
}

fn command_store(script: &str, extra: &str) -> String {
    format!(
        "    - {{ name: team, kind: command, argv: ['{script}', '{{path}}'], env: [PASS_ME], timeout: 2s{extra} }}\n"
    )
}

fn calls(work: &Workspace) -> Vec<String> {
    std::fs::read_to_string(work.path().join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_command_store_is_read_once_per_command_with_a_cleared_environment() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let script = store_script(&work);
    plan_with(
        &work,
        "${store:team/marketo#admin}",
        Some("${store:team/marketo#sfdc}"),
    );
    let config = runner(&sandbox, &command_store(&script, ""));
    let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
        .env("PASS_ME", "passed-on")
        .env("NOT_PASSED", "kept-back")
        .run()
        .await;
    ran.code(0);
    assert_no_secrets(&[&ran.text()]);
    ran.never_says(ADMIN_SECRET);
    // Two keys of one secret, each field read more than once: the program ran once.
    assert_eq!(calls(&work), ["marketo"]);
    let env = std::fs::read_to_string(work.path().join("env.txt")).unwrap();
    assert!(env.contains("PASS_ME=passed-on"), "{env}");
    assert!(env.contains("PATH="), "{env}");
    for kept in [
        "NOT_PASSED",
        "T_SFDC_SECRET",
        "RELINKER_",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(!env.contains(kept), "{kept} reached the program: {env}");
    }
}

#[tokio::test]
async fn a_store_that_fails_or_hangs_stops_the_command_before_any_change() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let script = store_script(&work);
    let config = runner(&sandbox, &command_store(&script, ""));

    plan_with(&work, "${store:team/broken}", None);
    for command in [
        vec!["plan", "plan.yaml"],
        vec!["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
    ] {
        let ran = with_runner(&work, &command, &config).run().await;
        ran.code(2)
            .says("`${store:team/broken}` cannot be read")
            .says("failed (exit 3; its messages are not shown")
            .never_says(ADMIN_SECRET);
        assert_no_secrets(&[&ran.text()]);
    }
    assert!(work.run_dirs().is_empty(), "no run started");

    // Every reference reads through the runner's stores: `--notify`'s too.
    let ran = with_runner(
        &work,
        &[
            "apply",
            "plan.yaml",
            "--yes",
            "--notify",
            "${store:team/broken}",
        ],
        &config,
    )
    .run()
    .await;
    ran.code(2)
        .says("--notify: `${store:team/broken}` cannot be read: `")
        .never_says(ADMIN_SECRET);

    // A program that does not finish is stopped, with what it started.
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${store:team/broken}", "${store:team/slow}");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await;
    ran.code(2)
        .says("`${store:team/slow}` cannot be read")
        .says("did not finish within 2 s (it was stopped)");
    let pid = std::fs::read_to_string(work.path().join("bg.pid")).unwrap();
    let proc = std::path::Path::new("/proc").join(pid.trim());
    let waited = std::time::Instant::now();
    while proc.exists() && waited.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!proc.exists(), "the program's background sleep outlived it");
    assert_eq!(sandbox.requests().await["total"], 0);
}

#[tokio::test]
async fn a_store_reference_the_runner_does_not_allow_is_refused_before_anything_runs() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let script = store_script(&work);
    let config = runner(
        &sandbox,
        &format!(
            "{}    - {{ name: kv, kind: command, argv: ['{script}', '{{path}}', '-field={{key}}'] }}\n",
            command_store(&script, ", paths: ['marketo*']")
        ),
    );

    plan_with(
        &work,
        "${store:elsewhere/marketo}",
        Some("${store:team/admin}"),
    );
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${env:T_REPORT_SECRET}", "${store:kv/marketo}");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await;
    ran.code(2)
        .says("plan.yaml:8:")
        .says("`${store:elsewhere/marketo}` names store `elsewhere`, which the runner configuration does not declare")
        .says("stores plans may read: `team`, `kv`")
        .says("`${store:kv/marketo}` gives no key, and store `kv` reads one")
        .says("does not let plans read `${store:team/admin}`")
        .says("paths plans may read in store `team`: `marketo*`");
    assert!(calls(&work).is_empty(), "no program ran");
    assert_eq!(sandbox.requests().await["total"], 0);

    // Without a runner configuration there are no stores.
    let ran = work
        .relinker(&["plan", "plan.yaml"])
        .env_remove("RELINKER_RUNNER_CONFIG")
        .run()
        .await;
    ran.code(2)
        .says("`${store:elsewhere/marketo}` cannot be read: secret stores are declared by a runner configuration");
    assert!(calls(&work).is_empty(), "no program ran");

    // `validate` reads no secret: store references are checked for their form alone.
    work.relinker(&["validate", "plan.yaml"])
        .run()
        .await
        .code(0);
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${store:elsewhere/marketo}", "${store:team/-flag}");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let ran = work.relinker(&["validate", "plan.yaml"]).run().await;
    ran.code(2)
        .says("plan.yaml:8:")
        .says("`${store:team/-flag}` is not a secret reference")
        .says("a store reference is `${store:STORE/PATH}`");

    // A store the runner configuration gets wrong is pinned where it is.
    let bad = runner(
        &sandbox,
        &format!(
            "    - {{ name: team, kind: vault, argv: ['{script}'] }}\n    - {{ name: aws, kind: aws-secrets-manager, argv: [x], endpoint: 'http://10.0.0.1' }}\n    - {{ name: op, kind: command, timeout: soon }}\n"
        ),
    );
    let ran = with_runner(&work, &["plan", "plan.yaml"], &bad).run().await;
    ran.code(2)
        .says("runner.yaml:10:")
        .says("`vault` is not a kind of store relinker reads")
        .says("`argv` is not a field of a `aws-secrets-manager` store")
        .says("uses http:// to a non-loopback host")
        .says("a `command` store needs `argv`")
        .says("`soon` is not a duration");
}

#[tokio::test]
async fn aws_secrets_manager_reads_secrets_and_their_json_keys() {
    let Some(moto) = Moto::start().await else {
        return;
    };
    moto.create_secret(
        "relinker/marketo",
        &serde_json::json!({ "client_id": "x", "client_secret": ADMIN_SECRET }).to_string(),
    )
    .await;
    moto.create_secret("relinker/sfdc", "sandbox-secret-sfdc-K8v3")
        .await;
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let config = runner(
        &sandbox,
        &format!(
            "    - {{ name: aws, kind: aws-secrets-manager, endpoint: '{}', timeout: 5s }}\n",
            moto.url()
        ),
    );
    plan_with(
        &work,
        "${store:aws/relinker/marketo#client_secret}",
        Some("${store:aws/relinker/sfdc}"),
    );
    let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await;
    ran.code(0);
    assert_no_secrets(&[&ran.text()]);
    let requests = sandbox.requests().await["total"].clone();

    for (reference, says) in [
        (
            "${store:aws/relinker/nope#client_secret}",
            "AWS Secrets Manager answered ResourceNotFoundException (HTTP 404): no such secret",
        ),
        (
            "${store:aws/relinker/marketo#password}",
            "the secret has no key `password`",
        ),
        (
            "${store:aws/relinker/sfdc#client_secret}",
            "the secret is not a JSON object, so it has no key `client_secret`",
        ),
    ] {
        let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
        let admin = plan
            .lines()
            .find_map(|l| l.trim().strip_prefix("client_secret: "))
            .unwrap()
            .to_owned();
        std::fs::write(
            work.path().join("plan.yaml"),
            plan.replace(&admin, reference),
        )
        .unwrap();
        let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
            .run()
            .await;
        ran.code(2)
            .says(&format!("`{reference}` cannot be read: {says}"))
            .never_says("sandbox-secret-sfdc-K8v3");
        assert_no_secrets(&[&ran.text()]);
    }
    assert_eq!(
        sandbox.requests().await["total"],
        requests,
        "the plans whose secret could not be read sent nothing"
    );
}

/// A stand-in for Secrets Manager that answers `ThrottlingException` to its first `throttle`
/// calls, then the admin secret; it counts the calls, and stops when dropped.
struct Throttling {
    url: String,
    calls: Arc<AtomicUsize>,
    /// Each request as it came: its head and body.
    seen: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Throttling {
    async fn start(throttle: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let call = counted.fetch_add(1, Ordering::SeqCst);
                let request = read_request(&mut socket).await;
                kept.lock().unwrap().push(request);
                let (status, body) = if call < throttle {
                    (
                        "400 Bad Request",
                        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned(),
                    )
                } else {
                    (
                        "200 OK",
                        serde_json::json!({ "Name": "m", "SecretString": ADMIN_SECRET })
                            .to_string(),
                    )
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        Self {
            url,
            calls,
            seen,
            task,
        }
    }
}

impl Drop for Throttling {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request: its head, then as much body as it says it has.
async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(read) = socket.read(&mut buffer).await else {
            return String::from_utf8_lossy(&seen).into_owned();
        };
        if read == 0 {
            return String::from_utf8_lossy(&seen).into_owned();
        }
        seen.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if seen.len() >= head_end + 4 + length {
                return text.into_owned();
            }
        }
    }
}

#[tokio::test]
async fn a_throttled_store_is_tried_again_within_its_timeout_then_given_up_on() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    plan_with(&work, "${store:aws/marketo/admin}", None);
    let store = |url: &str, timeout: &str| {
        format!(
            "    - {{ name: aws, kind: aws-secrets-manager, endpoint: '{url}', timeout: {timeout} }}\n"
        )
    };

    let twice = Throttling::start(2).await;
    let ran = with_runner(
        &work,
        &["plan", "plan.yaml"],
        &runner(&sandbox, &store(&twice.url, "10s")),
    )
    .run()
    .await;
    ran.code(0);
    assert_eq!(
        twice.calls.load(Ordering::SeqCst),
        3,
        "two throttled, one answered"
    );

    let always = Throttling::start(usize::MAX).await;
    let ran = with_runner(
        &work,
        &["plan", "plan.yaml"],
        &runner(&sandbox, &store(&always.url, "2s")),
    )
    .run()
    .await;
    ran.code(2)
        .says("`${store:aws/marketo/admin}` cannot be read: AWS Secrets Manager answered ThrottlingException (HTTP 400), still after retrying for 2 s");
    assert!(always.calls.load(Ordering::SeqCst) >= 2);
    assert_no_secrets(&[&ran.text()]);
}

#[tokio::test]
async fn a_new_credential_the_store_does_not_have_yet_makes_the_run_wait_at_its_step() {
    use crate::dotdigital::{FIXTURE, OLD_PASSWORD, person_creates_user, plan, sandbox};
    let sandbox = sandbox(FIXTURE).await;
    let base = sandbox.handle.base_url();
    let work = Workspace::with_files(
        &plan(&base, "delete")
            .replace("'${env:DD_NEW_USER}'", "'${store:team/new-user}'")
            .replace("'${file:new.password}'", "'${store:team/new-password}'"),
        &[],
    );
    // The store has what a person has put in the workspace's `vault/` so far.
    let dir = std::fs::canonicalize(work.path()).unwrap();
    std::fs::create_dir(dir.join("vault")).unwrap();
    let script = dir.join("store.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> {0}/calls\nf={0}/vault/\"$1\"\n[ -f \"$f\" ] || exit 1\ncat \"$f\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    std::fs::write(
        work.path().join("runner.yaml"),
        format!(
            "version: 1
instances:
  - {{ name: dd, provider: dotdigital, base_url: '{base}' }}
secrets:
  env: [DD_OLD]
  stores:
    - {{ name: team, kind: command, argv: ['{}', '{{path}}'], timeout: 5s }}
checks:
  programs: [relinker]
",
            script.display()
        ),
    )
    .unwrap();
    let relinker = |args: &[&str]| {
        work.relinker(args)
            .env("RELINKER_RUNNER_CONFIG", "runner.yaml")
            .env("DD_OLD", OLD_PASSWORD)
    };

    relinker(&["plan", "plan.yaml"])
        .run()
        .await
        .code(0)
        .says("r0-create-new-user` waits until it can be read and authenticates");
    let first = relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first.code(4).says("r0-create-new-user");
    let id = first.run_id();

    // A person creates the user and keeps its credential in the store.
    let password = "sandbox-New-Store-5t";
    let new_user = person_creates_user(&sandbox, password).await;
    std::fs::write(dir.join("vault/new-user"), format!("{new_user}\n")).unwrap();
    std::fs::write(dir.join("vault/new-password"), password).unwrap();
    let second = relinker(&["resume", &id, "--gate-wait", "0"]).run().await;
    second
        .code(4)
        .says("r0-create-new-user: done (seen through the API)")
        .never_says(password);
    assert_no_secrets(&[&first.text(), &second.text()]);
}

#[tokio::test]
async fn credentials_region_and_endpoint_come_from_the_aws_profile_chain() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    plan_with(&work, "${store:aws/marketo/admin}", None);
    let aws = work.path().join("aws");
    std::fs::create_dir(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = default-key\n\n[ops]\naws_access_key_id = AKIDOPS\naws_secret_access_key = ops-key-Zz9\n",
    )
    .unwrap();
    std::fs::write(aws.join("config"), "[profile ops]\nregion = eu-central-1\n").unwrap();
    let server = Throttling::start(0).await;
    let chain = |config: &str| {
        with_runner(&work, &["plan", "plan.yaml"], config)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_REGION")
            .env("AWS_PROFILE", "ops")
            .env("AWS_SHARED_CREDENTIALS_FILE", aws.join("credentials"))
            .env("AWS_CONFIG_FILE", aws.join("config"))
            .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &server.url)
    };

    // No region, endpoint or profile declared: AWS_PROFILE's keys and region, the variable's
    // endpoint.
    let declared = "    - { name: aws, kind: aws-secrets-manager }\n";
    let ran = chain(&runner(&sandbox, declared)).run().await;
    ran.code(0).never_says("ops-key-Zz9");
    let request = server.seen.lock().unwrap().concat().to_ascii_lowercase();
    assert!(
        request.contains("credential=akidops/")
            && request.contains("/eu-central-1/secretsmanager/aws4_request"),
        "{request}"
    );
    assert!(
        request.contains("x-amz-target: secretsmanager.getsecretvalue"),
        "{request}"
    );
    assert!(
        request.contains(r#"{"secretid":"marketo/admin"}"#),
        "{request}"
    );
    assert!(
        !request.contains("ops-key-zz9"),
        "the secret key is never sent"
    );

    // Traced as closely as `RUST_LOG` allows, no credential shows: the signer's trace of the
    // canonical request (which holds the session token) is never on.
    let ran = chain(&runner(&sandbox, declared))
        .env("RUST_LOG", "trace")
        .env("AWS_ACCESS_KEY_ID", "AKIDTRACE")
        .env("AWS_SECRET_ACCESS_KEY", "trace-key-Qq4")
        .env("AWS_SESSION_TOKEN", "trace-session-token-Jj7")
        .run()
        .await;
    ran.code(0)
        .never_says("trace-key-Qq4")
        .never_says("trace-session-token-Jj7")
        .never_says(ADMIN_SECRET);
    assert_no_secrets(&[&ran.text()]);
    let calls = server.calls.load(Ordering::SeqCst);

    // A profile the files do not have is named, and nothing is sent.
    let declared =
        "    - { name: aws, kind: aws-secrets-manager, profile: audit, region: eu-west-1 }\n";
    let ran = chain(&runner(&sandbox, declared)).run().await;
    ran.code(2).says(
        "`${store:aws/marketo/admin}` cannot be read: no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile `audit` an access key",
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), calls);
}

#[tokio::test]
async fn doctor_reads_store_secrets_and_names_the_one_that_cannot_be_read() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    std::fs::create_dir(work.path().join("state")).unwrap();
    let script = store_script(&work);
    let config = runner(&sandbox, &command_store(&script, ""));
    plan_with(&work, "${store:team/admin}", None);
    let ran = with_runner(&work, &["doctor", "plan.yaml"], &config)
        .run()
        .await;
    ran.code(0)
        .says("answered, and 5 credentials the plan names authenticated");

    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${env:T_SFDC_SECRET}", "${store:team/broken}");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let ran = with_runner(&work, &["doctor", "plan.yaml"], &config)
        .run()
        .await;
    ran.code(1)
        .says("✗ instance and credentials:")
        .says("`${store:team/broken}` cannot be read: `")
        .never_says(ADMIN_SECRET);
    assert_no_secrets(&[&ran.text()]);
    assert_eq!(sandbox.requests().await["state_changing"], 0);
}
