//! kill -9: `apply` or `resume` killed while it waits at a manual gate, or while one of its
//! requests hangs (the sandbox applied it and never answered).

use std::time::Duration;

use rand::RngExt as _;
use serde_json::{Value, json};

use super::Failure;
use super::walker::{GIVE_UP, Walker, code, excerpt};
use crate::harness::Ran;

impl Walker {
    /// A process works on the run, and a step waits for a person.
    async fn at_gate(&self, id: &str) -> bool {
        let ran = self
            .site
            .relinker(&["status", id, "--format", "json"])
            .run()
            .await;
        let Ok(all) = serde_json::from_str::<Value>(&ran.stdout) else {
            return false;
        };
        let run = &all[0];
        run["active"] == true
            && run["steps"].as_array().is_some_and(|steps| {
                steps.iter().any(|s| {
                    matches!(
                        s["state"].as_str(),
                        Some("waiting_for_person" | "undo_waiting_for_person")
                    )
                })
            })
    }

    /// `apply` or `resume` killed with SIGKILL: while it waits at a gate, or while request
    /// `after` hangs.
    pub(super) async fn kill(
        &mut self,
        label: &str,
        apply: bool,
        after: Option<u32>,
    ) -> Result<(), Failure> {
        if !apply && self.latest().is_none() {
            return Ok(());
        }
        let id = if apply {
            self.applies += 1;
            format!("w{}", self.applies)
        } else {
            self.latest().map(|r| r.id.clone()).unwrap_or_default()
        };
        let gate = if after.is_some() { "0" } else { "30s" };
        let args: Vec<&str> = if apply {
            vec![
                "apply",
                "plan.yaml",
                "--yes",
                "--run-id",
                &id,
                "--gate-wait",
                gate,
            ]
        } else {
            vec!["resume", &id, "--gate-wait", gate]
        };
        if let Some(after) = after {
            self.site
                .sandbox
                .add_fault(json!({"path": "/", "action": {"kind": "hang-after"}, "after": after, "times": 1}))
                .await;
        }
        let before = self.site.facts().await;
        let mut all = args.clone();
        all.extend_from_slice(&GIVE_UP);
        let earlier = self.faulted("hang-after").await;
        let mut child = self.site.relinker(&all).spawn_captured();
        let mut looks = 0;
        let mut ended = false;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            if matches!(child.try_wait(), Ok(Some(_))) {
                ended = true;
                break;
            }
            let hit = if after.is_some() {
                self.faulted("hang-after").await > earlier
            } else {
                // At a gate: the run is active and waits for a person, look after look.
                looks = if self.at_gate(&id).await {
                    looks + 1
                } else {
                    0
                };
                looks >= 2
            };
            if hit {
                break;
            }
        }
        if !ended {
            let extra = self.rng.random_range(0..200);
            tokio::time::sleep(Duration::from_millis(extra)).await;
            let _ = child.start_kill();
        }
        let output = child.wait_with_output().await.expect("wait for relinker");
        if after.is_some() {
            self.site.sandbox.clear_faults().await;
        }
        let ran = Ran {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        let killed = ran.code.is_none();
        let outcome = if killed {
            format!("killed: {}", excerpt(&ran.text()))
        } else {
            format!(
                "exit {} before the kill: {}",
                code(ran.code),
                excerpt(&ran.text())
            )
        };
        self.note(&format!("{label} [{id}]"), &outcome);
        if apply {
            self.adopt(&id, before).await;
        }
        self.checked(&ran, killed).await
    }
}
