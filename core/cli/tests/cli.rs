//! The `heroa` command line as a real process against a temporary `--data` file
//! (and, for the vault, also against a `heroa serve` child on loopback).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

const SEED_POLICY: &str = r#"    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };
"#;

/// The seed policy with the right operand of `<` missing: the parser stops at the
/// `}` on line 5, column 5.
const BROKEN_POLICY: &str = r#"    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd <
    };
"#;

const PERMIT_ALL: &str = "permit(principal, action, resource);\n";

const REGIONS: [&str; 5] = [
    "us-east",
    "us-west",
    "eu-west",
    "asia-pacific",
    "bc-sovereign",
];

/// Longest any one CLI invocation may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one invocation did.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    fn success(self) -> Out {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }
}

/// A temporary directory with a data file, and the environment for `heroa`.
struct Env {
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("heroa.db");
        Env { dir, data }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write a test file");
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_heroa"));
        c.arg("--data")
            .arg(&self.data)
            .args(args)
            .env_remove("HEROA_BASE_URL")
            .env_remove("HEROA_API_KEY")
            .env_remove("HEROA_DATA")
            .env_remove("HEROA_VAULT_KEY")
            .env_remove("HEROA_LOG")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Out {
        run(self.command(args), self.dir.path())
    }

    /// Bytes of the data file and its WAL (when there is one).
    fn data_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut wal = self.data.clone().into_os_string();
        wal.push("-wal");
        let mut out = vec![(
            self.data.clone(),
            std::fs::read(&self.data).expect("read the data file"),
        )];
        if let Ok(b) = std::fs::read(&wal) {
            out.push((PathBuf::from(wal), b));
        }
        out
    }

    fn register(&self, name: &str) -> String {
        let out = self
            .run(&["agents", "register", "--name", name, "--region", "us-east"])
            .success();
        out.json()["id"].as_str().expect("agent id").to_string()
    }
}

/// Runs `cmd` to its end (bounded), with stdout and stderr captured in files.
fn run(mut cmd: Command, scratch: &Path) -> Out {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let out_path = scratch.join(format!("cmd-{seq}.out"));
    let err_path = scratch.join(format!("cmd-{seq}.err"));
    cmd.stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    let mut child = KillOnDrop(cmd.spawn().expect("spawn heroa"));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            panic!("{cmd:?} did not finish within {COMMAND_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Out {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).expect("read stdout"),
        stderr: std::fs::read_to_string(&err_path).expect("read stderr"),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    out
}

/// The JSON printed after the `error: …` line on stderr.
fn stderr_details(out: &Out) -> Value {
    let start = out
        .stderr
        .find("\n{")
        .unwrap_or_else(|| panic!("no JSON details on stderr: {out:#?}"));
    serde_json::from_str(&out.stderr[start + 1..])
        .unwrap_or_else(|e| panic!("stderr details are not JSON ({e}): {out:#?}"))
}

/// A value that appears nowhere by chance.
fn unique_secret() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("sk-cli-test-{}-{nanos:x}-Zq9", std::process::id())
}

/// Asserts that `needle` is in `bytes` (so a search there for the secret means something).
fn assert_present(needle: &str, name: &str, bytes: &[u8]) {
    assert!(
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "{needle} is not in {name}: the search for the value there proves nothing"
    );
}

/// Asserts that `secret` (as is, hex- or base64-encoded) is in none of `places`.
fn assert_absent(secret: &str, places: &[(String, Vec<u8>)]) {
    let forms = [
        secret.as_bytes().to_vec(),
        hex::encode(secret).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(secret)
            .into_bytes(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(secret)
            .into_bytes(),
    ];
    for (name, bytes) in places {
        for f in &forms {
            assert!(
                !bytes.windows(f.len()).any(|w| w == f.as_slice()),
                "the vault value (as {:?}) appears in {name}",
                String::from_utf8_lossy(f)
            );
        }
    }
}

fn assert_vault_metadata(out: &Out, agent: &str, secret: &str) {
    let v = out.json();
    assert!(
        v["id"].as_str().is_some_and(|s| s.starts_with("vlt_")),
        "{v:#}"
    );
    assert_eq!(v["key"], "k", "{v:#}");
    assert_eq!(v["agent_id"], agent, "{v:#}");
    let fp = v["fingerprint"]
        .as_str()
        .unwrap_or_else(|| panic!("no fingerprint: {v:#}"));
    assert!(!fp.is_empty() && !fp.contains(secret), "fingerprint {fp:?}");
    assert!(v.get("value").is_none(), "the value is echoed back: {v:#}");
}

#[test]
fn agents_register_prints_the_agent_as_json() {
    let env = Env::new();
    let out = env
        .run(&["agents", "register", "--name", "x", "--region", "us-east"])
        .success();
    let v = out.json();
    assert!(
        v["id"].as_str().is_some_and(|s| s.starts_with("ag_")),
        "expected an ag_ id: {v:#}"
    );
    assert_eq!(v["name"], "x");
    assert_eq!(v["region"], "us-east");
    // It was persisted to the data file: a second process sees it.
    let list = env.run(&["agents", "list"]).success().json();
    assert_eq!(list["items"][0]["id"], v["id"], "{list:#}");
}

#[test]
fn agents_register_rejects_an_unknown_region_with_code_2() {
    let env = Env::new();
    let out = env.run(&["agents", "register", "--name", "x", "--region", "mars"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
    assert!(
        out.stderr.contains("region"),
        "stderr does not name the field: {out:#?}"
    );
    assert!(
        out.stderr.contains("mars"),
        "stderr does not quote the value: {out:#?}"
    );
    for r in REGIONS {
        assert!(out.stderr.contains(r), "stderr does not list {r}: {out:#?}");
    }
}

#[test]
fn vault_put_from_env_never_shows_or_stores_the_value_in_clear() {
    let env = Env::new();
    let agent = env.register("vaulted");
    let secret = unique_secret();
    let mut cmd = env.command(&[
        "vault",
        "put",
        "--agent",
        &agent,
        "--key",
        "k",
        "--from-env",
        "SOME_VAR",
    ]);
    cmd.env("SOME_VAR", &secret);
    let out = run(cmd, env.dir.path()).success();
    assert_vault_metadata(&out, &agent, &secret);
    let list = env.run(&["vault", "list", "--agent", &agent]).success();
    assert_eq!(
        list.json()["items"][0]["fingerprint"],
        out.json()["fingerprint"]
    );

    let mut places = vec![
        ("put stdout".to_string(), out.stdout.clone().into_bytes()),
        ("put stderr".to_string(), out.stderr.clone().into_bytes()),
        ("list stdout".to_string(), list.stdout.into_bytes()),
        ("list stderr".to_string(), list.stderr.into_bytes()),
    ];
    let files = env.data_bytes();
    let entry = out.json()["id"].as_str().expect("vault id").to_string();
    assert_present(&entry, "the data file", &files[0].1);
    places.extend(files.into_iter().map(|(p, b)| (p.display().to_string(), b)));
    assert_absent(&secret, &places);
}

#[test]
fn vault_put_through_a_served_control_plane_keeps_the_value_out_of_the_data_file_and_wal() {
    const KEY: &str = "cli-test-api-key-0123456789abcdef";
    let env = Env::new();
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
        l.local_addr().expect("local_addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let log = env.dir.path().join("serve.log");
    let mut serve = env.command(&["serve", "--bind", &format!("127.0.0.1:{port}")]);
    serve
        .env("HEROA_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("server log"));
    let mut server = KillOnDrop(serve.spawn().expect("spawn heroa serve"));
    let start = Instant::now();
    loop {
        if let Some(s) = server.0.try_wait().expect("try_wait") {
            panic!(
                "heroa serve exited with {s}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("heroa serve: listening on")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "heroa serve was not ready within 20 s: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let remote = |args: &[&str]| {
        let mut c = env.command(args);
        c.env("HEROA_BASE_URL", &url).env("HEROA_API_KEY", KEY);
        c
    };

    let out = run(
        remote(&[
            "agents", "register", "--name", "served", "--region", "eu-west",
        ]),
        env.dir.path(),
    )
    .success();
    let agent = out.json()["id"].as_str().expect("agent id").to_string();
    let secret = unique_secret();
    let mut put = remote(&[
        "vault",
        "put",
        "--agent",
        &agent,
        "--key",
        "k",
        "--from-env",
        "SOME_VAR",
    ]);
    put.env("SOME_VAR", &secret);
    let out = run(put, env.dir.path()).success();
    assert_vault_metadata(&out, &agent, &secret);

    // The server is still running: the write sits in the WAL.
    let mut places = vec![
        ("put stdout".to_string(), out.stdout.clone().into_bytes()),
        ("put stderr".to_string(), out.stderr.clone().into_bytes()),
    ];
    let files = env.data_bytes();
    assert_eq!(
        files.len(),
        2,
        "expected the data file and its -wal while the server runs"
    );
    let entry = out.json()["id"].as_str().expect("vault id").to_string();
    assert_present(&entry, "the -wal file", &files[1].1);
    places.extend(files.into_iter().map(|(p, b)| (p.display().to_string(), b)));
    places.push((
        "the server's stderr".to_string(),
        std::fs::read(&log).unwrap_or_default(),
    ));
    assert_absent(&secret, &places);
    drop(server);
}

#[test]
fn vault_put_without_a_value_source_names_value() {
    let env = Env::new();
    let agent = env.register("novalue");
    let out = env.run(&["vault", "put", "--agent", &agent, "--key", "k"]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("value"),
        "stderr does not name value: {out:#?}"
    );
    // Both sources at once is refused the same way.
    let mut cmd = env.command(&[
        "vault",
        "put",
        "--agent",
        &agent,
        "--key",
        "k",
        "--stdin",
        "--from-env",
        "SOME_VAR",
    ]);
    cmd.env("SOME_VAR", "x");
    let out = run(cmd, env.dir.path());
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(
        out.stderr.contains("value"),
        "stderr does not name value: {out:#?}"
    );
    // Nothing was stored.
    let list = env
        .run(&["vault", "list", "--agent", &agent])
        .success()
        .json();
    assert_eq!(list["items"], serde_json::json!([]), "{list:#}");
}

#[test]
fn policies_validate_prints_the_translated_cedar() {
    let env = Env::new();
    let file = env.write("seed.policy", SEED_POLICY);
    let out = env
        .run(&["policies", "validate", "--file", file.to_str().unwrap()])
        .success();
    let v = out.json();
    let cedar = v["cedar"]
        .as_str()
        .unwrap_or_else(|| panic!("no cedar: {v:#}"));
    assert!(
        cedar.contains(
            r#"["hubspot:contact:read", "hubspot:contact:enrich"].contains(resource.name)"#
        ),
        "set membership not translated: {cedar}"
    );
    assert!(
        cedar.contains(r#"context.run_cost_usd.lessThan(decimal("0.50"))"#),
        "decimal comparison not translated: {cedar}"
    );
    assert!(
        cedar.contains(r#"action == Action::"skill:invoke""#),
        "{cedar}"
    );
    let translations = v["translations"].as_array().expect("translations");
    let rules: Vec<&str> = translations
        .iter()
        .filter_map(|t| t["rule"].as_str())
        .collect();
    assert!(
        rules.contains(&"set_membership") && rules.contains(&"decimal_comparison"),
        "{v:#}"
    );
    let membership = translations
        .iter()
        .find(|t| t["rule"] == "set_membership")
        .unwrap();
    assert_eq!(
        (&membership["line"], &membership["column"]),
        (&Value::from(3), &Value::from(7)),
        "{v:#}"
    );
    assert_eq!(v["policy_count"], 1, "{v:#}");
}

#[test]
fn policies_validate_reports_line_and_column_and_exits_2() {
    let env = Env::new();
    let file = env.write("broken.policy", BROKEN_POLICY);
    let out = env.run(&["policies", "validate", "--file", file.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");
    assert!(
        out.stderr.contains("5:5"),
        "no line:column in the message: {out:#?}"
    );
    let details = stderr_details(&out);
    let d = &details["diagnostics"][0];
    assert_eq!(d["line"], 5, "{details:#}");
    assert_eq!(d["column"], 5, "{details:#}");
    assert!(
        d["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{details:#}"
    );
}

#[test]
fn run_prints_complete_and_its_audit_chain_verifies() {
    let env = Env::new();
    let agent = env.register("runner");
    let file = env.write("all.policy", PERMIT_ALL);
    env.run(&[
        "policies",
        "create",
        "--agent",
        &agent,
        "--file",
        file.to_str().unwrap(),
    ])
    .success();
    let promoted = env
        .run(&["agents", "promote", &agent, "L3_autonomous"])
        .success()
        .json();
    assert_eq!(promoted["promotion"], "L3_autonomous", "{promoted:#}");

    let out = env
        .run(&[
            "run",
            &agent,
            "--input",
            r#"{"calls":[{"skill":"heroa:echo","args":{}}]}"#,
        ])
        .success();
    assert!(out.stdout.contains("status:    complete"), "{out:#?}");
    let run_id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("run:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no run line: {out:#?}"))
        .to_string();
    assert!(run_id.starts_with("run_"), "{run_id}");
    assert!(
        out.stdout.contains(&format!(
            "audit_url: heroa://embedded/v1/runs/{run_id}/audit"
        )),
        "{out:#?}"
    );

    let verify = env.run(&["runs", "verify", &run_id]).success().json();
    assert_eq!(verify["valid"], true, "{verify:#}");
    assert_eq!(verify["run_id"], run_id.as_str(), "{verify:#}");

    // A well-formed id that does not exist is not "valid".
    let missing = env.run(&["runs", "verify", "run_00000000000000000000000000"]);
    assert_ne!(missing.code, Some(0), "{missing:#?}");
}

#[test]
fn deploy_events_schedule_and_webhook_verify_from_the_command_line() {
    let env = Env::new();
    // A sub-agent deployed from the CLI, run, and its events streamed as JSON lines.
    let dep = env
        .run(&[
            "deploy",
            "--mode",
            "agent",
            "--template",
            "noop",
            "--ttl",
            "15m",
            "--name",
            "worker",
        ])
        .success()
        .json();
    assert_eq!(dep["mode"], "agent");
    let handle = dep["handle"].as_str().expect("a handle").to_string();
    let out = env
        .run(&["run", &handle, "--input", r#"{"x": 1}"#])
        .success();
    let run_id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("run:"))
        .unwrap()
        .trim()
        .to_string();
    let events = env.run(&["runs", "events", &run_id]).success();
    let lines: Vec<Value> = events
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["event"], "run.queued");
    assert_eq!(lines.last().unwrap()["event"], "done");
    let tail = env
        .run(&["runs", "events", &run_id, "--after", "1"])
        .success();
    assert_eq!(tail.stdout.lines().count(), lines.len() - 2);
    let list = env.run(&["deployments", "list"]).success().json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let bad = env.run(&["deploy", "--mode", "lambda"]);
    assert_eq!(bad.code, Some(2), "{bad:#?}");
    assert!(bad.stderr.contains("field: mode"), "{bad:#?}");

    // Schedules and webhooks; the secret comes from the environment.
    let agent = env.register("nightly");
    let updated = env
        .run(&["agents", "update", &agent, "--schedule", "0 3 * * *"])
        .success()
        .json();
    assert_eq!(updated["schedule"], "0 3 * * *");
    assert!(
        updated["next_run_at"]
            .as_str()
            .unwrap()
            .ends_with("T03:00:00Z")
    );
    let bad = env.run(&["agents", "update", &agent, "--schedule", "61 * * * *"]);
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("schedule"), "{bad:#?}");
    let secret = unique_secret();
    let mut cmd = env.command(&[
        "agents",
        "update",
        &agent,
        "--webhook-url",
        "http://127.0.0.1:9/hook",
        "--webhook-secret-env",
        "HOOK_SECRET",
    ]);
    cmd.env("HOOK_SECRET", &secret);
    let hooked = run(cmd, env.dir.path()).success();
    assert!(!hooked.stdout.contains(&secret) && !hooked.stderr.contains(&secret));
    assert_eq!(hooked.json()["webhook"]["url"], "http://127.0.0.1:9/hook");

    // Verifying a received delivery: GitHub's published example.
    let body = env.write("body.txt", "Hello, World!");
    let verify = |sig: &str| {
        let mut cmd = env.command(&[
            "webhooks",
            "verify",
            "--body-file",
            body.to_str().unwrap(),
            "--header",
            &format!("heroa-signature: {sig}"),
            "--secret-env",
            "GH_SECRET",
        ]);
        cmd.env("GH_SECRET", "It's a Secret to Everybody");
        run(cmd, env.dir.path())
    };
    let ok =
        verify("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17").success();
    assert_eq!(ok.json()["valid"], true);
    let bad = verify("sha256=657107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    assert_ne!(bad.code, Some(0));
    assert!(bad.stderr.contains("mismatch"), "{bad:#?}");
}
