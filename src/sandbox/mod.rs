//! Embedded emulators of the platforms relinker works with, one folder each ([`marketo`], [`dotdigital`], [`movius`]),
//! served over real HTTP so relinker's clients are tested on the wire.
//!
//! Each emulator owns its platform's data and rules, and a control API under `/_sandbox/` that
//! stands in for the platform's UI (what a person does there) and lets tests set up and observe
//! it. What every emulator shares lives here: the accept loop ([`serve`]), fault injection and
//! the request log (`/_sandbox/faults`, `/_sandbox/requests`), and the handle that stops a served
//! sandbox. What plays the person through a control API is a client of it, and lives in
//! [`crate::rehearsal`]. Emulators must
//! stay faithful to the references in `../shared/reference/`; where those are silent,
//! docs/sandbox.md states the choice made. No emulator depends on relinker's clients.

pub mod dotdigital;
mod faults;
mod fixture;
pub mod marketo;
pub mod movius;
mod requests;
mod server;
mod traffic;

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultAction, FaultRule};
pub use fixture::{FixtureError, Notation, provider_of, read as fixture_text};
pub use server::serve;

/// An emulated platform that can be served.
pub trait Emulator {
    /// Its routes: the platform's API and the control API.
    fn router(self) -> Router;
}

impl Emulator for Router {
    fn router(self) -> Router {
        self
    }
}

impl Emulator for marketo::Sandbox {
    fn router(self) -> Router {
        marketo::app(self)
    }
}

/// The credential of a request's `Authorization: Basic` header (RFC 7617: Base64 of
/// `username:password`, the username ending at the first colon).
pub(crate) fn basic_auth(headers: &axum::http::HeaderMap) -> Option<(String, String)> {
    use base64ct::{Base64, Encoding as _};
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(Base64::decode_vec(encoded.trim()).ok()?).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
}

pub(crate) use crate::sync::lock;

/// A sandbox served in-process on its own task; dropping the handle stops it.
#[derive(Debug)]
pub struct SandboxHandle {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SandboxHandle {
    /// Binds `address` (use port 0 for an ephemeral port) and serves `sandbox` there.
    pub async fn start(sandbox: impl Emulator, address: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Ok(Self::serve(listener, sandbox))
    }

    /// Serves `sandbox` on an already bound listener.
    pub fn serve(listener: TcpListener, sandbox: impl Emulator) -> Self {
        let address = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, sandbox.router(), async {
            // A dropped sender also means stop.
            let _ = stopped.await;
        }));
        Self {
            address,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Stops serving and waits until every connection is closed.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn read(header: &str) -> Option<(String, String)> {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::AUTHORIZATION, header.parse().unwrap());
        basic_auth(&headers)
    }

    #[test]
    fn basic_auth_is_read_as_rfc_7617_says() {
        // `apiuser@x.io:pa:ss` in Base64: the username ends at the first colon.
        let both = Some(("apiuser@x.io".to_owned(), "pa:ss".to_owned()));
        assert_eq!(read("Basic YXBpdXNlckB4LmlvOnBhOnNz"), both);
        assert_eq!(read("basic YXBpdXNlckB4LmlvOnBhOnNz"), both);
        assert_eq!(read("Bearer YXBpdXNlckB4LmlvOnBhOnNz"), None);
        assert_eq!(read("Basic not-base64!"), None);
        // `no-colon`.
        assert_eq!(read("Basic bm8tY29sb24="), None);
        assert_eq!(basic_auth(&axum::http::HeaderMap::new()), None);
    }
}
