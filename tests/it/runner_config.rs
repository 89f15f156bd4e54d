//! A plan is untrusted input; the runner decides where its secrets may go. With a runner
//! configuration, a plan (from a pull request, say) that names another host, a secret the
//! runner does not hand out, or a program it does not run is refused before any request or
//! program, each value named with where it is; check commands do not run at plan time unless
//! the runner says so; and a stored run is held to the same rules when it resumes.

use crate::harness::{ENV, POLICY, RENAME, TestSandbox, Workspace, assert_no_secrets};

/// A runner configuration for `sandbox`: its instance, the plans' variables, and `extra`.
fn runner(sandbox: &TestSandbox, extra: &str) -> String {
    format!(
        "version: 1
instances:
  - name: acme
    provider: marketo
    base_url: {}
secrets:
  env: [T_ADMIN_SECRET, 'T_*_SECRET']
{extra}",
        sandbox.handle.base_url()
    )
}

/// relinker in `work` with the plans' secrets and a runner configuration.
fn with_runner(work: &Workspace, args: &[&str], config: &str) -> crate::harness::Relinker {
    std::fs::write(work.path().join("runner.yaml"), config).unwrap();
    let mut command = work
        .relinker(args)
        .env("RELINKER_RUNNER_CONFIG", "runner.yaml");
    for (name, value) in ENV {
        command = command.env(name, value);
    }
    command
}

#[tokio::test]
async fn a_plan_pointing_the_admin_secret_at_another_host_is_refused_before_any_request() {
    let sandbox = TestSandbox::start().await;
    let attacker = TestSandbox::start().await;
    // The pull request's plan sends the admin secret to a host of its own.
    let work = Workspace::new(&attacker, RENAME, POLICY);
    let config = runner(&sandbox, "");
    for command in [
        vec!["plan", "plan.yaml"],
        vec!["validate", "plan.yaml"],
        vec!["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
    ] {
        let ran = with_runner(&work, &command, &config).run().await;
        ran.code(2)
            .says("plan.yaml:6:")
            .says("`instance.base_url`")
            .says("is not an instance the runner configuration `runner.yaml` allows")
            .says("name one of its instances instead: `acme`");
        assert_no_secrets(&[&ran.text()]);
    }
    assert_eq!(
        attacker.requests().await["total"],
        0,
        "nothing reached the foreign host"
    );
    assert_eq!(sandbox.requests().await["total"], 0);
    assert!(work.run_dirs().is_empty());
}

#[tokio::test]
async fn a_secret_or_a_file_the_runner_does_not_hand_out_is_refused_with_where_it_is() {
    let sandbox = TestSandbox::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // The plan reads the crm secret from its own folder, and one more variable of the runner's.
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${env:T_WEB_SECRET}", "${env:CLOUD_KEY}");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let config = runner(
        &sandbox,
        &format!("  files: ['{}']\n", secrets.path().display()),
    );
    let ran = with_runner(&work, &["plan", "plan.yaml"], &config)
        .env("CLOUD_KEY", "cloud-key-Qq8")
        .run()
        .await;
    ran.code(2)
        .says("`services[2].client_secret`")
        .says("does not let plans read `")
        .says("crm.secret")
        .says("`services[3].client_secret`")
        .says("does not let plans read `${env:CLOUD_KEY}`")
        .never_says("cloud-key-Qq8");
    assert_eq!(sandbox.requests().await["total"], 0);

    // Moved where the runner keeps secrets, and named as the runner allows, it plans.
    std::fs::copy(
        work.path().join("crm.secret"),
        secrets.path().join("crm.secret"),
    )
    .unwrap();
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("${env:CLOUD_KEY}", "${env:T_WEB_SECRET}")
        .replace(
            "${file:crm.secret}",
            &format!("${{file:{}/crm.secret}}", secrets.path().display()),
        );
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await
        .code(0)
        .never_says("no runner configuration");
}

/// A Movius plan whose check writes a marker file when it runs.
fn movius_plan(base_url: &str) -> String {
    crate::movius::plan(base_url).replace(
        "check: [relinker, check-credential, --path, /_sandbox/integrations/salesforce/check]",
        "check: [sh, -c, 'touch ran; exit 0']",
    )
}

#[tokio::test]
async fn check_programs_run_only_where_and_when_the_runner_allows() {
    let movius = crate::movius::sandbox().await;
    let work = Workspace::with_files(&movius_plan(&movius.handle.base_url()), &[]);
    let movius_runner = |extra: &str| {
        format!(
            "version: 1
instances:
  - {{ name: multiline, provider: movius, base_url: '{}' }}
secrets:
  env: [MV_OLD, MV_NEW_USER]
  files: ['{}']
{extra}",
            movius.handle.base_url(),
            work.path().display()
        )
    };
    let plan = |config: &str| {
        with_runner(&work, &["plan", "plan.yaml"], config)
            .env("MV_OLD", "sandbox-emailed-1")
            .env("MV_NEW_USER", "api-p4m8wz3nqt")
    };
    // Not listed: refused, and it does not run.
    plan(&movius_runner(""))
        .run()
        .await
        .code(2)
        .says("`services[0].check[0]`")
        .says("does not let plans run `sh`");
    assert!(!work.path().join("ran").exists());
    // Listed: a plan under review still runs no program unless the runner says so.
    let listed = movius_runner("checks:\n  programs: [sh]\n");
    plan(&listed)
        .run()
        .await
        .code(0)
        .says("does not run at plan time on this runner");
    assert!(
        !work.path().join("ran").exists(),
        "no check ran at plan time"
    );
    plan(&movius_runner(
        "checks:\n  programs: [sh]\n  at_plan: true\n",
    ))
    .run()
    .await
    .code(0);
    assert!(
        work.path().join("ran").exists(),
        "allowed at plan time, it ran"
    );
}

#[tokio::test]
async fn a_stored_run_resumes_only_within_the_runner_configuration() {
    let sandbox = TestSandbox::start().await;
    let elsewhere = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // Applied on a laptop, without a runner configuration: it says what it trusted.
    let first = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first
        .code(4)
        .says("note: no runner configuration (--runner-config): the hosts, secret references and check programs `plan.yaml` names are trusted as they are");
    let id = first.run_id();
    // Resumed on a runner that knows another instance only: refused before any request.
    let before = sandbox.requests().await["total"].clone();
    with_runner(
        &work,
        &["resume", &id, "--gate-wait", "0"],
        &runner(&elsewhere, ""),
    )
    .run()
    .await
    .code(2)
    .says("is not an instance the runner configuration `runner.yaml` allows");
    assert_eq!(sandbox.requests().await["total"], before);
    // On a runner that allows it (its instance, and the plan's folder for the crm secret), it
    // goes on.
    let allows = runner(
        &sandbox,
        &format!("  files: ['{}']\n", work.path().display()),
    );
    with_runner(&work, &["resume", &id, "--gate-wait", "0"], &allows)
        .run()
        .await
        .code(4)
        .never_says("no runner configuration");
}

#[tokio::test]
async fn a_runner_configuration_is_checked_like_a_plan() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let config = "version: 1
instances:
  - { name: acme, provider: marketo, base_url: 'http://example.com' }
secrets:
  env: ['BAD-NAME']
  files: [relative/dir]
checks:
  programs: [./relative.sh]
  surprise: true
";
    with_runner(&work, &["plan", "plan.yaml"], config)
        .run()
        .await
        .code(2)
        .says("runner.yaml:9:3: `checks.surprise`: unknown field");
    let config = config.replace("  surprise: true\n", "");
    with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await
        .code(2)
        .says("runner.yaml:3:")
        .says("`instances[0].base_url`")
        .says("`secrets.env[0]`")
        .says("`secrets.files[0]`")
        .says("`checks.programs[0]`");
    assert_eq!(sandbox.requests().await["total"], 0);
}

/// The host a plan acts on is checked as relinker reaches it: a dotdigital plan that gives only
/// a region reaches that region's host, which the runner must allow.
#[tokio::test]
async fn a_host_derived_from_a_region_is_checked_like_a_written_one() {
    let plan = "version: 1
name: dd-r2
instance: { provider: dotdigital, region: r2 }
services:
  - { name: magento, username: apiuser-k3x9q2m7v1ab@apiconnector.com, password: '${env:DD_OLD}' }
rotations:
  - rotate_password: { services: [magento], password: '${env:DD_NEW}' }
";
    let work = Workspace::with_files(plan, &[]);
    let config = "version: 1
instances:
  - { name: europe, provider: dotdigital, base_url: 'https://r1-api.dotdigital.com' }
secrets:
  env: ['DD_*']
";
    with_runner(&work, &["plan", "plan.yaml"], config)
        .env("DD_OLD", "old-Pw-1")
        .env("DD_NEW", "new-Pw-2")
        .run()
        .await
        .code(2)
        .says("plan.yaml:3:")
        .says("`instance.region`")
        .says("dotdigital at `https://r2-api.dotdigital.com` is not an instance the runner configuration")
        .says("name one of its instances instead: `europe`");
}

/// The rename, naming the runner's instance instead of writing out its host and credential.
fn named_plan(sandbox: &TestSandbox) -> String {
    let written = crate::harness::plan_text(&sandbox.handle.base_url(), RENAME, POLICY);
    let start = written.find("instance:").unwrap();
    let end = written.find("services:").unwrap();
    format!(
        "{}instance: {{ provider: marketo, name: acme }}\n{}",
        &written[..start],
        &written[end..]
    )
}

/// A runner that declares `sandbox` as `acme`, admin credential included.
fn runner_with_credential(sandbox: &TestSandbox, work: &Workspace) -> String {
    format!(
        "version: 1
instances:
  - name: acme
    provider: marketo
    base_url: {}
    client_id: {}
    client_secret: '${{env:T_ADMIN_SECRET}}'
secrets:
  env: ['T_*_SECRET']
  files: ['{}']
",
        sandbox.handle.base_url(),
        crate::harness::ADMIN_ID,
        work.path().display()
    )
}

#[tokio::test]
async fn a_plan_may_name_the_runners_instance_instead_of_its_host_and_credential() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    std::fs::write(work.path().join("plan.yaml"), named_plan(&sandbox)).unwrap();
    // Without a runner configuration, the name names nothing.
    work.relinker(&["validate", "plan.yaml"])
        .run()
        .await
        .code(2)
        .says("plan.yaml:4:")
        .says("`instance.name`: `acme` names a runner's instance, and no runner configuration declares any");
    let config = runner_with_credential(&sandbox, &work);
    with_runner(&work, &["plan", "plan.yaml"], &config)
        .run()
        .await
        .code(0)
        .says(&sandbox.handle.base_url());
    let first = with_runner(
        &work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        &config,
    )
    .run()
    .await;
    first.code(4);
    let id = first.run_id();
    // Another name is refused with the runner's instances.
    let other = named_plan(&sandbox).replace("name: acme", "name: staging");
    std::fs::write(work.path().join("other.yaml"), other).unwrap();
    with_runner(&work, &["plan", "other.yaml"], &config)
        .run()
        .await
        .code(2)
        .says("the runner configuration declares no instance `staging`")
        .says("its marketo instances: `acme`");
    // If the runner's `acme` now points elsewhere, the run does not follow it there.
    let moved = TestSandbox::start().await;
    let elsewhere = config.replace(&sandbox.handle.base_url(), &moved.handle.base_url());
    with_runner(&work, &["resume", &id, "--gate-wait", "0"], &elsewhere)
        .run()
        .await
        .code(2)
        .says(&format!("run {id} started against"))
        .says("it goes on only where it began");
    assert_eq!(moved.requests().await["total"], 0);
    with_runner(&work, &["resume", &id, "--gate-wait", "0"], &config)
        .run()
        .await
        .code(4);
}
