//! An OpenAI-compatible chat-completions endpoint, streamed.

use secrecy::{ExposeSecret, SecretString};

use super::{ChatRequest, ModelTurn, Provider};
use crate::error::Result;
use crate::runtime::BoxFuture;

/// `POST {base_url}/chat/completions` with `stream: true`.
pub struct OpenAiProvider {
    #[allow(dead_code)]
    http: reqwest::Client,
    #[allow(dead_code)]
    base_url: String,
    #[allow(dead_code)]
    key: SecretString,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider for `base_url` (e.g. `https://api.openai.com/v1`) with `key`.
    pub fn new(base_url: &str, key: SecretString) -> Self {
        OpenAiProvider {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
        }
    }
}

impl Provider for OpenAiProvider {
    fn complete(&self, _req: ChatRequest) -> BoxFuture<Result<ModelTurn>> {
        let _ = self.key.expose_secret();
        Box::pin(async move {
            Err(crate::error::Error::internal(
                "streaming provider lands with the SSE decoder",
            ))
        })
    }
}
