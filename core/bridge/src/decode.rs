//! Request decoding shared by the server and every binding: JSON in, the protocol
//! type out, or `invalid_argument` naming the field at fault (`policy.egress`,
//! `llm_configs[0].model`). One copy, so `heroa serve` and the bridge say the same.

use heroa_protocol::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The field a serde error is about: the path, completed with the quoted name of an
/// unknown or missing field.
fn field_of(path: &str, msg: &str) -> String {
    if msg.starts_with("unknown field") || msg.starts_with("missing field") {
        let name = msg.split('`').nth(1).unwrap_or_default();
        if path == "." {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{path}.{name}")
        }
    } else if path == "." {
        "body".to_string()
    } else {
        path.to_string()
    }
}

/// Decodes a request object, naming the field at fault.
pub fn decode<T: DeserializeOwned>(v: Value) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        let field = field_of(&path, &msg);
        Error::invalid(field.clone(), format!("{field}: {msg}"))
    })
}

/// Parses a request body: whitespace only reads as `{}`; anything but one JSON object
/// (trailing data included) is `invalid_argument` on `body`.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Error::invalid(
            "body",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid("body", format!("the request body is not valid JSON: {e}")))
}
