//! The S3 front end: one request flows listener → auth → router → handler → sse → envelope →
//! store, and every failure becomes one S3 error response here.

pub(crate) mod acl;
pub(crate) mod authz;
pub(crate) mod body_frames;
pub(crate) mod cors;
pub(crate) mod encryption;
pub(crate) mod error;
pub(crate) mod names;
pub(crate) mod object_lock;
pub(crate) mod ops;
pub(crate) mod payload;
pub(crate) mod payload_hashes;
pub(crate) mod post;
pub(crate) mod router;
pub(crate) mod tags;
pub(crate) mod xml;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use rand::RngCore;

use crate::gateway::Gateway;
use crate::identity::User;
use crate::meta::BucketRecord;
use crate::server::{self, Body, ConnInfo};
use crate::sigv2;
use crate::sigv4::{self, AuthError, Expectations, ServiceKind, Verified};
use error::S3Error;
use payload::{Payload, PayloadOptions};

pub(crate) use crate::metrics::s3::SseFact;

pub(crate) struct S3Service {
    gw: Arc<Gateway>,
}

impl S3Service {
    pub(crate) fn new(gw: Arc<Gateway>) -> S3Service {
        S3Service { gw }
    }
}

impl server::Service for S3Service {
    fn call(
        self: Arc<Self>,
        req: Request<Incoming>,
        conn: ConnInfo,
    ) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(async move { handle(self.gw.clone(), req, conn).await })
    }
}

/// A request payload is the plaintext source of a PUT or UploadPart.
impl crate::sse::PlainSource for Payload {
    type Error = S3Error;
    async fn next_piece(&mut self) -> Result<Option<bytes::Bytes>, S3Error> {
        self.next().await
    }

    fn light(&self) -> bool {
        Payload::light(self)
    }
}

/// One authenticated request on its way to a handler.
pub(crate) struct Req {
    pub(crate) gw: Arc<Gateway>,
    pub(crate) headers: HeaderMap,
    body: Option<Incoming>,
    pub(crate) conn: ConnInfo,
    /// The caller; for an anonymous request a placeholder that no policy names (see
    /// [`anonymous_user`]). Authorization decisions go through `session`.
    pub(crate) user: User,
    pub(crate) verified: Verified,
    pub(crate) session: Arc<authz::Session>,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The request payload, decoded and verified as it streams.
    pub(crate) fn payload(&mut self, opts: PayloadOptions) -> Result<Payload, S3Error> {
        let body = self
            .body
            .take()
            .ok_or_else(|| S3Error::InternalError("payload read twice".into()))?;
        Payload::new(body, &self.headers, Some(&self.verified), opts)
    }

    /// A small request body (XML documents), fully read and verified.
    pub(crate) async fn small_body(&mut self, max_len: u64) -> Result<bytes::Bytes, S3Error> {
        let p = self.payload(PayloadOptions {
            want_md5: false,
            max_len,
            default_checksum: None,
        })?;
        Ok(p.collect().await?.0)
    }

    /// Drains a body the operation does not use, so signed hashes are still enforced.
    pub(crate) async fn no_body(&mut self) -> Result<(), S3Error> {
        if self.body.is_some() {
            self.small_body(1024 * 1024).await?;
        }
        Ok(())
    }

    /// The caller as the KMS sees it (authorization and audit of SSE-KMS key use).
    pub(crate) fn caller(&self) -> crate::kms::Caller {
        crate::kms::Caller {
            arn: self.user.arn.clone(),
            account: self.user.account.clone(),
            identity_policy: self.user.policy.clone(),
            network: Some(self.session.network()),
        }
    }

    /// A check only the handler can make (e.g. DeleteObjects, per key).
    pub(crate) async fn authorize(&self, check: &authz::Check) -> Result<(), S3Error> {
        authz::check(&self.gw, &self.session, check).await
    }

    /// Whether `check` would be allowed; a refusal is not recorded as a denial.
    pub(crate) async fn allowed(&self, check: &authz::Check) -> bool {
        authz::allowed(&self.gw, &self.session, check).await
    }

    pub(crate) async fn bucket(&self, name: &str) -> Result<BucketRecord, S3Error> {
        self.gw
            .store
            .get_bucket(name)
            .await?
            .ok_or_else(|| S3Error::NoSuchBucket {
                bucket: name.to_owned(),
            })
    }
}

fn request_id() -> String {
    let mut b = [0u8; 8];
    rand::rng().fill_bytes(&mut b);
    hex::encode_upper(b)
}

async fn handle(gw: Arc<Gateway>, req: Request<Incoming>, conn: ConnInfo) -> Response<Body> {
    let request_id = request_id();
    let (mut parts, body) = req.into_parts();
    let is_head = parts.method == Method::HEAD;
    let resource = parts.uri.path().to_owned();
    let method = parts.method.clone();
    let started = std::time::Instant::now();
    let mut probe = crate::metrics::s3::Probe::start(&parts.headers);
    let mut op_name = "unknown";
    // The request headers CORS evaluation reads, kept only when an `Origin` is sent.
    let cors_request: Option<HeaderMap> = parts.headers.contains_key("origin").then(|| {
        [
            "origin",
            "access-control-request-method",
            "access-control-request-headers",
        ]
        .into_iter()
        .filter_map(|n| {
            Some((
                http::HeaderName::from_static(n),
                parts.headers.get(n)?.clone(),
            ))
        })
        .collect()
    });
    // The bucket whose CORS rules decorate the answer (not for a preflight: it has its own).
    let mut cors_bucket: Option<String> = None;
    // The body stays here until a handler takes it, so an early error (routing, auth) can
    // read what the client is still sending before answering.
    let discard_unused = worth_discarding(&parts.headers);
    let sends_body = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || parts.headers.contains_key(http::header::TRANSFER_ENCODING);
    let mut unread = Some(body);
    let result = async {
        // Before routing: a presigned SigV2 URL's `x-amz-*` parameters are request headers.
        sigv2::apply_query_headers(&parts.uri, &mut parts.headers)
            .map_err(|e| auth_error(e, &gw.cfg.region))?;
        let routed = router::parse(
            &parts.method,
            &parts.uri,
            &parts.headers,
            &gw.cfg.virtual_host_suffixes,
        )?;
        op_name = routed.name();
        probe.routed(op_name);
        if let router::Endpoint::Preflight { bucket, key } = &routed {
            return ops::cors::handle_preflight(&gw, &parts.headers, bucket, key.is_some()).await;
        }
        cors_bucket = routed.bucket().map(str::to_owned);
        if let router::Endpoint::PostObject { bucket } = &routed {
            // The credentials travel in the form: the handler authenticates once it has read
            // the fields, before it writes anything.
            let body = unread
                .take()
                .ok_or_else(|| S3Error::InternalError("body taken twice".into()))?;
            return ops::post::handle_post_object(&gw, &parts, body, conn, bucket).await;
        }
        let (user, verified, auth) = authenticate(&gw, &parts)?;
        // Only valid names can exist: any other bucket is simply not there.
        if let Some(b) = routed.bucket()
            && !matches!(routed, router::Endpoint::CreateBucket { .. })
            && !names::valid_bucket_name(b)
        {
            return Err(S3Error::NoSuchBucket {
                bucket: b.to_owned(),
            });
        }
        let secure = gw.cfg.trusted_proxies.request_is_tls(&conn, &parts.headers);
        let session = Arc::new(authz::Session::new(
            user.clone(),
            auth,
            &parts.headers,
            secure,
            conn.tls_version,
            conn.peer.ip(),
        ));
        authz::authorize_endpoint(&gw, &session, &routed).await?;
        let read_bucket = read_bucket(&routed);
        let req = Req {
            gw: gw.clone(),
            headers: parts.headers,
            body: unread.take(),
            conn,
            user: user.unwrap_or_else(anonymous_user),
            verified,
            session: session.clone(),
        };
        let result = ops::dispatch(req, routed).await;
        // A caller who may not list the bucket must not learn whether a key exists.
        if let (Err(S3Error::NoSuchKey { .. }), Some(b)) = (&result, &read_bucket)
            && !authz::may_know_missing(&gw, &session, b).await
        {
            return Err(S3Error::AccessDenied("Access Denied".into()));
        }
        result
    }
    .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            if matches!(
                e,
                S3Error::InternalError(_) | S3Error::ServiceUnavailable(_)
            ) {
                tracing::warn!(request_id, op = op_name, error = ?e, "request failed");
            }
            // A handler that failed may have left its body partly unread; bytes of it must
            // never be taken for the next request on a kept-alive connection.
            let handler_had_body = unread.is_none() && sends_body;
            if let Some(body) = unread.take().filter(|_| discard_unused) {
                discard_body(body).await;
            }
            let mut resp = error_response(&e, &resource, &request_id, is_head);
            if handler_had_body {
                resp.headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
            }
            resp
        }
    };
    if let (Some(request), Some(bucket)) = (&cors_request, &cors_bucket) {
        ops::cors::add_actual_headers(&gw, &mut resp, bucket, request, &method).await;
    }
    tracing::debug!(
        request_id,
        op = op_name,
        %method,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "s3"
    );
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amz-request-id", v.clone());
        h.insert("x-amz-id-2", v);
    }
    h.insert(http::header::SERVER, HeaderValue::from_static("sealgate"));
    probe.finish(&gw.metrics, resp)
}

/// The most of an unused request body read before an early error answer: the whole of a
/// single PUT as the common transfer managers send it (their multipart threshold is 8 MiB).
const DISCARD_LIMIT: u64 = 8 * 1024 * 1024;

/// Whether an unused body is read before an early error answer: not when the client waits for
/// `100 Continue` (reading would ask it to send; answering at once spares it the upload) nor
/// when it declared more than [`DISCARD_LIMIT`] (the connection closes instead).
pub(crate) fn worth_discarding(headers: &HeaderMap) -> bool {
    let expects_continue = headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    !expects_continue && declared.is_none_or(|n| n <= DISCARD_LIMIT)
}

/// Reads and drops a request body an error answer does not need (an expired presigned PUT, a
/// bad signature), at most [`DISCARD_LIMIT`] bytes of it. A client that writes its whole body
/// before reading the answer (Python's http.client, urllib) otherwise meets a closed
/// connection mid-upload and never sees the 403.
pub(crate) async fn discard_body(mut body: Incoming) {
    use http_body_util::BodyExt as _;
    let mut seen = 0u64;
    while seen <= DISCARD_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

pub(crate) fn error_response(
    e: &S3Error,
    resource: &str,
    request_id: &str,
    is_head: bool,
) -> Response<Body> {
    let mut b = Response::builder().status(e.status());
    for (name, value) in e.response_headers() {
        b = b.header(*name, value.as_str());
    }
    let body = if is_head || !e.has_body() {
        server::empty()
    } else {
        b = b.header(http::header::CONTENT_TYPE, "application/xml");
        server::full(e.to_xml(resource, request_id))
    };
    b.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(server::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// The bucket whose object a request reads, for the 404-or-403 choice on a missing key.
fn read_bucket(ep: &router::Endpoint) -> Option<String> {
    use router::Endpoint::*;
    match ep {
        GetObject { bucket, .. } | HeadObject { bucket, .. } => Some(bucket.clone()),
        CopyObject { source, .. } | UploadPartCopy { source, .. } => Some(source.bucket.clone()),
        _ => None,
    }
}

/// The stand-in `User` of an anonymous request: an ARN and account no policy or key can name.
pub(crate) fn anonymous_user() -> User {
    User {
        name: "anonymous".into(),
        access_key: String::new(),
        secret_key: zeroize::Zeroizing::new(String::new()),
        arn: "anonymous".into(),
        account: String::new(),
        policy: None,
    }
}

/// SigV4 or SigV2; no credentials at all is the anonymous caller (`None`), whom only a bucket
/// policy naming everyone lets through.
fn authenticate(
    gw: &Gateway,
    parts: &http::request::Parts,
) -> Result<(Option<User>, Verified, authz::AuthKind), S3Error> {
    let region = &gw.cfg.region;
    if let Some(signed) =
        sigv2::parse(&parts.uri, &parts.headers).map_err(|e| auth_error(e, region))?
    {
        let user = lookup(gw, &signed.access_key)?;
        let host_bucket =
            router::host_bucket(&parts.uri, &parts.headers, &gw.cfg.virtual_host_suffixes);
        let verified = sigv2::verify(
            &signed,
            &parts.method,
            &parts.uri,
            &parts.headers,
            host_bucket.as_deref(),
            &user.secret_key,
            SystemTime::now(),
        )
        .map_err(|e| auth_error(e, region))?;
        gw.metrics.s3_sigv2.with([signed.form.label()]).inc();
        let auth = authz::AuthKind::V2 {
            query: signed.form == sigv2::Form::Query,
        };
        return Ok((Some(user), verified, auth));
    }
    let Some(signed) = sigv4::parse(&parts.uri, &parts.headers, ServiceKind::S3)
        .map_err(|e| auth_error(e, region))?
    else {
        // Anonymous: the body is read as sent, with nothing to verify it against.
        return Ok((
            None,
            Verified::unsigned_payload(String::new()),
            authz::AuthKind::Anonymous,
        ));
    };
    let auth = authz::AuthKind::V4 {
        query: matches!(signed.form, sigv4::AuthForm::Presigned { .. }),
    };
    let user = lookup(gw, &signed.credential.access_key)?;
    let exp = Expectations::s3(region.clone(), SystemTime::now());
    let verified = sigv4::verify(
        &signed,
        &parts.method,
        &parts.uri,
        &parts.headers,
        &user.secret_key,
        &exp,
        None,
    )
    .map_err(|e| auth_error(e, region))?;
    Ok((Some(user), verified, auth))
}

fn lookup(gw: &Gateway, access_key: &str) -> Result<User, S3Error> {
    gw.ids
        .lookup(access_key)
        .cloned()
        .ok_or_else(|| S3Error::InvalidAccessKeyId {
            access_key: access_key.to_owned(),
        })
}

fn auth_error(e: AuthError, region: &str) -> S3Error {
    match e {
        AuthError::UnsupportedAlgorithm(_)
        | AuthError::MultipleAuthMechanisms
        | AuthError::MalformedV2(_) => S3Error::invalid_argument(e.to_string()),
        AuthError::Malformed(_) | AuthError::WrongService { .. } => {
            S3Error::AuthorizationHeaderMalformed {
                msg: e.to_string(),
                region: None,
            }
        }
        AuthError::WrongRegion { .. } => S3Error::AuthorizationHeaderMalformed {
            msg: format!("The authorization header is malformed; {e}"),
            region: Some(region.to_owned()),
        },
        AuthError::QueryParamsError(m) => S3Error::AuthorizationQueryParametersError(m),
        AuthError::MissingDate => S3Error::AccessDenied(e.to_string()),
        AuthError::MissingContentSha256 => S3Error::InvalidRequest(e.to_string()),
        AuthError::InvalidContentSha256(_) => S3Error::invalid_argument(e.to_string()),
        AuthError::ContentSha256Mismatch => S3Error::XAmzContentSHA256Mismatch,
        AuthError::UnsignedHeaders(h) => S3Error::HeadersNotSigned {
            headers: h.join(", "),
        },
        AuthError::RequestTimeTooSkewed {
            request_time,
            server_time,
            ..
        } => S3Error::RequestTimeTooSkewed {
            request_time,
            server_time,
        },
        AuthError::Expired {
            expires_secs,
            expires_at,
            server_time,
        } => S3Error::RequestExpired {
            expires: expires_secs.to_string(),
            expires_at,
            server_time,
        },
        AuthError::ExpiredAt {
            expires_at,
            server_time,
        } => S3Error::RequestExpired {
            expires: String::new(),
            expires_at,
            server_time,
        },
        AuthError::DeniedV2(m) => S3Error::AccessDenied(m),
        AuthError::NotYetValid { .. } => S3Error::AccessDenied("Request is not valid yet".into()),
        AuthError::SignatureMismatch {
            access_key,
            string_to_sign,
            canonical_request,
            ..
        } => S3Error::SignatureDoesNotMatch {
            access_key,
            string_to_sign,
            canonical_request,
        },
    }
}
