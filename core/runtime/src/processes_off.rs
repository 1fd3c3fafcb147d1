//! Apps and services where this build cannot run them as local processes: without
//! the `local-deploy` feature, or on an operating system other than Linux (the
//! executor's isolation — network namespaces, cgroups, the privilege drop — is
//! Linux's). Sub-agent deploys work everywhere; app and service deploys, and the
//! questions only a running process can answer, say why they cannot.

use super::Runtime;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_protocol::{DeployRequest, Deployment, DeploymentStatus};

fn unsupported() -> Error {
    Error::new(
        ErrorKind::FailedPrecondition,
        "apps and services run as local processes only in a Linux build with the \
         `local-deploy` feature; this runtime can deploy sub-agents (mode \"agent\")",
    )
}

impl Runtime {
    /// Without local processes there is no source to check: the deploy answers
    /// `failed_precondition` before anything is stored.
    pub(super) fn checked_source(&self, _req: &DeployRequest) -> Result<()> {
        Err(unsupported().with_field("mode"))
    }

    pub(super) async fn deploy_process(
        &self,
        _ws: &str,
        _dep: &mut Deployment,
        _req: &DeployRequest,
    ) -> Result<()> {
        Err(unsupported().with_field("mode"))
    }

    pub(super) async fn stop_process(
        &self,
        _dep: &Deployment,
        _status: DeploymentStatus,
    ) -> Option<tokio::task::JoinHandle<()>> {
        None
    }

    pub(super) fn restore_processes(&self) {}

    /// The local CA's certificate: there is no gateway in this build.
    pub async fn gateway_ca_pem(&self) -> Result<String> {
        Err(unsupported())
    }

    /// The gateway's HTTPS address: there is no gateway in this build.
    pub async fn gateway_addr(&self) -> Result<std::net::SocketAddr> {
        Err(unsupported())
    }

    /// The egress log of a running app or service: none run in this build.
    pub fn egress_log(&self, ws: &str, id: &str) -> Result<Vec<crate::egress::EgressEvent>> {
        self.get_deployment(ws, id)?;
        Ok(Vec::new())
    }

    /// Where a service endpoint answers: no service runs in this build.
    pub fn resolve_service(&self, ws: &str, agent_id: &str, _endpoint: &str) -> Result<String> {
        self.get_agent(ws, agent_id)?;
        Err(unsupported().with_field("endpoint"))
    }
}
