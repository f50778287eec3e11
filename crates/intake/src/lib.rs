//! The intake API: uploads, typed job submission, job status, end-user event
//! sockets, signed object reads, health and metrics. The only crate that
//! knows HTTP.
#![forbid(unsafe_code)]

pub mod api;
mod auth;
mod console;
mod error;
mod extract;
mod flows;
mod guard;
pub mod history;
mod jobs;
mod live;
mod openapi;
mod outbox;
mod reconcile;
mod route;
mod router;
mod routes;
pub mod search;
mod state;

pub use auth::{ApiKeys, ClientId, Tokens};
pub use error::ApiError;
pub use outbox::relay_once;
pub use reconcile::{Reconciled, reconcile_once};
pub use state::AppState;

use anyhow::Context;

/// The HTTP application.
pub fn router(state: AppState) -> axum::Router {
    router::router(state)
}

/// Serve until `shutdown` resolves, with the outbox relay and the
/// reconciler running beside.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let relay = tokio::spawn(outbox::run(state.clone()));
    let releases = tokio::spawn(outbox::follow_releases(state.clone()));
    let reconciler = tokio::spawn(reconcile::run(state.clone()));
    let sampler = tokio::spawn(history::run(state.clone()));
    let header_timeout = state.config.intake.header_timeout.get();
    let internal = match state.config.intake.metrics_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("binding intake.metrics_listen {address}"))?;
            tracing::info!(%address, "metrics listening");
            let app = router::internal_router(state.clone());
            Some(tokio::spawn(accept(
                listener,
                app,
                header_timeout,
                std::future::pending(),
            )))
        }
        None => None,
    };
    accept(listener, router(state), header_timeout, shutdown).await;
    relay.abort();
    releases.abort();
    reconciler.abort();
    sampler.abort();
    if let Some(internal) = internal {
        internal.abort();
    }
    Ok(())
}

/// How long open connections get to finish their requests at shutdown.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// HTTP/1 on every accepted connection, each with `header_timeout` to send
/// its request line and headers (a client that opens sockets and sends
/// nothing is cut off: axum's own `serve` sets no such timeout), upgrades
/// kept for the WebSocket; at `shutdown` no new connections and the open
/// ones finish their requests (at most [`DRAIN`]).
async fn accept(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, say: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Each request knows the connection's peer (the per-address limits).
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                app.clone(),
                move |mut request: axum::http::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request
                },
            ));
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout);
            let connection = builder
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = stopped.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the drain"
        );
    }
}
