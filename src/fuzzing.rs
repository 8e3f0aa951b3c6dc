//! Entry points for the fuzz targets in `fuzz/` (compiled only with the `fuzzing` feature; not
//! an API). Each function drives one parser the way the gateway does, on inputs from the
//! fuzzer, with fixed keys where a secret is needed. They return what the parser decided so
//! the targets can check invariants; a panic anywhere below is a bug. See `docs/FUZZING.md`.

use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::chunked::{ChunkMode, ChunkedDecoder, Frame};
use crate::envelope::{self, ObjectKey, Opener, PartBinding, RangeDecoder, Sealer};
use crate::meta::{SealedKey, Sealing};
use crate::seal::{self, Binding, Mode};
use crate::sigv4::{self, EMPTY_SHA256_HEX, Expectations, ServiceKind, SigningKey};
use crate::store::records;

/// The secret every fuzzed SigV4 request is verified with (the AWS documentation's example
/// secret, so the documented example requests in the seed corpus verify).
pub const SIGV4_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// Seed signature, date and scope of signed aws-chunked bodies (`fuzz/make_seeds.py` signs its
/// seeds with these and [`SIGV4_SECRET`]).
pub const CHUNKED_SEED_SIGNATURE: &str =
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
pub const CHUNKED_AMZ_DATE: &str = "20130524T000000Z";
pub const CHUNKED_SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

/// What SigV4 made of a request.
#[derive(Debug, PartialEq, Eq)]
pub enum SigV4Outcome {
    /// The URI or method is not something hyper would have delivered.
    NotARequest,
    /// No `Authorization` header and no presigned query.
    Anonymous,
    /// Parsing failed.
    ParseError(String),
    /// Parsed; verification with [`SIGV4_SECRET`] failed.
    VerifyError(String),
    /// The signature checked out.
    Verified,
}

/// Parses a request's SigV4 data (header or presigned form) and verifies it with
/// [`SIGV4_SECRET`] at the request's own time (so the clock never decides), as the S3 listener
/// (`kms = false`) or the KMS listener (`kms = true`, body = empty) does. Header lines that are
/// not valid HTTP are dropped, as hyper would refuse them.
pub fn sigv4(method: &[u8], uri: &[u8], headers: &[(&[u8], &[u8])], kms: bool) -> SigV4Outcome {
    let (Ok(method), Ok(uri)) = (Method::from_bytes(method), Uri::try_from(uri)) else {
        return SigV4Outcome::NotARequest;
    };
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            map.append(name, value);
        }
    }
    let kind = if kms {
        ServiceKind::Kms
    } else {
        ServiceKind::S3
    };
    let signed = match sigv4::parse(&uri, &map, kind) {
        Ok(Some(signed)) => signed,
        Ok(None) => return SigV4Outcome::Anonymous,
        Err(e) => return SigV4Outcome::ParseError(e.to_string()),
    };
    let exp = if kms {
        Expectations::kms("us-east-1", signed.request_time)
    } else {
        Expectations::s3("us-east-1", signed.request_time)
    };
    let body_hash = kms.then_some(EMPTY_SHA256_HEX);
    match sigv4::verify(&signed, &method, &uri, &map, SIGV4_SECRET, &exp, body_hash) {
        Ok(verified) => {
            // What the handler does next with a streaming payload.
            let _ = ChunkedDecoder::for_request(&verified);
            SigV4Outcome::Verified
        }
        Err(e) => SigV4Outcome::VerifyError(e.to_string()),
    }
}

/// A decoded aws-chunked body.
#[derive(Debug, PartialEq, Eq)]
pub struct Chunked {
    pub data: Vec<u8>,
    pub trailers: Option<Vec<(String, String)>>,
}

/// Decodes an aws-chunked body arriving in `pieces`, draining the decoder after each piece as
/// the PUT handler does. `signed` uses the fixed signing key and seed (see
/// [`CHUNKED_SEED_SIGNATURE`]). Panics if the decoder breaks its own contract (an empty data
/// frame, a frame after `End`, `finish` accepting a body that never ended).
pub fn aws_chunked<'a>(
    signed: bool,
    expect_trailer: bool,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Chunked, String> {
    let mode = if signed {
        ChunkMode::Signed {
            signing_key: SigningKey::derive(SIGV4_SECRET, "20130524", "us-east-1", "s3"),
            seed_signature: CHUNKED_SEED_SIGNATURE.to_owned(),
            amz_date: CHUNKED_AMZ_DATE.to_owned(),
            scope: CHUNKED_SCOPE.to_owned(),
        }
    } else {
        ChunkMode::Unsigned
    };
    let mut decoder = ChunkedDecoder::new(mode, expect_trailer);
    let mut out = Chunked {
        data: Vec::new(),
        trailers: None,
    };
    let mut buf = BytesMut::new();
    let mut ended = false;
    for piece in pieces {
        buf.extend_from_slice(piece);
        while let Some(frame) = decoder.decode(&mut buf).map_err(|e| e.to_string())? {
            assert!(!ended, "frame after End");
            match frame {
                Frame::Data(data) => {
                    assert!(!data.is_empty(), "empty data frame");
                    out.data.extend_from_slice(&data);
                }
                Frame::Trailers(t) => {
                    assert!(expect_trailer, "trailers without a declared trailer");
                    assert!(out.trailers.replace(t).is_none(), "two trailer frames");
                }
                Frame::End => ended = true,
            }
        }
    }
    decoder.finish().map_err(|e| e.to_string())?;
    assert!(ended, "finish accepted a body without End");
    Ok(out)
}

/// The request-body XML readers, each on the same body; `Err` is the S3 error code.
pub fn xml_bodies(body: &[u8]) -> [Result<String, String>; 6] {
    use crate::s3::xml;
    let code = |e: crate::s3::error::S3Error| e.code().to_owned();
    [
        xml::parse_complete_multipart_upload(body)
            .map(|parts| {
                assert!(!parts.is_empty(), "CompleteMultipartUpload without parts");
                format!("{parts:?}")
            })
            .map_err(code),
        xml::parse_delete_objects(body)
            .map(|d| {
                assert!((1..=xml::MAX_DELETE_OBJECTS).contains(&d.objects.len()));
                format!("{d:?}")
            })
            .map_err(code),
        xml::parse_sse_configuration(body)
            .map(|c| format!("{c:?}"))
            .map_err(code),
        xml::parse_create_bucket_configuration(body)
            .map(|c| format!("{c:?}"))
            .map_err(code),
        xml::parse_cors_configuration(body)
            .map(|rules| {
                assert!((1..=xml::MAX_CORS_RULES).contains(&rules.len()));
                format!("{rules:?}")
            })
            .map_err(code),
        // Put{Object,Bucket}Tagging: the parsed pairs, then S3's limits on them.
        xml::parse_tagging(body)
            .and_then(|pairs| crate::s3::tags::validate(pairs, crate::s3::tags::TagTarget::Bucket))
            .map(|tags| {
                assert!(tags.len() <= crate::s3::tags::MAX_BUCKET_TAGS);
                format!("{tags:?}")
            })
            .map_err(code),
    ]
}

/// `Range` header handling of GetObject: `Ok(None)` serves the whole object, `Err` is the S3
/// error code (InvalidRange, answered as 416).
pub fn range(value: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, String> {
    crate::s3::ops::get::parse_range(value, size).map_err(|e| e.code().to_owned())
}

/// [`envelope::plan_range`] as `(first segment, last segment, ciphertext start, ciphertext end
/// exclusive, skip front, take)`.
pub fn plan_range(
    plain_len: u64,
    segment_size: u32,
    start: u64,
    end_inclusive: u64,
) -> Result<(u64, u64, u64, u64, usize, u64), String> {
    envelope::check_segment_size(segment_size).map_err(|e| e.to_string())?;
    let p = envelope::plan_range(plain_len, segment_size, start, end_inclusive)
        .map_err(|e| e.to_string())?;
    Ok((
        p.first_segment,
        p.last_segment,
        p.ciphertext_start,
        p.ciphertext_end_exclusive,
        p.skip_front,
        p.take,
    ))
}

/// [`envelope::ciphertext_len`].
pub fn ciphertext_len(plain_len: u64, segment_size: u32) -> u64 {
    envelope::ciphertext_len(plain_len, segment_size)
}

/// [`envelope::split_range_over_parts`].
pub fn split_range_over_parts(sizes: &[u64], start: u64, end: u64) -> Vec<(usize, u64, u64)> {
    envelope::split_range_over_parts(sizes, start, end)
}

const OBJECT_KEY: [u8; 32] = [7; 32];
const KEY_SALT: [u8; envelope::PART_SALT_LEN] = [1; envelope::PART_SALT_LEN];
const NONCE_PREFIX: [u8; envelope::NONCE_PREFIX_LEN] = [2; envelope::NONCE_PREFIX_LEN];

/// Seals `plaintext` as one part under a fixed object key, salt and nonce prefix.
pub fn envelope_seal(segment_size: u32, plaintext: &[u8]) -> Result<Vec<u8>, String> {
    let ok = ObjectKey::from_slice(&OBJECT_KEY).expect("32 bytes");
    let key = envelope::derive_part_key(&ok, &KEY_SALT, PartBinding::Number(1));
    let mut sealer = Sealer::new(&key, NONCE_PREFIX, segment_size).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    sealer
        .push_into(plaintext, &mut out)
        .map_err(|e| e.to_string())?;
    sealer.finish_into(&mut out);
    Ok(out)
}

/// Opens the stored bytes of the plaintext range `start..=end` of a part of `plain_len` bytes
/// (same fixed key as [`envelope_seal`]), fed in `pieces`, as GetObject does: plan the range,
/// then push the ciphertext through a [`RangeDecoder`]. `None` range: the whole part.
pub fn envelope_open<'a>(
    segment_size: u32,
    plain_len: u64,
    range: Option<(u64, u64)>,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, String> {
    let ok = ObjectKey::from_slice(&OBJECT_KEY).expect("32 bytes");
    let opener = Opener::for_part(
        &ok,
        PartBinding::Number(1),
        &KEY_SALT,
        &NONCE_PREFIX,
        segment_size,
        plain_len,
    )
    .map_err(|e| e.to_string())?;
    let plan = match range {
        Some((start, end)) => envelope::plan_range(plain_len, segment_size, start, end),
        None if plain_len == 0 => Ok(envelope::RangePlan {
            first_segment: 0,
            last_segment: 0,
            ciphertext_start: 0,
            ciphertext_end_exclusive: envelope::TAG_LEN,
            skip_front: 0,
            take: 0,
        }),
        None => envelope::plan_range(plain_len, segment_size, 0, plain_len - 1),
    }
    .map_err(|e| e.to_string())?;
    let mut decoder = RangeDecoder::new(opener, plan);
    let mut out = Vec::new();
    for piece in pieces {
        for plain in decoder.push(piece).map_err(|e| e.to_string())? {
            out.extend_from_slice(&plain);
        }
    }
    decoder.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Unseals an object key from arbitrary sealed fields under fixed KEK material and binding.
pub fn unseal(salt: &[u8], nonce: &[u8], ciphertext: &[u8]) -> bool {
    let sealed = SealedKey {
        salt: salt.to_vec(),
        nonce: nonce.to_vec(),
        ciphertext: ciphertext.to_vec(),
    };
    let binding = Binding::new(Mode::SseC, "bucket", "key");
    seal::unseal(&[9; 32], &binding, &sealed).is_ok()
}

/// Decodes `bytes` as each persisted record kind; for an object meta record, plans a read of
/// the whole object and of `range` as GetObject would (part pieces, then per part the opener
/// and segment plan). Returns which decoders accepted the bytes.
pub fn meta_records(bytes: &[u8], range: Option<&str>) -> [bool; 4] {
    let meta = records::decode_meta(bytes);
    if let Ok(meta) = &meta {
        plan_object_read(meta, None);
        plan_object_read(meta, range);
        let _ = records::encode(meta).map(|b| records::decode_meta(&b).expect("re-decodes"));
    }
    [
        meta.is_ok(),
        records::decode_bucket(bytes).is_ok(),
        records::decode_upload(bytes).is_ok(),
        records::decode_part(bytes).is_ok(),
    ]
}

fn plan_object_read(meta: &crate::meta::ObjectMeta, range: Option<&str>) {
    let Ok(range) = crate::s3::ops::get::parse_range(range, meta.size) else {
        return;
    };
    let (start, end) = match range {
        Some(r) => r,
        None if meta.size == 0 => return,
        None => (0, meta.size - 1),
    };
    let sizes: Vec<u64> = meta.parts.iter().map(|p| p.size).collect();
    let ok = ObjectKey::from_slice(&OBJECT_KEY).expect("32 bytes");
    for (index, from, to) in envelope::split_range_over_parts(&sizes, start, end) {
        let part = &meta.parts[index];
        if matches!(meta.sealing, Sealing::None) {
            continue;
        }
        let Ok(_opener) = Opener::for_part(
            &ok,
            PartBinding::Number(part.part_number),
            &part.key_salt,
            &part.nonce_prefix,
            meta.segment_size,
            part.size,
        ) else {
            continue;
        };
        let _ = envelope::plan_range(part.size, meta.segment_size, from, to);
    }
}

/// Parses a KMS JSON 1.1 request body for `operation` (`TrentService.` prefix optional) and runs
/// the checks that need no key database; `Err` is the KMS error type name.
pub fn kms_request(operation: &str, body: &[u8]) -> Result<(), String> {
    crate::kms::fuzzing::check_request(operation, body).map_err(|e| e.type_name().to_owned())
}

/// What the POST Object checks made of a form: the policy document (`policy_json`, sent
/// base64-encoded as a form does), then its expiry at a fixed time, its conditions against
/// `fields` (lower-case names, bucket `b`) and its size range; the signature fields (checked
/// against a user table with one user, [`SIGV4_SECRET`]); the checksum fields. Each `Err` is
/// the S3 error code.
pub fn post_form(policy_json: &[u8], fields: &[(&str, &str)]) -> [Result<String, String>; 3] {
    use base64::Engine as _;

    use crate::s3::post::{auth, file, form::Fields, policy::Policy};
    let code = |e: crate::s3::error::S3Error| e.code().to_owned();
    let mut form = Fields::default();
    for (name, value) in fields {
        if form
            .push(name.to_ascii_lowercase(), (*value).to_owned())
            .is_err()
        {
            return [
                Err("InvalidArgument".into()),
                Ok(String::new()),
                Ok(String::new()),
            ];
        }
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(policy_json);
    let policy = Policy::parse(&b64).map_err(code).and_then(|p| {
        p.check_expiry(time::OffsetDateTime::UNIX_EPOCH)
            .map_err(code)?;
        p.check_fields(&form, "b").map_err(code)?;
        let (lo, hi) = p.length_range();
        Ok(format!("{lo}..={hi}"))
    });
    let mut ids = crate::identity::Identities::default();
    ids.insert(crate::identity::User {
        name: "fuzz".into(),
        access_key: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_key: zeroize::Zeroizing::new(SIGV4_SECRET.into()),
        arn: "arn:aws:iam::000000000000:root".into(),
        account: "000000000000".into(),
        policy: None,
    });
    let signer = auth::authenticate(&form, &ids, "us-east-1")
        .map(|s| format!("{s:?}").len().to_string())
        .map_err(code);
    let checksum = file::checksum_request(&form)
        .map(|c| c.algorithm.name().to_owned())
        .map_err(code);
    [policy, signer, checksum]
}

/// Cuts `data` into pieces of pseudo-random lengths (1 to 64 bytes, or all of it for seed 0)
/// chosen by `seed`, as a network would deliver a body.
pub fn split(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![data];
    }
    let mut state = u32::from(seed) | 0x9e37_7900;
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % 64 + 1).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}
