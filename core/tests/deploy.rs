//! `deploy`: the deploy guide's three examples against the embedded runtime, TTL expiry,
//! restarts, idempotency, and bad input.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use heroa::clock::Clock;
use heroa::protocol::*;
use heroa::{Client, ErrorKind, Runtime, RuntimeOptions, Skill};
use secrecy::SecretString;
use serde_json::{Value, json};

const APP: &str = include_str!("fixtures/app_server.py");

fn sh(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A git repository holding the app, with a Procfile, like a coding agent's output.
fn generated_api_repo(root: &Path) -> PathBuf {
    let repo = root.join("generated-api");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::write(repo.join("server.py"), APP).unwrap();
    std::fs::write(repo.join("Procfile"), "web: python3 server.py\n").unwrap();
    sh(&repo, &["git", "init", "-q", "-b", "main"]);
    sh(
        &repo,
        &[
            "git",
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=agent",
            "add",
            ".",
        ],
    );
    sh(
        &repo,
        &[
            "git",
            "-c",
            "user.email=a@b",
            "-c",
            "user.name=agent",
            "commit",
            "-qm",
            "generated API",
        ],
    );
    repo
}

/// An HTTPS client that trusts only the runtime's CA and reaches app host names
/// through the gateway on loopback.
async fn tls_client(rt: &Runtime, url: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(rt.gateway_ca_pem().await.unwrap().as_bytes()).unwrap();
    let host = url
        .trim_start_matches("https://")
        .split(['/', ':'])
        .next()
        .unwrap()
        .to_string();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve(&host, rt.gateway_addr().await.unwrap())
        .no_proxy()
        .build()
        .unwrap()
}

fn app_source(dir: &Path) -> Value {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("server.py"), APP).unwrap();
    json!({"path": dir, "command": ["python3", "server.py"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_spawns_a_batch_processor_sub_agent_and_runs_100_items() {
    let c = Client::embedded(None).unwrap();
    let rt = c.runtime().unwrap().clone();
    let embeds = Arc::new(AtomicUsize::new(0));
    let e = embeds.clone();
    rt.register_skill(
        Skill::new("embed", SkillKind::Read, move |call| {
            let e = e.clone();
            async move {
                e.fetch_add(1, Ordering::SeqCst);
                Ok(json!({"index": call.args["index"], "vector": [call.args["item"].as_str().unwrap().len()]}))
            }
        })
        .cost_usd(Usd::from_micros(1_000).unwrap()),
    )
    .unwrap();
    rt.register_skill(Skill::new("slack:post", SkillKind::Write, |_| async move {
        Ok(json!({"ok": true}))
    }))
    .unwrap();
    rt.register_skill(Skill::new(
        "read:secret",
        SkillKind::Read,
        |call| async move {
            let key = call.args["key"].as_str().unwrap_or("");
            call.secret(key)
                .map(|_| json!({"read": key}))
                .map_err(|e| e.to_string())
        },
    ))
    .unwrap();
    // The research agent: may embed, read secrets and deploy; not post to Slack.
    let parent = c
        .agents()
        .register(RegisterAgent::new("research-agent", "us-east"))
        .await
        .unwrap();
    c.policies()
        .create(
            &parent.id,
            r#"permit(principal, action == Action::"skill:invoke", resource)
               when { resource.name in ["embed", "heroa:deploy", "read:secret"] };"#,
        )
        .await
        .unwrap();
    let parent = c
        .agents()
        .set_promotion(&parent.id, PromotionLevel::L3Autonomous)
        .await
        .unwrap();
    for key in ["hf_token", "db_password"] {
        c.vault()
            .put(VaultPut::agent(
                &parent.id,
                key,
                SecretString::from(format!("{key}-value")),
            ))
            .await
            .unwrap();
    }
    let other = c
        .agents()
        .register(RegisterAgent::new("other-agent", "us-east"))
        .await
        .unwrap();
    c.vault()
        .put(VaultPut::agent(
            &other.id,
            "other_key",
            SecretString::from("x".repeat(10)),
        ))
        .await
        .unwrap();

    // Mid-run, the parent deploys a batch-processor through the heroa:deploy skill.
    let run = c
        .agents()
        .run(
            &parent.id,
            json!({"calls": [{"skill": "heroa:deploy", "args": {
                "mode": "agent", "template": "batch-processor", "region": "us-east", "ttl": "30m",
                "policy": {"tools": ["embed", "slack:post", "read:secret"], "secret_scopes": ["hf_token"]}
            }}]}),
        )
        .await
        .unwrap();
    let run = c
        .runs()
        .wait(&run.id, Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Complete, "{:?}", run.output);
    let answer = &run.output.unwrap()["results"][0]["output"];
    let handle = answer["handle"]
        .as_str()
        .expect("agent mode answers a handle")
        .to_string();
    assert_eq!(answer["mode"], "agent");
    assert_eq!(answer["region"], "us-east");
    assert!(answer["expires_at"].is_string() && answer.get("url").is_none());
    let worker = c.agents().get(&handle).await.unwrap();
    assert_eq!(worker.parent_id.as_deref(), Some(parent.id.as_str()));
    assert_eq!(worker.promotion, PromotionLevel::L3Autonomous);

    // worker.run({items: docs, task: "embed"}): 100 items, results in order.
    let docs: Vec<String> = (0..100).map(|i| "d".repeat(i + 1)).collect();
    let out = c
        .agents()
        .run(
            &handle,
            json!({"items": docs, "task": "embed", "concurrency": 16}),
        )
        .await
        .unwrap();
    let out = c
        .runs()
        .wait(&out.id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(out.status, RunStatus::Complete);
    let results = out.output.as_ref().unwrap()["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 100);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["output"]["index"], i);
        assert_eq!(r["output"]["vector"][0], i + 1);
    }
    assert_eq!(embeds.load(Ordering::SeqCst), 100);
    assert_eq!(out.cost_usd, Usd::cents(10));

    // The envelope is the intersection: what the parent cannot do, the child cannot.
    let attempt = |calls: Value| {
        let c = c.clone();
        let handle = handle.clone();
        async move {
            let r = c
                .agents()
                .run(
                    &handle,
                    json!({"items": [1], "task": calls["task"], "args": calls["args"]}),
                )
                .await
                .unwrap();
            let r = c.runs().wait(&r.id, Duration::from_secs(10)).await.unwrap();
            r.output.unwrap()["results"][0].clone()
        }
    };
    let slack = attempt(json!({"task": "slack:post"})).await;
    assert_eq!(slack["outcome"], "blocked");
    assert!(
        slack["reason"]
            .as_str()
            .unwrap()
            .contains("parent agent research-agent"),
        "{slack}"
    );
    let deploy = attempt(json!({"task": "heroa:deploy"})).await;
    assert_eq!(
        deploy["outcome"], "blocked",
        "not in the child's tools: {deploy}"
    );
    let in_scope = attempt(json!({"task": "read:secret", "args": {"key": "hf_token"}})).await;
    assert_eq!(in_scope["outcome"], "executed", "{in_scope}");
    let out_of_scope =
        attempt(json!({"task": "read:secret", "args": {"key": "db_password"}})).await;
    assert_eq!(out_of_scope["outcome"], "failed");
    assert!(
        out_of_scope["error"]
            .as_str()
            .unwrap()
            .contains("secret scopes"),
        "{out_of_scope}"
    );
    let others = attempt(json!({"task": "read:secret", "args": {"key": "other_key"}})).await;
    assert_eq!(others["outcome"], "failed");
    // A sub-agent cannot widen egress beyond its parent's (the parent here is open).
    let dep = c.deployments().list().await.unwrap().items.remove(0);
    assert_eq!(
        dep.policy.tools.as_deref(),
        Some(
            &[
                "embed".to_string(),
                "slack:post".into(),
                "read:secret".into()
            ][..]
        )
    );
    assert_eq!(
        dep.policy.secret_scopes.as_deref(),
        Some(&["hf_token".to_string()][..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coding_agent_deploys_its_api_from_a_repo_ref_and_it_answers_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let repo = generated_api_repo(dir.path());
    let c = Client::embedded(Some(dir.path().join("h.db"))).unwrap();
    let rt = c.runtime().unwrap().clone();
    let endpoint = c
        .deploy(DeployRequest {
            mode: "app".into(),
            region: Some("us-east".into()),
            resource_tier: Some("small".into()),
            ttl: Some("2h".into()),
            source: Some(json!({"repo": repo, "ref": "HEAD"})),
            policy: Some(DeployPolicy {
                egress: Some("allow-list".into()),
                allow_list: vec!["api.github.com".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let url = endpoint.url.clone().expect("app mode answers a url");
    assert!(
        url.starts_with("https://") && url.contains(".heroa.localhost"),
        "{url}"
    );
    assert_eq!(
        (endpoint.mode, endpoint.region, endpoint.status),
        (DeployMode::App, Region::UsEast, DeploymentStatus::Running)
    );
    assert!(endpoint.endpoint.is_none() && endpoint.handle.is_none());
    let http = tls_client(&rt, &url).await;
    let resp = http
        .get(format!("{url}/v1/hello?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["path"], "/v1/hello?x=1");
    // A client that does not trust the runtime's CA is refused.
    let untrusting = reqwest::Client::builder()
        .resolve(
            url.trim_start_matches("https://")
                .split(':')
                .next()
                .unwrap(),
            rt.gateway_addr().await.unwrap(),
        )
        .no_proxy()
        .build()
        .unwrap();
    assert!(untrusting.get(&url).send().await.is_err());
    assert!(endpoint.limits.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_app_reaches_only_its_allowed_host() {
    let dir = tempfile::tempdir().unwrap();
    // The one host the app may call (on loopback, as an IP literal).
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "charged" }));
        axum::serve(upstream, app).await.unwrap();
    });
    let c = Client::embedded(None).unwrap();
    let rt = c.runtime().unwrap().clone();
    let dep = c
        .deploy(DeployRequest {
            mode: "app".into(),
            resource_tier: Some("medium".into()),
            ttl: Some("persistent".into()),
            source: Some(app_source(&dir.path().join("checkout-api"))),
            policy: Some(DeployPolicy {
                egress: Some("allow-list".into()),
                allow_list: vec!["127.0.0.1".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dep.expires_at.is_none());
    let url = dep.url.clone().unwrap();
    let http = tls_client(&rt, &url).await;
    let ok = http
        .get(format!("{url}/fetch?url=http://127.0.0.1:{}/", up.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "charged");
    let refused = http
        .get(format!("{url}/fetch?url=http://localhost:{}/", up.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.text().await.unwrap(), "refused 403");
    let refused = http
        .get(format!("{url}/fetch?url=http://api.example.com/"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.text().await.unwrap(), "refused 403");
    // A raw socket that ignores the proxy variables: where the machine permits a
    // network namespace (here: root), it reaches nothing, not even the allowed
    // host; on the host network it would get through (documented).
    let direct = http
        .get(format!("{url}/direct?port={}", up.port()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let network = dep.limits.as_ref().unwrap()["network"].clone();
    if heroa::executor::netns::Netns::create().is_ok() {
        assert_eq!(network, "namespace");
        assert_eq!(direct, "blocked ConnectionRefusedError");
    } else {
        assert_eq!(network, "host");
        assert_eq!(direct, "connected");
    }
    let log = rt.egress_log(rt.default_workspace(), &dep.id).unwrap();
    assert!(log.iter().any(|e| e.allowed && e.host == "127.0.0.1"));
    assert!(
        log.iter()
            .any(|e| !e.allowed && e.host == "api.example.com"),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttls_expire_on_a_test_clock_and_restarts_restore_or_reap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let clock = Clock::manual(1_780_000_000_000);
    let open = || {
        Client::from_runtime(
            Runtime::open(RuntimeOptions::file(&path).clock(clock.clone())).unwrap(),
            None,
        )
    };
    let c = open();
    let rt = c.runtime().unwrap().clone();
    let short = c
        .deploy(DeployRequest {
            mode: "app".into(),
            ttl: Some("30s".into()),
            source: Some(app_source(&dir.path().join("a"))),
            name: Some("short".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let keeper = c
        .deploy(DeployRequest {
            mode: "app".into(),
            ttl: Some("persistent".into()),
            source: Some(app_source(&dir.path().join("b"))),
            name: Some("keeper".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let sub = c
        .deploy(DeployRequest {
            mode: "agent".into(),
            template: Some("noop".into()),
            ttl: Some("15m".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let handle = sub.handle.clone().unwrap();
    let url = short.url.clone().unwrap();
    let http = tls_client(&rt, &url).await;
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);

    clock.advance(Duration::from_secs(31));
    for _ in 0..200 {
        if c.deployments().get(&short.id).await.unwrap().status == DeploymentStatus::Expired {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        c.deployments().get(&short.id).await.unwrap().status,
        DeploymentStatus::Expired
    );
    assert_eq!(http.get(&url).send().await.unwrap().status(), 410);
    // Extending and deleting.
    let extended = c.deployments().extend(&sub.id, "24h").await.unwrap();
    assert_ne!(extended.expires_at, sub.expires_at);
    let err = c.deployments().extend(&short.id, "1h").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);

    // Restart 25 h later: the persistent app comes back, the sub-agent has expired.
    drop(http);
    drop(rt);
    drop(c);
    clock.advance(Duration::from_secs(25 * 3600));
    let c = open();
    let rt = c.runtime().unwrap().clone();
    let mut back = None;
    for _ in 0..300 {
        let d = c.deployments().get(&keeper.id).await.unwrap();
        let e = c.deployments().get(&sub.id).await.unwrap();
        if d.url != keeper.url
            && d.status == DeploymentStatus::Running
            && e.status == DeploymentStatus::Expired
        {
            back = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = back.expect("the persistent app was not restored, or the sub-agent not reaped");
    let url = back.url.unwrap();
    assert_eq!(
        tls_client(&rt, &url)
            .await
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let err = c.agents().run(&handle, json!({})).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::FailedPrecondition);
    assert!(
        err.message().contains("no longer accepts runs"),
        "{}",
        err.message()
    );
    let gone = c.deployments().delete(&back.id).await.unwrap();
    assert_eq!(gone.status, DeploymentStatus::Stopped);
    assert_eq!(
        tls_client(&rt, &url)
            .await
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        410
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_or_name_returns_the_same_deployment() {
    let c = Client::embedded(None).unwrap();
    let req = DeployRequest {
        mode: "agent".into(),
        template: Some("noop".into()),
        idempotency_key: Some("k1".into()),
        ..Default::default()
    };
    let a = c.deploy(req.clone()).await.unwrap();
    let b = c.deploy(req).await.unwrap();
    assert_eq!(a, b);
    let named = DeployRequest {
        mode: "agent".into(),
        template: Some("noop".into()),
        name: Some("worker-1".into()),
        ..Default::default()
    };
    let x = c.deploy(named.clone()).await.unwrap();
    assert_eq!(c.deploy(named).await.unwrap().id, x.id);
    assert_eq!(c.deployments().list().await.unwrap().items.len(), 2);
    assert_eq!(c.agents().list().await.unwrap().items.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::embedded(None).unwrap();
    let good_src = app_source(&dir.path().join("ok"));
    let base = DeployRequest {
        mode: "app".into(),
        source: Some(good_src.clone()),
        ..Default::default()
    };
    let cases: Vec<(DeployRequest, &str)> = vec![
        (
            DeployRequest {
                mode: "lambda".into(),
                ..base.clone()
            },
            "mode",
        ),
        (
            DeployRequest {
                region: Some("mars-north".into()),
                ..base.clone()
            },
            "region",
        ),
        (
            DeployRequest {
                resource_tier: Some("huge".into()),
                ..base.clone()
            },
            "resource_tier",
        ),
        (
            DeployRequest {
                ttl: Some("forever".into()),
                ..base.clone()
            },
            "ttl",
        ),
        (
            DeployRequest {
                ttl: Some("0m".into()),
                ..base.clone()
            },
            "ttl",
        ),
        (
            DeployRequest {
                template: Some("batch-processor".into()),
                ..base.clone()
            },
            "template",
        ),
        (
            DeployRequest {
                source: Some(json!({"path": dir.path().join("missing")})),
                ..base.clone()
            },
            "source",
        ),
        (
            DeployRequest {
                source: Some(json!("/no/such/dir")),
                ..base.clone()
            },
            "source",
        ),
        (
            DeployRequest {
                source: None,
                ..base.clone()
            },
            "source",
        ),
        (
            DeployRequest {
                gpu: Some(true),
                ..base.clone()
            },
            "gpu",
        ),
        (
            DeployRequest {
                policy: Some(DeployPolicy {
                    egress: Some("sometimes".into()),
                    ..Default::default()
                }),
                ..base.clone()
            },
            "policy.egress",
        ),
        (
            DeployRequest {
                mode: "agent".into(),
                source: None,
                ..base.clone()
            },
            "template",
        ),
        (
            DeployRequest {
                mode: "agent".into(),
                source: None,
                template: Some("no-such".into()),
                ..base.clone()
            },
            "template",
        ),
        (
            DeployRequest {
                mode: "agent".into(),
                source: None,
                template: Some("noop".into()),
                policy: Some(DeployPolicy {
                    tools: Some(vec!["nope".into()]),
                    ..Default::default()
                }),
                ..base.clone()
            },
            "policy.tools[0]",
        ),
    ];
    for (req, field) in cases {
        let err = c.deploy(req.clone()).await.unwrap_err();
        assert_eq!(err.field(), Some(field), "{req:?}: {err:?}");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidArgument | ErrorKind::FailedPrecondition
            ),
            "{err:?}"
        );
    }
    // A container image on a machine with no container engine: a clear error.
    let err = c
        .deploy(DeployRequest {
            source: Some(json!({"image": "ghcr.io/tenant/checkout-api:v1.2.3"})),
            ..base.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some("source"));
    assert!(
        err.message().to_lowercase().contains("container engine"),
        "{}",
        err.message()
    );
    // Nothing is running: no live deployment, no agent.
    let live: Vec<Deployment> = c
        .deployments()
        .list()
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|d| d.status == DeploymentStatus::Running)
        .collect();
    assert!(live.is_empty(), "{live:?}");
    assert!(c.agents().list().await.unwrap().items.is_empty());
    // And a corrected deploy works.
    assert_eq!(
        c.deploy(base).await.unwrap().status,
        DeploymentStatus::Running
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_is_private_and_resolvable_only_in_its_workspace_and_region() {
    let dir = tempfile::tempdir().unwrap();
    let c = Client::embedded(None).unwrap();
    let rt = c.runtime().unwrap().clone();
    let svc = c
        .deploy(DeployRequest {
            mode: "service".into(),
            region: Some("eu-west".into()),
            source: Some(app_source(&dir.path().join("svc"))),
            ..Default::default()
        })
        .await
        .unwrap();
    let endpoint = svc
        .endpoint
        .clone()
        .expect("service mode answers an endpoint");
    assert!(
        endpoint.starts_with(&format!("heroa://{}/svc/", rt.default_workspace())),
        "{endpoint}"
    );
    assert!(svc.url.is_none(), "no public URL unless opted in");
    let resolve = |agent: &Agent| {
        let (c, endpoint) = (c.clone(), endpoint.clone());
        let id = agent.id.clone();
        async move {
            let run = c
                .agents()
                .run(
                    &id,
                    json!({"calls": [{"skill": "heroa:resolve", "args": {"endpoint": endpoint}}]}),
                )
                .await
                .unwrap();
            c.runs()
                .wait(&run.id, Duration::from_secs(10))
                .await
                .unwrap()
                .output
                .unwrap()["results"][0]
                .clone()
        }
    };
    let mut agents = Vec::new();
    for (name, region) in [("eu-agent", "eu-west"), ("us-agent", "us-east")] {
        let a = c
            .agents()
            .register(RegisterAgent::new(name, region))
            .await
            .unwrap();
        c.policies()
            .create(&a.id, "permit(principal, action, resource);")
            .await
            .unwrap();
        agents.push(
            c.agents()
                .set_promotion(&a.id, PromotionLevel::L3Autonomous)
                .await
                .unwrap(),
        );
    }
    let same = resolve(&agents[0]).await;
    let url = same["output"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("same region resolves: {same}"))
        .to_string();
    let body = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"ok\": true"), "{body}");
    let other_region = resolve(&agents[1]).await;
    assert_eq!(other_region["outcome"], "failed");
    assert!(
        other_region["error"]
            .as_str()
            .unwrap()
            .contains("only within their region"),
        "{other_region}"
    );
    // Another workspace cannot resolve it at all.
    let ws2 = rt.create_workspace("other", Tier::Team).unwrap();
    let a2 = rt
        .register_agent(&ws2.id, RegisterAgent::new("eu-agent", "eu-west"))
        .unwrap();
    let err = rt.resolve_service(&ws2.id, &a2.id, &endpoint).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    // Opting in gives a public URL too.
    let public = c
        .deploy(DeployRequest {
            mode: "service".into(),
            public: Some(true),
            source: Some(app_source(&dir.path().join("pub"))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(public.url.is_some() && public.endpoint.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_app_is_restarted_and_the_deployment_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("crashy");
    std::fs::create_dir_all(&app).unwrap();
    // Answers, then exits 300 ms after its first answer, each time it is started.
    std::fs::write(
        app.join("server.py"),
        include_str!("fixtures/crashy_server.py"),
    )
    .unwrap();
    let c = Client::embedded(None).unwrap();
    let dep = c
        .deploy(DeployRequest {
            mode: "app".into(),
            source: Some(json!({"path": app, "command": "python3 server.py"})),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut seen = None;
    // Bounded at 10 s: a loaded 2-core machine holds the app to its tier's CPU quota.
    for _ in 0..500 {
        let d = c.deployments().get(&dep.id).await.unwrap();
        if d.restarts >= 1 {
            seen = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let d = seen.expect("the restart was not reported");
    assert!(d.error.as_deref().unwrap_or("").contains("exited"), "{d:?}");
    c.deployments().delete(&dep.id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tarball_deploys_and_a_name_is_free_again_after_delete() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("api");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("server.py"), APP).unwrap();
    std::fs::write(src.join("Procfile"), "web: python3 server.py\n").unwrap();
    sh(dir.path(), &["tar", "czf", "api.tar.gz", "api"]);
    let c = Client::embedded(None).unwrap();
    let rt = c.runtime().unwrap().clone();
    let req = DeployRequest {
        mode: "app".into(),
        name: Some("api".into()),
        source: Some(json!(dir.path().join("api.tar.gz"))),
        ..Default::default()
    };
    let first = c.deploy(req.clone()).await.unwrap();
    let url = first.url.clone().unwrap();
    assert_eq!(
        tls_client(&rt, &url)
            .await
            .get(&url)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.deploy(req.clone()).await.unwrap().id,
        first.id,
        "same name while live: same deployment"
    );
    c.deployments().delete(&first.id).await.unwrap();
    let second = c.deploy(req).await.unwrap();
    assert_ne!(
        second.id, first.id,
        "the name is free once the first is stopped"
    );
    assert_eq!(
        c.deployments().get(&first.id).await.unwrap().status,
        DeploymentStatus::Stopped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_also_answers_over_plain_http_when_the_gateway_listens_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = RuntimeOptions::memory();
    options.gateway.http_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let c = Client::from_runtime(Runtime::open(options).unwrap(), None);
    let dep = c
        .deploy(DeployRequest {
            mode: "app".into(),
            source: Some(app_source(&dir.path().join("plain"))),
            ..Default::default()
        })
        .await
        .unwrap();
    let http_url = dep
        .http_url
        .clone()
        .expect("http_url with an HTTP listener");
    let host = dep.url.as_deref().unwrap()["https://".len()..]
        .split(':')
        .next()
        .unwrap();
    assert!(
        http_url.starts_with(&format!("http://{host}:")),
        "{http_url} vs {:?}",
        dep.url
    );
    let port: u16 = http_url.rsplit(':').next().unwrap().parse().unwrap();
    let plain = reqwest::Client::builder()
        .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .no_proxy()
        .build()
        .unwrap();
    let body: Value = plain
        .get(format!("{http_url}/hello"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["path"], "/hello");
    // Without the listener (the default) there is no plain URL.
    let c = Client::embedded(None).unwrap();
    let dep = c
        .deploy(DeployRequest {
            mode: "app".into(),
            source: Some(app_source(&dir.path().join("tls-only"))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(dep.url.is_some() && dep.http_url.is_none(), "{dep:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_deleted_while_it_starts_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("slow");
    std::fs::create_dir_all(&app).unwrap();
    // Ready only after a second.
    std::fs::write(
        app.join("server.py"),
        format!("import time\ntime.sleep(1)\n{APP}"),
    )
    .unwrap();
    let c = Client::embedded(None).unwrap();
    let deploying = tokio::spawn({
        let c = c.clone();
        async move {
            c.deploy(DeployRequest {
                mode: "app".into(),
                name: Some("slow".into()),
                source: Some(json!({"path": app, "command": ["python3", "server.py"]})),
                ..Default::default()
            })
            .await
        }
    });
    let starting = loop {
        let list = c.deployments().list().await.unwrap().items;
        if let Some(d) = list.into_iter().find(|d| d.name == "slow") {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(starting.status, DeploymentStatus::Starting);
    let deleted = c.deployments().delete(&starting.id).await.unwrap();
    assert_eq!(deleted.status, DeploymentStatus::Stopped);
    // The deploy call ends with the deployment as it now is: stopped, not revived.
    let answered = deploying.await.unwrap().unwrap();
    assert_eq!(answered.status, DeploymentStatus::Stopped);
    assert_eq!(
        c.deployments().get(&starting.id).await.unwrap().status,
        DeploymentStatus::Stopped
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while heroa::executor::processes_with_env(heroa::runtime::DEPLOYMENT_ENV)
        .iter()
        .any(|(_, id)| *id == starting.id)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the started process was stopped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An archive the unpacker cannot write (a file under a file) is a bad source: 400
/// on `source`, over `heroa serve`, and the error body names no path of the
/// server's (its data directory, the deployment's directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_that_cannot_unpack_is_a_400_without_server_paths() {
    let state = tempfile::tempdir().unwrap();
    let rt = Runtime::open(RuntimeOptions::file(state.path().join("heroa.db"))).unwrap();
    let key = rt
        .create_api_key(rt.default_workspace())
        .unwrap()
        .reveal()
        .to_string();
    let server = heroa::server::Server::start(
        rt.clone(),
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("x"), "a file").unwrap();
    sh(src.path(), &["tar", "cf", "bad.tar", "x"]);
    std::fs::remove_file(src.path().join("x")).unwrap();
    std::fs::create_dir(src.path().join("x")).unwrap();
    std::fs::write(src.path().join("x/y"), "under the file").unwrap();
    sh(src.path(), &["tar", "rf", "bad.tar", "x/y"]);
    sh(src.path(), &["gzip", "bad.tar"]);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/deployments", server.url()))
        .bearer_auth(&key)
        .json(&json!({
            "mode": "app",
            "source": {"tarball": src.path().join("bad.tar.gz"), "command": ["true"]},
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["field"], "source", "{body}");
    assert!(body.contains("cannot be unpacked"), "{body}");
    let root = state.path().canonicalize().unwrap();
    for p in [state.path(), root.as_path()] {
        assert!(
            !body.contains(&*p.to_string_lossy()),
            "a server path in {body}"
        );
    }
    assert!(!body.contains("deployments/dep_"), "{body}");
}
