//! Every client operation by name: `("agents.register", {…json…})` → JSON answer.
//!
//! Requests cross the boundary as JSON and are decoded into the core's protocol
//! types here (unknown fields rejected, the field at fault named), so the Python
//! layer stays a thin, idiomatic veneer and every behaviour is the core's.

use std::time::Duration;

use heroa::protocol::*;
use heroa::{Client, Error, ErrorKind, Result};
use secrecy::SecretString;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

fn to_value<T: Serialize>(v: T) -> Result<Value> {
    Ok(serde_json::to_value(v)?)
}

/// Decodes a request object, naming the field at fault like `heroa serve` does.
pub fn decode<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        let quoted = msg.split('`').nth(1).map(str::to_string);
        let field = if msg.starts_with("unknown field") || msg.starts_with("missing field") {
            let name = quoted.unwrap_or_default();
            if path == "." || path == name || path.ends_with(&format!(".{name}")) {
                if path == "." { name } else { path }
            } else {
                format!("{path}.{name}")
            }
        } else if path == "." {
            "body".to_string()
        } else {
            path
        };
        Error::invalid(field.clone(), format!("{field}: {msg}"))
    })
}

/// The arguments of one call.
pub struct Args(Map<String, Value>);

impl Args {
    pub fn parse(text: &str) -> Result<Args> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Ok(Args(m)),
            Ok(_) => Err(Error::invalid(
                "body",
                "the arguments must be a JSON object",
            )),
            Err(e) => Err(Error::invalid(
                "body",
                format!("the arguments are not JSON: {e}"),
            )),
        }
    }

    /// A required string argument (`field` names it in errors).
    pub fn str(&mut self, name: &str) -> Result<String> {
        match self.0.remove(name) {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Null) | None => Err(Error::invalid(name, format!("{name} is required"))),
            Some(other) => Err(Error::invalid(
                name,
                format!("{name} must be a string; got {other}"),
            )),
        }
    }

    /// An optional string argument.
    pub fn opt_str(&mut self, name: &str) -> Result<Option<String>> {
        match self.0.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(Error::invalid(
                name,
                format!("{name} must be a string; got {other}"),
            )),
        }
    }

    fn take(&mut self, name: &str) -> Value {
        self.0.remove(name).unwrap_or(Value::Null)
    }

    /// The remaining arguments as one request object.
    fn rest<T: DeserializeOwned>(self) -> Result<T> {
        let m: Map<String, Value> = self.0.into_iter().filter(|(_, v)| !v.is_null()).collect();
        decode(Value::Object(m))
    }
}

/// Runs operation `op` on `client`.
pub async fn dispatch(client: Client, op: String, mut a: Args) -> Result<Value> {
    let c = &client;
    match op.as_str() {
        // ---------------------------------------------------------------- agents
        "agents.register" => to_value(c.agents().register(a.rest()?).await?),
        "agents.get" => to_value(c.agents().get(&a.str("agent_id")?).await?),
        "agents.list" => to_value(c.agents().list().await?.items),
        "agents.update" => {
            let id = a.str("agent_id")?;
            let req: UpdateAgent = a.rest()?;
            to_value(c.agents().update(&id, req).await?)
        }
        "agents.delete" => {
            c.agents().delete(&a.str("agent_id")?).await?;
            Ok(Value::Null)
        }
        "agents.set_promotion" => {
            let id = a.str("agent_id")?;
            let level = PromotionLevel::parse_field("level", &a.str("level")?)?;
            to_value(c.agents().set_promotion(&id, level).await?)
        }
        "agents.run" => {
            let id = a.str("agent_id")?;
            let input = a.take("input");
            let input = if input.is_null() {
                Value::Object(Map::new())
            } else {
                input
            };
            to_value(c.agents().run(&id, input).await?)
        }
        // ----------------------------------------------------------------- vault
        "vault.put" => {
            let req: VaultPut = a.rest()?;
            to_value(c.vault().put(req).await?)
        }
        "vault.list" => to_value(
            c.vault()
                .list(a.opt_str("agent_id")?.as_deref())
                .await?
                .items,
        ),
        "vault.get" => to_value(c.vault().get(&a.str("vault_id")?).await?),
        "vault.rotate" => {
            let id = a.str("vault_id")?;
            let value = SecretString::from(a.str("value")?);
            to_value(c.vault().rotate(&id, value).await?)
        }
        "vault.delete" => {
            c.vault().delete(&a.str("vault_id")?).await?;
            Ok(Value::Null)
        }
        // -------------------------------------------------------------- policies
        "policies.create" => {
            let id = a.str("agent_id")?;
            let doc = a.str("document")?;
            to_value(c.policies().create(&id, &doc).await?)
        }
        "policies.list" => to_value(
            c.policies()
                .list(a.opt_str("agent_id")?.as_deref())
                .await?
                .items,
        ),
        "policies.get" => to_value(c.policies().get(&a.str("policy_id")?).await?),
        // ------------------------------------------------------------------ runs
        "runs.get" => to_value(c.runs().get(&a.str("run_id")?).await?),
        "runs.list" => to_value(
            c.runs()
                .list(a.opt_str("agent_id")?.as_deref())
                .await?
                .items,
        ),
        "runs.wait" => {
            let id = a.str("run_id")?;
            let timeout = match a.take("timeout") {
                Value::Null => Duration::from_secs(300),
                Value::Number(n) => match n.as_f64() {
                    Some(s) if (0.0..=1e9).contains(&s) => Duration::from_secs_f64(s),
                    _ => {
                        return Err(Error::invalid(
                            "timeout",
                            "timeout must be a number of seconds ≥ 0",
                        ));
                    }
                },
                _ => {
                    return Err(Error::invalid(
                        "timeout",
                        "timeout must be a number of seconds ≥ 0",
                    ));
                }
            };
            to_value(c.runs().wait(&id, timeout).await?)
        }
        "runs.cancel" => to_value(c.runs().cancel(&a.str("run_id")?).await?),
        "runs.audit" => to_value(c.runs().audit(&a.str("run_id")?).await?),
        "runs.verify_audit" => to_value(c.runs().verify_audit(&a.str("run_id")?).await?),
        // ------------------------------------------------------------- approvals
        "approvals.list" => to_value(
            c.approvals()
                .list(a.opt_str("status")?.as_deref())
                .await?
                .items,
        ),
        "approvals.get" => to_value(c.approvals().get(&a.str("approval_id")?).await?),
        "approvals.approve" => {
            let id = a.str("approval_id")?;
            let by = a.opt_str("by")?;
            to_value(c.approvals().approve(&id, by.as_deref()).await?)
        }
        "approvals.deny" => {
            let id = a.str("approval_id")?;
            let by = a.opt_str("by")?;
            to_value(c.approvals().deny(&id, by.as_deref()).await?)
        }
        // ------------------------------------------------------------ deployments
        "deploy" => {
            let req: DeployRequest = a.rest()?;
            to_value(c.deploy(req).await?)
        }
        "deployments.list" => to_value(c.deployments().list().await?.items),
        "deployments.get" => to_value(c.deployments().get(&a.str("deployment_id")?).await?),
        "deployments.extend" => {
            let id = a.str("deployment_id")?;
            let ttl = a.str("ttl")?;
            to_value(c.deployments().extend(&id, &ttl).await?)
        }
        "deployments.delete" => to_value(c.deployments().delete(&a.str("deployment_id")?).await?),
        // ------------------------------------------------------ webhook deliveries
        "webhooks.deliveries" => to_value(
            c.webhooks()
                .deliveries(a.opt_str("agent_id")?.as_deref())
                .await?
                .items,
        ),
        "webhooks.delivery" => to_value(c.webhooks().delivery(&a.str("delivery_id")?).await?),
        "webhooks.redeliver" => to_value(c.webhooks().redeliver(&a.str("delivery_id")?).await?),
        // ------------------------------------------------------------- workspace
        "workspace.get" => to_value(c.workspace().get().await?),
        "workspace.accept_soc2" => to_value(c.workspace().accept_soc2().await?),
        "workspace.inbox" => to_value(c.workspace().inbox().await?.items),
        "workspace.skills" => to_value(c.workspace().skills().await?.items),
        "workspace.templates" => to_value(c.workspace().templates().await?.items),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("unknown operation {op:?}"),
        )),
    }
}
