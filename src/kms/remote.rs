//! [`RemoteKms`]: the [`Kms`] trait over the network, for a gateway whose KMS runs on another
//! host (a `sealgate kms` process, or AWS KMS itself).
//!
//! Protocol decisions:
//! - The wire is the one the KMS listener speaks and AWS KMS defines: AWS JSON 1.1, `POST /`
//!   with `X-Amz-Target: TrentService.<Op>`, base64 blobs, errors as `{"__type", "message"}`.
//!   Requests are SigV4-signed (service `kms`) with [`crate::sigv4::sign_request`].
//! - The gateway signs as itself and, for calls made for an S3 request, names the S3 caller
//!   and the bucket/key in a signed header ([`super::on_behalf`]), as AWS S3 does with forward
//!   access sessions: a sealgate KMS that knows the gateway as a service principal then
//!   authorizes and audits the S3 caller (with `kms:ViaService`), so key policies and grants
//!   protect SSE-KMS objects from S3 users, and `alias/aws/s3` works through S3. AWS KMS
//!   ignores the header: there the gateway's own credential is what is authorized.
//! - Trust is the platform's roots plus the CA certificate(s) given at construction (a
//!   sealgate KMS's CA from its data dir).
//! - Transport: [`crate::http_client::HttpEndpoint`] (reqwest over rustls, HTTP/1.1, a small
//!   pool of idle keep-alive connections), shared with the CLI's S3 client.
//! - Several nodes: the endpoint may list the URLs of several nodes of one KMS (sharing one
//!   database). Calls are spread over them and a failing node is skipped for a while
//!   ([`super::fleet`]); an operation that changes nothing is retried on the next node after
//!   any transport failure, any other operation only when its request was never sent.
//! - Failure mapping: `__type` (any `namespace#` prefix stripped) and `message` become
//!   [`KmsClientError::Kms`]; connection and TLS failures, a 10 s timeout, 5xx answers and
//!   unintelligible bodies, on every node tried, become [`KmsClientError::Unavailable`] (S3
//!   answers 503).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::audit::Source;
use super::client::{DataKey, Decrypted, KeyDescription, Kms, KmsClientError, KmsFuture};
use super::fleet::{Fleet, Node, NodeHealth};
use super::policy::Caller;
use crate::http_client::{EndpointError, HttpEndpoint};
use crate::sigv4;

/// Default bound on one call: connect, TLS, request and response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response accepted (KMS answers are a few KiB).
const MAX_RESPONSE: usize = 1024 * 1024;
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

#[derive(Debug, thiserror::Error)]
pub enum RemoteKmsError {
    #[error("KMS endpoint {0:?}: expected https://host[:port][/]")]
    Endpoint(String),
    #[error("KMS CA file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error("KMS CA file {0}: no usable certificate")]
    NoCertificate(String),
    #[error("KMS TLS configuration: {0}")]
    Tls(String),
}

impl From<EndpointError> for RemoteKmsError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Endpoint(s) | EndpointError::NoCa(s) => RemoteKmsError::Endpoint(s),
            EndpointError::CaFile { path, source } => RemoteKmsError::CaFile { path, source },
            EndpointError::NoCertificate(s) => RemoteKmsError::NoCertificate(s),
            EndpointError::Tls(e) => RemoteKmsError::Tls(e),
        }
    }
}

/// A KMS reached over HTTPS, through one node or several ([`Fleet`]). Cheap to share
/// (`Arc<dyn Kms>`); connections are pooled per node.
pub struct RemoteKms {
    fleet: Fleet,
    access_key: String,
    secret_key: Zeroizing<String>,
    region: String,
    timeout: Duration,
}

impl fmt::Debug for RemoteKms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes: Vec<String> = self
            .fleet
            .health()
            .into_iter()
            .map(|h| h.endpoint)
            .collect();
        f.debug_struct("RemoteKms")
            .field("endpoints", &nodes)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

impl RemoteKms {
    /// `endpoints` is `https://host[:port]`, or several such URLs separated by commas (the
    /// nodes of one KMS fleet, sharing its keys); `ca_pem` holds the CA certificate(s) to trust
    /// besides the platform's roots, for every node; the credential is the gateway's own,
    /// scoped to `region`.
    pub fn new(
        endpoints: &str,
        ca_pem: &Path,
        access_key: &str,
        secret_key: &str,
        region: &str,
    ) -> Result<RemoteKms, RemoteKmsError> {
        let conns = endpoints
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| HttpEndpoint::new(e, Some(ca_pem), false))
            .collect::<Result<Vec<_>, _>>()?;
        if conns.is_empty() {
            return Err(RemoteKmsError::Endpoint(endpoints.to_string()));
        }
        Ok(RemoteKms {
            fleet: Fleet::new(conns),
            access_key: access_key.to_string(),
            secret_key: Zeroizing::new(secret_key.to_string()),
            region: region.to_string(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Replaces the 10 s per-call bound.
    pub fn with_timeout(mut self, timeout: Duration) -> RemoteKms {
        self.timeout = timeout;
        self
    }

    /// One KMS operation by name (any `TrentService` operation, or a full `X-Amz-Target` such
    /// as `Sealgate.AdvanceClock`): the JSON answer of a 2xx, else the mapped error.
    ///
    /// The call goes to the nodes in [`Fleet::order`]; a node that fails at the transport
    /// level is marked down, and the call moves on to the next node when that cannot do the
    /// operation twice: always for operations that change nothing ([`retry_anywhere`]),
    /// otherwise only when the request was never sent.
    pub async fn call(&self, operation: &str, request: Value) -> Result<Value, KmsClientError> {
        self.call_for(operation, request, None).await
    }

    /// As [`RemoteKms::call`], for an S3 request's caller when `on_behalf` is set (the value of
    /// [`super::on_behalf::HEADER`]).
    async fn call_for(
        &self,
        operation: &str,
        request: Value,
        on_behalf: Option<&str>,
    ) -> Result<Value, KmsClientError> {
        let body = Bytes::from(request.to_string());
        let mut failed: Vec<&Node> = Vec::new();
        let mut last = String::new();
        for node in self.fleet.order() {
            node.sending();
            let exchange = self.exchange(node, operation, body.clone(), on_behalf);
            let attempt = tokio::time::timeout(self.timeout, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(Failure {
                        message: format!("did not answer {operation} within {:?}", self.timeout),
                        not_sent: false,
                    })
                });
            match attempt {
                Ok(answer) => {
                    node.answered();
                    for f in &failed {
                        f.failed_over();
                    }
                    return answer;
                }
                Err(failure) => {
                    let backoff = node.failed();
                    last = format!("KMS at {}: {}", node.conn.authority(), failure.message);
                    if self.fleet.len() > 1 {
                        tracing::warn!(node = node.conn.authority(), operation, ?backoff, error = %failure.message, "KMS node marked down");
                    }
                    failed.push(node);
                    if !(failure.not_sent || retry_anywhere(operation)) {
                        break;
                    }
                }
            }
        }
        Err(KmsClientError::Unavailable(last))
    }

    /// One exchange with one node: `Ok` with the KMS's answer (a success or a KMS error: the
    /// node is alive), `Err` when nothing usable came back.
    async fn exchange(
        &self,
        node: &Node,
        operation: &str,
        body: Bytes,
        on_behalf: Option<&str>,
    ) -> Result<Result<Value, KmsClientError>, Failure> {
        let failure = |message: String| Failure {
            message,
            not_sent: false,
        };
        let headers = self
            .signed_headers(node, operation, &body, on_behalf)
            .map_err(|message| Failure {
                message,
                not_sent: true,
            })?;
        let resp = node
            .conn
            .exchange(Method::POST, "/", headers, Some(body), MAX_RESPONSE)
            .await
            .map_err(|e| Failure {
                message: e.message,
                not_sent: e.not_sent,
            })?;
        let status = resp.status();
        let bytes = resp.into_body();
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if status.is_success() {
            return parsed
                .map(Ok)
                .ok_or_else(|| failure(format!("{operation} answer is not JSON")));
        }
        match parsed.as_ref().and_then(error_of) {
            Some((type_name, message)) if !status.is_server_error() => {
                Ok(Err(KmsClientError::Kms { type_name, message }))
            }
            Some((type_name, message)) => {
                Err(failure(format!("HTTP {status}: {type_name}: {message}")))
            }
            None => Err(failure(format!("HTTP {status} without an error type"))),
        }
    }

    /// The headers of a signed `POST /` carrying `body` to `TrentService.<operation>`.
    fn signed_headers(
        &self,
        node: &Node,
        operation: &str,
        body: &[u8],
        on_behalf: Option<&str>,
    ) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        let value = |v: &str| HeaderValue::from_str(v).map_err(|e| e.to_string());
        headers.insert(http::header::HOST, value(node.conn.authority())?);
        if let Some(named) = on_behalf {
            headers.insert(super::on_behalf::HEADER, value(named)?);
        }
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(CONTENT_TYPE),
        );
        let target = if operation.contains('.') {
            operation.to_string()
        } else {
            format!("TrentService.{operation}")
        };
        headers.insert("x-amz-target", value(&target)?);
        sigv4::sign_request(
            &Method::POST,
            &Uri::from_static("/"),
            &mut headers,
            &sigv4::sha256_hex(body),
            &self.access_key,
            &self.secret_key,
            &self.region,
            "kms",
            SystemTime::now(),
        )
        .map_err(|e| format!("signing: {e}"))?;
        Ok(headers)
    }
}

/// A node gave no usable answer.
struct Failure {
    message: String,
    /// The request never reached the node (see [`crate::http_client::TransportError`]).
    not_sent: bool,
}

/// Operations that change no state in the KMS (beyond its audit log), so a call whose node
/// failed mid-request may be sent again to another node: at worst the first node did it too,
/// and its answer was lost.
fn retry_anywhere(operation: &str) -> bool {
    let name = operation.strip_prefix("TrentService.").unwrap_or(operation);
    matches!(
        name,
        "Decrypt"
            | "Encrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext"
            | "GenerateRandom"
            | "GenerateMac"
            | "VerifyMac"
            | "Sign"
            | "Verify"
            | "DeriveSharedSecret"
    ) || ["Describe", "Get", "List"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// `(__type, message)` of an error body. AWS may qualify the type
/// (`com.amazonaws.kms#NotFoundException`) and spell the member `Message`.
fn error_of(body: &Value) -> Option<(String, String)> {
    let raw = body.get("__type")?.as_str()?;
    let type_name = raw.rsplit('#').next().unwrap_or(raw).to_string();
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((type_name, message))
}

fn context_json(context: &BTreeMap<String, String>) -> Value {
    json!(context)
}

fn malformed(operation: &str, member: &str) -> KmsClientError {
    KmsClientError::Unavailable(format!("KMS {operation} answer lacks a valid {member}"))
}

fn string_member(v: &Value, operation: &str, member: &str) -> Result<String, KmsClientError> {
    v.get(member)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| malformed(operation, member))
}

fn blob_member(
    v: &Value,
    operation: &str,
    member: &str,
) -> Result<Zeroizing<Vec<u8>>, KmsClientError> {
    let text = v
        .get(member)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(operation, member))?;
    B64.decode(text)
        .map(Zeroizing::new)
        .map_err(|_| malformed(operation, member))
}

impl Kms for RemoteKms {
    fn generate_data_key<'a>(
        &'a self,
        key_id: &'a str,
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, DataKey> {
        Box::pin(async move {
            const OP: &str = "GenerateDataKey";
            let mut request = json!({ "KeyId": key_id, "KeySpec": "AES_256" });
            if !context.is_empty() {
                request["EncryptionContext"] = context_json(context);
            }
            let named = super::on_behalf::encode(caller, source);
            let answer = self.call_for(OP, request, named.as_deref()).await?;
            let plain = blob_member(&answer, OP, "Plaintext")?;
            let mut plaintext = Zeroizing::new([0u8; 32]);
            if plain.len() != plaintext.len() {
                return Err(malformed(OP, "Plaintext"));
            }
            plaintext.copy_from_slice(&plain);
            Ok(DataKey {
                plaintext,
                ciphertext_blob: blob_member(&answer, OP, "CiphertextBlob")?.to_vec(),
                key_arn: string_member(&answer, OP, "KeyId")?,
            })
        })
    }

    fn decrypt<'a>(
        &'a self,
        ciphertext_blob: &'a [u8],
        context: &'a BTreeMap<String, String>,
        key_id: Option<&'a str>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Decrypted> {
        Box::pin(async move {
            const OP: &str = "Decrypt";
            let mut request = json!({ "CiphertextBlob": B64.encode(ciphertext_blob) });
            if !context.is_empty() {
                request["EncryptionContext"] = context_json(context);
            }
            if let Some(key_id) = key_id {
                request["KeyId"] = json!(key_id);
            }
            let named = super::on_behalf::encode(caller, source);
            let answer = self.call_for(OP, request, named.as_deref()).await?;
            Ok(Decrypted {
                plaintext: blob_member(&answer, OP, "Plaintext")?,
                key_arn: string_member(&answer, OP, "KeyId")?,
            })
        })
    }

    /// DescribeKey's ARN. Creating `alias/aws/s3` on first use is the remote KMS's business
    /// (a sealgate KMS does it in DescribeKey); errors come back as they are.
    fn resolve_key_arn<'a>(
        &'a self,
        key_id_or_alias: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, String> {
        Box::pin(async move {
            Ok(self
                .describe(key_id_or_alias, caller, source)
                .await?
                .key_arn)
        })
    }

    fn describe<'a>(
        &'a self,
        key_id: &'a str,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, KeyDescription> {
        Box::pin(async move {
            const OP: &str = "DescribeKey";
            let named = super::on_behalf::encode(caller, source);
            let answer = self
                .call_for(OP, json!({ "KeyId": key_id }), named.as_deref())
                .await?;
            let meta = answer
                .get("KeyMetadata")
                .ok_or_else(|| malformed(OP, "KeyMetadata"))?;
            let key_state = string_member(meta, OP, "KeyState")?;
            Ok(KeyDescription {
                key_id: string_member(meta, OP, "KeyId")?,
                key_arn: string_member(meta, OP, "Arn")?,
                enabled: meta
                    .get("Enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(key_state == "Enabled"),
                aws_managed: meta.get("KeyManager").and_then(Value::as_str) == Some("AWS"),
                key_state,
            })
        })
    }

    fn encrypt<'a>(
        &'a self,
        key_id: &'a str,
        plaintext: &'a [u8],
        context: &'a BTreeMap<String, String>,
        caller: &'a Caller,
        source: &'a Source,
    ) -> KmsFuture<'a, Vec<u8>> {
        Box::pin(async move {
            const OP: &str = "Encrypt";
            let mut request = json!({ "KeyId": key_id, "Plaintext": B64.encode(plaintext) });
            if !context.is_empty() {
                request["EncryptionContext"] = context_json(context);
            }
            let named = super::on_behalf::encode(caller, source);
            let answer = self.call_for(OP, request, named.as_deref()).await?;
            Ok(blob_member(&answer, OP, "CiphertextBlob")?.to_vec())
        })
    }

    fn create_key_with_alias<'a>(
        &'a self,
        alias: &'a str,
        description: &'a str,
        _caller: &'a Caller,
        _source: &'a Source,
    ) -> KmsFuture<'a, String> {
        Box::pin(super::client::create_key_with_alias_by(
            move |op, request| self.call(op, request),
            alias,
            description,
        ))
    }

    fn nodes(&self) -> Vec<NodeHealth> {
        self.fleet.health()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_map_to_type_and_message() {
        let aws = json!({"__type": "com.amazonaws.kms#NotFoundException", "Message": "gone"});
        assert_eq!(
            error_of(&aws),
            Some(("NotFoundException".into(), "gone".into()))
        );
        let ours = json!({"__type": "DisabledException", "message": "off"});
        assert_eq!(
            error_of(&ours),
            Some(("DisabledException".into(), "off".into()))
        );
        assert_eq!(error_of(&json!({"message": "no type"})), None);
    }

    #[test]
    fn endpoint_must_be_https_root() {
        let ca = Path::new("/nonexistent/ca.pem");
        for bad in [
            "http://kms:443",
            "https://kms/path",
            "kms:443",
            "https://kms/?q=1",
        ] {
            assert!(
                matches!(
                    RemoteKms::new(bad, ca, "a", "s", "us-east-1"),
                    Err(RemoteKmsError::Endpoint(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            RemoteKms::new("https://kms:8443", ca, "a", "s", "us-east-1"),
            Err(RemoteKmsError::CaFile { .. })
        ));
    }

    #[test]
    fn ca_file_must_hold_a_certificate_and_the_secret_never_prints() {
        let dir = std::env::temp_dir().join(format!("remote-kms-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, b"").unwrap();
        assert!(matches!(
            RemoteKms::new("https://kms", &empty, "a", "s", "r"),
            Err(RemoteKmsError::NoCertificate(_))
        ));
        let ca = dir.join("ca.pem");
        let cert = rcgen::generate_simple_self_signed(vec!["kms.test".to_string()]).unwrap();
        std::fs::write(&ca, cert.cert.pem()).unwrap();
        let kms = RemoteKms::new("https://kms.test:8443", &ca, "GATEWAY", "hunter2", "r").unwrap();
        let shown = format!("{kms:?}");
        assert!(
            shown.contains("GATEWAY") && !shown.contains("hunter2"),
            "{shown}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
