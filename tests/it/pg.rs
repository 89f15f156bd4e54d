//! A throwaway PostgreSQL server for the state-store tests: `initdb` into a temporary
//! directory, a free port on 127.0.0.1, stopped when the value is dropped (a failing test
//! included). The server refuses to run as root, so as root it runs as the `postgres` user.
//!
//! On a machine without PostgreSQL's server binaries the tests that need one say so and pass
//! over it, so `cargo test` works with only the Rust toolchain; under CI (`CI=true`, where
//! `.ci/run` installs them) a missing server is a failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A PostgreSQL server of the test's own.
pub struct TestPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    server: Option<Child>,
}

impl TestPostgres {
    /// Starts a server and waits until it takes connections; `None` (said on stderr) when
    /// PostgreSQL is not installed here and this is not CI.
    pub async fn start() -> Option<Self> {
        let Some(bin) = bindir() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL's server binaries (initdb, postgres) are not installed; .ci/run installs them"
            );
            eprintln!("PostgreSQL's server binaries are not installed: this test is passed over");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        give_to_server_user(dir.path());
        let data = dir.path().join("data");
        let initdb = as_server_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        let mut pg = Self {
            dir,
            bin,
            port: free_port(),
            server: None,
        };
        pg.restart().await;
        Some(pg)
    }

    /// Stops the server at once (every connection with it), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGQUIT: an immediate shutdown, every backend with it.
            let _ = Command::new("kill")
                .args(["-QUIT", &server.id().to_string()])
                .status();
            let _ = server.wait();
        }
    }

    /// Starts the server (again) on its data and port, and waits until it takes connections.
    pub async fn restart(&mut self) {
        let server = as_server_user(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-k")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.server = Some(server);
        self.wait_ready().await;
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs SQL on it (for tests that look into the tables or tamper with them).
    pub async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test server");
        let driver = tokio::spawn(connection);
        let rows = client.query(sql, &[]).await.expect("query");
        drop(client);
        let _ = driver.await;
        rows
    }

    /// Every plan, journal record and attestation in relinker's tables, as text (for the
    /// check that no secret is stored).
    pub async fn dump(&self) -> String {
        let rows = self
            .query(
                "SELECT convert_from(plan, 'UTF8') || plan_sha256 FROM relinker.runs
                 UNION ALL SELECT record FROM relinker.journal
                 UNION ALL SELECT record FROM relinker.attestations
                 UNION ALL SELECT holder FROM relinker.lock_holders",
            )
            .await;
        rows.iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((client, connection)) =
                tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await
            {
                drop(client);
                let _ = connection.await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the test PostgreSQL server in {} did not start",
                self.dir.path().display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the server binaries are: `pg_config --bindir`, else Debian's versioned folder.
fn bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() {
            return Some(dir);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The command, run as the `postgres` user when the tests run as root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn give_to_server_user(dir: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .arg("postgres:")
            .arg(dir)
            .status()
            .expect("chown");
        assert!(status.success(), "chown the test server's directory");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
