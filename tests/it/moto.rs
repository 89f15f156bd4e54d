//! A throwaway AWS Secrets Manager for the store tests: moto's server mode (`moto_server`, PyPI
//! `moto[server]`) on a free port of 127.0.0.1, its whole process group killed when the value
//! is dropped (a failing test included).
//!
//! On a machine without `moto_server` the tests that need it say so and pass over it, so
//! `cargo test` works with only the Rust toolchain; under CI (`CI=true`, where `.ci/run`
//! installs it) a missing server is a failure.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The region and the access key the tests sign with (moto checks neither signature nor key,
/// but keeps each region's secrets apart).
pub const REGION: &str = "us-east-1";

/// A moto server of the test's own.
pub struct Moto {
    server: Child,
    port: u16,
}

impl Moto {
    /// Starts a server and waits until it answers; `None` (said on stderr) when `moto_server`
    /// is not installed here and this is not CI.
    pub async fn start() -> Option<Self> {
        let installed = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "moto_server (PyPI moto[server]) is not installed; .ci/run installs it"
            );
            eprintln!("moto_server is not installed: this test is passed over");
            return None;
        }
        // A free port: moto takes a port number, and prints nothing a test could read it from.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start moto_server");
        let moto = Self { server, port };
        let started = Instant::now();
        while reqwest::get(moto.url()).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(moto)
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates secret `name` holding `value`.
    pub async fn create_secret(&self, name: &str, value: &str) {
        let answer = reqwest::Client::new()
            .post(self.url())
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", "secretsmanager.CreateSecret")
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/secretsmanager/aws4_request, SignedHeaders=host, Signature=00"
                ),
            )
            .body(serde_json::json!({ "Name": name, "SecretString": value }).to_string())
            .send()
            .await
            .expect("CreateSecret");
        assert!(
            answer.status().is_success(),
            "CreateSecret: {}",
            answer.status()
        );
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // The whole group: a Python launcher may have started the server as a child.
        if let Some(leader) = i32::try_from(self.server.id())
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(leader, rustix::process::Signal::KILL);
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
