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

/// The deepest nesting a request may have. Stored requests are wrapped again (a run's
/// input inside its audit event, inside the event stream), and every later parse
/// has serde_json's limit of 128: this leaves a wide margin below it.
pub const MAX_DEPTH: usize = 64;

/// Parses a request body: whitespace only reads as `{}`; anything but one JSON object
/// (trailing data included), or one nested deeper than [`MAX_DEPTH`], is
/// `invalid_argument` on `body`.
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
    let mut object: Map<String, Value> = serde_json::from_slice(bytes)
        .map_err(|e| Error::invalid("body", format!("the request body is not valid JSON: {e}")))?;
    normalize(&mut object)?;
    Ok(object)
}

/// Refuses objects nested deeper than [`MAX_DEPTH`] and writes whole numbers sent
/// as floats (`117.0`) as integers, in one pass without recursion. JSON Schema (and
/// so `openapi.json`) counts `117.0` as an integer; so does the server.
fn normalize(object: &mut Map<String, Value>) -> Result<()> {
    /// Whole floats within ±2^53 (exactly representable) become integers.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let mut stack: Vec<(&mut Value, usize)> = object.values_mut().map(|v| (v, 2)).collect();
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(_) | Value::Object(_) if depth > MAX_DEPTH => {
                return Err(Error::invalid(
                    "body",
                    format!("the request body nests deeper than {MAX_DEPTH} levels"),
                ));
            }
            Value::Array(a) => stack.extend(a.iter_mut().map(|c| (c, depth + 1))),
            Value::Object(o) => stack.extend(o.values_mut().map(|c| (c, depth + 1))),
            Value::Number(n) => {
                if let Some(f) = n
                    .as_f64()
                    .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() <= EXACT)
                {
                    *n = serde_json::Number::from(f as i64);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"a": [[…]]}` with `levels` levels, the outer object included.
    fn nested(levels: usize) -> String {
        format!(
            "{{\"a\": {}{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    }

    #[test]
    fn nesting_is_limited_at_the_door() {
        assert!(parse_object(nested(MAX_DEPTH).as_bytes()).is_ok());
        let e = parse_object(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err();
        assert_eq!(e.field(), Some("body"));
        assert!(e.message().contains("deeper than 64"), "{e:?}");
        // What fuzzing sent: 122 levels were accepted and broke the audit later.
        assert!(parse_object(nested(122).as_bytes()).is_err());
    }

    #[test]
    fn whole_floats_read_as_integers() {
        let o = parse_object(br#"{"n": 117.0, "f": 0.5, "deep": [{"m": -3.0}], "big": 1e300}"#)
            .unwrap();
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"n":117,"f":0.5,"deep":[{"m":-3}],"big":1e+300}"#
        );
        #[derive(serde::Deserialize)]
        struct Wait {
            timeout_ms: u64,
        }
        let w: Wait = decode(Value::Object(
            parse_object(br#"{"timeout_ms": 250.0}"#).unwrap(),
        ))
        .unwrap();
        assert_eq!(w.timeout_ms, 250);
    }

    #[test]
    fn one_object_and_nothing_after_it() {
        for bad in [&b"{} xyz"[..], b"{}{}", b"[]", b"{", b"\"x\""] {
            let e = parse_object(bad).unwrap_err();
            assert_eq!(
                e.field(),
                Some("body"),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_object(b"  ").unwrap().is_empty());
        assert!(parse_object(b" {\"a\": 1} \n").is_ok());
    }
}
