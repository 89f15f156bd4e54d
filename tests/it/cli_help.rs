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
