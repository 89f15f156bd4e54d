//! The state store holds records, not authority: a fake PostgreSQL server on loopback that
//! asks for the password in clear text never receives it, a database on another machine is
//! never spoken to in plain text unless the URL says `sslmode=disable`, and a state directory
//! that someone else could change (or a link planted in it) is refused before anything is
//! written through it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{POLICY, RENAME, Relinker, TestSandbox, Workspace};

/// The SSLRequest code, in a startup packet's place.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// A fake PostgreSQL server on 127.0.0.1: says no to TLS, answers the startup message with a
/// request for the password in clear text, and keeps every byte a client sends. Stopped when
/// dropped.
struct FakePostgres {
    port: u16,
    received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePostgres {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(Self::serve(socket, kept.clone()));
            }
        });
        Self {
            port,
            received,
            task,
        }
    }

    async fn serve(mut socket: TcpStream, kept: Arc<Mutex<Vec<u8>>>) {
        let mut packet = Self::packet(&mut socket, &kept).await;
        if packet == SSL_REQUEST {
            if socket.write_all(b"N").await.is_err() {
                return;
            }
            packet = Self::packet(&mut socket, &kept).await;
        }
        if packet.is_empty() {
            return;
        }
        // AuthenticationCleartextPassword.
        if socket
            .write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3])
            .await
            .is_err()
        {
            return;
        }
        let mut rest = [0_u8; 1024];
        while let Ok(Ok(read @ 1..)) =
            tokio::time::timeout(Duration::from_secs(2), socket.read(&mut rest)).await
        {
            kept.lock().unwrap().extend_from_slice(&rest[..read]);
        }
    }

    /// One length-prefixed packet from the client (empty when it closed first), kept.
    async fn packet(socket: &mut TcpStream, kept: &Arc<Mutex<Vec<u8>>>) -> Vec<u8> {
        let mut length = [0_u8; 4];
        if socket.read_exact(&mut length).await.is_err() {
            return Vec::new();
        }
        let mut packet = length.to_vec();
        let body = usize::try_from(u32::from_be_bytes(length))
            .unwrap()
            .saturating_sub(4);
        packet.resize(4 + body.min(1 << 16), 0);
        if socket.read_exact(&mut packet[4..]).await.is_err() {
            return Vec::new();
        }
        kept.lock().unwrap().extend_from_slice(&packet);
        packet
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakePostgres {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn status_on(url: &str) -> crate::harness::Ran {
    Relinker::new(&["status"])
        .env("RELINKER_STATE", url)
        .env("RELINKER_STATE_WAIT", "5s")
        .run()
        .await
}

/// A server on loopback that asks for the password in clear text, whether relinker asked for
/// TLS first (the default there, `prefer`) or not (`sslmode=disable`): the password never
/// arrives, and the refusal says why.
#[tokio::test]
async fn a_server_asking_for_the_password_in_clear_text_never_receives_it() {
    let fake = FakePostgres::start().await;
    let port = fake.port;
    for query in ["", "?sslmode=disable", "?sslmode=prefer"] {
        let url = format!("postgres://ops:hunter2-secret@127.0.0.1:{port}/relinker{query}");
        status_on(&url)
            .await
            .code(1)
            .says(&format!(
                "cannot connect to `postgres://ops@127.0.0.1:{port}/relinker`"
            ))
            .says("the server asked for the password in clear text on a connection without TLS")
            .never_says("hunter2-secret");
        let received = fake.received();
        assert!(
            contains(&received, b"ops\0"),
            "no startup message: {received:?}"
        );
        assert!(
            !contains(&received, b"hunter2-secret"),
            "the password was sent in clear text ({query:?})"
        );
    }
}

/// A host on another machine (a name, whatever `hostaddr` the bytes go to) is spoken to over
/// TLS or not at all: with no `sslmode`, or `prefer`, a server that does not offer TLS gets
/// the request for TLS and nothing more. Only `sslmode=disable` goes on in plain text, and
/// even then the password is not sent in clear.
#[tokio::test]
async fn a_database_on_another_machine_is_never_spoken_to_in_plain_text_unless_the_url_says_so() {
    for query in ["", "&sslmode=prefer"] {
        let fake = FakePostgres::start().await;
        let url = format!(
            "postgres://ops:hunter2-secret@db.example:{}/relinker?hostaddr=127.0.0.1{query}",
            fake.port
        );
        status_on(&url)
            .await
            .code(1)
            .says("the server does not offer TLS, and relinker reaches a database on another machine only over TLS unless the URL says sslmode=disable")
            .never_says("hunter2-secret");
        assert_eq!(fake.received(), SSL_REQUEST, "{query:?}");
    }
    let fake = FakePostgres::start().await;
    let url = format!(
        "postgres://ops:hunter2-secret@db.example:{}/relinker?hostaddr=127.0.0.1&sslmode=disable",
        fake.port
    );
    status_on(&url).await.code(1).says("in clear text");
    let received = fake.received();
    assert!(contains(&received, b"ops\0") && !contains(&received, b"hunter2-secret"));
}

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
