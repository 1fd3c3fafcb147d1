//! `heroa`: the Heroa command line — `heroa serve` and commands against the embedded
//! runtime (a local data file, default) or a remote control plane.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use heroa::protocol::{PromotionLevel, RegisterAgent, UpdateAgent, VaultPut};
use heroa::server::{ServeOptions, Server};
use heroa::{Client, Error, ErrorKind, Runtime, RuntimeOptions};
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "heroa",
    version,
    about = "Heroa: agent hosting as a tool call. Embedded control plane included."
)]
struct Cli {
    /// Embedded data file (used unless --remote / HEROA_BASE_URL is set).
    #[arg(long, global = true, env = "HEROA_DATA", default_value = "heroa.db")]
    data: PathBuf,
    /// Remote control plane URL (e.g. http://127.0.0.1:7420); its key comes from HEROA_API_KEY.
    #[arg(long, global = true, env = "HEROA_BASE_URL")]
    remote: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve the control plane over HTTP.
    Serve {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:7420")]
        bind: SocketAddr,
        /// Largest request body in bytes.
        #[arg(long, default_value_t = 1024 * 1024)]
        max_body_bytes: usize,
        /// Public base URL used in audit_url (default http://<bind>).
        #[arg(long)]
        public_url: Option<String>,
        /// HTTPS address of the gateway serving deployed apps (default: a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        gateway_addr: SocketAddr,
        /// Also serve deployed apps over plain HTTP on this address.
        #[arg(long)]
        gateway_http_addr: Option<SocketAddr>,
        /// Domain of app URLs (`https://<id>.<domain>`).
        #[arg(long, default_value = heroa::gateway::DEFAULT_DOMAIN)]
        domain: String,
    },
    /// Issue an API key for the default workspace (printed once, stored hashed).
    ApiKey,
    /// Agents.
    #[command(subcommand)]
    Agents(AgentCmd),
    /// The vault (values are read from stdin or an environment variable, never argv).
    #[command(subcommand)]
    Vault(VaultCmd),
    /// Policy envelopes.
    #[command(subcommand)]
    Policies(PolicyCmd),
    /// Start a run and wait for it: prints status, cost and audit URL.
    Run {
        /// Agent id.
        agent_id: String,
        /// Input as JSON.
        #[arg(long, default_value = "{}")]
        input: String,
        /// How long to wait, e.g. 120s, 5m.
        #[arg(long, default_value = "120s")]
        timeout: String,
    },
    /// Runs and audit records.
    #[command(subcommand)]
    Runs(RunCmd),
    /// L2 approvals.
    #[command(subcommand)]
    Approvals(ApprovalCmd),
    /// Deploy an app, a service or a sub-agent (use --remote for apps and services:
    /// an embedded CLI process stops its deployments when it exits).
    Deploy {
        /// app, service or agent.
        #[arg(long)]
        mode: String,
        /// Image, .tar.gz, directory, or JSON like '{"repo": "…", "ref": "HEAD"}'.
        #[arg(long)]
        source: Option<String>,
        /// Agent template (agent mode).
        #[arg(long)]
        template: Option<String>,
        #[arg(long)]
        region: Option<String>,
        /// small, medium or large.
        #[arg(long)]
        tier: Option<String>,
        /// 15m, 2h, 24h, … or persistent.
        #[arg(long)]
        ttl: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// allow-list, none or open.
        #[arg(long)]
        egress: Option<String>,
        /// A host the deployment may reach (repeat).
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// A skill a sub-agent may call (repeat).
        #[arg(long = "tool")]
        tools: Vec<String>,
    },
    /// Deployments.
    #[command(subcommand)]
    Deployments(DeploymentCmd),
    /// Webhooks: the delivery log, redelivery, and verifying a received delivery.
    #[command(subcommand)]
    Webhooks(WebhookCmd),
}

#[derive(Subcommand)]
enum DeploymentCmd {
    /// List deployments.
    List,
    /// Show a deployment.
    Get { deployment_id: String },
    /// Give a deployment a new TTL from now.
    Extend { deployment_id: String, ttl: String },
    /// Stop and delete a deployment.
    Delete { deployment_id: String },
}

#[derive(Subcommand)]
enum WebhookCmd {
    /// The delivery log.
    Deliveries {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Queue a delivery again.
    Redeliver { delivery_id: String },
    /// Verify a received delivery: the raw body from a file, headers as name:value,
    /// the signing secret from an environment variable.
    Verify {
        #[arg(long)]
        body_file: PathBuf,
        #[arg(long = "header")]
        headers: Vec<String>,
        #[arg(long)]
        secret_env: String,
    },
}

#[derive(Subcommand)]
enum AgentCmd {
    /// Register an agent identity.
    Register {
        #[arg(long)]
        name: String,
        #[arg(long)]
        region: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        template: Option<String>,
    },
    /// List agents.
    List,
    /// Show an agent.
    Get { agent_id: String },
    /// Set the promotion level (L0_shadow … L4_trusted).
    Promote { agent_id: String, level: String },
    /// Change the description, template, schedule or webhook.
    Update {
        agent_id: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        template: Option<String>,
        /// 5-field cron in UTC, e.g. "0 3 * * *"; "" removes it.
        #[arg(long)]
        schedule: Option<String>,
        /// Completion webhook URL (its secret from --webhook-secret-env).
        #[arg(long)]
        webhook_url: Option<String>,
        /// Environment variable holding the webhook signing secret.
        #[arg(long)]
        webhook_secret_env: Option<String>,
        /// Remove the webhook.
        #[arg(long)]
        remove_webhook: bool,
    },
    /// Delete an agent.
    Delete { agent_id: String },
}

#[derive(Subcommand)]
enum VaultCmd {
    /// Store a value: from stdin (--stdin) or an environment variable (--from-env NAME).
    Put {
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        key: String,
        #[arg(long)]
        stdin: bool,
        #[arg(long)]
        from_env: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// agent (default) or workspace.
        #[arg(long)]
        scope: Option<String>,
    },
    /// List entries (metadata and fingerprints only).
    List {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Delete an entry.
    Delete { vault_id: String },
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Create a new version of an agent's envelope from a file.
    Create {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        file: PathBuf,
    },
    /// Validate a policy file locally; prints the Cedar it becomes and its translations.
    Validate {
        #[arg(long)]
        file: PathBuf,
    },
    /// List versions.
    List {
        #[arg(long)]
        agent: Option<String>,
    },
}

#[derive(Subcommand)]
enum RunCmd {
    /// Show a run.
    Get { run_id: String },
    /// List runs.
    List {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Wait for a run.
    Wait {
        run_id: String,
        #[arg(long, default_value = "120s")]
        timeout: String,
    },
    /// Cancel a run.
    Cancel { run_id: String },
    /// Print the audit record.
    Audit { run_id: String },
    /// Verify the audit hash chain.
    Verify { run_id: String },
    /// Stream a run's events (one JSON line each) until it ends.
    Events {
        run_id: String,
        /// Resume after this event id.
        #[arg(long)]
        after: Option<u64>,
    },
}

#[derive(Subcommand)]
enum ApprovalCmd {
    /// List approvals (optionally by status).
    List {
        #[arg(long)]
        status: Option<String>,
    },
    /// Approve a held write.
    Approve {
        approval_id: String,
        #[arg(long)]
        by: Option<String>,
    },
    /// Deny a held write.
    Deny {
        approval_id: String,
        #[arg(long)]
        by: Option<String>,
    },
}

/// Writes a line to stdout; a closed pipe (`heroa … | head`) ends quietly.
fn out(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"));
    if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
        std::process::exit(0);
    }
}

fn print<T: serde::Serialize>(v: &T) -> heroa::Result<()> {
    out(format_args!("{}", serde_json::to_string_pretty(v)?));
    Ok(())
}

fn timeout(text: &str) -> heroa::Result<Duration> {
    heroa::protocol::parse_duration("timeout", text, heroa::protocol::MAX_TTL_SECS)
        .map(Duration::from_secs)
}

fn client(cli: &Cli) -> heroa::Result<Client> {
    match &cli.remote {
        Some(url) if !url.is_empty() => {
            let key = std::env::var("HEROA_API_KEY").map_err(|_| {
                Error::invalid(
                    "HEROA_API_KEY",
                    "set HEROA_API_KEY to use a remote control plane",
                )
            })?;
            Client::remote(url, SecretString::from(key))
        }
        _ => Client::embedded(Some(cli.data.clone())),
    }
}

async fn serve(
    cli: &Cli,
    bind: SocketAddr,
    max_body_bytes: usize,
    public_url: Option<String>,
    gateway: heroa::runtime::GatewaySettings,
) -> heroa::Result<()> {
    let rt = Runtime::open(RuntimeOptions {
        public_url: Some(public_url.unwrap_or_else(|| format!("http://{bind}"))),
        gateway,
        ..RuntimeOptions::file(&cli.data)
    })?;
    match std::env::var("HEROA_API_KEY") {
        Ok(k) if !k.is_empty() => {
            rt.add_api_key(rt.default_workspace(), &SecretString::from(k))?;
        }
        _ => {
            let mut path = cli.data.clone().into_os_string();
            path.push(".apikey");
            let path = PathBuf::from(path);
            if !path.exists() {
                let key = rt.create_api_key(rt.default_workspace())?;
                write_private(&path, key.reveal())?;
            }
            eprintln!(
                "HEROA_API_KEY is not set: the API key for the default workspace is in {}",
                path.display()
            );
        }
    }
    let server = Server::start(
        rt,
        bind,
        ServeOptions {
            max_body_bytes,
            ..Default::default()
        },
    )
    .await?;
    eprintln!(
        "heroa serve: listening on {} (data: {})",
        server.url(),
        cli.data.display()
    );
    server.run_until_signal().await
}

fn write_private(path: &std::path::Path, text: &str) -> heroa::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| {
            Error::new(
                ErrorKind::Unavailable,
                format!("cannot write {}", path.display()),
            )
            .with_source(e)
        })
}

async fn main_inner(cli: Cli) -> heroa::Result<()> {
    match &cli.cmd {
        Cmd::Serve {
            bind,
            max_body_bytes,
            public_url,
            gateway_addr,
            gateway_http_addr,
            domain,
        } => {
            let gateway = heroa::runtime::GatewaySettings {
                https_addr: *gateway_addr,
                http_addr: *gateway_http_addr,
                domain: domain.clone(),
            };
            serve(&cli, *bind, *max_body_bytes, public_url.clone(), gateway).await
        }
        Cmd::ApiKey => {
            let rt = Runtime::open(RuntimeOptions::file(&cli.data))?;
            let key = rt.create_api_key(rt.default_workspace())?;
            out(format_args!("{}", key.reveal()));
            Ok(())
        }
        Cmd::Agents(a) => {
            let c = client(&cli)?;
            match a {
                AgentCmd::Register {
                    name,
                    region,
                    description,
                    template,
                } => print(
                    &c.agents()
                        .register(RegisterAgent {
                            description: description.clone(),
                            template: template.clone(),
                            ..RegisterAgent::new(name, region)
                        })
                        .await?,
                ),
                AgentCmd::List => print(&c.agents().list().await?),
                AgentCmd::Get { agent_id } => print(&c.agents().get(agent_id).await?),
                AgentCmd::Promote { agent_id, level } => {
                    let level: PromotionLevel = level.parse()?;
                    print(&c.agents().set_promotion(agent_id, level).await?)
                }
                AgentCmd::Update {
                    agent_id,
                    description,
                    template,
                    schedule,
                    webhook_url,
                    webhook_secret_env,
                    remove_webhook,
                } => {
                    let webhook = match (webhook_url, webhook_secret_env) {
                        (Some(url), Some(var)) => Some(heroa::protocol::WebhookConfig {
                            url: url.clone(),
                            signing_secret: SecretString::from(std::env::var(var).map_err(
                                |_| {
                                    Error::invalid(
                                        "webhook_secret_env",
                                        format!("environment variable {var} is not set"),
                                    )
                                },
                            )?),
                        }),
                        (None, None) => None,
                        _ => {
                            return Err(Error::invalid(
                                "webhook_url",
                                "give --webhook-url together with --webhook-secret-env (the secret is never taken from argv)",
                            ));
                        }
                    };
                    print(
                        &c.agents()
                            .update(
                                agent_id,
                                UpdateAgent {
                                    description: description.clone(),
                                    template: template.clone(),
                                    schedule: schedule.clone(),
                                    webhook,
                                    remove_webhook: *remove_webhook,
                                    ..Default::default()
                                },
                            )
                            .await?,
                    )
                }
                AgentCmd::Delete { agent_id } => c.agents().delete(agent_id).await,
            }
        }
        Cmd::Vault(v) => {
            let c = client(&cli)?;
            match v {
                VaultCmd::Put {
                    agent,
                    key,
                    stdin,
                    from_env,
                    description,
                    scope,
                } => {
                    let value = match (stdin, from_env) {
                        (true, None) => {
                            let mut s = String::new();
                            std::io::stdin().read_to_string(&mut s).map_err(|e| {
                                Error::invalid("value", "cannot read the value from stdin")
                                    .with_source(e)
                            })?;
                            s.trim_end_matches(['\r', '\n']).to_string()
                        }
                        (false, Some(var)) => std::env::var(var).map_err(|_| {
                            Error::invalid(
                                "from_env",
                                format!("environment variable {var} is not set"),
                            )
                        })?,
                        _ => {
                            return Err(Error::invalid(
                                "value",
                                "give exactly one of --stdin or --from-env NAME (values are never taken from the command line)",
                            ));
                        }
                    };
                    let req = VaultPut {
                        agent_id: agent.clone(),
                        key: key.clone(),
                        value: SecretString::from(value),
                        description: description.clone(),
                        scope: scope.clone(),
                    };
                    print(&c.vault().put(req).await?)
                }
                VaultCmd::List { agent } => print(&c.vault().list(agent.as_deref()).await?),
                VaultCmd::Delete { vault_id } => c.vault().delete(vault_id).await,
            }
        }
        Cmd::Policies(p) => match p {
            PolicyCmd::Validate { file } => {
                let text = read_file(file)?;
                let compiled =
                    heroa::policy::compile(&text).map_err(heroa::runtime::document_error)?;
                print(&compiled)
            }
            PolicyCmd::Create { agent, file } => {
                let text = read_file(file)?;
                print(&client(&cli)?.policies().create(agent, &text).await?)
            }
            PolicyCmd::List { agent } => {
                print(&client(&cli)?.policies().list(agent.as_deref()).await?)
            }
        },
        Cmd::Run {
            agent_id,
            input,
            timeout: t,
        } => {
            let c = client(&cli)?;
            let input: serde_json::Value = serde_json::from_str(input)
                .map_err(|e| Error::invalid("input", format!("--input must be JSON: {e}")))?;
            let run = c.agents().run(agent_id, input).await?;
            let run = c.runs().wait(&run.id, timeout(t)?).await?;
            out(format_args!("run:       {}", run.id));
            out(format_args!("status:    {}", run.status));
            out(format_args!("cost_usd:  {}", run.cost_usd));
            out(format_args!("audit_url: {}", run.audit_url));
            if let Some(e) = &run.error {
                out(format_args!("error:     {e}"));
            }
            Ok(())
        }
        Cmd::Runs(r) => {
            let c = client(&cli)?;
            match r {
                RunCmd::Get { run_id } => print(&c.runs().get(run_id).await?),
                RunCmd::List { agent } => print(&c.runs().list(agent.as_deref()).await?),
                RunCmd::Wait { run_id, timeout: t } => {
                    print(&c.runs().wait(run_id, timeout(t)?).await?)
                }
                RunCmd::Cancel { run_id } => print(&c.runs().cancel(run_id).await?),
                RunCmd::Audit { run_id } => print(&c.runs().audit(run_id).await?),
                RunCmd::Events { run_id, after } => {
                    let mut stream = c.runs().stream_after(run_id, *after).await?;
                    while let Some(event) = stream.next().await {
                        out(format_args!("{}", serde_json::to_string(&event?)?));
                    }
                    Ok(())
                }
                RunCmd::Verify { run_id } => {
                    let v = c.runs().verify_audit(run_id).await?;
                    print(&v)?;
                    if v.valid {
                        Ok(())
                    } else {
                        Err(Error::new(
                            ErrorKind::FailedPrecondition,
                            "the audit chain does not verify",
                        ))
                    }
                }
            }
        }
        Cmd::Deploy {
            mode,
            source,
            template,
            region,
            tier,
            ttl,
            name,
            egress,
            allow,
            tools,
        } => {
            let source = source.as_ref().map(|t| {
                serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone()))
            });
            let policy = heroa::protocol::DeployPolicy {
                egress: egress.clone(),
                allow_list: allow.clone(),
                tools: (!tools.is_empty()).then(|| tools.clone()),
                secret_scopes: None,
            };
            let req = heroa::protocol::DeployRequest {
                mode: mode.clone(),
                source,
                template: template.clone(),
                region: region.clone(),
                resource_tier: tier.clone(),
                ttl: ttl.clone(),
                name: name.clone(),
                policy: Some(policy),
                ..Default::default()
            };
            print(&client(&cli)?.deploy(req).await?)
        }
        Cmd::Deployments(d) => {
            let c = client(&cli)?;
            match d {
                DeploymentCmd::List => print(&c.deployments().list().await?),
                DeploymentCmd::Get { deployment_id } => {
                    print(&c.deployments().get(deployment_id).await?)
                }
                DeploymentCmd::Extend { deployment_id, ttl } => {
                    print(&c.deployments().extend(deployment_id, ttl).await?)
                }
                DeploymentCmd::Delete { deployment_id } => {
                    print(&c.deployments().delete(deployment_id).await?)
                }
            }
        }
        Cmd::Webhooks(w) => match w {
            WebhookCmd::Deliveries { agent } => print(
                &client(&cli)?
                    .webhooks()
                    .deliveries(agent.as_deref())
                    .await?,
            ),
            WebhookCmd::Redeliver { delivery_id } => {
                print(&client(&cli)?.webhooks().redeliver(delivery_id).await?)
            }
            WebhookCmd::Verify {
                body_file,
                headers,
                secret_env,
            } => {
                let body = std::fs::read(body_file).map_err(|e| {
                    Error::invalid("body_file", format!("cannot read {}", body_file.display()))
                        .with_source(e)
                })?;
                let mut pairs = Vec::new();
                for h in headers {
                    let (k, v) = h.split_once(':').ok_or_else(|| {
                        Error::invalid("header", format!("--header must be name:value; got {h:?}"))
                    })?;
                    pairs.push((k.trim().to_string(), v.trim().to_string()));
                }
                let secret = SecretString::from(std::env::var(secret_env).map_err(|_| {
                    Error::invalid(
                        "secret_env",
                        format!("environment variable {secret_env} is not set"),
                    )
                })?);
                match heroa::webhooks::verify(&pairs, &body, &[secret], Default::default()) {
                    Ok(v) => print(
                        &serde_json::json!({"valid": true, "scheme": v.scheme.as_str(), "msg_id": v.msg_id, "timestamp": v.timestamp}),
                    ),
                    Err(e) => Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!("the delivery does not verify: {e} ({})", e.kind()),
                    )),
                }
            }
        },
        Cmd::Approvals(a) => {
            let c = client(&cli)?;
            match a {
                ApprovalCmd::List { status } => {
                    print(&c.approvals().list(status.as_deref()).await?)
                }
                ApprovalCmd::Approve { approval_id, by } => {
                    print(&c.approvals().approve(approval_id, by.as_deref()).await?)
                }
                ApprovalCmd::Deny { approval_id, by } => {
                    print(&c.approvals().deny(approval_id, by.as_deref()).await?)
                }
            }
        }
    }
}

fn read_file(path: &PathBuf) -> heroa::Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        Error::invalid("file", format!("cannot read {}", path.display())).with_source(e)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEROA_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match main_inner(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.field() {
                Some(f) => eprintln!("error: {} (field: {f})", e),
                None => eprintln!("error: {e}"),
            }
            if let Some(d) = e.details() {
                eprintln!("{}", serde_json::to_string_pretty(d).unwrap_or_default());
            }
            ExitCode::from(if e.kind() == ErrorKind::InvalidArgument {
                2
            } else {
                1
            })
        }
    }
}
