//! The river and status pages in a real browser: `huiliu run` on the demo
//! config, headless Chromium reads the rendered DOM, and screenshots land
//! in `target/` for humans. `.ci/run` installs Chromium; without it the test
//! says so and passes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The demo config, with its database in `dir` and absolute file paths.
fn demo_config(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("config/demo.toml"))
        .unwrap()
        .replace(
            "sqlite:../data/demo.db",
            &format!("sqlite:{}/demo.db", dir.display()),
        )
        .replace("\"demo/", &format!("\"{}/config/demo/", root.display()));
    let path = dir.join("demo.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn browse(chrome: &Path, profile: &Path, url: &str, screenshot: &Path) -> (String, String) {
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let out = Command::new(chrome)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=3000", "--dump-dom", url])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let shot = Command::new(chrome)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--window-size=1200,1800", "--hide-scrollbars"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(shot.status.success(), "screenshot failed");
    (dom, log)
}

/// Console messages, CSP violations and uncaught errors Chromium logged for the page.
fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            l.contains("CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("Refused to")
        })
        .collect()
}

#[test]
fn river_and_status_pages_render_in_chromium() {
    let Some(chrome) = chromium() else {
        eprintln!(
            "SKIPPED river_and_status_pages_render_in_chromium: no chromium on PATH (apt-get install chromium; .ci/run does)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_huiliu"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("HUILIU_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let _running = Running(child);

    // Wait until the first polls have landed (sources start within 3 s).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && Command::new("curl")
                .args(["-sf", &format!("{base}/status.json")])
                .output()
                .map(|o| {
                    serde_json::from_slice::<serde_json::Value>(&o.stdout)
                        .ok()
                        .and_then(|v| v["totals"]["ok"].as_u64())
                        == Some(3)
                })
                .unwrap_or(false);
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "huiliu did not poll the demo in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let profile = dir.path().join("chrome-profile");
    let (dom, log) = browse(
        &chrome,
        &profile,
        &format!("{base}/feeds/wujin.html"),
        &target.join("river.png"),
    );
    assert_eq!(dom.matches("<article").count(), 7, "{dom}");
    assert!(
        dom.contains("凝心聚力推动高质量发展 用心用情建设高品质城区"),
        "Chinese title intact"
    );
    assert!(dom.contains("武进国家高新区：开展多维课堂 上好党员冬训“第一课”"));
    assert!(dom.contains("Spring job fair offers more than 5,000 positions"));
    assert!(dom.contains("丁涛"));
    assert!(!dom.contains("<script"), "no script reached the page");
    assert!(
        console_errors(&log).is_empty(),
        "console: {:?}",
        console_errors(&log)
    );

    let (dom, log) = browse(
        &chrome,
        &profile,
        &format!("{base}/status"),
        &target.join("status.png"),
    );
    assert!(dom.contains("湖塘镇人民政府 · 湖塘要闻"));
    assert!(dom.contains("<svg"));
    assert!(dom.contains("3 sources"));
    assert!(
        console_errors(&log).is_empty(),
        "console: {:?}",
        console_errors(&log)
    );
    assert!(target.join("river.png").is_file() && target.join("status.png").is_file());
}
