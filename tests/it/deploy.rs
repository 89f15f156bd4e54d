//! The shipped deployment files, run as written: `deploy/kubernetes/*.yaml` are the CronJobs
//! docs/scheduled-offboarding.md shows (verbatim: checked here), and their commands run in a
//! directory laid out as the manifests mount it (plans from a ConfigMap, flat, without the
//! fixtures `offboard` names), with the database and secrets the manifests give them, against a
//! sandbox on loopback. A week of the schedule: apply, a person links, resume, apply again.

use std::path::{Path, PathBuf};
use std::process::Output;

use relinker::sandbox::marketo::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::TestSandbox;
use crate::pg::TestPostgres;

const APPLY: &str = "deploy/kubernetes/relinker-apply.yaml";
const RESUME: &str = "deploy/kubernetes/relinker-resume.yaml";

/// What a job's container runs, where, and what it mounts.
struct Job {
    command: Vec<String>,
    working_dir: String,
    mounts: Vec<String>,
    env: Vec<String>,
}

impl Job {
    fn read(path: &str) -> Self {
        let text = std::fs::read_to_string(path).expect("read the manifest");
        let manifest: Value = serde_saphyr::from_str(&text).expect("the manifest is YAML");
        assert_eq!(manifest["kind"], "CronJob", "{path}");
        let container =
            &manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        let strings = |value: &Value, field: &str| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| item[field].as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        Self {
            command: container["command"]
                .as_array()
                .expect("the container names its command")
                .iter()
                .map(|part| part.as_str().unwrap().to_owned())
                .collect(),
            working_dir: container["workingDir"].as_str().unwrap().to_owned(),
            mounts: strings(&container["volumeMounts"], "mountPath"),
            env: strings(&container["env"], "name"),
        }
    }

    /// Runs the container's command as the pod would: in `root` standing for `/`, with only the
    /// environment the manifest gives (the database, the secrets) and `relinker` on PATH.
    async fn run(&self, root: &Path, database: &str, secrets: &[(&str, &str)]) -> Output {
        let bin = Path::new(env!("CARGO_BIN_EXE_relinker")).parent().unwrap();
        let mut command = tokio::process::Command::new(&self.command[0]);
        command
            .args(&self.command[1..])
            .current_dir(pod_path(root, &self.working_dir))
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("RELINKER_STATE", database)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        for (name, value) in secrets {
            command.env(name, value);
        }
        command.output().await.expect("run the job's command")
    }
}

fn pod_path(root: &Path, absolute: &str) -> PathBuf {
    root.join(absolute.trim_start_matches('/'))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

const FIXTURE: &str = "users:
  - { userid: admin@acme.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }
  - { userid: jane.doe@acme.example, first_name: J, last_name: D, api_only: true, roles: [{ role: Standard User, workspace: World }] }
  - { userid: person1@acme.example, first_name: P, last_name: One, roles: [{ role: Standard User, workspace: World }] }
services:
  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@acme.example, admin: true }
  - { name: crm-sync, client_id: crm-id, client_secret: crm-secret, user: jane.doe@acme.example }
";

const SECRETS: [(&str, &str); 2] = [
    ("ADMIN_SECRET", "admin-secret"),
    ("CRM_SECRET", "crm-secret"),
];

/// The repository: an offboarding config with a rehearsal fixture beside it, and the plans
/// `offboard` writes from it (which name that fixture).
async fn repository(sandbox: &TestSandbox) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("fixtures")).unwrap();
    std::fs::create_dir_all(repo.path().join("plans")).unwrap();
    std::fs::write(repo.path().join("fixtures/prod-copy.yaml"), FIXTURE).unwrap();
    std::fs::write(
        repo.path().join("offboard.yaml"),
        format!(
            "version: 1\ninstance:\n  provider: marketo\n  base_url: {}\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\nservices:\n  - {{ name: crm-sync, client_id: crm-id, client_secret: \"${{env:CRM_SECRET}}\" }}\nnaming: api.{{service}}@acme.example\nstrategy: replace\nretire: delete\nsandbox:\n  fixture: fixtures/prod-copy.yaml\n",
            sandbox.handle.base_url()
        ),
    )
    .unwrap();
    std::fs::write(
        repo.path().join("departed.csv"),
        "name,email\nJane,jane.doe@acme.example\n",
    )
    .unwrap();
    let mut offboard = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"));
    offboard
        .args([
            "offboard",
            "--config",
            "offboard.yaml",
            "--departed",
            "departed.csv",
            "--out",
            "plans/offboarding",
        ])
        .current_dir(repo.path())
        .env("RELINKER_STATE_DIR", "state")
        .envs(SECRETS)
        .stdin(std::process::Stdio::null());
    let written = offboard.output().await.unwrap();
    assert_eq!(written.status.code(), Some(0), "{}", text(&written));
    repo
}

/// The pod's filesystem: the ConfigMap holds the merged plans, flat, and nothing else.
fn pod(repo: &Path, apply: &Job) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let mount = apply
        .mounts
        .iter()
        .find(|m| m.ends_with("/plans"))
        .expect("the apply job mounts the plans");
    let plans = pod_path(root.path(), mount);
    std::fs::create_dir_all(&plans).unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(repo.join("plans/offboarding")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("offboard-")
            && Path::new(&name).extension().is_some_and(|e| e == "yaml")
        {
            let plan = std::fs::read_to_string(entry.path()).unwrap();
            assert!(
                plan.contains("fixture:"),
                "the plans name the repository's fixture, which the pod does not have"
            );
            std::fs::write(plans.join(&name), plan).unwrap();
            copied += 1;
        }
    }
    assert_eq!(copied, 1, "one departed user, one plan");
    root
}

async fn runs(root: &Path, database: &str) -> Value {
    let resume = Job::read(RESUME);
    let status = Job {
        command: vec![
            "relinker".into(),
            "status".into(),
            "--format".into(),
            "json".into(),
        ],
        ..resume
    };
    let output = status.run(root, database, &SECRETS).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_cronjobs_run_as_written_through_a_week() {
    let Some(database) = TestPostgres::start().await else {
        return;
    };
    let apply = Job::read(APPLY);
    let resume = Job::read(RESUME);
    for job in [&apply, &resume] {
        assert_eq!(job.command[..2], ["sh", "-c"], "{:?}", job.command);
        assert!(job.env.contains(&"RELINKER_STATE".to_owned()));
    }
    let sandbox = TestSandbox::with(FIXTURE, SandboxConfig::default()).await;
    let repo = repository(&sandbox).await;
    let root = pod(repo.path(), &apply);

    // Monday: the plan is applied and pauses where a person must link the service in Marketo.
    // The job succeeds (4 is "a person is needed"), though the plan's fixture is not mounted.
    let monday = apply.run(root.path(), &database.url(), &SECRETS).await;
    assert_eq!(monday.status.code(), Some(0), "{}", text(&monday));
    assert!(!text(&monday).contains("fixture"), "{}", text(&monday));
    let runs_now = runs(root.path(), &database.url()).await;
    let run = &runs_now.as_array().unwrap()[0];
    assert_eq!(run["status"], "paused", "{runs_now:#}");

    // An hourly resume before the person acted: still paused, still not a failed job.
    let early = resume.run(root.path(), &database.url(), &SECRETS).await;
    assert_eq!(early.status.code(), Some(0), "{}", text(&early));

    // The person links crm-sync to the new user in Marketo's UI.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/services/crm-sync/link",
            Some(&json!({"userid": "api.crm-sync@acme.example"})),
        )
        .await;
    let later = resume.run(root.path(), &database.url(), &SECRETS).await;
    assert_eq!(later.status.code(), Some(0), "{}", text(&later));
    let runs_now = runs(root.path(), &database.url()).await;
    assert_eq!(runs_now[0]["status"], "done", "{runs_now:#}");
    let grant = sandbox.token("crm-id", "crm-secret").await;
    assert_eq!(grant["scope"], "api.crm-sync@acme.example");
    assert!(
        !sandbox.state().await["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["userid"] == "jane.doe@acme.example"),
        "the departed user is gone"
    );

    // Next Monday the ConfigMap still holds the plan: applied again, it changes nothing.
    let writes_before = sandbox.requests().await["state_changing"].clone();
    let next_monday = apply.run(root.path(), &database.url(), &SECRETS).await;
    assert_eq!(next_monday.status.code(), Some(0), "{}", text(&next_monday));
    assert_eq!(
        sandbox.requests().await["state_changing"],
        writes_before,
        "a second apply of an applied plan changed something: {}",
        text(&next_monday)
    );

    // Someone empties the ConfigMap: the shell passes the pattern on, and the job says so.
    for entry in std::fs::read_dir(root.path().join("work/plans")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let empty = apply.run(root.path(), &database.url(), &SECRETS).await;
    assert_eq!(empty.status.code(), Some(2), "{}", text(&empty));
    assert!(
        text(&empty)
            .contains("`plans/offboard-*.yaml`: no such file (no file matches this pattern"),
        "{}",
        text(&empty)
    );
}

/// The documentation shows the manifests verbatim, so they cannot drift apart.
#[test]
fn the_docs_show_the_shipped_manifests() {
    let docs = std::fs::read_to_string("docs/scheduled-offboarding.md").unwrap();
    for path in [APPLY, RESUME] {
        let manifest = std::fs::read_to_string(path).unwrap();
        assert!(
            docs.contains(&format!("```yaml\n{manifest}```")),
            "docs/scheduled-offboarding.md does not show {path} as it is"
        );
    }
}
