//! The request payload as the handlers see it: decoded, bounded, and verified.
//!
//! Both framings arrive here (a plain body, or `aws-chunked` inside HTTP chunking) and leave as
//! plaintext pieces. Everything a client can assert about the payload — the signed SHA-256,
//! Content-MD5, a flexible checksum in a header or a trailer, the declared length — is checked
//! before `next` reports the end, so a handler commits an object only after the last `None`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use hyper::body::Incoming;
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::checksum::{self, ChecksumAlgorithm};
use crate::chunked::{ChunkedDecoder, ChunkedError, Frame};
use crate::s3::body_frames::BodyFrames;
use crate::s3::error::S3Error;
use crate::s3::payload_hashes::{Hashes, Hashing};
use crate::sigv4::{PayloadHash, Verified};

/// What the handler wants computed besides the checks the client asked for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PayloadOptions {
    /// Compute the MD5 of the payload (the ETag of SSE-S3 objects and parts).
    pub(crate) want_md5: bool,
    /// Largest payload accepted.
    pub(crate) max_len: u64,
    /// Checksum algorithm to compute when the client sends none (S3's CRC64NVME default).
    pub(crate) default_checksum: Option<ChecksumAlgorithm>,
}

/// Digests of a fully received payload.
#[derive(Clone, Debug, Default)]
pub(crate) struct PayloadDigest {
    pub(crate) len: u64,
    pub(crate) md5: Option<[u8; 16]>,
    /// Algorithm and raw checksum of the payload; `client_sent` says whether the client
    /// supplied it (header or trailer) or it is our default.
    pub(crate) checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
    pub(crate) client_sent_checksum: bool,
}

struct ChecksumState {
    alg: ChecksumAlgorithm,
    /// Value from a header; `None` when it comes in a trailer or is our default.
    expected: Option<Vec<u8>>,
    from_trailer: bool,
    client_sent: bool,
}

pub(crate) struct Payload {
    body: Option<BodyFrames>,
    decoder: Option<ChunkedDecoder>,
    buf: BytesMut,
    declared_len: Option<u64>,
    received: u64,
    max_len: u64,
    /// The hex SHA-256 the signature covers, when it covers the payload.
    signed_sha256: Option<String>,
    content_md5: Option<[u8; 16]>,
    checksum: Option<ChecksumState>,
    /// `None` once the payload ended.
    hashing: Option<Hashing>,
    digest: Option<PayloadDigest>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Payload {
    /// Validates the payload headers and prepares the decoding. `verified` is the request's
    /// verified signature (`None` for anonymous requests, which only reach operations without
    /// a body anyway).
    pub(crate) fn new(
        body: Incoming,
        headers: &HeaderMap,
        verified: Option<&Verified>,
        opts: PayloadOptions,
    ) -> Result<Payload, S3Error> {
        let content_length = match header(headers, "content-length") {
            Some(v) => Some(v.parse::<u64>().map_err(|_| S3Error::InvalidArgument {
                msg: "Content-Length is not a valid number".into(),
                name: Some("Content-Length".into()),
                value: Some(v.to_owned()),
            })?),
            None => None,
        };
        let payload = verified.map(|v| &v.payload);
        let chunked = matches!(
            payload,
            Some(
                PayloadHash::StreamingSigned
                    | PayloadHash::StreamingSignedTrailer
                    | PayloadHash::StreamingUnsignedTrailer
            )
        );
        let trailer_names: Vec<String> = header(headers, "x-amz-trailer")
            .map(|t| {
                t.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let declared_len = if chunked {
            let v = header(headers, "x-amz-decoded-content-length")
                .ok_or(S3Error::MissingContentLength)?;
            Some(v.parse::<u64>().map_err(|_| S3Error::InvalidArgument {
                msg: "x-amz-decoded-content-length is not a valid number".into(),
                name: Some("x-amz-decoded-content-length".into()),
                value: Some(v.to_owned()),
            })?)
        } else {
            content_length
        };
        if declared_len.is_some_and(|l| l > opts.max_len) {
            return Err(S3Error::EntityTooLarge);
        }
        let decoder = verified.and_then(ChunkedDecoder::for_request);
        let signed_sha256 = match payload {
            Some(PayloadHash::Hex(h)) => Some(h.to_ascii_lowercase()),
            _ => None,
        };
        let content_md5 = match header(headers, "content-md5") {
            Some(v) => {
                let raw = STANDARD
                    .decode(v)
                    .ok()
                    .filter(|r| r.len() == 16)
                    .ok_or(S3Error::InvalidDigest)?;
                Some(raw.try_into().expect("16 bytes"))
            }
            None => None,
        };
        let checksum = checksum_state(headers, &trailer_names, opts.default_checksum)?;
        let hashes = Hashes {
            sha256: signed_sha256.is_some().then(Sha256::new),
            md5: (opts.want_md5 || content_md5.is_some()).then(Md5::new),
            checksum: checksum.as_ref().map(|c| checksum::Hasher::new(c.alg)),
        };
        let hashing = Hashing::start(hashes, declared_len);
        Ok(Payload {
            body: Some(BodyFrames::new(body, declared_len)),
            decoder,
            buf: BytesMut::new(),
            declared_len,
            received: 0,
            max_len: opts.max_len,
            signed_sha256,
            content_md5,
            checksum,
            hashing: Some(hashing),
            digest: None,
        })
    }

    /// The next piece of plaintext payload; `Ok(None)` once the whole payload has arrived and
    /// passed every check.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, S3Error> {
        loop {
            if let Some(decoder) = self.decoder.as_mut() {
                match decoder.decode(&mut self.buf).map_err(chunk_error)? {
                    Some(Frame::Data(data)) => {
                        if data.is_empty() {
                            continue;
                        }
                        self.account(&data).await?;
                        return Ok(Some(data));
                    }
                    Some(Frame::Trailers(trailers)) => {
                        self.apply_trailers(&trailers)?;
                        continue;
                    }
                    Some(Frame::End) => {
                        self.decoder = None;
                        // Drain whatever HTTP body remains (normally nothing).
                        while self.read_frame().await?.is_some() {}
                        self.body = None;
                        self.finish().await?;
                        return Ok(None);
                    }
                    None => {}
                }
                match self.read_frame().await? {
                    Some(mut bytes) => {
                        // Chunk data with nothing buffered before it is handed on as received.
                        let direct = match (self.buf.is_empty(), self.decoder.as_mut()) {
                            (true, Some(decoder)) => decoder.take_data(&mut bytes),
                            _ => None,
                        };
                        self.buf.extend_from_slice(&bytes);
                        if let Some(data) = direct {
                            self.account(&data).await?;
                            return Ok(Some(data));
                        }
                    }
                    None => {
                        // The body ended before the decoder reached the final chunk.
                        if let Some(decoder) = &self.decoder {
                            decoder.finish().map_err(chunk_error)?;
                        }
                        return Err(S3Error::IncompleteBody);
                    }
                }
            } else {
                if self.body.is_none() {
                    return Ok(None);
                }
                match self.read_frame().await? {
                    Some(data) => {
                        if data.is_empty() {
                            continue;
                        }
                        self.account(&data).await?;
                        return Ok(Some(data));
                    }
                    None => {
                        self.body = None;
                        self.finish().await?;
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Reads the whole payload into memory (small bodies: XML documents). Bounded by max_len.
    pub(crate) async fn collect(mut self) -> Result<(Bytes, PayloadDigest), S3Error> {
        let mut out = BytesMut::new();
        while let Some(piece) = self.next().await? {
            out.extend_from_slice(&piece);
        }
        let digest = self.digest().clone();
        Ok((out.freeze(), digest))
    }

    /// The plaintext length the request announced (Content-Length, or the decoded length of
    /// an aws-chunked body); the payload never yields more or less without failing.
    pub(crate) fn declared_len(&self) -> Option<u64> {
        self.declared_len
    }

    /// Whether `next` is cheap on the calling task: no MD5 or SHA is computed on it.
    pub(crate) fn light(&self) -> bool {
        !self.hashing.as_ref().is_some_and(Hashing::costly_here)
    }

    /// Digests of the payload; valid after `next` returned `Ok(None)`.
    pub(crate) fn digest(&self) -> &PayloadDigest {
        self.digest
            .as_ref()
            .expect("digest is only read after the payload ended")
    }

    async fn read_frame(&mut self) -> Result<Option<Bytes>, S3Error> {
        match self.body.as_mut() {
            Some(body) => body.next().await,
            None => Ok(None),
        }
    }

    async fn account(&mut self, data: &Bytes) -> Result<(), S3Error> {
        self.received += data.len() as u64;
        if self.received > self.max_len {
            return Err(S3Error::EntityTooLarge);
        }
        if self.declared_len.is_some_and(|l| self.received > l) {
            return Err(S3Error::IncompleteBody);
        }
        match self.hashing.as_mut() {
            Some(hashing) => hashing.update(data).await,
            None => Ok(()),
        }
    }

    fn apply_trailers(&mut self, trailers: &[(String, String)]) -> Result<(), S3Error> {
        for (name, value) in trailers {
            let Some(alg) = name
                .strip_prefix("x-amz-checksum-")
                .and_then(ChecksumAlgorithm::from_name)
            else {
                continue;
            };
            match self.checksum.as_mut() {
                Some(state) if state.from_trailer && state.alg == alg => {
                    let raw = checksum::parse_b64(alg, value).map_err(|_| {
                        S3Error::InvalidRequest(format!(
                            "Value for {} trailing header is invalid.",
                            alg.header_name()
                        ))
                    })?;
                    state.expected = Some(raw);
                }
                _ => return Err(S3Error::MalformedTrailerError),
            }
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), S3Error> {
        if let Some(l) = self.declared_len
            && self.received != l
        {
            return Err(S3Error::IncompleteBody);
        }
        let Some(hashing) = self.hashing.take() else {
            return Err(S3Error::InternalError("the payload ended twice".into()));
        };
        let hashes = hashing.finish().await?;
        if let (Some(h), Some(expected)) = (hashes.sha256, self.signed_sha256.take()) {
            let got = hex::encode(h.finalize());
            if got != expected {
                return Err(S3Error::XAmzContentSHA256Mismatch);
            }
        }
        let md5: Option<[u8; 16]> = hashes.md5.map(|m| m.finalize().into());
        if let (Some(expected), Some(got)) = (self.content_md5, md5)
            && expected != got
        {
            return Err(S3Error::BadDigest {
                msg: "The Content-MD5 you specified did not match what we received.".into(),
            });
        }
        let mut checksum = None;
        let mut client_sent = false;
        if let (Some(state), Some(hasher)) = (self.checksum.take(), hashes.checksum) {
            let got = hasher.finalize();
            if state.client_sent {
                let Some(expected) = state.expected else {
                    return Err(S3Error::MalformedTrailerError);
                };
                if expected != got {
                    return Err(S3Error::BadDigest {
                        msg: format!(
                            "The {} you specified did not match the calculated checksum.",
                            state.alg.name()
                        ),
                    });
                }
            }
            client_sent = state.client_sent;
            checksum = Some((state.alg, got));
        }
        self.digest = Some(PayloadDigest {
            len: self.received,
            md5,
            checksum,
            client_sent_checksum: client_sent,
        });
        Ok(())
    }
}

/// Works out which flexible checksum the payload carries (S3 User Guide, "Checking object integrity").
fn checksum_state(
    headers: &HeaderMap,
    trailer_names: &[String],
    default: Option<ChecksumAlgorithm>,
) -> Result<Option<ChecksumState>, S3Error> {
    let mut in_headers = Vec::new();
    for (name, value) in headers {
        if let Some(alg) = name
            .as_str()
            .strip_prefix("x-amz-checksum-")
            .and_then(ChecksumAlgorithm::from_name)
        {
            in_headers.push((alg, value.to_str().unwrap_or_default().to_owned()));
        } else if let Some(rest) = name.as_str().strip_prefix("x-amz-checksum-")
            && rest != "algorithm"
            && rest != "type"
            && rest != "mode"
        {
            return Err(S3Error::InvalidRequest(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]".into(),
            ));
        }
    }
    let in_trailer: Vec<ChecksumAlgorithm> = trailer_names
        .iter()
        .filter_map(|t| {
            t.strip_prefix("x-amz-checksum-")
                .and_then(ChecksumAlgorithm::from_name)
        })
        .collect();
    if in_headers.len() + in_trailer.len() > 1 {
        return Err(S3Error::InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
                .into(),
        ));
    }
    let sdk_alg = match header(headers, "x-amz-sdk-checksum-algorithm") {
        Some(v) => Some(ChecksumAlgorithm::from_name(v).ok_or_else(|| {
            S3Error::InvalidRequest(
                "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]".into(),
            )
        })?),
        None => None,
    };
    let state = if let Some((alg, value)) = in_headers.pop() {
        let raw = checksum::parse_b64(alg, &value).map_err(|_| {
            S3Error::InvalidRequest(format!(
                "Value for {} header is invalid.",
                alg.header_name()
            ))
        })?;
        Some(ChecksumState {
            alg,
            expected: Some(raw),
            from_trailer: false,
            client_sent: true,
        })
    } else if let Some(alg) = in_trailer.first().copied() {
        Some(ChecksumState {
            alg,
            expected: None,
            from_trailer: true,
            client_sent: true,
        })
    } else if sdk_alg.is_some() {
        return Err(S3Error::InvalidRequest(
            "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.".into(),
        ));
    } else {
        default.map(|alg| ChecksumState {
            alg,
            expected: None,
            from_trailer: false,
            client_sent: false,
        })
    };
    if let (Some(sdk), Some(state)) = (sdk_alg, state.as_ref())
        && state.client_sent
        && sdk != state.alg
    {
        return Err(S3Error::InvalidRequest(format!(
            "Value for x-amz-sdk-checksum-algorithm header is invalid: {} does not match the checksum sent ({}).",
            sdk.name(),
            state.alg.name()
        )));
    }
    Ok(state)
}

fn chunk_error(e: ChunkedError) -> S3Error {
    match e {
        ChunkedError::IncompleteBody => S3Error::IncompleteBody,
        ChunkedError::SignatureMismatch => S3Error::SignatureDoesNotMatch {
            access_key: String::new(),
            string_to_sign: String::new(),
            canonical_request: String::new(),
        },
        ChunkedError::MalformedTrailer(_) => S3Error::MalformedTrailerError,
        ChunkedError::InvalidChunkSize(_) | ChunkedError::ChunkTooSmall => {
            S3Error::InvalidChunkSizeError
        }
        ChunkedError::Malformed(m) => {
            S3Error::InvalidRequest(format!("The aws-chunked request body is malformed: {m}"))
        }
    }
}
