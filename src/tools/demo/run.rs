//! The demo's actions: upload one file with each of the five methods, read it back, then run
//! each event (KMS key disabled, rotated, deleted; SSE-C key lost; plain HTTP) and record what
//! happened. Nothing here decides an outcome: every [`Outcome`] is an HTTP status and error
//! code the gateway or KMS answered, or the client's own verification result, and every KMS
//! call listed is a record read back from the audit log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Value, json};

use super::observe::{AuditCursor, KmsCall, Stored, kms_outcome, stored_object};
use crate::kms::KmsClientError;
use crate::kms::remote::RemoteKms;
use crate::tools::client::s3::{S3Client, S3Response};
use crate::tools::cp::{self, CpError, Cse, CseKey};
use crate::tools::cse::{self, CommitmentPolicy, CseError};

/// The five methods, in the order AWS lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub(crate) enum Method {
    #[serde(rename = "SSE-S3")]
    SseS3,
    #[serde(rename = "SSE-KMS")]
    SseKms,
    #[serde(rename = "SSE-C")]
    SseC,
    #[serde(rename = "CSE-KMS")]
    CseKms,
    #[serde(rename = "CSE-C")]
    CseC,
}

pub(crate) const METHODS: [Method; 5] = [
    Method::SseS3,
    Method::SseKms,
    Method::SseC,
    Method::CseKms,
    Method::CseC,
];

impl Method {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Method::SseS3 => "SSE-S3",
            Method::SseKms => "SSE-KMS",
            Method::SseC => "SSE-C",
            Method::CseKms => "CSE-KMS",
            Method::CseC => "CSE-C",
        }
    }
    fn slug(self) -> &'static str {
        match self {
            Method::SseS3 => "sse-s3",
            Method::SseKms => "sse-kms",
            Method::SseC => "sse-c",
            Method::CseKms => "cse-kms",
            Method::CseC => "cse-c",
        }
    }
    fn uses_kms_key(self) -> bool {
        matches!(self, Method::SseKms | Method::CseKms)
    }
    fn client_side(self) -> bool {
        matches!(self, Method::CseKms | Method::CseC)
    }
}

/// What one request (or one client-side decryption) came to.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Outcome {
    pub(crate) ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// S3 error code (`AccessDenied`, `KMS.DisabledException`), KMS `__type`, or `client:<what>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) code: Option<String>,
    pub(crate) detail: String,
    /// For reads over plain HTTP: whether the response body was the plaintext.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) plaintext_on_wire: Option<bool>,
}

impl Outcome {
    fn from_response(r: &S3Response, plaintext: &[u8], want_plain: bool) -> Outcome {
        let body_plain = r.body.as_ref() == plaintext;
        if !r.is_success() {
            return Outcome {
                ok: false,
                status: Some(r.status),
                code: r.error_code(),
                detail: r.outcome(),
                plaintext_on_wire: None,
            };
        }
        let detail = if body_plain {
            format!("{} plaintext returned", r.status)
        } else {
            format!("{} {} bytes of ciphertext returned", r.status, r.body.len())
        };
        Outcome {
            ok: body_plain == want_plain,
            status: Some(r.status),
            code: None,
            detail,
            plaintext_on_wire: None,
        }
    }

    fn from_cp(result: Result<usize, CpError>) -> Outcome {
        match result {
            Ok(n) => Outcome {
                ok: true,
                status: Some(200),
                code: None,
                detail: format!("200, client decrypted and verified {n} bytes"),
                plaintext_on_wire: None,
            },
            Err(CpError::S3 { status, code, .. }) => Outcome {
                ok: false,
                status: Some(status),
                detail: format!("{status} {code}"),
                code: Some(code),
                plaintext_on_wire: None,
            },
            Err(CpError::Kms(KmsClientError::Kms { type_name, .. })) => Outcome {
                ok: false,
                status: None,
                detail: format!("KMS Decrypt: {type_name}"),
                code: Some(type_name),
                plaintext_on_wire: None,
            },
            Err(CpError::Cse(CseError::WrongKey)) => Outcome {
                ok: false,
                status: Some(200),
                code: Some("client:WrongKey".into()),
                detail: "200, but the data key does not unwrap (AES-GCM tag mismatch)".into(),
                plaintext_on_wire: None,
            },
            Err(e) => Outcome {
                ok: false,
                status: None,
                code: Some("client:Error".into()),
                detail: e.to_string(),
                plaintext_on_wire: None,
            },
        }
    }

    /// A write's outcome: a successful PUT answers an empty body, so "ok" means 2xx.
    fn stored(self) -> Outcome {
        let ok = self.status.is_some_and(|s| (200..300).contains(&s));
        Outcome {
            ok,
            detail: match self.status {
                Some(s) if ok => format!("{s} stored"),
                _ => self.detail.clone(),
            },
            ..self
        }
    }

    fn not_observed(why: &str) -> Outcome {
        Outcome {
            ok: false,
            status: None,
            code: None,
            detail: format!("not observed: {why}"),
            plaintext_on_wire: None,
        }
    }
}

/// One action of an event and its outcome.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Step {
    pub(crate) action: String,
    pub(crate) outcome: Outcome,
    /// KMS calls the action caused (from the audit log).
    pub(crate) kms_calls: Vec<KmsCall>,
}

/// One method's cell of an event.
#[derive(Clone, Debug, Serialize, Default)]
pub(crate) struct EventCell {
    pub(crate) applicable: bool,
    pub(crate) steps: Vec<Step>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct EventInfo {
    pub(crate) id: String,
    pub(crate) title: String,
    /// What the demo did to set the event up (KMS calls with their answers).
    pub(crate) actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kms_key_arn: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct WrappedKey {
    /// Where the wrapped data key is kept.
    pub(crate) location: String,
    /// The gateway's meta record of the object, relative to the data dir.
    pub(crate) meta_record: Option<String>,
    pub(crate) details: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct MethodReport {
    pub(crate) method: Method,
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) put: Outcome,
    /// Who generated the data key, from the audit log and the stored metadata.
    pub(crate) data_key_generated_by: String,
    pub(crate) wrapped_key: WrappedKey,
    /// `x-amz-meta-*` the object carries (client-side envelopes).
    pub(crate) object_metadata: BTreeMap<String, String>,
    pub(crate) kms_calls_put: Vec<KmsCall>,
    pub(crate) kms_calls_get: Vec<KmsCall>,
    /// Object size as S3 reports it (Content-Length of HEAD).
    pub(crate) object_size: Option<u64>,
    pub(crate) stored: Option<Stored>,
    /// Stored bytes minus plaintext bytes.
    pub(crate) stored_overhead: Option<i64>,
    /// A GET with S3 credentials only (no customer key, no client decryption).
    pub(crate) plain_get: Outcome,
    /// The normal read with everything the method needs.
    pub(crate) full_read: Outcome,
    pub(crate) reader_must_present: String,
    pub(crate) events: BTreeMap<String, EventCell>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct GatewayInfo {
    pub(crate) embedded: bool,
    pub(crate) s3_endpoint: String,
    pub(crate) http_endpoint: Option<String>,
    pub(crate) kms_endpoint: String,
    pub(crate) data_dir: Option<String>,
    pub(crate) audit_log: Option<String>,
    pub(crate) test_clock: bool,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) format: &'static str,
    pub(crate) generated_at: String,
    pub(crate) gateway: GatewayInfo,
    pub(crate) plaintext_size: u64,
    pub(crate) plaintext_sha256: String,
    pub(crate) plaintext_first_bytes_hex: String,
    pub(crate) main_kms_key_arn: String,
    pub(crate) methods: Vec<MethodReport>,
    pub(crate) events: Vec<EventInfo>,
    pub(crate) versioned_overwrite: super::versioned::VersionedOverwrite,
    pub(crate) signing: super::signing::SigningReport,
}

/// Everything the run needs.
pub(crate) struct Demo {
    pub(crate) s3: S3Client,
    pub(crate) http: Option<S3Client>,
    pub(crate) kms: RemoteKms,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) audit: AuditCursor,
    pub(crate) plaintext: Vec<u8>,
    pub(crate) bucket: String,
    pub(crate) gateway: GatewayInfo,
    sse_c_key: [u8; 32],
    cse_c_key: [u8; 32],
}

pub(crate) const EVENT_DISABLED: &str = "kms_key_disabled";
pub(crate) const EVENT_ROTATED: &str = "kms_key_rotated";
pub(crate) const EVENT_DELETED: &str = "kms_key_deleted";
pub(crate) const EVENT_SSE_C_LOST: &str = "customer_key_lost";
pub(crate) const EVENT_PLAIN_HTTP: &str = "plain_http";

fn random_key() -> [u8; 32] {
    *crate::kms::gcm::random_key()
}

fn sse_c_headers(key: &[u8; 32]) -> Vec<(String, String)> {
    use md5::Digest as _;
    vec![
        (
            "x-amz-server-side-encryption-customer-algorithm".into(),
            "AES256".into(),
        ),
        (
            "x-amz-server-side-encryption-customer-key".into(),
            B64.encode(key),
        ),
        (
            "x-amz-server-side-encryption-customer-key-md5".into(),
            B64.encode(md5::Md5::digest(key)),
        ),
    ]
}

impl Demo {
    pub(crate) fn new(
        s3: S3Client,
        http: Option<S3Client>,
        kms: RemoteKms,
        data_dir: Option<PathBuf>,
        plaintext: Vec<u8>,
        gateway: GatewayInfo,
    ) -> Demo {
        let audit_path = data_dir
            .as_ref()
            .map(|d| d.join("kms").join(crate::kms::audit::DEFAULT_FILE_NAME));
        Demo {
            s3,
            http,
            kms,
            audit: AuditCursor::new(audit_path),
            data_dir,
            plaintext,
            bucket: format!(
                "sealgate-demo-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ),
            gateway,
            sse_c_key: random_key(),
            cse_c_key: random_key(),
        }
    }

    async fn create_kms_key(&self, purpose: &str) -> Result<String, String> {
        let answer = self
            .kms
            .call(
                "CreateKey",
                json!({ "Description": format!("sealgate demo: {purpose}") }),
            )
            .await
            .map_err(|e| format!("CreateKey: {e}"))?;
        answer["KeyMetadata"]["Arn"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| "CreateKey answer without an ARN".to_string())
    }

    pub(super) async fn kms_action(
        &self,
        op: &str,
        body: Value,
    ) -> (String, Result<Value, KmsClientError>) {
        let r = self.kms.call(op, body.clone()).await;
        let shown = match op {
            "Sealgate.AdvanceClock" => format!("{op} {}s", body["Seconds"]),
            _ => op.to_string(),
        };
        (format!("{shown} → {}", kms_outcome(&r)), r)
    }

    /// Uploads the plaintext with `method` (KMS methods under `kms_key`).
    async fn put(
        &mut self,
        method: Method,
        object: &str,
        kms_key: &str,
    ) -> (Outcome, Vec<KmsCall>) {
        self.audit.take_new();
        let body = Bytes::from(self.plaintext.clone());
        let result = match method {
            Method::SseS3 | Method::SseKms | Method::SseC => {
                let headers: Vec<(String, String)> = match method {
                    Method::SseS3 => vec![("x-amz-server-side-encryption".into(), "AES256".into())],
                    Method::SseKms => vec![
                        ("x-amz-server-side-encryption".into(), "aws:kms".into()),
                        (
                            "x-amz-server-side-encryption-aws-kms-key-id".into(),
                            kms_key.to_string(),
                        ),
                    ],
                    _ => sse_c_headers(&self.sse_c_key),
                };
                self.s3
                    .put_object(&self.bucket, object, &headers, body)
                    .await
                    .map(|r| Outcome::from_response(&r, b"", false))
                    .unwrap_or_else(|e| Outcome::not_observed(&e.to_string()))
            }
            Method::CseKms | Method::CseC => {
                let key = self.cse_key(method, kms_key, &self.cse_c_key);
                match cp::upload(&self.s3, Some(&key), &self.plaintext, &self.bucket, object).await
                {
                    Ok(r) => Outcome::from_response(&r, b"", false),
                    Err(e) => Outcome::from_cp(Err(e)),
                }
            }
        };
        (result.stored(), self.audit.take_new())
    }

    /// The method's key, under the default commitment policy (the V3 format, as `cp` writes).
    fn cse_key<'a>(&'a self, method: Method, kms_key: &'a str, customer: &'a [u8; 32]) -> Cse<'a> {
        let key = match method {
            Method::CseKms => CseKey::Kms {
                kms: &self.kms,
                key_id: kms_key,
            },
            _ => CseKey::Customer(customer),
        };
        Cse {
            key,
            policy: CommitmentPolicy::default(),
        }
    }

    /// Reads back with everything the method needs: the gateway returns plaintext (SSE) or the
    /// client decrypts and verifies (CSE). `customer` overrides the customer key (key lost).
    async fn read(
        &mut self,
        method: Method,
        object: &str,
        kms_key: &str,
        customer: Option<[u8; 32]>,
    ) -> (Outcome, Vec<KmsCall>) {
        self.audit.take_new();
        let outcome = match method {
            Method::SseS3 | Method::SseKms | Method::SseC => {
                let headers = match method {
                    Method::SseC => sse_c_headers(&customer.unwrap_or(self.sse_c_key)),
                    _ => Vec::new(),
                };
                match self.s3.get_object(&self.bucket, object, &headers).await {
                    Ok(r) => Outcome::from_response(&r, &self.plaintext, true),
                    Err(e) => Outcome::not_observed(&e.to_string()),
                }
            }
            Method::CseKms | Method::CseC => {
                let k = customer.unwrap_or(self.cse_c_key);
                let key = self.cse_key(method, kms_key, &k);
                let r = cp::download(&self.s3, Some(&key), &self.bucket, object).await;
                let r = r.and_then(|plain| {
                    if plain.as_slice() == self.plaintext.as_slice() {
                        Ok(plain.len())
                    } else {
                        Err(CpError::Cse(CseError::Tampered))
                    }
                });
                Outcome::from_cp(r)
            }
        };
        (outcome, self.audit.take_new())
    }

    /// A GET with S3 credentials only, over `client`.
    async fn raw_get(&self, client: &S3Client, method: Method, object: &str) -> Outcome {
        let headers = if method == Method::SseC && !client.is_tls() {
            // Over plain HTTP the reader still presents the key: that is the point of the event.
            sse_c_headers(&self.sse_c_key)
        } else {
            Vec::new()
        };
        match client.get_object(&self.bucket, object, &headers).await {
            Ok(r) => {
                let mut o = Outcome::from_response(&r, &self.plaintext, !method.client_side());
                if r.is_success() {
                    o.plaintext_on_wire = Some(r.body.as_ref() == self.plaintext.as_slice());
                    // Without the client's key a CSE object is only ciphertext, as it should be.
                    o.ok = true;
                }
                o
            }
            Err(e) => Outcome::not_observed(&e.to_string()),
        }
    }

    fn stored(&self, object: &str) -> Option<Stored> {
        let dir = self.data_dir.as_ref()?;
        stored_object(dir, &self.bucket, object, &self.plaintext).ok()
    }

    /// The whole demo.
    pub(crate) async fn run(mut self) -> Result<Report, String> {
        let created = self
            .s3
            .create_bucket(&self.bucket)
            .await
            .map_err(|e| e.to_string())?;
        if !created.is_success() {
            return Err(format!(
                "CreateBucket {}: {}",
                self.bucket,
                created.outcome()
            ));
        }
        let main_key = self.create_kms_key("main").await?;
        let mut reports = Vec::new();
        for method in METHODS {
            reports.push(self.baseline(method, &main_key).await);
        }
        let versioned_overwrite = super::versioned::Context {
            s3: &self.s3,
            data_dir: self.data_dir.as_deref(),
            bucket: &self.bucket,
            plaintext: &self.plaintext,
        }
        .versioned_overwrite(&main_key)
        .await;
        let mut events = Vec::new();
        events.push(self.event_disabled(&mut reports).await?);
        events.push(self.event_rotated(&mut reports).await?);
        events.push(self.event_deleted(&mut reports).await?);
        events.push(self.event_customer_key_lost(&mut reports).await);
        events.push(self.event_plain_http(&mut reports).await);
        let signing = super::signing::run(&self.kms, &mut self.audit).await?;
        use sha2::Digest as _;
        Ok(Report {
            format: "sealgate-demo/1",
            generated_at: crate::kms::audit::rfc3339(std::time::SystemTime::now()),
            gateway: self.gateway.clone(),
            plaintext_size: self.plaintext.len() as u64,
            plaintext_sha256: hex::encode(sha2::Sha256::digest(&self.plaintext)),
            plaintext_first_bytes_hex: hex::encode(&self.plaintext[..self.plaintext.len().min(16)]),
            main_kms_key_arn: main_key,
            methods: reports,
            events,
            versioned_overwrite,
            signing,
        })
    }

    /// Upload, inspect, read back.
    async fn baseline(&mut self, method: Method, kms_key: &str) -> MethodReport {
        let object = format!("demo/{}.bin", method.slug());
        let (put, kms_calls_put) = self.put(method, &object, kms_key).await;
        let head = self
            .s3
            .head_object(
                &self.bucket,
                &object,
                &if method == Method::SseC {
                    sse_c_headers(&self.sse_c_key)
                } else {
                    Vec::new()
                },
            )
            .await
            .ok();
        let object_metadata = head.as_ref().map(|h| h.user_metadata()).unwrap_or_default();
        let object_size = head
            .as_ref()
            .and_then(|h| h.header("content-length"))
            .and_then(|v| v.parse().ok());
        let stored = self.stored(&object);
        let stored_overhead = stored
            .as_ref()
            .map(|s| s.stored_size as i64 - self.plaintext.len() as i64);
        let plain_get = self.raw_get(&self.s3, method, &object).await;
        let (full_read, kms_calls_get) = self.read(method, &object, kms_key, None).await;
        let data_key_generated_by =
            describe_generator(&kms_calls_put, &object_metadata, stored.as_ref());
        let wrapped_key =
            describe_wrapped_key(&object_metadata, stored.as_ref(), self.data_dir.is_some());
        let reader_must_present = describe_reader(method, &plain_get, &kms_calls_get);
        MethodReport {
            method,
            bucket: self.bucket.clone(),
            key: object,
            put,
            data_key_generated_by,
            wrapped_key,
            object_metadata,
            kms_calls_put,
            kms_calls_get,
            object_size,
            stored,
            stored_overhead,
            plain_get,
            full_read,
            reader_must_present,
            events: BTreeMap::new(),
        }
    }

    /// For a KMS-key event: uploads the KMS methods' objects under a fresh key.
    async fn event_objects(&mut self, event: &str, key: &str) -> BTreeMap<Method, String> {
        let mut objects = BTreeMap::new();
        for method in METHODS.into_iter().filter(|m| m.uses_kms_key()) {
            let object = format!("{event}/{}.bin", method.slug());
            let _ = self.put(method, &object, key).await;
            objects.insert(method, object);
        }
        objects
    }

    /// Reads every method's object for an event: the event's own objects for the KMS methods,
    /// the baseline objects (under no KMS key) for the others.
    async fn read_all(
        &mut self,
        reports: &mut [MethodReport],
        event: &str,
        action: &str,
        objects: &BTreeMap<Method, String>,
        key: &str,
    ) {
        for r in reports.iter_mut() {
            let object = objects
                .get(&r.method)
                .cloned()
                .unwrap_or_else(|| r.key.clone());
            let (outcome, kms_calls) = self.read(r.method, &object, key, None).await;
            let cell = r.events.entry(event.to_string()).or_default();
            cell.applicable = true;
            cell.steps.push(Step {
                action: action.to_string(),
                outcome,
                kms_calls,
            });
        }
    }

    async fn event_disabled(&mut self, reports: &mut [MethodReport]) -> Result<EventInfo, String> {
        let key = self.create_kms_key(EVENT_DISABLED).await?;
        let objects = self.event_objects(EVENT_DISABLED, &key).await;
        let mut actions = vec![format!(
            "CreateKey → {key}; uploaded SSE-KMS and CSE-KMS objects under it"
        )];
        let (a, _) = self.kms_action("DisableKey", json!({ "KeyId": key })).await;
        actions.push(a);
        self.read_all(
            reports,
            EVENT_DISABLED,
            "read while disabled",
            &objects,
            &key,
        )
        .await;
        let (a, _) = self.kms_action("EnableKey", json!({ "KeyId": key })).await;
        actions.push(a);
        self.read_all(
            reports,
            EVENT_DISABLED,
            "read after EnableKey",
            &objects,
            &key,
        )
        .await;
        Ok(EventInfo {
            id: EVENT_DISABLED.into(),
            title: "KMS key disabled, then re-enabled".into(),
            actions,
            kms_key_arn: Some(key),
        })
    }

    async fn event_rotated(&mut self, reports: &mut [MethodReport]) -> Result<EventInfo, String> {
        let key = self.create_kms_key(EVENT_ROTATED).await?;
        let objects = self.event_objects(EVENT_ROTATED, &key).await;
        let mut actions = vec![format!(
            "CreateKey → {key}; uploaded SSE-KMS and CSE-KMS objects under it"
        )];
        let (a, _) = self
            .kms_action("RotateKeyOnDemand", json!({ "KeyId": key }))
            .await;
        actions.push(a);
        self.read_all(
            reports,
            EVENT_ROTATED,
            "read data written before the rotation",
            &objects,
            &key,
        )
        .await;
        Ok(EventInfo {
            id: EVENT_ROTATED.into(),
            title: "KMS key rotated (on demand)".into(),
            actions,
            kms_key_arn: Some(key),
        })
    }

    async fn event_deleted(&mut self, reports: &mut [MethodReport]) -> Result<EventInfo, String> {
        let key = self.create_kms_key(EVENT_DELETED).await?;
        let objects = self.event_objects(EVENT_DELETED, &key).await;
        let mut actions = vec![format!(
            "CreateKey → {key}; uploaded SSE-KMS and CSE-KMS objects under it"
        )];
        let (a, _) = self
            .kms_action(
                "ScheduleKeyDeletion",
                json!({ "KeyId": key, "PendingWindowInDays": 7 }),
            )
            .await;
        actions.push(a);
        self.read_all(
            reports,
            EVENT_DELETED,
            "read while pending deletion",
            &objects,
            &key,
        )
        .await;
        let (a, advanced) = self
            .kms_action("Sealgate.AdvanceClock", json!({ "Seconds": 8 * 86400 }))
            .await;
        actions.push(a);
        if advanced.is_ok() {
            self.gateway.test_clock = true;
            let (a, _) = self
                .kms_action("DescribeKey", json!({ "KeyId": key }))
                .await;
            actions.push(a);
            self.read_all(
                reports,
                EVENT_DELETED,
                "read after the 7-day window passed",
                &objects,
                &key,
            )
            .await;
        } else {
            for r in reports.iter_mut() {
                let cell = r.events.entry(EVENT_DELETED.to_string()).or_default();
                cell.steps.push(Step {
                    action: "read after the 7-day window passed".into(),
                    outcome: Outcome::not_observed("the gateway has no test clock"),
                    kms_calls: Vec::new(),
                });
            }
        }
        Ok(EventInfo {
            id: EVENT_DELETED.into(),
            title: "KMS key scheduled for deletion, window passed".into(),
            actions,
            kms_key_arn: Some(key),
        })
    }

    async fn event_customer_key_lost(&mut self, reports: &mut [MethodReport]) -> EventInfo {
        let other = random_key();
        for r in reports.iter_mut() {
            let cell = r.events.entry(EVENT_SSE_C_LOST.to_string()).or_default();
            if !matches!(r.method, Method::SseC | Method::CseC) {
                // No customer key exists for these methods: nothing to lose.
                continue;
            }
            let (outcome, kms_calls) = self.read(r.method, &r.key.clone(), "", Some(other)).await;
            cell.applicable = true;
            cell.steps.push(Step {
                action: "read with a different 256-bit key".into(),
                outcome,
                kms_calls,
            });
        }
        EventInfo {
            id: EVENT_SSE_C_LOST.into(),
            title: "Customer key lost (reader presents another key)".into(),
            actions: vec![
                "generated a fresh random 256-bit key and read SSE-C / CSE-C objects with it"
                    .into(),
            ],
            kms_key_arn: None,
        }
    }

    async fn event_plain_http(&mut self, reports: &mut [MethodReport]) -> EventInfo {
        let Some(http) = self.http.take() else {
            for r in reports.iter_mut() {
                let cell = r.events.entry(EVENT_PLAIN_HTTP.to_string()).or_default();
                cell.steps.push(Step {
                    action: "GET over plain HTTP".into(),
                    outcome: Outcome::not_observed("no plain-HTTP endpoint"),
                    kms_calls: Vec::new(),
                });
            }
            return EventInfo {
                id: EVENT_PLAIN_HTTP.into(),
                title: "Read over plain HTTP".into(),
                actions: vec!["no plain-HTTP endpoint given".into()],
                kms_key_arn: None,
            };
        };
        for r in reports.iter_mut() {
            self.audit.take_new();
            let outcome = self.raw_get(&http, r.method, &r.key).await;
            let kms_calls = self.audit.take_new();
            let cell = r.events.entry(EVENT_PLAIN_HTTP.to_string()).or_default();
            cell.applicable = true;
            cell.steps.push(Step {
                action: if r.method == Method::SseC {
                    "GET over plain HTTP, presenting the customer key".into()
                } else {
                    "GET over plain HTTP".into()
                },
                outcome,
                kms_calls,
            });
        }
        self.http = Some(http);
        EventInfo {
            id: EVENT_PLAIN_HTTP.into(),
            title: "Read over plain HTTP".into(),
            actions: vec![format!(
                "GET each object from {}",
                self.gateway.http_endpoint.clone().unwrap_or_default()
            )],
            kms_key_arn: None,
        }
    }
}

fn describe_generator(
    put_calls: &[KmsCall],
    meta: &BTreeMap<String, String>,
    stored: Option<&Stored>,
) -> String {
    if let Some(call) = put_calls
        .iter()
        .find(|c| c.event == "GenerateDataKey" && c.outcome == "success")
    {
        let by = match call.source.as_str() {
            "s3-gateway" => "the gateway",
            _ => "the client",
        };
        return format!("KMS (GenerateDataKey called by {by})");
    }
    if cse::format::wrapped_key_field(meta).is_some() {
        return "the client (random 256-bit data key; no KMS call)".into();
    }
    match stored.map(|s| s.gateway_sealing.as_str()) {
        Some("SseC") => "the gateway (random object key), sealed under the customer's key".into(),
        Some("SseS3") => "the gateway (random object key; no KMS call)".into(),
        Some(other) => format!("the gateway (sealing {other})"),
        None => "the gateway (no KMS call seen)".into(),
    }
}

fn describe_wrapped_key(
    meta: &BTreeMap<String, String>,
    stored: Option<&Stored>,
    have_data_dir: bool,
) -> WrappedKey {
    let mut details = Vec::new();
    let location = if let Some((name, wrapped, wrap)) = cse::format::wrapped_key_field(meta) {
        let len = B64.decode(wrapped).map(|b| b.len()).unwrap_or(0);
        details.push(format!("{len} bytes, wrap {wrap}"));
        if let Some(s) = stored {
            details.push(format!(
                "the gateway seals its own key over the ciphertext too ({})",
                s.gateway_sealing
            ));
        }
        format!("object metadata x-amz-meta-{name}")
    } else if let Some(s) = stored {
        details.extend(s.sealing_fields.iter().cloned());
        format!("gateway meta record ({})", s.gateway_sealing)
    } else if have_data_dir {
        "gateway meta record (could not be read)".into()
    } else {
        "gateway meta record (not observed: no --data-dir)".into()
    };
    WrappedKey {
        location,
        meta_record: stored.map(|s| s.meta_record.clone()),
        details,
    }
}

fn describe_reader(method: Method, plain_get: &Outcome, get_calls: &[KmsCall]) -> String {
    let decrypts: Vec<&KmsCall> = get_calls
        .iter()
        .filter(|c| c.event == "Decrypt" && c.outcome == "success")
        .collect();
    let plain = plain_get.detail.contains("plaintext returned");
    match (plain, decrypts.first()) {
        (true, None) => "S3 credentials only (GET returned plaintext)".into(),
        (true, Some(c)) => format!(
            "S3 credentials; KMS Decrypt is done by the gateway as {}",
            c.principal
        ),
        (false, Some(c)) => format!(
            "S3 credentials + KMS Decrypt permission on the key (the client called it as {}); GET alone: {}",
            c.principal, plain_get.detail
        ),
        (false, None) => {
            let what = if method == Method::SseC {
                "the customer key with every request"
            } else {
                "the key file (to unwrap the CEK)"
            };
            format!("S3 credentials + {what}; GET alone: {}", plain_get.detail)
        }
    }
}
