//! Host callbacks: skills and templates written in the host language.
//!
//! The runtime calls a host skill as request/respond. The binding's host function
//! receives a [`HostCall`] — the arguments, the calling agent and run, `secret(name)`
//! while the call is live, and a cancellation signal — and answers it once, from any
//! thread, with [`HostCall::respond`]. When the run is cancelled, the call times out
//! or the runtime stops waiting for any other reason, the call's
//! [`CancellationToken`] fires: the host can stop its work (Python cancels an
//! `async def` skill's task; a plain function sees `call.cancelled`). A late answer is
//! ignored, and vault reads end with the call.

use std::future::Future;
use std::sync::{Arc, Mutex};

use heroa_protocol::SkillKind;
use heroa_protocol::error::{Error, ErrorKind, Result};
use heroa_runtime::{RunContext, Skill, SkillCall, Template};
use secrecy::SecretString;
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// What a host answers: the result, or an error message that fails this one call
/// (a skill) or the run (a template).
pub type HostResult = std::result::Result<Value, String>;

/// One call into host code. `P` is what the call is about: a [`SkillCall`] or a
/// template's [`RunContext`].
pub struct HostCall<P> {
    payload: P,
    cancel: CancellationToken,
    done: CancellationToken,
    reply: Mutex<Option<oneshot::Sender<HostResult>>>,
}

impl<P> std::fmt::Debug for HostCall<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCall")
            .field("cancelled", &self.cancel.is_cancelled())
            .field("answered", &self.is_answered())
            .finish()
    }
}

impl<P> HostCall<P> {
    /// What the call is about.
    pub fn payload(&self) -> &P {
        &self.payload
    }

    /// Fires when the runtime no longer wants the answer (run cancelled, call timed
    /// out). Clone it to wait on it or to register a callback.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Fires once the call is over: answered, or abandoned by the runtime (then
    /// after [`HostCall::cancellation`], so `is_cancelled` is settled by the time it
    /// fires).
    pub fn finished(&self) -> &CancellationToken {
        &self.done
    }

    /// Whether the runtime no longer wants the answer.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Whether the call was answered (or abandoned).
    pub fn is_answered(&self) -> bool {
        self.reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Answers the call, from any thread. `false` when it was already answered or
    /// the runtime stopped waiting.
    pub fn respond(&self, result: HostResult) -> bool {
        let tx = self.reply.lock().unwrap_or_else(|p| p.into_inner()).take();
        match tx {
            Some(tx) => tx.send(result).is_ok(),
            None => false,
        }
    }
}

impl HostCall<SkillCall> {
    /// The arguments from the run loop.
    pub fn args(&self) -> &Value {
        &self.payload.args
    }

    /// Reads a vault value visible to the agent — only while the call is live
    /// (neither answered nor cancelled). It is scrubbed from everything the run
    /// records.
    pub fn secret(&self, name: &str) -> Result<SecretString> {
        if self.is_answered() || self.is_cancelled() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "vault values can be read only inside a skill, while it runs",
            ));
        }
        self.payload.secret(name)
    }
}

/// A host function: receives each call and answers it later.
pub type HostFn<P> = Arc<dyn Fn(Arc<HostCall<P>>) + Send + Sync>;

/// Hands `payload` to `host` and waits for its answer. Dropping the returned future
/// (the run was cancelled, the call timed out) fires the call's cancellation.
pub fn dispatch<P: Send + Sync + 'static>(
    host: &HostFn<P>,
    payload: P,
) -> impl Future<Output = HostResult> + Send + use<P> {
    let (tx, rx) = oneshot::channel();
    let call = Arc::new(HostCall {
        payload,
        cancel: CancellationToken::new(),
        done: CancellationToken::new(),
        reply: Mutex::new(Some(tx)),
    });
    let guard = CallGuard {
        call: call.clone(),
        answered: false,
    };
    host(call);
    async move {
        // Moves the whole guard in (a field assignment alone would capture only the
        // field, and the guard would end the call at once).
        let mut guard = guard;
        let out = rx
            .await
            .unwrap_or_else(|_| Err("the host dropped the call without answering".to_string()));
        guard.answered = true;
        out
    }
}

/// Ends a call when its future completes or is dropped: a call dropped before its
/// answer is cancelled first, then (either way) finished, so a host that sees
/// `finished` can trust `is_cancelled`. Vault reads end with it.
struct CallGuard<P> {
    call: Arc<HostCall<P>>,
    answered: bool,
}

impl<P> Drop for CallGuard<P> {
    fn drop(&mut self) {
        if !self.answered {
            self.call.cancel.cancel();
        }
        self.call
            .reply
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.call.done.cancel();
    }
}

/// A skill run by host code.
pub fn skill(name: impl Into<String>, kind: SkillKind, host: HostFn<SkillCall>) -> Skill {
    Skill::new(name, kind, move |call: SkillCall| dispatch(&host, call))
}

/// A template (run loop) run by host code.
pub fn template(name: impl Into<String>, host: HostFn<RunContext>) -> Template {
    Template::new(name, move |ctx: RunContext| dispatch(&host, ctx))
}
