//! The command line's help, pinned: a changed flag or wording shows up in review.

use std::process::Command;

#[test]
fn top_level_and_apply_help() {
    for args in [&["--help"][..], &["apply", "--help"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
            .args(args)
            .env("COLUMNS", "100")
            .env("RELINKER_STATE_DIR", "/srv/private-state")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(
            !help.contains("/srv/private-state"),
            "help must not print environment values"
        );
        insta::assert_snapshot!(
            args.join("_").replace("--", ""),
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

#[test]
fn a_bad_flag_is_exit_2_and_an_unknown_command_too() {
    for args in [&["apply", "--frobnicate"][..], &["explode"][..]] {
        let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("error:"));
    }
}

/// `relinker -vv plan` of the example on the embedded sandbox, with `env`: its stderr.
fn logged_plan(env: &[(&str, &str)]) -> String {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args(["-vv", "plan", "rename-api-user.yaml", "--sandbox"])
        .current_dir(examples)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn log_lines_are_coloured_only_on_a_terminal_or_when_forced_and_never_with_no_color() {
    let escape = "\u{1b}[";
    let plain = logged_plan(&[]);
    assert!(plain.contains("embedded sandbox started"), "{plain}");
    assert!(
        !plain.contains(escape),
        "stderr is no terminal here: {plain}"
    );
    let forced = logged_plan(&[("CLICOLOR_FORCE", "1")]);
    assert!(forced.contains(escape), "{forced}");
    let no_color = logged_plan(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!no_color.contains(escape), "{no_color}");
}

#[test]
fn with_json_logs_every_stderr_line_is_json_the_final_error_included() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), "version: 1\nname: x\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["--log-format", "json", "-vv", "plan", "plan.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let last = lines.last().expect("the error");
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["fields"]["exit_code"], 2);
    assert!(
        last["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("plan.yaml"),
        "{last}"
    );
}

#[test]
fn completions_for_every_shell_and_a_man_page_come_from_the_command_line() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        // The script asks relinker at each Tab, so it always agrees with the binary.
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
    }
    // What a Tab is answered: commands, options, values.
    for (line, offered) in [
        (&["relinker", "rol"][..], "rollback\t"),
        (&["relinker", "apply", "--gate"], "--gate-wait\t"),
        (&["relinker", "plan", "x.yaml", "--format", ""], "markdown"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_relinker"))
            .arg("--")
            .args(line)
            .env("COMPLETE", "fish")
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&output.stdout);
        assert!(answer.contains(offered), "{line:?}: {answer}");
    }
    let unknown = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    let man = Command::new(env!("CARGO_BIN_EXE_relinker"))
        .arg("man")
        .output()
        .unwrap();
    assert_eq!(man.status.code(), Some(0));
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH relinker 1"), "{page}");
    assert!(page.contains("offboard"), "{page}");
}

/// Every page relinker(1) refers to exists: `man COMMAND` prints it, and `man --out DIR`
/// writes it beside the rest, so `MANPATH=DIR man relinker-apply` works.
#[test]
fn every_command_has_the_man_page_relinker_1_names() {
    let relinker = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_relinker"))
            .args(args)
            .output()
            .unwrap()
    };
    let apply = relinker(&["man", "apply"]);
    assert_eq!(apply.status.code(), Some(0));
    let page = String::from_utf8_lossy(&apply.stdout);
    assert!(page.contains(".TH relinker-apply 1"), "{page}");
    assert!(page.contains("gate\\-wait"), "{page}");
    let nested = relinker(&["man", "state", "migrate"]);
    assert!(String::from_utf8_lossy(&nested.stdout).contains(".TH relinker-state-migrate 1"));
    let unknown = relinker(&["man", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`nope` is not a relinker command"));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let written = relinker(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0));
    let main = String::from_utf8_lossy(&relinker(&["man"]).stdout).into_owned();
    let mut named = 0;
    for reference in main.split("relinker\\-").skip(1) {
        let command: String = reference
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '\\' || *c == '-')
            .collect::<String>()
            .replace("\\-", "-");
        let page = out.join(format!("relinker-{command}.1"));
        assert!(
            page.is_file(),
            "relinker(1) names relinker-{command}, no {page:?}"
        );
        named += 1;
    }
    assert!(named >= 15, "relinker(1) names only {named} pages");
    assert!(out.join("relinker.1").is_file());
}
