//! The vault: values sealed at rest, readable only by skill code during a run.

use rusqlite::{OptionalExtension, params};
use secrecy::SecretString;

use super::Runtime;
use crate::sealing::fingerprint;
use crate::store::{to_json, tx_get};
use heroa_protocol::Page;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::ids::{check_id, new_id};
use heroa_protocol::{List, Tier, VaultEntry, VaultPut, VaultRotate, VaultScope};

/// The owner column: the agent id, or `*` for workspace scope.
fn owner(entry_agent: Option<&str>) -> &str {
    entry_agent.unwrap_or("*")
}

fn aad(ws: &str, id: &str) -> String {
    format!("heroa-vault:{ws}:{id}")
}

impl Runtime {
    /// Stores a value under `key`. Putting an existing key replaces its value (a
    /// rotation: the version goes up and the fingerprint changes).
    pub fn vault_put(&self, ws: &str, req: VaultPut) -> Result<VaultEntry> {
        let scope = req.validate()?;
        if let Some(agent) = &req.agent_id {
            self.get_agent(ws, agent)
                .map_err(|e| e.with_field("agent_id"))?;
        }
        if scope == VaultScope::Workspace && self.get_workspace(ws)?.tier == Tier::Free {
            return Err(Error::new(
                ErrorKind::TierLimit,
                "workspace-scoped vault entries require the team tier or higher",
            )
            .with_field("scope"));
        }
        let now = self.inner.clock.now_rfc3339();
        let fp = fingerprint(&req.value);
        self.inner.store.tx(|tx| {
            let existing: Option<VaultEntry> = tx_get(
                tx,
                "SELECT data FROM vault WHERE workspace_id = ?1 AND owner = ?2 AND key = ?3",
                params![ws, owner(req.agent_id.as_deref()), req.key],
            )?;
            let entry = match existing {
                Some(mut e) => {
                    e.version += 1;
                    e.fingerprint = fp;
                    e.updated_at = now;
                    if req.description.is_some() {
                        e.description = req.description.clone();
                    }
                    e
                }
                None => VaultEntry {
                    id: new_id("vlt"),
                    key: req.key.clone(),
                    scope,
                    agent_id: req.agent_id.clone(),
                    description: req.description.clone(),
                    fingerprint: fp,
                    version: 1,
                    created_at: now.clone(),
                    updated_at: now,
                },
            };
            let sealed = self.inner.sealing.seal(&aad(ws, &entry.id), &req.value);
            tx.execute(
                "INSERT INTO vault (id, workspace_id, owner, key, sealed, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET sealed = ?5, data = ?6",
                params![entry.id, ws, owner(entry.agent_id.as_deref()), entry.key, sealed, to_json(&entry)?],
            )?;
            Ok(entry)
        })
    }

    /// Vault entries (metadata only), optionally of one agent.
    pub fn vault_list(
        &self,
        ws: &str,
        agent_id: Option<&str>,
        page: &Page,
    ) -> Result<List<VaultEntry>> {
        self.agent_page("vault", "vlt", ws, "owner", agent_id, page)
    }

    /// One entry's metadata.
    pub fn vault_get(&self, ws: &str, id: &str) -> Result<VaultEntry> {
        check_id("vault_id", "vlt", id)?;
        self.inner
            .store
            .get(
                "SELECT data FROM vault WHERE workspace_id = ?1 AND id = ?2",
                params![ws, id],
            )?
            .ok_or_else(|| Error::not_found("vault entry", id))
    }

    /// Replaces an existing entry's value.
    pub fn vault_rotate(&self, ws: &str, id: &str, req: VaultRotate) -> Result<VaultEntry> {
        let e = self.vault_get(ws, id)?;
        let put = VaultPut {
            agent_id: e.agent_id.clone(),
            key: e.key.clone(),
            value: req.value,
            description: None,
            scope: Some(e.scope.as_str().to_string()),
        };
        self.vault_put(ws, put)
    }

    /// Deletes an entry.
    pub fn vault_delete(&self, ws: &str, id: &str) -> Result<()> {
        self.vault_get(ws, id)?;
        self.inner.store.exec(
            "DELETE FROM vault WHERE workspace_id = ?1 AND id = ?2",
            params![ws, id],
        )?;
        Ok(())
    }

    /// Decrypts the value an agent sees under `key`: its own entry, else (for a
    /// sub-agent) its ancestors', else the workspace's — and only keys inside the
    /// secret scopes of the agent and of every ancestor. Only the run engine calls
    /// this, for skill code and model providers.
    pub(crate) fn vault_read(&self, ws: &str, agent_id: &str, key: &str) -> Result<SecretString> {
        let not_visible = || {
            Error::new(
                ErrorKind::NotFound,
                format!("no vault entry {key:?} is visible to agent {agent_id}"),
            )
        };
        let mut owner = Some(agent_id.to_string());
        while let Some(id) = owner {
            let agent = self.get_agent(ws, &id)?;
            if agent
                .secret_scopes
                .as_ref()
                .is_some_and(|s| !s.iter().any(|k| k == key))
            {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "vault key {key:?} is outside the secret scopes of agent {}",
                        agent.id
                    ),
                ));
            }
            if let Some(v) = self.read_sealed(ws, &agent.id, key)? {
                return Ok(v);
            }
            owner = agent.parent_id;
        }
        self.read_sealed(ws, "*", key)?.ok_or_else(not_visible)
    }

    fn read_sealed(&self, ws: &str, owner: &str, key: &str) -> Result<Option<SecretString>> {
        let row: Option<(String, Vec<u8>)> = self
            .inner
            .store
            .conn()
            .prepare_cached(
                "SELECT id, sealed FROM vault WHERE workspace_id = ?1 AND owner = ?2 AND key = ?3",
            )?
            .query_row(params![ws, owner, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        row.map(|(id, sealed)| self.inner.sealing.open(&aad(ws, &id), &sealed))
            .transpose()
    }
}
