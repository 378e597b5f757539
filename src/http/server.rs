//! Serves the router over HTTP/1 and HTTP/2 with hyper directly rather than through
//! `axum::serve`, for one setting `axum::serve` does not expose: a deadline on reading a
//! request's headers (`PASSAGE_HEADER_TIMEOUT_SECS`). Without it a client that sends its
//! headers a byte at a time (slowloris) holds its connection for as long as it likes, and
//! enough such clients use up the server's sockets; the request timeout only starts once
//! the headers are in. hyper runs the same deadline while a kept-alive connection waits for
//! its next request, so it is also the idle timeout: longer than clients keep idle
//! connections (reqwest: 90 s, browsers: minutes) would be better, shorter bounds slowloris
//! better; 60 s is what nginx uses for headers.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;

/// How long to wait before accepting again after `accept` failed (out of file
/// descriptors, usually): at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting and waits
/// for the requests in flight. Handlers see the peer's address as `ConnectInfo`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "could not accept a connection; trying again");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = make_service
            .call(peer)
            .await
            .unwrap_or_else(|never| match never {});
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that hangs up or is cut off ends here; there is no one to tell.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}
