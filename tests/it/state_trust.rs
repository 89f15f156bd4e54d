//! The state store holds records, not authority: a state directory that someone else could
//! change, or a link planted in it, is refused before anything is written through it.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace};

/// `locks/user-<hash>.lock`, as relinker names a user's lock.
fn user_lock(user: &str) -> String {
    let hash = Sha256::digest(user.to_lowercase().as_bytes());
    let first = u64::from_be_bytes(hash[..8].try_into().unwrap());
    format!("user-{first:016x}.lock")
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A link planted where a user's lock goes: the command refuses (exit 2, naming it), and the
/// file the link names is left as it was (taking a lock writes the holder into the file).
#[tokio::test]
async fn a_link_planted_as_a_lock_file_is_refused_and_its_target_left_alone() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let victim = work.path().join("victim.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    let locks = work.path().join("state/locks");
    std::fs::create_dir_all(&locks).unwrap();
    set_mode(&work.path().join("state"), 0o700);
    set_mode(&locks, 0o700);
    let planted = locks.join(user_lock("jane.doe@acme.example"));
    std::os::unix::fs::symlink(&victim, &planted).unwrap();

    work.apply(&["--run-id", "r1"])
        .run()
        .await
        .code(2)
        .says(&format!(
            "unsafe state directory: `{}`",
            Path::new("state/locks")
                .join(user_lock("jane.doe@acme.example"))
                .display()
        ))
        .says("is a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(
        work.run_dirs().is_empty(),
        "a run started: {:?}",
        work.run_dirs()
    );
}

/// A state directory, or a directory in it, that someone other than its owner can write (or
/// that another user owns) is refused by every command, exit 2, saying which and why.
#[tokio::test]
async fn a_state_directory_others_can_change_is_refused() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&["--run-id", "r1"]).run().await.code(0);
    let state = work.path().join("state");

    set_mode(&state, 0o777);
    let ran = work.relinker(&["status"]).run().await;
    ran.code(2)
        .says("unsafe state directory: `state` is writable by every user (mode 0777)")
        .says("chmod go-w state");
    // Nothing is started in it either (a rotation with something to do, on another instance).
    let other = TestSandbox::start().await;
    Workspace::new(&other, RENAME, POLICY)
        .apply(&["--run-id", "r2"])
        .env("RELINKER_STATE_DIR", &state)
        .run()
        .await
        .code(2)
        .says("is writable by every user");
    set_mode(&state, 0o700);
    work.relinker(&["status"]).run().await.code(0);

    let run = state.join("runs/r1");
    set_mode(&run, 0o770);
    work.relinker(&["status", "r1"])
        .run()
        .await
        .code(2)
        .says(&format!(
            "unsafe state directory: `{}` is writable by its group (mode 0770)",
            Path::new("state/runs/r1").display()
        ));
    set_mode(&run, 0o700);

    // Another user's directory (only root can give one away).
    if is_root() {
        let locks = state.join("locks");
        std::os::unix::fs::chown(&locks, Some(65534), None).unwrap();
        work.relinker(&["status"])
            .run()
            .await
            .code(2)
            .says("`state/locks` is owned by another user (uid 65534");
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
