//! Small request/response helpers shared by the operation modules: JSON 1.1 member parsing
//! (base64 blobs, encryption contexts, required members) and Limit/Marker pagination.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{ErrorKind, KmsError};

pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, KmsError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| KmsError::new(ErrorKind::Serialization, e.to_string()))
}

pub(crate) fn required<T>(v: Option<T>, member: &str) -> Result<T, KmsError> {
    v.ok_or_else(|| KmsError::missing(member))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub(crate) fn unb64(s: &str, member: &str) -> Result<Vec<u8>, KmsError> {
    B64.decode(s).map_err(|_| {
        KmsError::new(
            ErrorKind::Serialization,
            format!("Value for '{member}' is not valid base64"),
        )
    })
}

/// AWS reads non-string context values as strings; nested values and null are refused.
pub(crate) fn context(
    v: Option<serde_json::Map<String, Value>>,
) -> Result<BTreeMap<String, String>, KmsError> {
    let mut out = BTreeMap::new();
    for (k, v) in v.unwrap_or_default() {
        let s = match v {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(KmsError::validation(format!(
                    "Encryption context value for key '{k}' must be a string"
                )));
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

pub(crate) fn grant_tokens(v: Option<Vec<String>>) -> Result<Vec<String>, KmsError> {
    let v = v.unwrap_or_default();
    if v.len() > 10 {
        return Err(KmsError::constraint(
            "'[...]'",
            "grantTokens",
            "Member must have length less than or equal to 10",
        ));
    }
    Ok(v)
}

pub(crate) fn check_range(value: i64, member: &str, min: i64, max: i64) -> Result<(), KmsError> {
    if value < min {
        return Err(KmsError::constraint(
            &format!("'{value}'"),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(KmsError::constraint(
            &format!("'{value}'"),
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// One page of `items`. Markers are opaque to clients; ours encode the next offset.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    limit: Option<i64>,
    default_limit: i64,
    max_limit: i64,
    marker: Option<&str>,
) -> Result<(Vec<T>, Option<String>), KmsError> {
    let limit = limit.unwrap_or(default_limit);
    check_range(limit, "limit", 1, max_limit)?;
    let start = match marker {
        None => 0,
        Some(m) => B64
            .decode(m)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.strip_prefix("offset:")
                    .and_then(|n| n.parse::<usize>().ok())
            })
            .filter(|&n| n <= items.len())
            .ok_or_else(|| KmsError::new(ErrorKind::InvalidMarker, "Invalid marker"))?,
    };
    let end = (start + limit as usize).min(items.len());
    let next = (end < items.len()).then(|| B64.encode(format!("offset:{end}")));
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

/// Adds `NextMarker`/`Truncated` to a list response.
pub(crate) fn with_page(mut v: Value, next: Option<String>) -> Value {
    v["Truncated"] = Value::Bool(next.is_some());
    if let Some(m) = next {
        v["NextMarker"] = Value::String(m);
    }
    v
}

/// The `Message` member of GenerateMac, VerifyMac, Sign and Verify: base64 of 1 to 4096 bytes
/// (AWS's limit for all four), kept in zeroized memory.
pub(crate) fn message_member(
    message: Option<String>,
) -> Result<zeroize::Zeroizing<Vec<u8>>, KmsError> {
    let message = zeroize::Zeroizing::new(unb64(&required(message, "message")?, "Message")?);
    if message.is_empty() || message.len() > MAX_MESSAGE {
        let c = if message.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 4096"
        };
        return Err(KmsError::validation(format!(
            "1 validation error detected: Value at 'message' failed to satisfy constraint: {c}"
        )));
    }
    Ok(message)
}

const MAX_MESSAGE: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_walks_all_items() {
        let items: Vec<u32> = (0..5).collect();
        let (p1, m1) = paginate(items.clone(), Some(2), 100, 1000, None).unwrap();
        assert_eq!(p1, vec![0, 1]);
        let (p2, m2) = paginate(items.clone(), Some(2), 100, 1000, m1.as_deref()).unwrap();
        assert_eq!(p2, vec![2, 3]);
        let (p3, m3) = paginate(items.clone(), Some(2), 100, 1000, m2.as_deref()).unwrap();
        assert_eq!((p3, m3), (vec![4], None));
        assert_eq!(
            paginate(items.clone(), None, 100, 1000, Some("junk"))
                .unwrap_err()
                .type_name(),
            "InvalidMarkerException"
        );
        assert!(paginate(items, Some(0), 100, 1000, None).is_err());
    }

    #[test]
    fn context_values_stringified() {
        let m = serde_json::json!({"a": "x", "n": 5, "b": true});
        let c = context(m.as_object().cloned()).unwrap();
        assert_eq!(c["n"], "5");
        assert_eq!(c["b"], "true");
        assert!(context(serde_json::json!({"a": null}).as_object().cloned()).is_err());
    }
}
