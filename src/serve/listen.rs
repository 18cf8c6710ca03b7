//! Connections: one acceptor hands each connection to a serving thread that
//! owns it for its life (a single-threaded runtime per core, as nginx has a
//! worker process per core). Cached feed pages are answered right there;
//! anything that needs the store or builds a page runs on the main runtime,
//! so a slow page never holds up a serving thread's other connections.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::{AppState, feeds, router};

/// A connection on its way to a serving thread.
type Handoff = (std::net::TcpStream, Watcher);

/// Serves until `shutdown` resolves, then lets the requests in flight finish
/// (keep-alive connections close after their current response).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let dispatch = Dispatch {
        router: router(state.clone()),
        state,
        main: Handle::current(),
    };
    let mut http = http1::Builder::new();
    // A client may not hold a connection open without sending a request.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads {
        workers.push(start_worker(i, dispatch.clone(), http.clone())?);
    }
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut next = 0;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, don't spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand a connection over");
                continue;
            }
        };
        next = (next + 1) % workers.len();
        if workers[next].send((stream, graceful.watcher())).is_err() {
            tracing::error!("a serving thread has stopped; connection dropped");
        }
    }
    drop(listener);
    graceful.shutdown().await;
    // Closing the channels ends the serving threads.
    drop(workers);
    Ok(())
}

/// Starts serving thread `i`: it serves every connection it is handed until
/// the sender is dropped.
fn start_worker(
    i: usize,
    dispatch: Dispatch,
    http: http1::Builder,
) -> std::io::Result<mpsc::UnboundedSender<Handoff>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Handoff>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(format!("huiliu-http-{i}"))
        .spawn(move || {
            runtime.block_on(async move {
                while let Some((stream, watcher)) = rx.recv().await {
                    let stream = match tokio::net::TcpStream::from_std(stream) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot take over a connection");
                            continue;
                        }
                    };
                    let conn = watcher
                        .watch(http.serve_connection(TokioIo::new(stream), dispatch.clone()));
                    tokio::spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
            });
        })?;
    Ok(tx)
}

/// The service of every connection.
#[derive(Clone)]
struct Dispatch {
    state: AppState,
    router: Router,
    /// The main runtime, where the store is used and pages are built.
    main: Handle,
}

impl hyper::service::Service<Request<Incoming>> for Dispatch {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let is_feed = matches!(*request.method(), Method::GET | Method::HEAD)
            && request.uri().path().starts_with("/feeds/");
        if is_feed {
            if let Some(r) = feeds::from_cache(&self.state, request.uri(), request.headers()) {
                return Answer::Ready(Some(r));
            }
            let state = self.state.clone();
            let (parts, _) = request.into_parts();
            Answer::Spawned(
                self.main
                    .spawn(async move { feeds::feed(&state, &parts.uri, &parts.headers).await }),
            )
        } else {
            let mut router = self.router.clone();
            let request = request.map(Body::new);
            Answer::Spawned(self.main.spawn(async move {
                match tower_service::Service::call(&mut router, request).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                }
            }))
        }
    }
}

/// A response now (cache hit) or from a task on the main runtime.
enum Answer {
    Ready(Option<Response>),
    Spawned(tokio::task::JoinHandle<Response>),
}

impl Future for Answer {
    type Output = Result<Response, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Answer::Ready(r) => Poll::Ready(Ok(r.take().unwrap_or_else(failed))),
            Answer::Spawned(task) => Pin::new(task).poll(cx).map(|r| {
                Ok(r.unwrap_or_else(|e| {
                    tracing::error!(error = %e, "a request handler failed");
                    failed()
                }))
            }),
        }
    }
}

fn failed() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "internal error: see the server's log\n",
    )
        .into_response()
}
