//! `render = "browser"`: a page fetched through headless Chromium, for
//! sites that write their list by script or hide it behind a script cookie
//! wall (the `412` + `document.cookie=…; location.reload()` many government
//! sites answer first). Chromium runs as a child process
//! (`--headless --dump-dom`), so no browser crate is needed: the serialized
//! DOM after scripts ran is the body. The caller holds the host's politeness
//! permit; here the time-out and the body cap apply.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use url::Url;

use super::{Body, FetchError, FetchErrorKind, Validators};

/// Where Chromium is looked for (`HUILIU_CHROMIUM` overrides).
const CANDIDATES: &[&str] = &[
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
];

/// What a render needs from the fetch settings.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    pub timeout: Duration,
    pub max_body_bytes: u64,
    pub user_agent: String,
}

/// The Chromium binary: `HUILIU_CHROMIUM`, else the first on `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HUILIU_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let paths = std::env::var_os("PATH")?;
    CANDIDATES.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

fn missing() -> FetchError {
    FetchError::new(
        FetchErrorKind::Other,
        "render = \"browser\" needs headless Chromium, which was not found: install it (Debian/Ubuntu: `apt-get install chromium`), put it on PATH or set HUILIU_CHROMIUM to its path; or remove `render` from the source",
    )
}

/// The DOM of `url` after its scripts ran (cookies set by script and the
/// reload they trigger included), as UTF-8 HTML.
pub async fn render(url: &Url, opts: &RenderOptions) -> Result<Body, FetchError> {
    let Some(exe) = chromium() else {
        return Err(missing());
    };
    let url = url.clone();
    let opts = opts.clone();
    let task_url = url.clone();
    let html = tokio::task::spawn_blocking(move || run(&exe, &task_url, &opts))
        .await
        .map_err(|e| {
            FetchError::new(FetchErrorKind::Other, format!("{url}: browser task: {e}"))
        })??;
    Ok(Body {
        bytes: Bytes::from(html),
        content_type: Some("text/html; charset=utf-8".into()),
        url,
        validators: Validators::default(),
        moved_permanently: None,
    })
}

/// One Chromium run with its own throw-away profile, killed (with every
/// helper process it started) at the time-out or past the body cap.
fn run(exe: &Path, url: &Url, opts: &RenderOptions) -> Result<Vec<u8>, FetchError> {
    let profile = Profile::new()
        .map_err(|e| FetchError::new(FetchErrorKind::Other, format!("browser profile: {e}")))?;
    // Scripts get most of the time; the rest is start-up and the dump.
    let budget_ms = (opts.timeout.as_millis() * 2 / 3).clamp(500, 60_000);
    let mut cmd = Command::new(exe);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--mute-audio",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.0.display()))
    .arg(format!("--user-agent={}", opts.user_agent))
    .arg(format!("--virtual-time-budget={budget_ms}"))
    .arg("--dump-dom")
    .arg(url.as_str())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0); // so the time-out ends the renderer processes too
    }
    let mut child = cmd.spawn().map_err(|e| {
        FetchError::new(
            FetchErrorKind::Other,
            format!("cannot start {}: {e}", exe.display()),
        )
    })?;
    let Some(mut stdout) = child.stdout.take() else {
        kill(&mut child);
        return Err(FetchError::new(FetchErrorKind::Other, "browser: no output"));
    };
    let cap = opts.max_body_bytes;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = (&mut stdout).take(cap + 1).read_to_end(&mut out);
        read.map(|_| out)
    });
    let deadline = Instant::now() + opts.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                kill_group(&child); // helpers holding the output pipe open
                break Some(status);
            }
            Ok(None) if Instant::now() >= deadline || reader.is_finished() => {
                // Output complete (or over the cap) but the browser lingers,
                // or out of time.
                if !reader.is_finished() {
                    kill(&mut child);
                    return Err(FetchError::new(
                        FetchErrorKind::Timeout,
                        format!(
                            "{url}: headless Chromium gave no page within {:?} (fetch.timeout)",
                            opts.timeout
                        ),
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
                if child.try_wait().ok().flatten().is_none() {
                    kill(&mut child);
                }
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => {
                kill(&mut child);
                return Err(FetchError::new(
                    FetchErrorKind::Other,
                    format!("{url}: waiting for Chromium: {e}"),
                ));
            }
        }
    };
    let out = match reader.join() {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return Err(FetchError::new(
                FetchErrorKind::Body,
                format!("{url}: reading Chromium's output: {e}"),
            ));
        }
        Err(_) => {
            return Err(FetchError::new(
                FetchErrorKind::Body,
                format!("{url}: reading Chromium's output failed"),
            ));
        }
    };
    if out.len() as u64 > cap {
        kill(&mut child);
        return Err(FetchError::new(
            FetchErrorKind::TooLarge,
            format!("{url}: the rendered page is over fetch.max_body_size ({cap} bytes)"),
        ));
    }
    if out.iter().all(u8::is_ascii_whitespace) {
        let how = status.map_or("no exit status".to_string(), |s| s.to_string());
        return Err(FetchError::new(
            FetchErrorKind::Other,
            format!("{url}: headless Chromium returned no page ({how}); is the address reachable?"),
        ));
    }
    Ok(out)
}

fn kill(child: &mut std::process::Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

/// The whole process group: Chromium's zygote and renderers too.
fn kill_group(child: &std::process::Child) {
    #[cfg(unix)]
    {
        let pgid = child.id() as libc::pid_t;
        // SAFETY: a plain syscall on the group this process created for the child.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// A fresh Chromium profile directory, removed afterwards (parallel runs
/// must not share one: Chromium locks it).
struct Profile(PathBuf);

impl Profile {
    fn new() -> std::io::Result<Profile> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "huiliu-chromium-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Profile(dir))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_chromium_the_error_says_what_to_install() {
        // SAFETY: tests in this module do not read the variable concurrently.
        unsafe { std::env::set_var("HUILIU_CHROMIUM", "/nonexistent/chromium") };
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let opts = RenderOptions {
            timeout: Duration::from_secs(1),
            max_body_bytes: 1000,
            user_agent: "huiliu".into(),
        };
        let err = render(&url, &opts).await.unwrap_err();
        unsafe { std::env::remove_var("HUILIU_CHROMIUM") };
        assert!(err.message.contains("apt-get install chromium"), "{err}");
    }
}
