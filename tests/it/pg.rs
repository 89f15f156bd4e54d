//! A throwaway PostgreSQL server for the state-store tests: `initdb` into a temporary
//! directory, a free port on 127.0.0.1, stopped when the value is dropped (a failing test
//! included). The server refuses to run as root, so as root it runs as the `postgres` user.
//! [`TestPostgres::start_tls`] starts one with `ssl=on`, its certificate (for `localhost` and
//! `127.0.0.1`) signed by a CA the test makes, and every connection logged.
//!
//! On a machine without PostgreSQL's server binaries the tests that need one say so and pass
//! over it, so `cargo test` works with only the Rust toolchain; under CI (`CI=true`, where
//! `.ci/run` installs them) a missing server is a failure.

use std::fs::File;
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
    /// With TLS on: where its log goes.
    log: Option<PathBuf>,
}

impl TestPostgres {
    /// Starts a server and waits until it takes connections; `None` (said on stderr) when
    /// PostgreSQL is not installed here and this is not CI.
    pub async fn start() -> Option<Self> {
        Self::start_with(false).await
    }

    /// A server with `ssl=on` (plain connections still taken), a certificate for `localhost`
    /// and `127.0.0.1` signed by the CA at [`Self::ca`], and a log of every connection.
    pub async fn start_tls() -> Option<Self> {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> Option<Self> {
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
        let log = tls.then(|| {
            make_certificates(dir.path());
            dir.path().join("server.log")
        });
        let mut pg = Self {
            dir,
            bin,
            port: free_port(),
            server: None,
            log,
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
        let mut command = as_server_user(&self.bin.join("postgres"));
        command
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
            .stderr(Stdio::null());
        if let Some(log) = &self.log {
            let at = |name: &str| self.dir.path().join(name).display().to_string();
            command
                .args(["-c", "ssl=on", "-c", "log_connections=on"])
                .args(["-c", &format!("ssl_cert_file={}", at("server.crt"))])
                .args(["-c", &format!("ssl_key_file={}", at("server.key"))])
                .stderr(File::create(log).expect("create the server's log"));
        }
        let server = command.spawn().expect("start postgres");
        self.server = Some(server);
        self.wait_ready().await;
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA that signed its certificate (PEM), when started with TLS.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// What it logged so far (with TLS on: every connection, and whether it used TLS).
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|log| std::fs::read_to_string(log).ok())
            .unwrap_or_default()
    }

    /// Puts `line` first in `pg_hba.conf` and has the server read it again.
    pub async fn hba_first(&self, line: &str) {
        let hba = self.dir.path().join("data/pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        // Written in place, so the file keeps its owner (the server's user).
        std::fs::write(&hba, format!("{line}\n{rest}")).expect("write pg_hba.conf");
        self.query("SELECT pg_reload_conf()").await;
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

fn give_to_server_user(path: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .arg("postgres:")
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown {}", path.display());
    }
}

/// A CA (`ca.pem`) and the server's certificate and key (`server.crt`, `server.key`, the key
/// private to the server's user, as PostgreSQL demands) in `dir`.
fn make_certificates(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "relinker test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("sign the CA");
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server parameters");
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let key = KeyPair::generate().expect("server key");
    let cert = server
        .signed_by(&key, &ca)
        .expect("sign the server's certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write the CA");
    std::fs::write(dir.join("server.crt"), cert.pem()).expect("write the certificate");
    let key_file = dir.join("server.key");
    std::fs::write(&key_file, key.serialize_pem()).expect("write the key");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))
            .expect("make the key private");
    }
    for name in ["server.crt", "server.key"] {
        give_to_server_user(&dir.join(name));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
