//! The hostile-input corpus: every command that reads a file, run on the compiled binary
//! against every file of a generated corpus of malformed, oversized, irregular and dangerous
//! inputs. Each must end on its own (no hang) with the documented exit code, never panic, name
//! the file (and, for a shape problem, its line and column), and print no raw control
//! character. Self-harming plans are refused by `plan` before any write.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{ADMIN_ID, Relinker, TestSandbox, Workspace, plan_text};

/// How long one command may take before it counts as a hang.
const HANG: Duration = Duration::from_secs(30);

const ACME: &str = include_str!("../../plans/fixtures/acme.yaml");

/// A valid plan on the embedded sandbox, for mutating.
fn valid_plan(fixture: &Path) -> String {
    format!(
        "version: 1
name: hostile
instance:
  provider: marketo
  base_url: https://123-ABC-456.mktorest.com
  client_id: {ADMIN_ID}
  client_secret: ${{env:T_ADMIN_SECRET}}
services:
  - {{ name: webinar-bridge, client_id: 3e4f5a6b-4444-4444-8444-000000003e3e, client_secret: \"${{env:T_WEB_SECRET}}\" }}
rotations:
  - relink:
      services: [webinar-bridge]
      to: api.webinar@acme.example
policy:
  on_failure: rollback
  max_deletions: 1
sandbox:
  fixture: {}
",
        fixture.display()
    )
}

/// One file of the corpus and what reading it must give.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    /// What the message must say, besides the file's name.
    says: &'static str,
    /// Whether the message must point at a line and column.
    placed: bool,
}

fn case(name: &'static str, text: impl Into<Vec<u8>>, says: &'static str, placed: bool) -> Case {
    Case {
        name,
        bytes: text.into(),
        says,
        placed,
    }
}

/// Plans that must be refused (exit 2) by every command that reads a plan.
fn plan_corpus(valid: &str) -> Vec<Case> {
    let with = |from: &str, to: &str| {
        assert!(valid.contains(from), "test bug: {from:?}");
        valid.replacen(from, to, 1)
    };
    let long_local = format!("{}@acme.example", "a".repeat(10_000));
    let nodes = with(
        "name: hostile",
        &format!("name: hostile\ndescription: [{}1]", "1,".repeat(300_000)),
    );
    let oversized = format!("{valid}# {}\n", "x".repeat(1024 * 1024));
    let mut bad_utf8 = with("name: hostile", "name: host").into_bytes();
    let at = bad_utf8.windows(4).position(|w| w == b"host").unwrap() + 4;
    bad_utf8.insert(at, 0xff);
    vec![
        case(
            "double-at.yaml",
            with("to: api.webinar@acme.example", "to: api@@acme.example"),
            "more than one `@`",
            true,
        ),
        case(
            "leading-dot.yaml",
            with("to: api.webinar@acme.example", "to: .api@acme.example"),
            "starts or ends with a dot",
            true,
        ),
        case(
            "long-local.yaml",
            with("to: api.webinar@acme.example", &format!("to: {long_local}")),
            "longer than 254 bytes",
            true,
        ),
        case(
            "escape.yaml",
            with(
                "to: api.webinar@acme.example",
                "to: \"api\\e[2J\\e[31m@acme.example\"",
            ),
            "control character",
            true,
        ),
        case(
            "user-info.yaml",
            with(
                "https://123-ABC-456.mktorest.com",
                "https://user:pass@123-ABC-456.mktorest.com",
            ),
            "base_url",
            true,
        ),
        case(
            "query.yaml",
            with(
                "https://123-ABC-456.mktorest.com",
                "https://123-ABC-456.mktorest.com/?x=1",
            ),
            "base_url",
            true,
        ),
        case(
            "fragment.yaml",
            with(
                "https://123-ABC-456.mktorest.com",
                "https://123-ABC-456.mktorest.com/#x",
            ),
            "base_url",
            true,
        ),
        case(
            "text-version.yaml",
            with("version: 1", "version: \"1\""),
            "`version`",
            true,
        ),
        case(
            "tag.yaml",
            with("  provider: marketo", "  provider: !Ref marketo"),
            "YAML tag `!Ref`",
            true,
        ),
        case(
            "two-documents.yaml",
            format!("{valid}---\nversion: 1\n"),
            "more than one YAML document",
            true,
        ),
        case(
            "nodes.yaml",
            nodes,
            "larger or more deeply nested than relinker reads",
            true,
        ),
        case(
            "overflow.yaml",
            with("max_deletions: 1", "max_deletions: 99999999999"),
            "`policy.max_deletions`",
            true,
        ),
        case(
            "negative.yaml",
            with("max_deletions: 1", "max_deletions: -1"),
            "`policy.max_deletions`",
            true,
        ),
        case(
            "not-utf8.yaml",
            bad_utf8,
            "not UTF-8 text (line 2, column 11",
            false,
        ),
        case("oversized.yaml", oversized, "larger than 1 MiB", false),
        case("empty.yaml", "", "expected a mapping, found nothing", true),
        case(
            "binary.yaml",
            vec![0u8, 1, 2, 3, 0xfe, 0xff],
            "not UTF-8",
            false,
        ),
    ]
}

/// How one run of the binary ended.
struct Ended {
    code: Option<i32>,
    text: String,
}

async fn run(dir: &Path, args: &[&str]) -> Ended {
    let ran = tokio::time::timeout(
        HANG,
        Relinker::new(args)
            .current_dir(dir)
            .env("RELINKER_STATE_DIR", "state")
            .run(),
    )
    .await
    .unwrap_or_else(|_| panic!("`relinker {}` hung", args.join(" ")));
    Ended {
        code: ran.code,
        text: ran.text(),
    }
}

/// The checks every refusal passes.
#[track_caller]
fn refused(ended: &Ended, command: &str, expected: i32, names: &str, says: &str, placed: bool) {
    let text = &ended.text;
    assert_eq!(ended.code, Some(expected), "{command}: {text}");
    assert!(!text.contains("panicked"), "{command} panicked: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "{command} printed a raw escape: {text:?}"
    );
    assert!(
        text.contains(names),
        "{command}: does not name {names}: {text}"
    );
    assert!(
        text.contains(says),
        "{command}: expected {says:?} in: {text}"
    );
    if placed {
        let place = format!("{names}:");
        let pointed = text.split(&place).nth(1).is_some_and(|rest| {
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().unwrap_or_default();
            let column = parts.next().unwrap_or_default();
            line.parse::<u32>().is_ok() && column.parse::<u32>().is_ok()
        });
        assert!(pointed, "{command}: no line and column: {text}");
    }
    // Nothing a refused input names may leak a secret or reach far into the output.
    assert!(
        text.len() < 20_000,
        "{command}: {} bytes of output",
        text.len()
    );
}

#[tokio::test]
async fn every_command_refuses_every_hostile_plan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.yaml"), ACME).unwrap();
    let valid = valid_plan(&dir.path().join("acme.yaml"));
    std::fs::write(dir.path().join("valid.yaml"), &valid).unwrap();
    run(dir.path(), &["validate", "valid.yaml"]).await;
    for case in plan_corpus(&valid) {
        std::fs::write(dir.path().join(case.name), &case.bytes).unwrap();
        for command in [
            vec!["validate", case.name],
            vec!["plan", case.name, "--sandbox"],
            vec!["apply", case.name, "--sandbox", "--yes", "--gate-wait", "0"],
        ] {
            let ended = run(dir.path(), &command).await;
            refused(
                &ended,
                &command.join(" "),
                2,
                case.name,
                case.says,
                case.placed,
            );
        }
    }
    assert!(
        !dir.path().join("state/runs").exists()
            || std::fs::read_dir(dir.path().join("state/runs"))
                .unwrap()
                .count()
                == 0,
        "a refused plan started a run"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn irregular_files_are_refused_by_name_and_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::create_dir(dir.path().join("folder.yaml")).unwrap();
    std::fs::write(dir.path().join("acme.yaml"), ACME).unwrap();
    for (file, what) in [
        ("fifo.yaml", "named pipe"),
        ("folder.yaml", "a directory"),
        ("/dev/zero", "a device"),
    ] {
        for command in [
            vec!["validate", file],
            vec!["plan", file],
            vec!["apply", file, "--yes"],
            vec!["sandbox", "--fixture", file, "--listen", "127.0.0.1:0"],
            vec![
                "offboard",
                "--config",
                file,
                "--departed",
                file,
                "--out",
                "out",
            ],
        ] {
            let ended = run(dir.path(), &command).await;
            refused(&ended, &command.join(" "), 2, file, what, false);
        }
    }

    // A secret file that never ends, or that is a FIFO nobody writes to.
    let valid = valid_plan(&dir.path().join("acme.yaml")).replace(
        "base_url: https://123-ABC-456.mktorest.com",
        "base_url: http://127.0.0.1:1",
    );
    for (name, secret, what) in [
        ("zero.yaml", "/dev/zero", "a device"),
        ("pipe.yaml", fifo.to_str().unwrap(), "named pipe"),
    ] {
        let plan = valid.replace("${env:T_WEB_SECRET}", &format!("${{file:{secret}}}"));
        std::fs::write(dir.path().join(name), plan).unwrap();
        let ended = run(dir.path(), &["plan", name]).await;
        refused(&ended, &format!("plan {name}"), 2, secret, what, false);
    }
    let big = dir.path().join("big.secret");
    std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
    let plan = valid.replace("${env:T_WEB_SECRET}", "${file:big.secret}");
    std::fs::write(dir.path().join("big-secret.yaml"), plan).unwrap();
    let ended = run(dir.path(), &["plan", "big-secret.yaml"]).await;
    refused(
        &ended,
        "plan big-secret.yaml",
        2,
        "big.secret",
        "larger than 64 KiB",
        false,
    );
}

#[tokio::test]
async fn offboarding_configs_and_departed_lists_are_checked_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let config = "version: 1
instance:
  provider: marketo
  base_url: http://127.0.0.1:1
  client_id: admin-id
  client_secret: ${env:OFF_ADMIN_SECRET}
naming: api.{service}@acme.example
strategy: replace
retire: delete
protected:
  - break-glass@acme.example
max_rotations: 10
";
    std::fs::write(dir.path().join("departed.txt"), "jane@acme.example\n").unwrap();
    let configs = [
        (
            "rename-retire.yaml",
            config.replace("strategy: replace", "strategy: rename"),
            "`retire` applies to `strategy: replace` only",
        ),
        (
            "protected.yaml",
            config.replace("  - break-glass@acme.example", "  - not an address"),
            "neither an address nor a `/pattern/`",
        ),
        (
            "naming.yaml",
            config.replace("api.{service}@acme.example", "api@acme.example"),
            "has no placeholder",
        ),
        (
            "text-version.yaml",
            config.replace("version: 1", "version: \"1\""),
            "`version`",
        ),
        (
            "tag.yaml",
            config.replace("strategy: replace", "strategy: !Ref replace"),
            "YAML tag",
        ),
    ];
    for (name, text, says) in configs {
        std::fs::write(dir.path().join(name), text).unwrap();
        let command = [
            "offboard",
            "--config",
            name,
            "--departed",
            "departed.txt",
            "--out",
            "out",
        ];
        let ended = run(dir.path(), &command).await;
        refused(&ended, &command.join(" "), 2, name, says, true);
    }
    std::fs::write(dir.path().join("good.yaml"), config).unwrap();
    let long = format!("{}@acme.example\n", "a".repeat(10_000));
    let departed = [
        (
            "double-at.txt",
            "api@@acme.example\n".to_owned(),
            "more than one `@`",
        ),
        (
            "escape.txt",
            "api\u{1b}[2J@acme.example\n".to_owned(),
            "control character",
        ),
        ("long.txt", long, "longer than 254 bytes"),
        ("domain.txt", "@acme\n".to_owned(), "no dot"),
    ];
    for (name, text, says) in departed {
        std::fs::write(dir.path().join(name), text).unwrap();
        let command = [
            "offboard",
            "--config",
            "good.yaml",
            "--departed",
            name,
            "--out",
            "out",
        ];
        let ended = run(dir.path(), &command).await;
        refused(&ended, &command.join(" "), 2, name, says, false);
    }
    // Output paths: a file where a folder is wanted, a folder whose parent is missing.
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    for out in ["a-file", "missing/out"] {
        let command = [
            "offboard",
            "--config",
            "good.yaml",
            "--departed",
            "departed.txt",
            "--out",
            out,
        ];
        let ended = run(dir.path(), &command).await;
        refused(
            &ended,
            &command.join(" "),
            2,
            out.split('/').next().unwrap(),
            "--out",
            false,
        );
    }
    assert!(!dir.path().join("out").exists());
}

#[tokio::test]
async fn hostile_fixtures_and_sandbox_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let roles = "roles:\n  - { id: 1, name: A }\n  - { id: 1, name: B }\n";
    let workspaces = "workspaces:\n  - { id: 7, name: W }\n  - { id: 7, name: X }\n";
    let fixtures = [
        ("empty.yaml", String::new(), "the fixture is empty"),
        (
            "comments.yaml",
            "# nothing here\n\n# at all\n".to_owned(),
            "the fixture is empty",
        ),
        (
            "roles.yaml",
            roles.to_owned(),
            "role id 1 is declared twice",
        ),
        (
            "workspaces.yaml",
            workspaces.to_owned(),
            "workspace id 7 is declared twice",
        ),
        (
            "address.yaml",
            "users:\n  - { userid: 'a@@b.co', first_name: A, last_name: B, roles: [] }\n"
                .to_owned(),
            "more than one `@`",
        ),
        ("tag.yaml", "users: !Ref []\n".to_owned(), "YAML tag"),
    ];
    for (name, text, says) in fixtures {
        std::fs::write(dir.path().join(name), text).unwrap();
        let command = ["sandbox", "--fixture", name, "--listen", "127.0.0.1:0"];
        let ended = run(dir.path(), &command).await;
        refused(
            &ended,
            &command.join(" "),
            2,
            name,
            says,
            says != "the fixture is empty",
        );
    }
    let ended = run(
        dir.path(),
        &["sandbox", "--token-ttl", "0", "--listen", "127.0.0.1:0"],
    )
    .await;
    refused(
        &ended,
        "sandbox --token-ttl 0",
        2,
        "--token-ttl",
        "longer than 0",
        false,
    );

    // An empty body is not a fixture: the instance keeps its data.
    let sandbox = TestSandbox::start().await;
    let users_before = sandbox.state().await["users"].clone();
    let response = sandbox
        .http
        .post(sandbox.url("/_sandbox/fixture"))
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body.to_string().contains("the fixture is empty"), "{body}");
    assert_eq!(sandbox.state().await["users"], users_before);
}

#[tokio::test]
async fn plan_refuses_self_harm_before_any_write() {
    let sandbox = TestSandbox::start().await;
    let admin_service = "  - { name: relinker-admin, client_id: 0a1b2c3d-0000-4000-8000-00000000a0a0, client_secret: \"${env:T_ADMIN_SECRET}\" }\n";
    let cases = [
        (
            "  - relink:\n      services: [relinker-admin]\n      to: api.webinar@acme.example",
            "service `relinker-admin` is relinker's own admin service",
        ),
        (
            "  - relink:\n      services: [webinar-bridge]\n      to: relinker-admin@acme.example",
            "the target user `relinker-admin@acme.example` is the user relinker's own admin service is linked to",
        ),
        (
            "  - replace:\n      user: bob@acme.example\n      with: relinker-admin@acme.example\n      services: [crm-connector]",
            "the new user `relinker-admin@acme.example` is the user relinker's own admin service is linked to",
        ),
        (
            "  - rename:\n      user: jane.doe@acme.example\n      email: api.salesforce@acme.example\n      temporary_user: relinker-admin@acme.example\n      services: [salesforce-sync]",
            "the temporary user `relinker-admin@acme.example` is the user relinker's own admin service",
        ),
        (
            "  - rename:\n      user: jane.doe@acme.example\n      email: api.salesforce@acme.example\n      temporary_user: api.salesforce@acme.example\n      services: [salesforce-sync]",
            "is also the rename's new email",
        ),
        (
            "  - rename:\n      user: jane.doe@acme.example\n      email: api.salesforce@acme.example\n      temporary_user: carol@acme.example\n      services: [salesforce-sync]\n  - relink:\n      services: [webinar-bridge]\n      to: api.webinar@acme.example",
            "the temporary user `carol@acme.example` is the user service `webinar-bridge` is linked to",
        ),
    ];
    for (rotations, says) in cases {
        let plan = plan_text(&sandbox.handle.base_url(), rotations, "  max_deletions: 2")
            .replace("services:\n", &format!("services:\n{admin_service}"));
        let work = Workspace::with_files(&plan, &[("crm.secret", "sandbox-secret-crm-Lw45\n")]);
        let ended = run(work.path(), &["plan", "plan.yaml"]).await;
        assert_eq!(ended.code, Some(1), "{says}: {}", ended.text);
        assert!(
            crate::harness::flat(&ended.text).contains(says),
            "expected {says:?} in {}",
            ended.text
        );
        let applied = run(
            work.path(),
            &[
                "apply",
                "plan.yaml",
                "--yes",
                "--sandbox-operator",
                "--gate-wait",
                "0",
            ],
        )
        .await;
        assert_eq!(applied.code, Some(1), "{}", applied.text);
    }
    let log = sandbox.requests().await;
    assert_eq!(log["state_changing"], 0, "a refused plan wrote: {log}");
}

#[tokio::test]
async fn hostile_arguments_are_refused_without_echoing_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    let escape = "run\u{1b}[2J\u{1b}[31m";
    for command in [
        vec!["status", escape],
        vec!["resume", escape],
        vec!["rollback", escape],
        vec!["attest", "some-run", escape, "--by", escape],
        vec!["apply", escape],
        vec!["plan", "p.yaml", "--out", escape],
        vec!["apply", "p.yaml", "--gate-wait", escape],
        vec!["sandbox", "--listen", escape],
        vec!["secret", "generate", "--provider", escape, "--out", "x"],
    ] {
        let ended = run(dir.path(), &command).await;
        let shown = command.join(" ");
        assert_eq!(ended.code, Some(2), "{shown:?}: {}", ended.text);
        assert!(
            !ended.text.contains('\u{1b}'),
            "{shown:?} printed a raw escape: {:?}",
            ended.text
        );
        assert!(
            !ended.text.contains("panicked"),
            "{shown:?}: {}",
            ended.text
        );
    }
}
