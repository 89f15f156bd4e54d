//! The embedded emulator of Marketo's identity and User Management APIs.
//!
//! It owns everything about the emulated instance: its data and business rules (`World`),
//! the documented limits, fault injection, the request log, and the control API under
//! `/_sandbox/` that stands in for Marketo's UI. It must stay faithful to
//! Marketo's User Management API reference; where the reference is silent, docs/sandbox.md
//! states the choice made here. It never depends on relinker's client: the two meet only over
//! HTTP, so the client's tests exercise the real wire format.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use relinker::sandbox::{Fixture, Sandbox, SandboxConfig, SandboxHandle};
//! let sandbox = Sandbox::new(SandboxConfig::default(), &Fixture::default());
//! let handle = SandboxHandle::start(sandbox, "127.0.0.1:0").await?;
//! println!("listening on {}", handle.base_url());
//! handle.stop().await;
//! # Ok(()) }
//! ```

mod control;
mod error;
mod faults;
mod fixture;
mod identity;
mod limits;
mod model;
mod operator;
mod requests;
mod server;
mod state;
mod users;
mod wire;
mod world;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{FaultAction, FaultRule};
pub use fixture::{Fixture, FixtureError, FixtureService};
pub use operator::{NotASandbox, Operator};
pub use server::serve;
pub use state::{Sandbox, SandboxConfig};

use error::ApiError;

/// Prefix of every User Management path.
const USERS: &str = "/userservice/management/v1/users";

/// The sandbox's routes: the Marketo APIs (faults, log, limits) and the control API.
pub fn app(sandbox: Sandbox) -> Router {
    let users = Router::new()
        .route(&format!("{USERS}/allusers.json"), get(users::all_users))
        .route(&format!("{USERS}/roles.json"), get(users::roles))
        .route(&format!("{USERS}/workspaces.json"), get(users::workspaces))
        .route(&format!("{USERS}/invite.json"), post(users::invite))
        .route(&format!("{USERS}/{{userid}}/user.json"), get(users::user))
        .route(
            &format!("{USERS}/{{userid}}/invite.json"),
            get(users::invitation),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles.json"),
            get(users::user_roles),
        )
        .route(
            &format!("{USERS}/{{userid}}/update.json"),
            post(users::update),
        )
        .route(
            &format!("{USERS}/{{userid}}/delete.json"),
            post(users::delete_user),
        )
        .route(
            &format!("{USERS}/{{userid}}/invite/delete.json"),
            post(users::delete_invitation),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles/create.json"),
            post(users::add_roles),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles/delete.json"),
            post(users::remove_roles),
        )
        .route_layer(from_fn(faults::apply_latency))
        .route_layer(from_fn_with_state(sandbox.clone(), limits::enforce));
    let identity = Router::new()
        .route(
            "/identity/oauth/token",
            get(identity::token_get).post(identity::token_post),
        )
        .route_layer(from_fn(faults::apply_latency));
    let marketo = users
        .merge(identity)
        .method_not_allowed_fallback(method_not_supported)
        .route_layer(from_fn_with_state(sandbox.clone(), faults::observe));
    let control = Router::new()
        .route("/_sandbox/info", get(control::info))
        .route("/_sandbox/state", get(control::state))
        .route("/_sandbox/services/{name}/link", post(control::link))
        .route(
            "/_sandbox/invitations/{userid}/accept",
            post(control::accept),
        )
        .route(
            "/_sandbox/faults",
            get(control::faults)
                .post(control::add_faults)
                .delete(control::clear_faults),
        )
        .route(
            "/_sandbox/requests",
            get(control::requests).delete(control::clear_requests),
        )
        .route("/_sandbox/fixture", post(control::load_fixture))
        .route("/_sandbox/clock", post(control::clock));
    marketo
        .merge(control)
        .fallback(not_found)
        .with_state(sandbox)
}

async fn method_not_supported() -> Response {
    ApiError::method_not_supported().into_response()
}

async fn not_found(_: Request) -> Response {
    ApiError::no_such_resource().into_response()
}

/// A sandbox served in-process on its own task; dropping the handle stops it.
#[derive(Debug)]
pub struct SandboxHandle {
    address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SandboxHandle {
    /// Binds `address` (use port 0 for an ephemeral port) and serves `sandbox` there.
    pub async fn start(sandbox: Sandbox, address: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Ok(Self::serve(listener, sandbox))
    }

    /// Serves `sandbox` on an already bound listener.
    pub fn serve(listener: TcpListener, sandbox: Sandbox) -> Self {
        let address = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, sandbox, async {
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
