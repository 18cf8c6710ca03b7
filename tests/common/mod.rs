//! Test helpers: an in-process static server on 127.0.0.1 that behaves like
//! the mockweb `serve.py` ({{HOST}} substitution, `_headers.json` rules,
//! strong ETags, 304s) and records every request; plus config helpers.
#![allow(dead_code)]

pub mod pg;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub status: u16,
    pub headers: HeaderMap,
}

#[derive(Clone)]
struct ServerState {
    root: PathBuf,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Seen>>>,
}

pub struct MockServer {
    pub addr: SocketAddr,
    pub root: PathBuf,
    log: Arc<Mutex<Vec<Seen>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Serves `root` (files are re-read on every request, so tests may edit them).
    pub async fn start(root: &Path) -> MockServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            root: root.to_path_buf(),
            addr,
            log: log.clone(),
        };
        let app = axum::Router::new().fallback(serve_file).with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockServer {
            addr,
            root: root.to_path_buf(),
            log,
            _task: task,
        }
    }

    /// `http://127.0.0.1:PORT`, what `{base}` means in the fixtures.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Seen> {
        self.requests()
            .into_iter()
            .filter(|s| s.path == path)
            .collect()
    }

    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((pre, post)) => text.starts_with(pre) && text[pre.len()..].ends_with(post),
    }
}

async fn serve_file(State(st): State<ServerState>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    let (status, resp) = answer(&st, &path, &headers).await;
    st.log.lock().unwrap().push(Seen {
        path,
        status,
        headers,
    });
    resp
}

async fn answer(st: &ServerState, path: &str, req: &HeaderMap) -> (u16, Response) {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let not_found = || {
        (
            404,
            Response::builder()
                .status(404)
                .body(Body::from("404"))
                .unwrap(),
        )
    };
    if segs.is_empty()
        || segs
            .iter()
            .any(|s| s.starts_with('_') || s.starts_with('.'))
    {
        return not_found();
    }
    let mut fs = st.root.join(segs.join("/"));
    let mut rel = segs[1..].join("/");
    if fs.is_dir() {
        fs = fs.join("index.html");
        rel = if rel.is_empty() {
            "index.html".into()
        } else {
            format!("{rel}/index.html")
        };
    }
    // _headers.json rules: patterns first, the exact entry overrides.
    let mut rules: HashMap<String, serde_json::Value> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(st.root.join(segs[0]).join("_headers.json")) {
        if let Ok(serde_json::Value::Object(table)) = serde_json::from_str(&text) {
            let mut exact = None;
            for (k, v) in table {
                let k = k
                    .trim_start_matches(&format!("/{}/", segs[0]))
                    .trim_start_matches('/')
                    .to_string();
                if let serde_json::Value::Object(o) = v {
                    if k == rel {
                        exact = Some(o);
                    } else if k.contains('*') && glob_match(&k, &rel) {
                        rules.extend(o);
                    }
                }
            }
            if let Some(o) = exact {
                rules.extend(o);
            }
        }
    }
    if let Some(ms) = rules.remove("delay_ms").and_then(|v| v.as_u64()) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let status = rules
        .remove("status")
        .and_then(|v| v.as_u64())
        .unwrap_or(200) as u16;
    let host = req
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| st.addr.to_string());
    let extra: Vec<(String, String)> = rules
        .into_iter()
        .map(|(k, v)| {
            let v = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            (k, v.replace("{{HOST}}", &host))
        })
        .collect();
    let Ok(mut body) = std::fs::read(&fs) else {
        if status != 200 {
            let mut b = Response::builder().status(status);
            for (k, v) in &extra {
                b = b.header(k.as_str(), v.as_str());
            }
            return (status, b.body(Body::from(format!("{status}"))).unwrap());
        }
        return not_found();
    };
    let token = b"{{HOST}}";
    if body.windows(token.len()).any(|w| w == token) {
        // Files are GBK or UTF-8; the token is ASCII, so replace on bytes.
        body = replace_bytes(&body, token, host.as_bytes());
    }
    let ext = fs.extension().and_then(|e| e.to_str()).unwrap_or("");
    let content_type = match ext {
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "atom" => "application/atom+xml",
        "json" => "application/json",
        "css" => "text/css",
        "png" => "image/png",
        _ => "application/octet-stream",
    };
    let etag = format!("\"{}\"", hex::encode_prefix(&Sha256::digest(&body)));
    let mut hdrs: Vec<(String, String)> = vec![
        ("Content-Type".into(), content_type.into()),
        ("ETag".into(), etag.clone()),
    ];
    for (k, v) in extra {
        hdrs.retain(|(hk, _)| !hk.eq_ignore_ascii_case(&k));
        hdrs.push((k, v));
    }
    let inm = req.get("if-none-match").and_then(|v| v.to_str().ok());
    let mut b = Response::builder();
    if status == 200
        && inm.is_some_and(|t| {
            t.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag || t.trim() == "*")
        })
    {
        b = b.status(StatusCode::NOT_MODIFIED);
        for (k, v) in &hdrs {
            if !k.eq_ignore_ascii_case("content-type") {
                b = b.header(k.as_str(), v.as_str());
            }
        }
        return (304, b.body(Body::empty()).unwrap());
    }
    b = b.status(status);
    for (k, v) in &hdrs {
        b = b.header(k.as_str(), v.as_str());
    }
    (status, b.body(Body::from(body)).unwrap())
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

mod hex {
    pub fn encode_prefix(bytes: &[u8]) -> String {
        bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Copies `tests/fixtures/<name>` into a fresh temporary folder (so a test
/// may edit what the server serves) and returns the folder.
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&src, dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Writes `config` to `dir/huiliu.toml` and loads it.
pub fn config_in(dir: &Path, config: &str) -> huiliu::config::Config {
    let path = dir.join("huiliu.toml");
    std::fs::write(&path, config).unwrap();
    huiliu::config::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A pipeline over the config's store, as `huiliu poll` builds it.
pub async fn pipeline(cfg: &huiliu::config::Config) -> huiliu::refresh::Pipeline {
    let store = huiliu::store::open(&cfg.storage).await.unwrap();
    let mut p = huiliu::refresh::Pipeline::new(
        huiliu::fetch::Fetcher::new(&cfg.fetch).unwrap(),
        store.clone(),
    );
    p.dedup = huiliu::refresh::start_dedup(store, cfg);
    p
}

/// Starts huiliu's HTTP server for `cfg` on an ephemeral port; returns its base URL.
pub async fn serve(cfg: &huiliu::config::Config, p: &huiliu::refresh::Pipeline) -> String {
    serve_state(cfg, p).await.0
}

/// Like [`serve`], also returning the state (to swap configs, read caches).
pub async fn serve_state(
    cfg: &huiliu::config::Config,
    p: &huiliu::refresh::Pipeline,
) -> (String, huiliu::serve::AppState) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut cfg = cfg.clone();
    cfg.server.base_url = url::Url::parse(&format!("http://{addr}")).unwrap();
    let state = huiliu::serve::AppState::new(Arc::new(cfg), p.store.clone(), p.changes.clone())
        .with_liveness(p.liveness.clone());
    tokio::spawn(huiliu::serve::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    (format!("http://{addr}"), state)
}

/// The README's demo (`config/demo.toml`), polled once into a temporary
/// store: every source must succeed.
pub async fn demo() -> (
    tempfile::TempDir,
    huiliu::config::Config,
    huiliu::refresh::Pipeline,
) {
    let work = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cfg = huiliu::config::load_file(&root.join("config/demo.toml")).unwrap();
    cfg.storage = huiliu::config::StorageConfig::Sqlite(work.path().join("demo.db"));
    let p = pipeline(&cfg).await;
    let reports = huiliu::schedule::poll_once(&p, &cfg.sources, 4).await;
    assert!(reports.iter().all(|r| !r.failed()), "{reports:?}");
    (work, cfg, p)
}
