//! Serves the router over HTTP/1 and HTTP/2 with hyper directly rather than through
//! `axum::serve`, for one setting `axum::serve` does not expose: a deadline on reading a
//! request's headers (`PASSAGE_HEADER_TIMEOUT_SECS`). Without it a client that sends its
//! headers a byte at a time (slowloris) holds its connection for as long as it likes, and
//! enough such clients use up the server's sockets; the request timeout only starts once
//! the headers are in. hyper runs the same deadline while a kept-alive connection waits for
//! its next request, so it is also the idle timeout: longer than clients keep idle
//! connections (reqwest: 90 s, browsers: minutes) would be better, shorter bounds slowloris
//! better; 60 s is what nginx uses for headers.
//!
//! Each connection's socket is also closed the way nginx's `lingering_close` closes it:
//! when the server answers before it has read the whole request (413 for a body over the
//! limit, announced or not) and closes, the kernel would reset a socket that still has the
//! client's unread bytes in it, and a client that is still sending sees the reset instead of
//! the answer. So the socket first says it is done writing, then reads and throws away what
//! the client still sends for at most [`LINGER`], then closes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

/// How long to wait before accepting again after `accept` failed (out of file
/// descriptors, usually): at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a closed connection keeps reading (and dropping) what its client still sends,
/// so that the client reads the answer instead of a reset; nginx's `lingering_timeout`.
/// Bounded in time, not bytes: what is read is thrown away at once, and a client that sends
/// for longer is reset as before.
pub const LINGER: Duration = Duration::from_secs(5);

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
            .serve_connection_with_upgrades(
                TokioIo::new(Lingering(Some(stream))),
                TowerToHyperService::new(service),
            )
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

/// A connection's socket that lingers when hyper lets go of it (see the module's comment).
struct Lingering(Option<TcpStream>);

impl Lingering {
    fn stream(&mut self) -> Pin<&mut TcpStream> {
        // The stream is taken only in `drop`, after which nothing polls it.
        Pin::new(
            self.0
                .as_mut()
                .expect("a lingering socket is polled only until dropped"),
        )
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().stream().poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.as_ref().is_some_and(|s| s.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().stream().poll_shutdown(cx)
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(stream) = self.0.take() else {
            return;
        };
        // Outside a runtime (the process is ending) the socket simply closes.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream));
        }
    }
}

/// Finishes the answer (FIN after what was written), then drains the client's bytes until
/// it closes its side or [`LINGER`] is over.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 8192];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
