//! Two runners on one run: the first one's change hangs; meanwhile the database restarts (its
//! session and locks end) or not, and a second runner resumes the run with the sandbox
//! operator; then the first one's wait ends and it goes on. A runner that lost its lock must
//! stop before it sends (issue 24, item 11); one that kept it keeps the second out (exit 3).

use std::time::Duration;

use serde_json::json;

use super::Failure;
use super::invariants::{Invariant, Violation};
use super::walker::{GIVE_UP, Walker, code, excerpt};
use crate::harness::Ran;

/// The longest the first runner may take once the second is done: its hung attempt times
/// out after at least 5 s, then it goes on within its 3 s budget.
const FIRST_RUNNER_LIMIT: Duration = Duration::from_mins(2);

impl Walker {
    /// The first runner applies a new run when none is under way (its first change is the
    /// temporary user's invitation), else resumes the latest.
    pub(super) async fn rival(
        &mut self,
        label: &str,
        restart_db: bool,
        applied: bool,
    ) -> Result<(), Failure> {
        let kind = if applied { "hang-after" } else { "hang" };
        let apply = !self.live();
        let id = if apply {
            self.applies += 1;
            format!("w{}", self.applies)
        } else {
            self.latest().map(|r| r.id.clone()).unwrap_or_default()
        };
        self.site
            .sandbox
            .add_fault(json!({"method": "POST", "path": "/userservice/*", "action": {"kind": kind}, "times": 1}))
            .await;
        let mut args = if apply {
            vec!["apply", "plan.yaml", "--yes", "--run-id", id.as_str()]
        } else {
            vec!["resume", id.as_str()]
        };
        args.extend_from_slice(&["--gate-wait", "0"]);
        args.extend_from_slice(&GIVE_UP);
        let before = self.site.facts().await;
        let earlier = self.faulted(kind).await;
        let first = self.site.relinker(&args).spawn_captured();
        let mut hung = false;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            hung = self.faulted(kind).await > earlier;
            if hung {
                break;
            }
        }
        self.note(
            &format!("{label} [{id}]"),
            if hung {
                "the first runner's change hangs"
            } else {
                "the first runner sent no change"
            },
        );
        if apply {
            self.adopt(&id, before).await;
        }
        if hung && restart_db {
            let answer = self.site.restart_database().await;
            self.note("the database restarts", &answer);
        }
        if hung {
            let second = self
                .command(
                    &format!("second runner: resume --gate-wait 0 --sandbox-operator [{id}]"),
                    &["resume", &id, "--gate-wait", "0", "--sandbox-operator"],
                )
                .await?;
            self.checked(&second, false).await?;
        }
        self.site.sandbox.clear_faults().await;
        let Ok(output) = tokio::time::timeout(FIRST_RUNNER_LIMIT, first.wait_with_output()).await
        else {
            self.note("the first runner", "never ended");
            return Err(self.fail(
                Violation::new(
                    Invariant::Ends,
                    format!(
                        "the first runner of {id} ran for {FIRST_RUNNER_LIMIT:?} after the second"
                    ),
                ),
                "",
            ));
        };
        let output = output.expect("wait for the first runner");
        let ran = Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        let outcome = format!("exit {}: {}", code(ran.code), excerpt(&ran.text()));
        self.note(&format!("the first runner wakes [{id}]"), &outcome);
        self.checked(&ran, false).await
    }
}
