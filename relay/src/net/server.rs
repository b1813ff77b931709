//! The accept loop. `axum::serve` builds its connections without a timer, so hyper's
//! header-read timeout never fires and a peer that sends half a request line holds its socket
//! forever; this loop serves each connection with hyper's HTTP/1 builder, a timer, a header-read
//! timeout (which also bounds a keep-alive connection waiting for its next request), the idle
//! guard, and a cap on concurrent connections. With TLS the handshake runs in the connection's
//! own task, under the same deadline as a request's headers and inside the idle guard, so a
//! silent or slow peer holds its place no longer over HTTPS than over HTTP.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_service::Service;

use super::guard::Guarded;
use super::peer::PeerAddr;
use crate::tls::Tls;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Concurrent TCP connections (WebSockets included); beyond it the relay stops accepting
    /// until one closes, and the kernel's backlog holds the rest.
    pub max_connections: usize,
    /// Longest a request's headers (or a keep-alive connection's next request) may take; also
    /// the longest a TLS handshake may take.
    pub header_read_timeout: Duration,
    /// Longest a connection may move no byte in either direction.
    pub idle_timeout: Duration,
}

/// The most a connection buffers of what it reads.
const MAX_BUF_BYTES: usize = 64 * 1024;
/// Each socket's kernel send buffer (Linux doubles it for bookkeeping).
const SEND_BUFFER_BYTES: usize = 128 * 1024;
/// How long to wait after `accept` fails (out of descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` (over HTTPS when `tls` is given) until `shutdown` is
/// cancelled; then stops accepting, lets each connection finish the request it is in, and
/// returns once they have all ended (upgraded sockets are closed by their own tasks on the
/// same token), or `grace` has passed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<Tls>,
    shutdown: CancellationToken,
    grace: Duration,
) -> io::Result<()> {
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // hyper's read buffer grows to 400 KiB by default; a thousand uploads would hold that
        // each. Headers are also capped by it, and Twitch's are well under 1 KiB.
        .max_buf_size(MAX_BUF_BYTES)
        .keep_alive(true);
    loop {
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            p = places.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before accept: not fatal.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let io = Guarded::new(tcp_ready(tcp), permit, limits.idle_timeout);
        let conn = Conn {
            http: http.clone(),
            service: PeerService::new(router.clone(), peer),
            shutdown: shutdown.clone(),
        };
        match tls.clone() {
            None => connections.spawn(conn.serve(TokioIo::new(io))),
            Some(tls) => connections.spawn(conn.handshake(tls, io, limits.header_read_timeout)),
        };
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish in time");
    }
    Ok(())
}

/// One accepted connection's HTTP side.
struct Conn {
    http: hyper::server::conn::http1::Builder,
    service: PeerService,
    shutdown: CancellationToken,
}

impl Conn {
    /// The TLS handshake, bounded by `deadline` and shutdown, then HTTP over it.
    async fn handshake(self, tls: Tls, io: Guarded, deadline: Duration) {
        let peer = self.service.peer;
        let accepted = tokio::select! {
            () = self.shutdown.cancelled() => return,
            r = tokio::time::timeout(deadline, tls.accept(io)) => r,
        };
        match accepted {
            Ok(Ok(Some(stream))) => self.serve(TokioIo::new(stream)).await,
            Ok(Ok(None)) => tracing::debug!(%peer, "answered an ACME TLS-ALPN-01 validation"),
            // Scanners, plain HTTP on the TLS port, unknown names: normal on the internet.
            Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        }
    }

    /// HTTP/1.1 with upgrades until the peer is done, or the request in flight at shutdown is.
    async fn serve<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let peer = self.service.peer;
        let conn = self.http.serve_connection(io, self.service).with_upgrades();
        tokio::pin!(conn);
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = self.shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            // Timeouts, resets and garbage from the internet: normal, and not ours to fix.
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    }
}

fn tcp_ready(tcp: TcpStream) -> TcpStream {
    // Small frames and answers: send them now rather than waiting to coalesce.
    let _ = tcp.set_nodelay(true);
    // Autotuning lets each socket's send buffer grow to megabytes: kernel memory per slow
    // client, and a ping queued behind all of it. A fixed buffer keeps both small.
    let _ = rustix::net::sockopt::set_socket_send_buffer_size(&tcp, SEND_BUFFER_BYTES);
    tcp
}

/// The router, with the connection's peer address put into each request.
#[derive(Debug, Clone)]
struct PeerService {
    router: Router,
    peer: SocketAddr,
}

impl PeerService {
    fn new(router: Router, peer: SocketAddr) -> Self {
        Self { router, peer }
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = axum::routing::future::RouteFuture<std::convert::Infallible>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(PeerAddr(self.peer));
        let req: Request = req.map(axum::body::Body::new);
        // A Router is always ready; calling a clone keeps `call(&self)`.
        self.router.clone().call(req)
    }
}
