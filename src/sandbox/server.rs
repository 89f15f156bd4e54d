//! Serving the sandbox: an accept loop that can sever a single connection on request.
//!
//! `axum::serve` cannot close one connection without answering, which the `drop` faults need,
//! so this loop drives hyper directly (as axum's own low-level example does) and hands each
//! request a [`ConnectionControl`] for its connection. Shutdown stops accepting and aborts the
//! connections still open, including ones a `hang` fault holds forever.

use std::future::Future;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower::ServiceExt;

use axum::Router;

/// Lets a request's handling close the connection it arrived on.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionControl(Arc<Notify>);

impl ConnectionControl {
    /// Closes the connection without sending anything more.
    pub(crate) fn sever(&self) {
        self.0.notify_one();
    }
}

/// Serves `router` (an emulator's routes) on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "sandbox could not accept a connection");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let control = ConnectionControl::default();
                let severed = control.clone();
                let router = router.clone();
                let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(control.clone());
                    router.clone().oneshot(request)
                });
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        result = connection => {
                            if let Err(error) = result {
                                tracing::debug!(%error, "sandbox connection ended with an error");
                            }
                        }
                        () = severed.0.notified() => {}
                    }
                });
            }
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}
