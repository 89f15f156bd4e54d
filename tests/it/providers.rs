//! Every platform, through every command that lists platforms: a plan of it validates,
//! `relinker schema` has its variant, `relinker sandbox --provider` serves its built-in
//! fixture, and `relinker secret generate` says what it does there. The walk goes over
//! `ProviderKind::ALL`, and each platform's expectations come from an exhaustive match, so a
//! platform added to relinker fails here until every one of these knows it.

use std::path::{Path, PathBuf};
use std::process::Command;

use relinker::plan::ProviderKind;

use crate::harness::{Relinker, SandboxProcess};

/// What `relinker secret generate --provider` does for a platform.
enum Generates {
    /// Writes a password that meets the platform's rules.
    Password,
    /// Refuses with exit 2, saying why (in these words).
    Nothing(&'static str),
}

/// What relinker's commands are expected to do for `kind`: its example plan (relative to the
/// repository) and what `secret generate` does there.
fn expected(kind: ProviderKind) -> (&'static str, Generates) {
    match kind {
        ProviderKind::Marketo => (
            "plans/examples/rename-api-user.yaml",
            Generates::Nothing("Marketo's API-only users have no password"),
        ),
        ProviderKind::Dotdigital => (
            "plans/examples/replace-dotdigital-api-user.yaml",
            Generates::Password,
        ),
        ProviderKind::Movius => (
            "plans/examples/replace-movius-api-user.yaml",
            Generates::Nothing("Movius chooses its API users' passwords"),
        ),
    }
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn a_plan_of_every_platform_validates() {
    for kind in ProviderKind::ALL {
        let (plan, _) = expected(kind);
        assert!(
            read(&repository().join(plan)).contains(&format!("provider: {kind}\n")),
            "{plan} is not a {kind} plan"
        );
        Relinker::new(&["validate", plan])
            .current_dir(repository())
            .run()
            .await
            .code(0)
            .says(&format!("ok: {plan}"));
    }
}

#[tokio::test]
async fn the_schema_has_a_variant_for_every_platform() {
    let ran = Relinker::new(&["schema"]).run().await;
    ran.code(0);
    let schema: serde_json::Value = serde_json::from_str(&ran.stdout).expect("schema is JSON");
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        match v["$ref"].as_str() {
            Some(target) => schema
                .pointer(target.trim_start_matches('#'))
                .cloned()
                .unwrap_or_default(),
            None => v.clone(),
        }
    };
    let providers: Vec<serde_json::Value> = schema["anyOf"]
        .as_array()
        .expect("a variant per provider")
        .iter()
        .map(|variant| {
            let instance = resolve(&resolve(variant)["properties"]["instance"]);
            instance["properties"]["provider"]["enum"].clone()
        })
        .collect();
    for kind in ProviderKind::ALL {
        assert!(
            providers.contains(&serde_json::json!([kind.name()])),
            "no variant for {kind}: {providers:?}"
        );
    }
    assert_eq!(providers.len(), ProviderKind::ALL.len());
}

#[tokio::test]
async fn the_sandbox_serves_every_platforms_built_in_fixture_and_stops() {
    for kind in ProviderKind::ALL {
        let mut process = SandboxProcess::spawn(&["--provider", kind.name()]);
        assert!(
            process.base_url.starts_with("http://127.0.0.1:"),
            "{kind}: {}",
            process.base_url
        );
        let info = process.info().await;
        assert_eq!(info["sandbox"], true, "{kind}: {info}");
        assert_eq!(info["emulates"], kind.name(), "{kind}: {info}");
        let pid = process.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        let status = process.child.wait().expect("wait");
        assert_eq!(status.code(), Some(0), "{kind}");
    }
}

#[tokio::test]
async fn secret_generate_knows_every_platform() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ProviderKind::ALL {
        let out = format!("{kind}.password");
        let ran = Relinker::new(&[
            "secret",
            "generate",
            "--provider",
            kind.name(),
            "--out",
            &out,
        ])
        .current_dir(dir.path())
        .run()
        .await;
        let written = dir.path().join(&out);
        match expected(kind).1 {
            Generates::Password => {
                ran.code(0).says(&out);
                assert!(!read(&written).is_empty(), "{kind}");
            }
            Generates::Nothing(why) => {
                ran.code(2).says(why);
                assert!(!written.exists(), "{kind}");
            }
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
