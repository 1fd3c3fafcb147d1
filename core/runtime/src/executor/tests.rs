//! Tests with real processes on loopback (python3 and git are needed).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::limits::Cgroup;
use super::*;

const SERVER_PY: &str = r#"
import os, sys, threading, http.server
port = int(os.environ["PORT"])
print("booting on", port, os.environ.get("HOST"), flush=True)
for i in range(int(os.environ.get("NOISE", "0"))):
    print("noise", i, flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            print("crashing on request", flush=True)
            os._exit(1)
        body = ("ok " + os.environ.get("GREETING", "")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
after = os.environ.get("CRASH_AFTER")
if after:
    threading.Timer(float(after), lambda: os._exit(2)).start()
if os.environ.get("ESCAPE"):
    # Try to join the parent's (the runtime's) network namespace.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        fd = os.open("/proc/%d/ns/net" % os.getppid(), os.O_RDONLY)
        ok = libc.setns(fd, 0x40000000) == 0
        print("escape:", "joined" if ok else "setns " + os.strerror(ctypes.get_errno()), flush=True)
    except OSError as e:
        print("escape: open", e.strerror, flush=True)
if os.environ.get("BURN"):
    def burn():
        while True:
            pass
    threading.Thread(target=burn, daemon=True).start()
if os.environ.get("IGNORE_TERM"):
    import signal
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// The real interpreter behind the `python3` shim (faster to start).
fn python() -> String {
    static PY: OnceLock<String> = OnceLock::new();
    PY.get_or_init(|| {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 is needed for these tests");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.py"), SERVER_PY).unwrap();
    dir
}

fn server_cmd() -> Vec<String> {
    vec![python(), "-u".into(), "server.py".into()]
}

fn fast_spec(dir: &Path, command: impl Into<StartCommand>) -> SpawnSpec {
    let mut spec = SpawnSpec::new(dir, command);
    spec.ready_timeout = Duration::from_secs(10);
    spec.stop_grace = Duration::from_secs(2);
    spec.restart.initial_backoff = Duration::from_millis(100);
    spec
}

/// A bounded raw HTTP GET: (status, body).
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        let text = String::from_utf8_lossy(&out).into_owned();
        let code = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Some((code, body))
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .ok()
        .flatten()
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

fn group_alive(pgid: u32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(-(pgid as libc::pid_t), 0) == 0 }
}

async fn eventually(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_state(
    rx: &mut tokio::sync::watch::Receiver<ProcessState>,
    within: Duration,
    cond: impl FnMut(&ProcessState) -> bool,
) -> ProcessState {
    tokio::time::timeout(within, rx.wait_for(cond))
        .await
        .expect("state wait timed out")
        .expect("watcher gone")
        .clone()
}

// ---------------------------------------------------------------------------
// Sources

#[tokio::test]
async fn dir_source_with_explicit_command_answers_on_its_port() {
    let app = app_dir();
    let work = tempfile::tempdir().unwrap();
    let prepared = prepare(
        &Source::Dir {
            path: app.path().into(),
            command: Some(server_cmd()),
        },
        work.path(),
    )
    .await
    .unwrap();
    assert_eq!(prepared.dir, app.path().canonicalize().unwrap());
    let mut spec = fast_spec(&prepared.dir, prepared.command.clone());
    spec.env.push(("GREETING".into(), "hello".into()));
    let mut sup = Supervisor::start(spec).await.unwrap();
    assert_eq!(sup.state().status, ProcessStatus::Running);
    assert_eq!(get(sup.port(), "/").await, Some((200, "ok hello".into())));
    let logs = sup.logs();
    assert!(
        logs.iter()
            .any(|l| l == &format!("booting on {} 127.0.0.1", sup.port())),
        "{logs:?}"
    );
    assert!(!sup.applied_limits().cgroup && !sup.applied_limits().rlimits);
    let end = sup.stop().await;
    assert_eq!(end.status, ProcessStatus::Stopped);
    assert!(get(sup.port(), "/").await.is_none());
}

#[tokio::test]
async fn procfile_web_line_is_detected_and_run_through_sh() {
    let app = app_dir();
    std::fs::write(
        app.path().join("Procfile"),
        format!(
            "# comment\nworker: sleep 1000\nweb: exec {} -u server.py --port $PORT\n",
            python()
        ),
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let prepared = prepare(
        &Source::Dir {
            path: app.path().into(),
            command: None,
        },
        work.path(),
    )
    .await
    .unwrap();
    assert!(
        matches!(&prepared.command, StartCommand::Shell { script } if script.contains("server.py --port $PORT"))
    );
    let mut sup = Supervisor::start(fast_spec(&prepared.dir, prepared.command))
        .await
        .unwrap();
    assert_eq!(get(sup.port(), "/").await.map(|r| r.0), Some(200));
    sup.stop().await;
}

#[test]
fn start_command_detection_order_and_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = source::start_command(dir.path(), None).unwrap_err();
    match &err {
        ExecutorError::NoStartCommand { looked_for, .. } => {
            assert_eq!(looked_for.len(), 3);
            assert!(looked_for[0].contains("Procfile"));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("start.sh"), "{err}");
    // A non-executable start.sh does not count.
    std::fs::write(dir.path().join("start.sh"), "#!/bin/sh\n").unwrap();
    assert!(source::start_command(dir.path(), None).is_err());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.path().join("start.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let cmd = source::start_command(dir.path(), None).unwrap();
    assert!(matches!(&cmd, StartCommand::Argv { argv } if argv[0].ends_with("/start.sh")));
    std::fs::write(dir.path().join("start"), "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        dir.path().join("start"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let cmd = source::start_command(dir.path(), None).unwrap();
    assert!(matches!(&cmd, StartCommand::Argv { argv } if argv[0].ends_with("/start")));
    std::fs::write(dir.path().join("Procfile"), "release: x\nweb:   ./run  \n").unwrap();
    assert_eq!(
        source::start_command(dir.path(), None).unwrap(),
        StartCommand::Shell {
            script: "./run".into()
        }
    );
    // A Procfile without a web line falls through to `start`.
    std::fs::write(dir.path().join("Procfile"), "worker: ./run\n").unwrap();
    assert!(matches!(
        source::start_command(dir.path(), None).unwrap(),
        StartCommand::Argv { .. }
    ));
    assert!(matches!(
        source::start_command(dir.path(), Some(&[])).unwrap_err(),
        ExecutorError::InvalidSpec(_)
    ));
}

#[tokio::test]
async fn missing_paths_are_source_not_found() {
    let work = tempfile::tempdir().unwrap();
    let missing = PathBuf::from("/nonexistent/heroa/app");
    for source in [
        Source::Dir {
            path: missing.clone(),
            command: None,
        },
        Source::Tarball {
            path: missing.with_extension("tar.gz"),
            command: None,
        },
        Source::Repo {
            repo: missing.to_string_lossy().into(),
            reference: None,
            command: None,
        },
        Source::Repo {
            repo: format!("file://{}", missing.display()),
            reference: Some("main".into()),
            command: None,
        },
    ] {
        let err = prepare(&source, &work.path().join("d")).await.unwrap_err();
        assert!(
            matches!(err, ExecutorError::SourceNotFound { .. }),
            "{source:?}: {err:?}"
        );
        assert!(err.to_string().contains("/nonexistent/heroa/app"), "{err}");
    }
}

/// Appends an entry with a raw name (the tar builder refuses unsafe names).
fn append_raw(
    b: &mut tar::Builder<impl std::io::Write>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut h = tar::Header::new_gnu();
    let bytes = name.as_bytes();
    h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    if let Some(l) = link {
        let lb = l.as_bytes();
        h.as_old_mut().linkname[..lb.len()].copy_from_slice(lb);
    }
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn tarball(
    path: &Path,
    build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>),
) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    build(&mut b);
    b.into_inner().unwrap().finish().unwrap();
}

fn add_file(b: &mut tar::Builder<impl std::io::Write>, name: &str, mode: u32, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(mode);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, data).unwrap();
}

#[tokio::test]
async fn tarball_is_unpacked_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("app.tar.gz");
    let start = format!("#!/bin/sh\nexec {} -u server.py\n", python());
    tarball(&archive, |b| {
        add_file(b, "app/server.py", 0o644, SERVER_PY.as_bytes());
        add_file(b, "app/start", 0o755, start.as_bytes());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "app/alias.py", "server.py").unwrap();
    });
    let deploy = tmp.path().join("deploy");
    let prepared = prepare(
        &Source::Tarball {
            path: archive,
            command: None,
        },
        &deploy,
    )
    .await
    .unwrap();
    assert_eq!(
        prepared.dir,
        deploy.canonicalize().unwrap().join("app"),
        "single top-level dir is the app root"
    );
    assert!(
        matches!(&prepared.command, StartCommand::Argv { argv } if argv[0].ends_with("app/start"))
    );
    assert_eq!(
        std::fs::read_link(prepared.dir.join("alias.py")).unwrap(),
        PathBuf::from("server.py")
    );
    let mut sup = Supervisor::start(fast_spec(&prepared.dir, prepared.command))
        .await
        .unwrap();
    assert_eq!(get(sup.port(), "/").await.map(|r| r.0), Some(200));
    sup.stop().await;
}

type Build = Box<dyn FnOnce(&mut tar::Builder<flate2::write::GzEncoder<std::fs::File>>)>;

#[tokio::test]
async fn tarball_path_traversal_and_escaping_links_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Build)> = vec![
        (
            "dotdot",
            Box::new(|b| append_raw(b, "../evil.txt", tar::EntryType::Regular, None, b"pwned")),
        ),
        (
            "nested dotdot",
            Box::new(|b| {
                append_raw(
                    b,
                    "app/../../evil.txt",
                    tar::EntryType::Regular,
                    None,
                    b"pwned",
                )
            }),
        ),
        (
            "absolute",
            Box::new(|b| {
                append_raw(
                    b,
                    "/tmp/heroa-evil.txt",
                    tar::EntryType::Regular,
                    None,
                    b"pwned",
                )
            }),
        ),
        (
            "abs symlink",
            Box::new(|b| append_raw(b, "etc", tar::EntryType::Symlink, Some("/etc"), b"")),
        ),
        (
            "rel symlink out",
            Box::new(|b| append_raw(b, "app/up", tar::EntryType::Symlink, Some("../.."), b"")),
        ),
        (
            "chained symlink out",
            Box::new(|b| {
                append_raw(b, "d/", tar::EntryType::Directory, None, b"");
                append_raw(b, "d/sub", tar::EntryType::Symlink, Some(".."), b"");
                append_raw(b, "d/esc", tar::EntryType::Symlink, Some("sub/../.."), b"");
            }),
        ),
        (
            "hard link out",
            Box::new(|b| append_raw(b, "pw", tar::EntryType::Link, Some("../../etc/passwd"), b"")),
        ),
    ];
    for (i, (what, build)) in cases.into_iter().enumerate() {
        let archive = tmp.path().join(format!("bad{i}.tar.gz"));
        tarball(&archive, |b| {
            add_file(b, "ok.txt", 0o644, b"fine");
            build(b);
        });
        let deploy = tmp.path().join(format!("deploy{i}/inner"));
        let err = prepare(
            &Source::Tarball {
                path: archive,
                command: Some(vec!["true".into()]),
            },
            &deploy,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, ExecutorError::UnsafeArchive { .. }),
            "{what}: {err:?}"
        );
        eprintln!("{what}: {err}");
        assert!(
            !deploy.parent().unwrap().join("evil.txt").exists(),
            "{what}: escaped"
        );
        assert!(
            !Path::new("/tmp/heroa-evil.txt").exists(),
            "{what}: escaped"
        );
        assert_eq!(
            std::fs::read_dir(&deploy).unwrap().count(),
            0,
            "{what}: partial unpack left behind"
        );
    }
}

#[tokio::test]
async fn tarball_size_is_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("big.tar.gz");
    tarball(&archive, |b| {
        add_file(b, "a.bin", 0o644, &vec![0u8; 3000]);
        add_file(b, "b.bin", 0o644, &vec![0u8; 3000]);
    });
    let opts = PrepareOptions {
        max_unpacked_bytes: 5000,
        ..PrepareOptions::default()
    };
    let src = Source::Tarball {
        path: archive.clone(),
        command: Some(vec!["true".into()]),
    };
    let err = prepare_with(&src, &tmp.path().join("d1"), &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExecutorError::ArchiveTooLarge { limit: 5000 }),
        "{err:?}"
    );
    let opts = PrepareOptions {
        max_unpacked_bytes: 6000,
        ..PrepareOptions::default()
    };
    let ok = prepare_with(&src, &tmp.path().join("d2"), &opts)
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(ok.dir.join("b.bin")).unwrap().len(), 3000);
    // The deployment directory must be empty.
    let err = prepare_with(&src, &tmp.path().join("d2"), &opts)
        .await
        .unwrap_err();
    assert!(matches!(err, ExecutorError::InvalidSpec(_)), "{err:?}");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn repo_source_is_cloned_at_a_ref() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    std::fs::write(repo.join("server.py"), SERVER_PY).unwrap();
    std::fs::write(repo.join("version.txt"), "v1").unwrap();
    std::fs::write(
        repo.join("Procfile"),
        format!("web: exec {} -u server.py\n", python()),
    )
    .unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "v1"]);
    let c1 = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("version.txt"), "v2").unwrap();
    git(&repo, &["commit", "-q", "-am", "v2"]);
    let c2 = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["branch", "feature", &c1]);
    std::fs::write(repo.join("version.txt"), "v3").unwrap();
    git(&repo, &["commit", "-q", "-am", "v3"]);
    let c3 = git(&repo, &["rev-parse", "HEAD"]);

    let repo_s = repo.to_string_lossy().into_owned();
    let cases = [
        (repo_s.clone(), None, "v3", c3.clone()),
        (repo_s.clone(), Some("v1"), "v1", c1.clone()),
        (
            format!("file://{repo_s}"),
            Some("feature"),
            "v1",
            c1.clone(),
        ),
        (repo_s.clone(), Some(c2.as_str()), "v2", c2.clone()),
        (
            format!("file://{repo_s}"),
            Some(&c2[..10]),
            "v2",
            c2.clone(),
        ),
        (repo_s.clone(), Some("refs/heads/feature"), "v1", c1.clone()),
    ];
    for (i, (url, reference, want, rev)) in cases.into_iter().enumerate() {
        let dest = tmp.path().join(format!("deploy{i}"));
        let src = Source::Repo {
            repo: url.clone(),
            reference: reference.map(str::to_string),
            command: None,
        };
        let prepared = prepare(&src, &dest)
            .await
            .unwrap_or_else(|e| panic!("{url} {reference:?}: {e}"));
        assert_eq!(
            std::fs::read_to_string(prepared.dir.join("version.txt")).unwrap(),
            want,
            "{url} {reference:?}"
        );
        assert_eq!(prepared.revision.as_deref(), Some(rev.as_str()));
        assert!(matches!(prepared.command, StartCommand::Shell { .. }));
    }

    // An unknown ref is a git error, and the directory is left empty.
    let dest = tmp.path().join("bad");
    let src = Source::Repo {
        repo: repo_s.clone(),
        reference: Some("no-such-ref".into()),
        command: None,
    };
    let err = prepare(&src, &dest).await.unwrap_err();
    assert!(
        matches!(&err, ExecutorError::Git { step, .. } if step == "checkout"),
        "{err:?}"
    );
    assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0);
    // Option injection is refused.
    let src = Source::Repo {
        repo: "--upload-pack=touch /tmp/x".into(),
        reference: None,
        command: None,
    };
    assert!(matches!(
        prepare(&src, &tmp.path().join("inj")).await.unwrap_err(),
        ExecutorError::InvalidSpec(_)
    ));

    // And the clone runs.
    let src = Source::Repo {
        repo: repo_s,
        reference: Some("v1".into()),
        command: None,
    };
    let prepared = prepare(&src, &tmp.path().join("run")).await.unwrap();
    let mut sup = Supervisor::start(fast_spec(&prepared.dir, prepared.command))
        .await
        .unwrap();
    assert_eq!(get(sup.port(), "/").await.map(|r| r.0), Some(200));
    sup.stop().await;
}

#[tokio::test]
async fn image_source_without_an_engine_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = Source::Image {
        image: "docker.io/library/python:3.12-slim".into(),
    };
    match prepare(&src, tmp.path()).await {
        Err(e @ ExecutorError::NoContainerEngine { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("no container engine is available"), "{msg}");
            eprintln!("as expected on this machine: {msg}");
        }
        Ok(p) => eprintln!(
            "SKIP: a container engine answers here ({:?}); NoContainerEngine not testable",
            p.command
        ),
        Err(other) => panic!("unexpected: {other:?}"),
    }
    // No engine at all on PATH.
    let opts = PrepareOptions {
        engines: vec!["heroa-no-such-engine".into()],
        ..PrepareOptions::default()
    };
    let err = prepare_with(&src, tmp.path(), &opts).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("heroa-no-such-engine: not on PATH"),
        "{err}"
    );
    let bad = Source::Image {
        image: "--privileged".into(),
    };
    assert!(matches!(
        prepare(&bad, tmp.path()).await.unwrap_err(),
        ExecutorError::InvalidSpec(_)
    ));
}

// ---------------------------------------------------------------------------
// Supervisor

#[tokio::test]
async fn early_exit_carries_status_and_last_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import sys\nprint('loading config', flush=True)\nprint('fatal: DATABASE_URL missing', file=sys.stderr)\nsys.exit(3)";
    let spec = fast_spec(dir.path(), vec![python(), "-c".into(), script.into()]);
    let err = Supervisor::start(spec).await.unwrap_err();
    match &err {
        ExecutorError::ExitedBeforeReady { status, last_lines } => {
            assert!(status.contains("exit status: 3"), "{status}");
            assert!(
                last_lines
                    .iter()
                    .any(|l| l == "fatal: DATABASE_URL missing"),
                "{last_lines:?}"
            );
            assert!(
                last_lines.iter().any(|l| l == "loading config"),
                "{last_lines:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("fatal: DATABASE_URL missing"));
}

#[tokio::test]
async fn readiness_timeout_carries_last_output_and_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "echo listening soon; echo pid=$$; exec {} -c 'import time; time.sleep(60)'",
        python()
    );
    let mut spec = fast_spec(dir.path(), script.as_str());
    spec.ready_timeout = Duration::from_millis(800);
    let started = Instant::now();
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    match &err {
        ExecutorError::ReadyTimeout {
            last_lines,
            last_probe,
            url,
            ..
        } => {
            assert_eq!(last_lines[0], "listening soon");
            let pid: u32 = last_lines[1].strip_prefix("pid=").unwrap().parse().unwrap();
            assert!(
                !alive(pid) && !group_alive(pid),
                "timed-out process group killed"
            );
            assert!(last_probe.contains("connect"), "{last_probe}");
            assert!(
                url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
                "{url}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn health_path_status_500_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import os, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503 if self.path == "/healthz" else 200); self.end_headers()
    def log_message(self, *a): pass
print("up", flush=True)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#;
    let mut spec = fast_spec(dir.path(), vec![python(), "-c".into(), script.into()]);
    spec.health_path = "/healthz".into();
    spec.ready_timeout = Duration::from_millis(1500);
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(
        matches!(&err, ExecutorError::ReadyTimeout { last_probe, .. } if last_probe == "status 503"),
        "{err:?}"
    );
}

#[tokio::test]
async fn crash_is_restarted_with_backoff_on_the_same_port() {
    let app = app_dir();
    let mut sup = Supervisor::start(fast_spec(app.path(), server_cmd()))
        .await
        .unwrap();
    let port = sup.port();
    let pid1 = sup.pid().unwrap();
    let mut rx = sup.subscribe();

    let crashed = Instant::now();
    assert!(get(port, "/crash").await.is_none());
    let s = wait_state(&mut rx, Duration::from_secs(10), |s| {
        s.status == ProcessStatus::Restarting
    })
    .await;
    assert_eq!(s.last_exit.as_deref(), Some("exit status: 1"));
    let s = wait_state(&mut rx, Duration::from_secs(10), |s| {
        s.status == ProcessStatus::Running
    })
    .await;
    assert!(
        crashed.elapsed() >= Duration::from_millis(100),
        "backoff waited"
    );
    assert_eq!(s.restarts, 1);
    let pid2 = s.pid.unwrap();
    assert_ne!(pid1, pid2);
    assert!(!alive(pid1), "old process reaped");
    assert_eq!(sup.port(), port);
    assert_eq!(get(port, "/").await.map(|r| r.0), Some(200));

    // Second crash: backoff doubled (200 ms), counter 2.
    let crashed = Instant::now();
    assert!(get(port, "/crash").await.is_none());
    let s = wait_state(&mut rx, Duration::from_secs(10), |s| {
        s.status == ProcessStatus::Running && s.restarts == 2
    })
    .await;
    assert!(
        crashed.elapsed() >= Duration::from_millis(200),
        "backoff doubled: {:?}",
        crashed.elapsed()
    );
    assert_ne!(s.pid, Some(pid2));
    assert_eq!(get(port, "/").await.map(|r| r.0), Some(200));
    assert!(
        sup.logs()
            .iter()
            .any(|l| l.starts_with("[heroa] process exited (exit status: 1)"))
    );
    sup.stop().await;
}

#[tokio::test]
async fn repeated_fast_crashes_end_in_failed() {
    let app = app_dir();
    let mut spec = fast_spec(app.path(), server_cmd());
    spec.env.push(("CRASH_AFTER".into(), "0.6".into()));
    spec.restart.initial_backoff = Duration::from_millis(50);
    spec.restart.max_fast_crashes = 3;
    let mut sup = Supervisor::start(spec).await.unwrap();
    let mut rx = sup.subscribe();
    let s = wait_state(&mut rx, Duration::from_secs(15), |s| {
        s.status == ProcessStatus::Failed
    })
    .await;
    assert_eq!(s.restarts, 2);
    assert_eq!(s.last_exit.as_deref(), Some("exit status: 2"));
    assert_eq!(s.pid, None);
    assert_eq!(sup.stop().await.status, ProcessStatus::Failed);
}

#[tokio::test]
async fn stop_terminates_the_whole_group_without_zombies() {
    let app = app_dir();
    // The shell leaves a background child in the group.
    let script = format!("sleep 300 & echo bg=$!; exec {} -u server.py", python());
    let mut sup = Supervisor::start(fast_spec(app.path(), script.as_str()))
        .await
        .unwrap();
    let pid = sup.pid().unwrap();
    let bg: u32 = sup
        .logs()
        .iter()
        .find_map(|l| l.strip_prefix("bg=").map(|p| p.parse().unwrap()))
        .expect("background pid printed");
    assert!(alive(bg) && group_alive(pid));
    let started = Instant::now();
    let end = sup.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "SIGTERM sufficed"
    );
    assert_eq!(end.status, ProcessStatus::Stopped);
    assert_eq!(end.pid, None);
    // The leader is reaped by us: no zombie, kill(pid, 0) fails at once.
    assert!(!alive(pid), "leader gone and reaped");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ESRCH)
    );
    // The background child is dead at once (at most a zombie orphan that
    // init reaps: this machine's init does so every ~2 s).
    assert!(
        !supervisor::group_alive(pid as libc::pid_t),
        "no live member left"
    );
    assert!(!alive(bg) || zombie(bg), "background child killed");
    eventually("group gone", Duration::from_secs(8), || {
        !group_alive(pid) && !alive(bg)
    })
    .await;
    // Idempotent.
    assert_eq!(sup.stop().await.status, ProcessStatus::Stopped);
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_the_grace_period() {
    let app = app_dir();
    let mut spec = fast_spec(app.path(), server_cmd());
    spec.env.push(("IGNORE_TERM".into(), "1".into()));
    spec.stop_grace = Duration::from_millis(500);
    let mut sup = Supervisor::start(spec).await.unwrap();
    let pid = sup.pid().unwrap();
    let started = Instant::now();
    let end = sup.stop().await;
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(end.last_exit.as_deref(), Some("signal: 9 (SIGKILL)"));
    assert!(!alive(pid) && !group_alive(pid));
}

#[tokio::test]
async fn dropping_the_handle_stops_the_process() {
    let app = app_dir();
    let sup = Supervisor::start(fast_spec(app.path(), server_cmd()))
        .await
        .unwrap();
    let pid = sup.pid().unwrap();
    let port = sup.port();
    assert!(alive(pid));
    drop(sup);
    eventually("process gone after drop", Duration::from_secs(5), || {
        !alive(pid)
    })
    .await;
    assert!(get(port, "/").await.is_none());
}

#[tokio::test]
async fn memory_rlimit_is_applied() {
    let app = app_dir();
    let mut spec = fast_spec(app.path(), server_cmd());
    spec.limits = ResourceLimits {
        memory_bytes: Some(512 << 20),
        open_files: Some(256),
        cpu_seconds: Some(600),
        max_processes: Some(4096),
        cpu_millicores: Some(500),
        ..Default::default()
    };
    let mut sup = Supervisor::start(spec).await.unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", sup.pid().unwrap())).unwrap();
    let row = |name: &str| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        row("Max address space").contains(&(512u64 << 20).to_string()),
        "{limits}"
    );
    assert!(row("Max open files").contains("256 256"), "{limits}");
    assert!(row("Max cpu time").contains("600 600"), "{limits}");
    assert!(row("Max processes").contains("4096 4096"), "{limits}");
    let applied = sup.applied_limits().clone();
    eprintln!("applied limits on this machine: {applied:?}");
    assert!(applied.rlimits);
    assert!(
        applied.detail.contains("AS=536870912"),
        "{}",
        applied.detail
    );
    if !applied.cgroup {
        assert!(applied.detail.contains("no cgroup"), "{}", applied.detail);
    }
    sup.stop().await;

    // Allocating above the limit fails with MemoryError.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = fast_spec(
        dir.path(),
        vec![python(), "-c".into(), "x = bytearray(1 << 30)".into()],
    );
    spec.limits.memory_bytes = Some(256 << 20);
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(
        err.last_lines().iter().any(|l| l.contains("MemoryError")),
        "{err}"
    );
}

#[tokio::test]
async fn log_buffer_is_bounded() {
    let app = app_dir();
    let mut spec = fast_spec(app.path(), server_cmd());
    spec.log_lines = 5;
    spec.env.push(("NOISE".into(), "100".into()));
    let mut sup = Supervisor::start(spec).await.unwrap();
    eventually("noise logged", Duration::from_secs(3), || {
        sup.logs().last().map(String::as_str) == Some("noise 99")
    })
    .await;
    assert_eq!(
        sup.logs(),
        (95..100).map(|i| format!("noise {i}")).collect::<Vec<_>>()
    );
    sup.stop().await;
}

#[tokio::test]
async fn environment_is_not_inherited_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import os, sys; print(sorted(os.environ)); sys.exit(0)";
    let mut spec = fast_spec(dir.path(), vec![python(), "-c".into(), script.into()]);
    spec.env
        .push(("HTTPS_PROXY".into(), "http://127.0.0.1:9".into()));
    spec.env.push(("PORT".into(), "1".into()));
    let port = {
        let err = Supervisor::start(spec.clone()).await.unwrap_err();
        let line = err
            .last_lines()
            .iter()
            .find(|l| l.starts_with('['))
            .unwrap()
            .clone();
        assert!(
            line.contains("'HTTPS_PROXY'") && line.contains("'PORT'") && line.contains("'HOST'"),
            "{line}"
        );
        assert!(!line.contains("CARGO"), "cargo's variables leaked: {line}");
        line
    };
    drop(port);
    // PORT cannot be overridden by the caller.
    spec.command = StartCommand::Argv {
        argv: vec![
            python(),
            "-c".into(),
            "import os; print('port=' + os.environ['PORT'])".into(),
        ],
    };
    spec.port = Some(45678);
    let err = Supervisor::start(spec).await.unwrap_err();
    assert!(
        err.last_lines().contains(&"port=45678".to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn probe_reads_the_status_line() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for answer in ["HTTP/1.0 503 Service Unavailable\r\n\r\n", "garbage\r\n"] {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            s.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    assert_eq!(
        supervisor::probe(None, port, "/", Duration::from_secs(2)).await,
        Ok(503)
    );
    assert!(
        supervisor::probe(None, port, "/", Duration::from_secs(2))
            .await
            .unwrap_err()
            .contains("not an HTTP response")
    );
}

#[test]
fn cgroup_v2_group_is_created_with_limits_on_a_v2_tree() {
    // A fake cgroup v2 tree: the same files the kernel exposes.
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("cgroup.controllers"),
        "cpuset cpu io memory pids\n",
    )
    .unwrap();
    std::fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
    let limits = ResourceLimits {
        memory_bytes: Some(256 << 20),
        cpu_millicores: Some(500),
        max_processes: Some(64),
        ..Default::default()
    };
    let (group, detail) = Cgroup::create_in(root.path(), "/", &limits).unwrap();
    assert_eq!(group.paths().len(), 1);
    let read = |f: &str| std::fs::read_to_string(group.paths()[0].join(f)).unwrap();
    assert_eq!(read("memory.max"), (256u64 << 20).to_string());
    // Start-up runs unthrottled; the bandwidth is written once ready.
    assert!(!group.paths()[0].join("cpu.max").exists());
    group.apply_cpu_limit().unwrap();
    assert_eq!(read("cpu.max"), "50000 100000");
    assert_eq!(read("pids.max"), "64");
    assert!(
        std::fs::read_to_string(root.path().join("cgroup.subtree_control"))
            .unwrap()
            .contains("+memory")
    );
    assert!(detail.contains("cpu.max=50000 100000"), "{detail}");
    let path = group.paths()[0].clone();
    drop(group);
    assert!(!path.exists(), "group removed on drop");

    // Without the controllers (or without cgroup v2) there is no group.
    std::fs::write(root.path().join("cgroup.controllers"), "cpu\n").unwrap();
    let err = Cgroup::create_in(root.path(), "/", &limits).unwrap_err();
    assert!(err.contains("memory"), "{err}");
    let none = tempfile::tempdir().unwrap();
    assert!(
        Cgroup::create_in(none.path(), "/", &limits)
            .unwrap_err()
            .contains("not mounted")
    );
}

/// `/proc/self/mountinfo` and `/proc/self/cgroup` of a host with cgroup v1
/// controllers (cpu and cpuacct co-mounted, as systemd does).
const V1_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 31 0:32 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
36 31 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
const V1_MEMBERSHIP: &str = "4:pids:/\n3:memory:/svc/app\n2:cpu,cpuacct:/\n0::/\n";

#[test]
fn cgroup_v1_hierarchies_are_read_from_mountinfo() {
    let found = limits::parse_v1_hierarchies(V1_MOUNTINFO, V1_MEMBERSHIP);
    let summary: Vec<(Vec<String>, String, String)> = found
        .into_iter()
        .map(|(c, m, o)| (c, m.display().to_string(), o))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                vec!["cpu".into()],
                "/sys/fs/cgroup/cpu,cpuacct".into(),
                "/".into()
            ),
            (
                vec!["memory".into()],
                "/sys/fs/cgroup/memory".into(),
                "/svc/app".into()
            ),
            (
                vec!["pids".into()],
                "/sys/fs/cgroup/pids".into(),
                "/".into()
            ),
        ]
    );
}

#[test]
fn cgroup_v1_paths_are_relative_to_what_a_container_mounts() {
    // A container without a cgroup namespace: its own subtree is mounted.
    let mountinfo = "40 31 0:30 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                     41 31 0:31 /other /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
    let membership = "5:memory:/docker/abc/app\n4:pids:/docker/abc\n";
    let found = limits::parse_v1_hierarchies(mountinfo, membership);
    assert_eq!(
        found.len(),
        1,
        "pids: our group is not under what is mounted"
    );
    assert_eq!(found[0].1, PathBuf::from("/sys/fs/cgroup/memory"));
    assert_eq!(found[0].2, "/app");
}

#[test]
fn cgroup_v1_groups_are_created_per_hierarchy_with_limits() {
    // Fake v1 hierarchies: plain directories, as the kernel's would look.
    let root = tempfile::tempdir().unwrap();
    let cpu = root.path().join("cpu");
    let memory = root.path().join("memory");
    std::fs::create_dir_all(memory.join("svc")).unwrap();
    std::fs::create_dir_all(&cpu).unwrap();
    let hierarchies = vec![
        (vec!["cpu".to_string()], cpu.clone(), "/".to_string()),
        (
            vec!["memory".to_string()],
            memory.clone(),
            "/svc".to_string(),
        ),
    ];
    let limits = ResourceLimits {
        memory_bytes: Some(512 << 20),
        cpu_millicores: Some(500),
        ..Default::default()
    };
    let (group, detail) = Cgroup::create_v1(&hierarchies, &limits).unwrap();
    let dirs = group.paths().to_vec();
    assert_eq!(dirs.len(), 2);
    assert!(dirs[0].starts_with(memory.join("svc")), "{dirs:?}");
    assert!(dirs[1].starts_with(&cpu), "{dirs:?}");
    let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(
        read(&dirs[0], "memory.limit_in_bytes"),
        (512u64 << 20).to_string()
    );
    assert!(
        !dirs[1].join("cpu.cfs_quota_us").exists(),
        "written once ready"
    );
    group.apply_cpu_limit().unwrap();
    assert_eq!(read(&dirs[1], "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&dirs[1], "cpu.cfs_period_us"), "100000");
    assert!(detail.starts_with("cgroup v1 "), "{detail}");
    drop(group);
    assert!(dirs.iter().all(|d| !d.exists()), "groups removed on drop");
    // A controller with no hierarchy: no group.
    let pids = ResourceLimits {
        max_processes: Some(10),
        ..Default::default()
    };
    let err = Cgroup::create_v1(&hierarchies, &pids).unwrap_err();
    assert!(err.contains("no cgroup v1 hierarchy for pids"), "{err}");
}

/// CPU time (user + system) of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / per_second as f64
}

#[tokio::test]
async fn a_cpu_bound_process_is_held_to_its_cpu_bandwidth() {
    let dir = app_dir();
    let mut spec = fast_spec(dir.path(), server_cmd());
    spec.env = vec![("BURN".into(), "1".into())];
    spec.limits.cpu_millicores = Some(300);
    let mut sup = Supervisor::start(spec).await.unwrap();
    let applied = sup.applied_limits().clone();
    if !applied.cgroup {
        eprintln!("skipped: no cgroup on this machine ({})", applied.detail);
        sup.stop().await;
        return;
    }
    let pid = sup.pid().unwrap();
    let before = cpu_seconds(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let used = cpu_seconds(pid) - before;
    let share = used / started.elapsed().as_secs_f64();
    eprintln!("cpu share under the limit: {share:.2} ({})", applied.detail);
    // 0.3 of a core (plus one scheduling period of slack), where a free spinning
    // thread would take a whole one.
    assert!(share < 0.45, "{share:.2} of a core; {}", applied.detail);
    assert!(share > 0.05, "the spinning thread ran: {share:.2}");
    sup.stop().await;
}

#[test]
fn limits_plan_reports_what_is_applied_here() {
    let limits = ResourceLimits {
        memory_bytes: Some(1 << 30),
        max_processes: Some(100),
        ..Default::default()
    };
    let (rl, group, applied) = limits::plan(&limits, true, Path::new("/sys/fs/cgroup"));
    eprintln!("this machine: {applied:?}");
    assert_eq!(rl.len(), 2);
    assert_eq!(applied.cgroup, group.is_some());
    assert!(applied.rlimits);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            applied.detail.contains("not enforced: running as root"),
            "{}",
            applied.detail
        );
    }
    let (rl, group, applied) = limits::plan(
        &ResourceLimits::default(),
        true,
        Path::new("/sys/fs/cgroup"),
    );
    assert!(rl.is_empty() && group.is_none() && !applied.cgroup && !applied.rlimits);
}

#[test]
fn gpu_check_runs() {
    let found = gpu_devices();
    eprintln!("gpu devices: {found:?}");
    assert_eq!(gpu_available(), !found.is_empty());
}

#[test]
fn serde_shapes() {
    let src: Source =
        serde_json::from_str(r#"{"kind":"repo","repo":"/srv/app.git","reference":"v1"}"#).unwrap();
    assert_eq!(
        src,
        Source::Repo {
            repo: "/srv/app.git".into(),
            reference: Some("v1".into()),
            command: None
        }
    );
    let state = ProcessState {
        status: ProcessStatus::Restarting,
        restarts: 2,
        last_exit: None,
        pid: Some(7),
    };
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        serde_json::json!({"status":"restarting","restarts":2,"last_exit":null,"pid":7})
    );
}

#[tokio::test]
async fn data_rlimit_limits_allocations_too() {
    let dir = tempfile::tempdir().unwrap();
    let script = "import os\nprint(open('/proc/self/limits').read())\nx = bytearray(1 << 30)";
    let mut spec = fast_spec(dir.path(), vec![python(), "-c".into(), script.into()]);
    spec.limits.memory_bytes = Some(256 << 20);
    spec.limits.memory_rlimit = MemoryRlimit::Data;
    let err = Supervisor::start(spec).await.unwrap_err();
    let lines = err.last_lines();
    assert!(lines.iter().any(|l| l.contains("MemoryError")), "{err}");
    let data = lines
        .iter()
        .find(|l| l.starts_with("Max data size"))
        .unwrap();
    assert!(data.contains(&(256u64 << 20).to_string()), "{data}");
    let asp = lines
        .iter()
        .find(|l| l.starts_with("Max address space"))
        .unwrap();
    assert!(asp.contains("unlimited"), "{asp}");
}

/// Why `MemoryRlimit::Data` exists: V8 reserves virtual memory up front.
#[tokio::test]
async fn node_needs_the_data_rlimit_at_512_mib() {
    let Some(node) = source::find_on_path("node") else {
        eprintln!("SKIP: node is not on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let js = "require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, '127.0.0.1')";
    let mut spec = fast_spec(
        dir.path(),
        vec![node.to_string_lossy().into_owned(), "-e".into(), js.into()],
    );
    spec.limits.memory_bytes = Some(512 << 20);
    let err = Supervisor::start(spec.clone()).await.unwrap_err();
    eprintln!("node under RLIMIT_AS 512 MiB: {err}");
    assert!(
        matches!(err, ExecutorError::ExitedBeforeReady { .. }),
        "{err:?}"
    );
    spec.limits.memory_rlimit = MemoryRlimit::Data;
    let mut sup = Supervisor::start(spec).await.unwrap();
    assert_eq!(get(sup.port(), "/").await, Some((200, "ok".into())));
    sup.stop().await;
}

// --- network namespaces (skipped, with a note, where the machine permits none)

/// A namespace, or `None` (and a note) where the machine does not permit one.
fn namespace_or_skip() -> Option<std::sync::Arc<netns::Netns>> {
    match netns::Netns::create() {
        Ok(ns) => Some(std::sync::Arc::new(ns)),
        Err(e) => {
            eprintln!("skipped: no network namespace on this machine ({e})");
            None
        }
    }
}

#[tokio::test]
async fn a_namespace_reaches_only_what_listens_inside_it() {
    let Some(ns) = namespace_or_skip() else {
        return;
    };
    // A host service on loopback is out of reach from inside…
    let host = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host_port = host.local_addr().unwrap().port();
    let err = ns
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], host_port)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // …and so is any other address: the namespace has no route.
    let err = ns
        .connect("192.0.2.1:80".parse().unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENETUNREACH), "{err}");
    // The namespace has its own ports: the host's port is free inside, and a
    // connection from inside reaches the inside listener.
    let inside = ns
        .listen(std::net::SocketAddr::from(([127, 0, 0, 1], host_port)))
        .await
        .unwrap();
    let accept = tokio::spawn(async move { inside.accept().await.map(|_| ()) });
    let mut stream = ns
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], host_port)))
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), accept)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    stream.write_all(b"x").await.unwrap();
    drop(host);
}

#[tokio::test]
async fn a_process_in_a_namespace_is_published_on_a_forwarded_host_port() {
    let Some(ns) = namespace_or_skip() else {
        return;
    };
    let dir = app_dir();
    let mut spec = fast_spec(dir.path(), server_cmd());
    spec.env = vec![("GREETING".into(), "isolated".into())];
    spec.netns = Some(ns.clone());
    let mut sup = Supervisor::start(spec).await.unwrap();
    // The process listens inside; the host reaches it through the forwarded port.
    assert_eq!(
        get(sup.port(), "/").await,
        Some((200, "ok isolated".to_string()))
    );
    let pid = sup.pid().unwrap();
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let child = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(own, child, "the process runs in another network namespace");
    // A crash and restart stay in the namespace and on the same host port.
    assert!(
        get(sup.port(), "/crash")
            .await
            .is_none_or(|(c, _)| c != 200)
    );
    wait_state(&mut sup.subscribe(), Duration::from_secs(10), |s| {
        s.restarts == 1 && s.status == ProcessStatus::Running
    })
    .await;
    assert_eq!(
        get(sup.port(), "/").await,
        Some((200, "ok isolated".to_string()))
    );
    let restarted = sup.pid().unwrap();
    assert_eq!(
        std::fs::read_link(format!("/proc/{restarted}/ns/net")).unwrap(),
        child
    );
    sup.stop().await;
    assert_eq!(get(sup.port(), "/").await, None);
}

/// A `Cap…:` or `NoNewPrivs:` line of `/proc/<pid>/status`.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {status}"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_process_keeps_no_privileges_and_cannot_leave_its_namespace() {
    let Some(ns) = namespace_or_skip() else {
        return;
    };
    let dir = app_dir();
    let mut spec = fast_spec(dir.path(), server_cmd());
    spec.env = vec![("ESCAPE".into(), "1".into())];
    spec.netns = Some(ns);
    let mut sup = Supervisor::start(spec).await.unwrap();
    let pid = sup.pid().unwrap();
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(pid, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    let escape = sup
        .logs()
        .into_iter()
        .find(|l| l.starts_with("escape:"))
        .expect("the attempt is logged");
    assert!(!escape.contains("joined"), "{escape}");
    assert!(
        escape.contains("not permitted") || escape.contains("denied"),
        "{escape}"
    );
    sup.stop().await;
}

#[test]
fn a_container_image_is_refused_a_namespace() {
    let Some(ns) = namespace_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SpawnSpec::new(
        dir.path(),
        StartCommand::Container {
            engine: "podman".into(),
            image: "nginx".into(),
        },
    );
    spec.netns = Some(ns);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(Supervisor::start(spec)).unwrap_err();
    assert!(
        err.to_string().contains("not in a network namespace"),
        "{err}"
    );
}
