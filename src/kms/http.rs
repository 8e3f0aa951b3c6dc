//! The KMS listener: AWS JSON 1.1 over HTTPS (`POST /`, `X-Amz-Target: TrentService.<Op>`),
//! SigV4-signed with service `kms`, answering `{"__type", "message"}` errors as AWS KMS does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rand::RngCore;

use super::policy::{Caller, Network};
use super::{KmsService, TestClock, api, on_behalf};
use crate::identity::Identities;
use crate::server::{self, Body, ConnInfo};
use crate::sigv4::{self, AuthError, Expectations, ServiceKind};

/// Largest request body the KMS accepts (its biggest input, a 4 KiB plaintext or a key policy
/// of 32 KiB, base64-encoded in JSON, fits with room to spare).
const MAX_BODY: usize = 256 * 1024;

pub struct KmsHttp {
    svc: KmsService,
    ids: Identities,
    /// Present only when started with a test clock: enables `Sealgate.AdvanceClock`.
    test_clock: Option<Arc<TestClock>>,
}

impl KmsHttp {
    pub fn new(svc: KmsService, ids: Identities, test_clock: Option<Arc<TestClock>>) -> KmsHttp {
        KmsHttp {
            svc,
            ids,
            test_clock,
        }
    }
}

struct Failure {
    status: u16,
    type_name: &'static str,
    message: String,
}

impl Failure {
    fn new(status: u16, type_name: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            status,
            type_name,
            message: message.into(),
        }
    }
}

impl server::Service for KmsHttp {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(async move {
            let mut id = [0u8; 16];
            rand::rng().fill_bytes(&mut id);
            let request_id = uuid::Uuid::from_bytes(id).to_string();
            let network = Network::new(conn.peer.ip(), conn.tls);
            let result = self.handle(req, network, &request_id).await;
            let (status, body) = match result {
                Ok(v) => (200, v),
                Err(f) => (
                    f.status,
                    serde_json::json!({"__type": f.type_name, "message": f.message}),
                ),
            };
            let mut resp = Response::new(server::full(body.to_string()));
            *resp.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert("x-amzn-requestid", v);
            }
            resp
        })
    }
}

impl KmsHttp {
    async fn handle(
        &self,
        req: Request<Incoming>,
        network: Network,
        request_id: &str,
    ) -> Result<serde_json::Value, Failure> {
        let (parts, body) = req.into_parts();
        if parts.method != Method::POST {
            return Err(Failure::new(
                400,
                "UnknownOperationException",
                "The KMS API accepts only POST requests",
            ));
        }
        let body = tokio::time::timeout(
            Duration::from_secs(60),
            http_body_util::Limited::new(body, MAX_BODY).collect(),
        )
        .await
        .map_err(|_| Failure::new(400, "RequestTimeoutException", "Request body timed out"))?
        .map_err(|_| {
            Failure::new(
                413,
                "RequestEntityTooLargeException",
                "Request body is too large",
            )
        })?
        .to_bytes();
        let signed = sigv4::parse(&parts.uri, &parts.headers, ServiceKind::Kms)
            .map_err(auth_failure)?
            .ok_or_else(|| {
                Failure::new(
                    400,
                    "MissingAuthenticationTokenException",
                    "Missing Authentication Token",
                )
            })?;
        let user = self
            .ids
            .lookup(&signed.credential.access_key)
            .ok_or_else(|| {
                Failure::new(
                    400,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            })?;
        // The Region of the credential scope picks which of the KMS's Regions answers; a
        // Region it does not serve fails the signature check, naming the home Region.
        let svc = self
            .svc
            .in_region(&signed.credential.region)
            .unwrap_or_else(|| self.svc.clone());
        let exp = Expectations::kms(svc.region(), SystemTime::now());
        sigv4::verify(
            &signed,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &user.secret_key,
            &exp,
            Some(&sigv4::sha256_hex(&body)),
        )
        .map_err(auth_failure)?;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut caller = Caller {
            arn: user.arn.clone(),
            account: user.account.clone(),
            identity_policy: user.policy.clone(),
            network: Some(network),
        };
        let mut source = svc.api_source(&caller);
        if let Some(named) = parts.headers.get(on_behalf::HEADER) {
            (caller, source) = self.on_behalf_of(&signed, &caller, named.as_bytes())?;
        } else if target == "Sealgate.AdvanceClock" {
            return self.advance_clock(&caller, &body).await;
        }
        let request_id = request_id.to_owned();
        tokio::task::spawn_blocking(move || {
            api::dispatch_from(&svc, &target, &body, &caller, source, &request_id)
        })
        .await
        .map_err(|_| Failure::new(500, "KMSInternalException", "internal error"))?
        .map_err(|e| Failure {
            status: e.status(),
            type_name: e.type_name(),
            message: e.message().to_owned(),
        })
    }

    /// The S3 caller a gateway names in a signed [`on_behalf::HEADER`]: accepted only from a
    /// configured gateway service principal, and only when the header is signed.
    fn on_behalf_of(
        &self,
        signed: &sigv4::SignedRequest,
        gateway: &Caller,
        value: &[u8],
    ) -> Result<(Caller, super::Source), Failure> {
        if !signed.signed_headers.iter().any(|h| h == on_behalf::HEADER) {
            return Err(Failure::new(
                400,
                "IncompleteSignatureException",
                format!("The {} header must be signed.", on_behalf::HEADER),
            ));
        }
        if !self.svc.is_service_principal(&gateway.arn) {
            return Err(Failure::new(
                400,
                "AccessDeniedException",
                format!(
                    "User: {} is not a gateway service principal and may not act on behalf of another principal",
                    gateway.arn
                ),
            ));
        }
        on_behalf::decode(value, &gateway.arn)
            .map_err(|m| Failure::new(400, "ValidationException", m))
    }

    /// Test-only: moves the KMS clock forward and runs due rotations and deletions, so tests can
    /// see deletion windows end. Exists only when the server was started with a test clock.
    async fn advance_clock(
        &self,
        caller: &Caller,
        body: &[u8],
    ) -> Result<serde_json::Value, Failure> {
        let Some(clock) = &self.test_clock else {
            return Err(Failure::new(
                400,
                "UnknownOperationException",
                "Sealgate.AdvanceClock exists only with SEALGATE_TEST_CLOCK=1",
            ));
        };
        if !caller.arn.ends_with(":root") {
            return Err(Failure::new(
                400,
                "AccessDeniedException",
                "Only the root principal may move the test clock",
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| Failure::new(400, "ValidationException", "body must be JSON"))?;
        let secs = v["Seconds"]
            .as_u64()
            .ok_or_else(|| Failure::new(400, "ValidationException", "Seconds is required"))?;
        clock.advance(Duration::from_secs(secs));
        let svc = self.svc.clone();
        let done = tokio::task::spawn_blocking(move || svc.run_due_work())
            .await
            .map_err(|_| Failure::new(500, "KMSInternalException", "internal error"))?
            .map_err(|e| Failure::new(500, "KMSInternalException", e.message()))?;
        Ok(serde_json::json!({ "WorkDone": done }))
    }
}

fn auth_failure(e: AuthError) -> Failure {
    match e {
        AuthError::RequestTimeTooSkewed {
            request_time,
            server_time,
            in_future,
            ..
        } => {
            let msg = if in_future {
                format!(
                    "Signature not yet current: {request_time} is still later than {server_time} + 5 min."
                )
            } else {
                format!(
                    "Signature expired: {request_time} is now earlier than {server_time} - 5 min."
                )
            };
            Failure::new(400, "InvalidSignatureException", msg)
        }
        AuthError::SignatureMismatch { .. } => Failure::new(
            400,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        AuthError::WrongRegion { got, expected } => Failure::new(
            400,
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region, not '{got}'. Expected '{expected}'."
            ),
        ),
        other => Failure::new(400, "IncompleteSignatureException", other.to_string()),
    }
}

/// Every second, for the life of the process: writes audit records deferred at start (full
/// disk) as soon as there is space again, and makes the audit head durable if it changed (it
/// is synced off the callers' path; docs/AUDIT.md "The head file").
pub fn spawn_audit_flush(svc: KmsService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut deferred = true;
        loop {
            tick.tick().await;
            let s = svc.clone();
            let upkeep = move || (s.flush_deferred_audit(), s.sync_audit_head());
            let Ok((flushed, head)) = tokio::task::spawn_blocking(upkeep).await else {
                continue;
            };
            match flushed {
                Ok(0) if deferred => {
                    deferred = false;
                    tracing::info!("deferred audit records written");
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "deferred audit records still wait"),
            }
            if let Err(e) = head {
                tracing::warn!(error = %e, "audit head sync failed; retried in a second");
            }
        }
    });
}

/// Runs rotations and deletions that fell due, once a minute, for the life of the process.
pub fn spawn_due_work(svc: KmsService) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let s = svc.clone();
            match tokio::task::spawn_blocking(move || s.run_due_work()).await {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(n, "KMS applied due rotations/deletions"),
                Ok(Err(e)) => tracing::warn!(error = %e.message(), "KMS due work failed"),
                Err(_) => {}
            }
        }
    });
}
