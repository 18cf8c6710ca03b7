//! `huiliu run` as a service: signals sent to the real binary (reload on
//! SIGHUP, graceful shutdown on SIGTERM, a second signal exits at once), the
//! maintenance commands (prune, export/import, backup, completions), the
//! systemd unit and the config reference.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_huiliu");

fn rss(title: &str, items: &[(&str, &str)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>{title}</title><link>https://example.org/</link><description>d</description>"
    );
    for (i, (guid, t)) in items.iter().enumerate() {
        out.push_str(&format!(
            "<item><guid>{guid}</guid><title>{t}</title><link>https://example.org/{guid}</link><pubDate>Mon, {:02} Jan 2024 08:00:00 +0000</pubDate><description>{t} body</description></item>",
            i + 1
        ));
    }
    out.push_str("</channel></rss>");
    out
}

/// A running `huiliu run` with its JSON log lines arriving on a channel.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
    addr: String,
}

impl Daemon {
    fn start(config: &Path) -> Daemon {
        Daemon::start_with(config, &[])
    }

    fn start_with(config: &Path, env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(BIN)
            .args(["--log-format", "json", "run", "--config"])
            .arg(config)
            .env("HUILIU_LOG", "info")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start huiliu run");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "message": line, "raw": true }));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut d = Daemon {
            child,
            lines: rx,
            seen: Vec::new(),
            addr: String::new(),
        };
        let ready = d.wait_for(|v| v["message"] == "huiliu is serving");
        d.addr = ready["address"].as_str().unwrap().to_string();
        d
    }

    /// Waits (at most 20 s) for a log line matching `pred`; earlier lines are kept.
    fn wait_for(&mut self, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "log line not found; seen:\n{}",
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    fn polled(&mut self, source: &str) -> serde_json::Value {
        let source = source.to_string();
        self.wait_for(move |v| v["message"] == "polled" && v["source"] == source.as_str())
    }

    fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        assert_eq!(rc, 0);
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out[9..12].parse().unwrap();
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_string())
    }

    /// Waits (at most `within`) for the process to exit; its status code.
    fn exit_within(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn config(dir: &Path, sources: &[&str], feed_title: &str, extra: &str) -> PathBuf {
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"20s\"\n\n[storage]\nurl = \"sqlite:data/h.db\"\n{extra}\n"
    );
    for id in sources {
        text.push_str(&format!(
            "[[source]]\nid = \"{id}\"\nkind = \"file\"\nurl = \"{id}.xml\"\ninterval = \"1h\"\n\n"
        ));
    }
    let list = sources
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    text.push_str(&format!(
        "[[feed]]\nid = \"all\"\ntitle = \"{feed_title}\"\nsources = [{list}]\n"
    ));
    let path = dir.join("huiliu.toml");
    write(&path, &text);
    path
}

#[test]
fn sighup_reloads_sources_and_outputs_and_refuses_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.xml"), &rss("A", &[("a1", "Alpha one")]));
    write(&dir.path().join("b.xml"), &rss("B", &[("b1", "Beta one")]));
    let cfg = config(dir.path(), &["a"], "First title", "");
    let mut d = Daemon::start(&cfg);
    d.polled("a");
    let pid_file = dir.path().join("data/h.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        d.child.id().to_string()
    );
    let (status, body) = d.get("/feeds/all.json");
    assert_eq!(status, 200);
    assert!(body.contains("First title") && body.contains("Alpha one"));

    // Add source b, retitle the output: served at once, b polled.
    let good = config(dir.path(), &["a", "b"], "Second title", "");
    std::fs::copy(&good, dir.path().join("huiliu.toml.good")).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_for(|v| v["message"] == "configuration reloaded");
    d.wait_for(|v| v["message"] == "source added: polling it" && v["source"] == "b");
    d.polled("b");
    let (_, body) = d.get("/feeds/all.json");
    assert!(body.contains("Second title"), "{body}");
    assert!(body.contains("Beta one"), "{body}");

    // An invalid config: refused with its errors, the old one keeps running.
    write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[[source]]\nid = \"a\"\nkind = \"file\"\nurl = \"a.xml\"\ninterval = \"0s\"\n",
    );
    d.signal(libc::SIGHUP);
    let err = d.wait_for(|v| {
        v["message"] == "reload refused: invalid configuration"
            && v["error"].as_str().is_some_and(|e| e.contains("interval"))
    });
    assert!(
        err["error"].as_str().unwrap().contains("huiliu.toml:"),
        "{err}"
    );
    let (status, body) = d.get("/feeds/all.json");
    assert_eq!(status, 200);
    assert!(body.contains("Second title") && body.contains("Beta one"));

    // Point b at another file: polled again at once, from there.
    write(&dir.path().join("b2.xml"), &rss("B", &[("b2", "Beta two")]));
    let text = std::fs::read_to_string(dir.path().join("huiliu.toml.good")).unwrap();
    write(&cfg, &text.replace("url = \"b.xml\"", "url = \"b2.xml\""));
    d.signal(libc::SIGHUP);
    d.wait_for(|v| v["message"] == "source changed its url: polling it now" && v["source"] == "b");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = d.get("/feeds/all.json");
        if body.contains("Beta two") {
            break;
        }
        assert!(Instant::now() < deadline, "b2.xml never polled: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }

    // `huiliu reload` checks the config first: nothing is sent.
    write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[[source]]\nid = \"a\"\nkind = \"file\"\nurl = \"a.xml\"\ninterval = \"0s\"\n",
    );
    let out = Command::new(BIN)
        .args(["reload", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Remove a (through `huiliu reload` and the pid file).
    config(dir.path(), &["b"], "Third title", "");
    let out = Command::new(BIN)
        .args(["reload", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    d.wait_for(|v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("source removed from the config"))
            && v["source"] == "a"
    });
    let (_, body) = d.get("/feeds/all.json");
    assert!(body.contains("Third title") && !body.contains("Alpha one"));

    d.signal(libc::SIGTERM);
    assert_eq!(d.exit_within(Duration::from_secs(10)), Some(0));
    d.wait_for(|v| v["message"] == "database closed");
    assert!(!pid_file.exists(), "the pid file is removed at exit");
}

#[test]
fn systemd_notifications_ready_watchdog_reloading_stopping() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("a.xml"), &rss("A", &[("a1", "Alpha one")]));
    let cfg = config(dir.path(), &["a"], "T", "");
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut d = Daemon::start_with(
        &cfg,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut got = String::new();
    let recv_until = |got: &mut String, want: &str| {
        let mut buf = [0u8; 4096];
        while !got.contains(want) {
            let n = sock.recv(&mut buf).expect(want);
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            got.push('\n');
        }
    };
    recv_until(&mut got, "READY=1");
    assert!(
        got.contains("STATUS=serving 1 feeds from 1 sources"),
        "{got}"
    );
    recv_until(&mut got, "WATCHDOG=1");
    d.signal(libc::SIGHUP);
    recv_until(&mut got, "RELOADING=1");
    d.signal(libc::SIGTERM);
    recv_until(&mut got, "STOPPING=1");
    assert_eq!(d.exit_within(Duration::from_secs(10)), Some(0));
}

/// A server that accepts connections and never answers; `accepted` gets a
/// message per connection.
fn black_hole() -> (String, mpsc::Receiver<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
            let _ = tx.send(());
        }
    });
    (addr, rx)
}

fn hanging_config(dir: &Path, grace: &str) -> (PathBuf, mpsc::Receiver<()>) {
    let (addr, accepted) = black_hole();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"{grace}\"\n[storage]\nurl = \"sqlite:data/h.db\"\n[fetch]\ntimeout = \"120s\"\n\n[[source]]\nid = \"slow\"\nurl = \"http://{addr}/feed.xml\"\n"
    );
    let path = dir.join("huiliu.toml");
    write(&path, &text);
    (path, accepted)
}

#[test]
fn sigterm_waits_for_polls_in_flight_and_a_second_signal_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, accepted) = hanging_config(dir.path(), "60s");
    let mut d = Daemon::start(&cfg);
    accepted.recv_timeout(Duration::from_secs(20)).unwrap();
    d.signal(libc::SIGTERM);
    d.wait_for(|v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("shutting down"))
    });
    // The poll is still in flight: the process waits for it.
    assert_eq!(d.exit_within(Duration::from_millis(800)), None);
    // Requests are no longer taken? The listener closes at shutdown; the
    // process is alive, waiting.
    d.signal(libc::SIGINT);
    assert_eq!(d.exit_within(Duration::from_secs(5)), Some(1));
    d.wait_for(|v| v["message"] == "second signal: exiting now");
}

#[test]
fn the_grace_period_bounds_the_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, accepted) = hanging_config(dir.path(), "1s");
    let mut d = Daemon::start(&cfg);
    accepted.recv_timeout(Duration::from_secs(20)).unwrap();
    let t = Instant::now();
    d.signal(libc::SIGTERM);
    assert_eq!(d.exit_within(Duration::from_secs(8)), Some(1));
    assert!(t.elapsed() >= Duration::from_millis(900));
    d.wait_for(|v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("the grace period is over"))
    });
    d.wait_for(|v| v["message"] == "database closed");
}

fn huiliu(args: &[&str], cfg: &Path) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).arg("--config").arg(cfg);
    cmd.output().unwrap()
}

#[test]
fn prune_dry_run_then_prune_keeps_the_first_page() {
    let dir = tempfile::tempdir().unwrap();
    let items: Vec<(String, String)> = (0..12)
        .map(|i| (format!("g{i}"), format!("Item {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = items
        .iter()
        .map(|(g, t)| (g.as_str(), t.as_str()))
        .collect();
    write(&dir.path().join("a.xml"), &rss("A", &refs));
    // The source keeps its newest 3; the output shows 5 per page.
    let cfg = dir.path().join("huiliu.toml");
    write(
        &cfg,
        "[storage]\nurl = \"sqlite:data/h.db\"\n[[source]]\nid = \"a\"\nkind = \"file\"\nurl = \"a.xml\"\nretention_count = 3\n[[feed]]\nid = \"all\"\nlimit = 5\n",
    );
    let out = huiliu(&["poll"], &cfg);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("new  12"),
        "plain lines when piped: {stdout}"
    );

    let out = huiliu(&["prune", "--dry-run", "--verbose"], &cfg);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(report.contains("would remove 7 entries"), "{report}");
    assert!(report.contains("kept for outputs     2"), "{report}");
    assert!(report.contains("Item 0") && !report.contains("Item 11"));
    // A dry run removes nothing.
    let out = huiliu(&["prune", "--dry-run"], &cfg);
    assert!(String::from_utf8_lossy(&out.stdout).contains("would remove 7"));

    let out = huiliu(&["prune"], &cfg);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed 7 entries"));
    // The feed still lists them and one more: only the new one is added.
    let mut refs = refs.clone();
    refs.push(("g12", "Item 12"));
    write(&dir.path().join("a.xml"), &rss("A", &refs));
    let out = huiliu(&["poll"], &cfg);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("new   1"), "{stdout}");
    let out = huiliu(&["export"], &cfg);
    let lines = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(lines, 6);
}

#[test]
fn export_import_round_trip_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.xml"),
        &rss("A", &[("a1", "Alpha one"), ("a2", "Alpha two")]),
    );
    let cfg = config(dir.path(), &["a"], "T", "");
    assert_eq!(huiliu(&["poll"], &cfg).status.code(), Some(0));
    let out = huiliu(&["export", "--format", "jsonl"], &cfg);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"]["id"], "a");
    assert_eq!(first["source"]["kind"], "file");
    assert!(first["cluster"].is_null());
    assert!(
        first["entry"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Alpha")
    );
    assert!(first["first_seen"].is_string());
    let dump = dir.path().join("dump.jsonl");
    write(&dump, &text);

    // Into a fresh database, twice: the second adds nothing.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::copy(dir.path().join("a.xml"), other.join("a.xml")).unwrap();
    let cfg2 = config(&other, &["a"], "T", "");
    let out = huiliu(&["import", dump.to_str().unwrap()], &cfg2);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 added, 0 already stored"),
        "{out:?}"
    );
    let out = huiliu(&["import", dump.to_str().unwrap()], &cfg2);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 added, 2 already stored"));
    let again = huiliu(&["export"], &cfg2);
    let entries = |t: &str| -> Vec<serde_json::Value> {
        t.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["source"]["url"] = serde_json::Value::Null;
                v
            })
            .collect()
    };
    assert_eq!(
        entries(&String::from_utf8(again.stdout).unwrap()),
        entries(&text)
    );

    let copy = dir.path().join("backup.db");
    let out = huiliu(&["backup", copy.to_str().unwrap()], &cfg);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let out = huiliu(&["backup", copy.to_str().unwrap()], &cfg);
    assert_eq!(out.status.code(), Some(2), "never overwrites");
}

#[test]
fn help_version_and_completions() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Examples:") && help.contains("Exit status"));
    for sub in [
        "run",
        "poll",
        "check",
        "reload",
        "prune",
        "export",
        "import",
        "backup",
        "import-opml",
        "export-opml",
        "scrape",
        "sources",
        "completions",
    ] {
        let out = Command::new(BIN).args([sub, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(
            help.contains("Examples:"),
            "`huiliu {sub} --help` shows examples"
        );
        assert!(help.contains("--log-format"), "{sub}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("huiliu "));
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("_huiliu"));
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn the_systemd_unit_is_hardened_and_verifies() {
    let unit = std::fs::read_to_string(repo("contrib/huiliu.service")).unwrap();
    let has = |key: &str| unit.lines().any(|l| l.trim_start().starts_with(key));
    for key in [
        "Type=notify",
        "ExecStart=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "WatchdogSec=",
        "DynamicUser=yes",
        "StateDirectory=huiliu",
        "ProtectSystem=strict",
        "ProtectHome=",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "KillSignal=SIGTERM",
        "TimeoutStopSec=",
    ] {
        assert!(has(key), "contrib/huiliu.service lacks {key}");
    }
    // `systemd-analyze verify` when this machine has it.
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        return;
    };
    if !out.status.success() {
        return;
    }
    // The unit names /usr/local/bin/huiliu: verify a copy pointing at this build.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("huiliu.service");
    write(&copy, &unit.replace("/usr/local/bin/huiliu", BIN));
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("huiliu.service"))
        .collect();
    assert!(
        out.status.success() && problems.is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}
