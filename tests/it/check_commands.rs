//! Check commands die with their children: a check that times out takes every process it
//! started with it, so nothing keeps running with the credential in its environment.

use crate::harness::Workspace;

/// A Movius plan whose one integration is checked by `script` (run by `sh -c`).
fn plan(script: &str) -> String {
    format!(
        "version: 1
name: stuck-check
instance: {{ provider: movius }}
services:
  - name: salesforce
    application: Salesforce
    username: api-7fq2kd9xmw
    password: '${{env:MV_OLD}}'
    check: [sh, -c, '{script}']
rotations:
  - replace:
      services: [salesforce]
      user: jane.doe@acme.example
      with: api.multiline@acme.example
      first_name: MultiLine
      last_name: Integrations
      login: {{ username: api-p4m8wz3nqt, password: '${{env:MV_NEW}}' }}
policy:
  on_failure: rollback
  max_deletions: 1
"
    )
}

/// Whether a process runs (a zombie, killed and waiting for its parent, does not).
#[cfg(target_os = "linux")]
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The state follows the command name in parentheses, which may itself hold spaces.
        stat.rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X')
    })
}

/// Kills a process when dropped, so a failing test leaves no `sleep 300` behind.
#[cfg(target_os = "linux")]
struct Reaper(u32);

#[cfg(target_os = "linux")]
impl Drop for Reaper {
    fn drop(&mut self) {
        if runs(self.0) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_timed_out_check_command_leaves_no_process_of_its_group() {
    // The check starts a child of its own and waits for it, past the timeout.
    let work = Workspace::with_files(&plan("sleep 300 & echo $! > sleep.pid; wait"), &[]);
    let ran = work
        .relinker(&["plan", "plan.yaml"])
        .env("MV_OLD", "old-secret-Pw1")
        .env("MV_NEW", "new-secret-Pw2")
        .env("RELINKER_CHECK_TIMEOUT", "1s")
        .run()
        .await;
    // A check that runs out of time could not tell: the plan says so, and knows nothing of
    // the integration.
    ran.code(0)
        .says("did not finish within 1 s")
        .says("the plan knows nothing of what it checks")
        .never_says("old-secret-Pw1");
    let pid: u32 = std::fs::read_to_string(work.path().join("sleep.pid"))
        .expect("the check command started its child")
        .trim()
        .parse()
        .expect("a pid");
    let _reaper = Reaper(pid);
    // SIGKILL is delivered at once, but a process is gone only once the kernel tore it down.
    let mut waited = 0;
    while runs(pid) {
        waited += 1;
        assert!(
            waited < 100,
            "the check command's child {pid} outlived it, with the credential in its environment"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A check command sees only what a check needs: not relinker's secrets, its state store, its
/// webhook or the runner's cloud keys.
#[tokio::test]
async fn a_check_command_gets_a_cleared_environment() {
    let work = Workspace::with_files(&plan("env > seen.env; exit 0"), &[]);
    work.relinker(&["plan", "plan.yaml"])
        .env("MV_OLD", "old-secret-Pw1")
        .env("MV_NEW", "new-secret-Pw2")
        .env("MARKETO_CLIENT_SECRET", "admin-secret-Zq9")
        .env(
            "RELINKER_STATE",
            "postgres://relinker:db-password@db.example/relinker",
        )
        .env("RELINKER_NOTIFY", "https://hooks.example/T0/B0/xyz")
        .env("AWS_SECRET_ACCESS_KEY", "aws-key-Kk1")
        .env("LC_ALL", "C")
        .run()
        .await
        .code(0);
    let seen = std::fs::read_to_string(work.path().join("seen.env")).expect("the check ran");
    let names: Vec<&str> = seen
        .lines()
        .filter_map(|line| line.split_once('=').map(|(name, _)| name))
        .collect();
    for needed in [
        "PATH",
        "LC_ALL",
        "RELINKER_USERNAME",
        "RELINKER_PASSWORD",
        "RELINKER_SERVICE",
    ] {
        assert!(names.contains(&needed), "{needed} missing: {names:?}");
    }
    for kept_back in [
        "MV_OLD",
        "MV_NEW",
        "MARKETO_CLIENT_SECRET",
        "RELINKER_STATE",
        "RELINKER_STATE_DIR",
        "RELINKER_NOTIFY",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert!(
            !names.contains(&kept_back),
            "{kept_back} reached the check: {names:?}"
        );
    }
    for secret in ["admin-secret-Zq9", "db-password", "aws-key-Kk1", "xyz"] {
        assert!(!seen.contains(secret), "a secret reached the check");
    }
}
