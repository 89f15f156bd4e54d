//! `relinker sandbox` as a process: its first line, its signals, its fixture errors.

use std::process::Command;

use crate::harness::SandboxProcess;

#[tokio::test]
async fn prints_its_address_first_and_stops_cleanly_on_sigterm() {
    let mut process = SandboxProcess::spawn(&["--rate-limit", "50/2s", "--token-ttl", "1h"]);
    assert!(
        process.base_url.starts_with("http://127.0.0.1:"),
        "{}",
        process.base_url
    );
    let info = process.info().await;
    assert_eq!(info["sandbox"], true);
    assert_eq!(info["limits"]["rate"], "50/2s");
    assert_eq!(info["token_ttl_secs"], 3600);
    let pid = process.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = process.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_bad_fixture_exits_2_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.yaml");
    std::fs::write(
        &path,
        "users:\n  - userid: a@acme.example\n    first_name: A\n    last_name: B\n    api_only: true\n    roles: [{ role: Wizard, workspace: Default }]\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--fixture"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken.yaml:6:13: `users[0].roles[0].role`: no role `Wizard`"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: roles are: Admin"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// `relinker sandbox --fixture NAME` holding `text`: its exit code and stderr; nothing is served.
fn refused(name: &str, text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--fixture"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.stdout.is_empty(), "it served");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A JSON fixture's mistakes are placed as a YAML fixture's are: a value of the wrong type or a
/// field the format lacks where serde_json stops, with the field it is in; a syntax error with
/// why the file is read as JSON; a problem found by validation at the value it is about.
#[test]
fn a_bad_json_fixture_exits_2_with_file_line_column_and_field() {
    let user = r#"{"userid": "a@acme.example", "first_name": "A", "last_name": "B", "api_only": true, "roles": [{"role": "Admin", "workspace": "AllZones"}]}"#;
    let fixture = |users: &[&str]| {
        format!(
            "{{\n  \"users\": [\n    {}\n  ]\n}}\n",
            users.join(",\n    ")
        )
    };
    let other = user.replace("a@acme.example", "b@acme.example");
    let cases = [
        (
            fixture(&[
                user,
                &other.replace(r#""api_only": true"#, r#""api_only": "yes""#),
            ]),
            // serde_json places a value of the wrong type where it stopped reading: its end.
            "broken.json:4:87: `users[1].api_only`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            fixture(&[&user.replace(r#""first_name""#, r#""given_name""#)]),
            "broken.json:3:45: `users[0].given_name`: unknown field `given_name`",
        ),
        (
            fixture(&[user, &other]).replacen("]},", "]}", 1),
            "broken.json:4:5: `users`: expected `,` or `]`",
        ),
        (
            fixture(&[
                user,
                &other.replace(r#""role": "Admin""#, r#""role": "Wizard""#),
            ]),
            "broken.json:4:99: `users[1].roles[0].role`: no role `Wizard`",
        ),
    ];
    for (text, expected) in cases {
        let (code, stderr) = refused("broken.json", &text);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{expected}\n{stderr}\n{text}");
    }
    let (_, stderr) = refused(
        "broken.json",
        &fixture(&[user, &other]).replacen("]},", "]}", 1),
    );
    assert!(
        stderr.contains("hint: the fixture is read as JSON because it opens with `{\"`"),
        "{stderr}"
    );
}

#[test]
fn bad_limits_are_invalid_input() {
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--rate-limit", "lots"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not a rate limit"));
}

/// Behaviours come from the fixture and from `--behaviour`, the option winning; the instance
/// plays them (an integer error code here) and `/_sandbox/info` lists them.
#[tokio::test]
async fn behaviours_come_from_the_fixture_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("acme.yaml");
    let text = format!(
        "behaviours:\n  page-offset: pages\n  error-codes: string\n{}",
        crate::harness::ACME
    );
    std::fs::write(&fixture, text).unwrap();
    let process = SandboxProcess::spawn(&[
        "--fixture",
        fixture.to_str().unwrap(),
        "--behaviour",
        "error-codes=integer",
    ]);
    let info = process.info().await;
    let listed: Vec<&str> = info["behaviours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect();
    assert!(listed.contains(&"page-offset=pages"), "{info}");
    assert!(listed.contains(&"error-codes=integer"), "{info}");
    assert!(!listed.contains(&"error-codes=string"), "{info}");
    let denied: serde_json::Value = reqwest::get(format!(
        "{}/userservice/management/v1/users/allusers.json",
        process.base_url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(denied["errors"][0]["code"], 601, "{denied}");
}

#[test]
fn an_unknown_behaviour_is_invalid_input_naming_the_choices() {
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--behaviour",
            "page-offset=chapters",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("behaviour `page-offset` takes entries, pages, not `chapters`"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("odd.yaml");
    std::fs::write(&fixture, "behaviours:\n  token-scope: live\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--fixture"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("odd.yaml:"), "{stderr}");
    assert!(
        stderr.contains("unknown behaviour `token-scope`"),
        "{stderr}"
    );
}
