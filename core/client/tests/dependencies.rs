//! The thin client stays thin: built on its own (the remote client for mobile apps
//! and for users who only talk to a server), its dependency tree holds no SQLite, no
//! axum, no Cedar, no clap and none of the runtime's Linux-only code. Asked of cargo
//! itself, from the lock file, so a new dependency that drags one in fails here.

use std::process::Command;

fn tree(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
        ])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn crates(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

const HEAVY: &[&str] = &[
    "heroa-runtime",
    "heroa-server",
    "rusqlite",
    "libsqlite3-sys",
    "axum",
    "cedar-policy",
    "heroa-policy",
    "clap",
    "tracing-subscriber",
    "rcgen",
    "tar",
];

#[test]
fn the_remote_client_holds_no_runtime_sqlite_axum_or_cedar() {
    let t = tree(&["heroa-client"]);
    let found = crates(&t);
    assert!(found.contains(&"heroa-protocol"), "{t}");
    assert!(found.contains(&"reqwest"), "{t}");
    for heavy in HEAVY {
        assert!(
            !found.contains(heavy),
            "heroa-client depends on {heavy}:\n{t}"
        );
    }
}

#[test]
fn the_policy_feature_adds_cedar_and_nothing_of_the_runtime() {
    let t = tree(&["heroa-client", "--features", "policy"]);
    let found = crates(&t);
    assert!(found.contains(&"cedar-policy"), "{t}");
    for heavy in HEAVY
        .iter()
        .filter(|h| !["cedar-policy", "heroa-policy"].contains(h))
    {
        assert!(
            !found.contains(heavy),
            "heroa-client[policy] depends on {heavy}:\n{t}"
        );
    }
}

#[test]
fn the_embedded_feature_is_what_brings_the_runtime() {
    let t = tree(&["heroa-client", "--features", "embedded"]);
    let found = crates(&t);
    assert!(
        found.contains(&"heroa-runtime") && found.contains(&"rusqlite"),
        "{t}"
    );
}

#[test]
fn the_protocol_crate_is_serde_only() {
    let t = tree(&["heroa-protocol"]);
    let found = crates(&t);
    for heavy in HEAVY.iter().chain(&["reqwest", "tokio"]) {
        assert!(
            !found.contains(heavy),
            "heroa-protocol depends on {heavy}:\n{t}"
        );
    }
}
