//! Incremental decoder for `Content-Encoding: aws-chunked` request bodies.
//!
//! The wire format (reference: the S3 API Reference's SigV4 "chunked upload" pages, signed and unsigned with trailers), every line ending in CRLF:
//!
//! ```text
//! chunk        = hex-size [ ";chunk-signature=" 64HEX ] CRLF data CRLF
//! last-chunk   = "0" [ ";chunk-signature=" 64HEX ] CRLF
//! trailer-part = *( name ":" value CRLF ) [ "x-amz-trailer-signature:" 64HEX CRLF ]
//! body         = *chunk last-chunk trailer-part CRLF
//! ```
//!
//! Decisions:
//! - The decoder is sans-I/O: the caller appends received bytes to a `BytesMut` and calls
//!   [`ChunkedDecoder::decode`] until it returns `Ok(None)`, so it fits any async body loop.
//! - In signed mode a chunk's data is released only after its signature (which chains from
//!   the request's seed signature, final zero-length chunk included) has been checked, so
//!   everything downstream sees authenticated bytes only. That means buffering one chunk, which
//!   we cap at [`MAX_SIGNED_CHUNK`]. Unsigned chunks carry no such check and are streamed as
//!   they arrive (the Rust SDK sends a whole object as one unsigned chunk).
//! - Every line is bounded ([`MAX_CHUNK_HEADER`], [`MAX_TRAILER_SECTION`]) so a client cannot
//!   make us buffer without limit while we look for a CRLF.
//! - Trailer names are returned lower-case; checking them against `x-amz-trailer` and
//!   verifying checksums is the caller's job.

use bytes::{Buf, Bytes, BytesMut};

use crate::sigv4::{EMPTY_SHA256_HEX, SigningKey, Verified, sha256_hex, signatures_match};

/// Longest chunk-header line accepted (size, extensions), excluding the CRLF.
pub(crate) const MAX_CHUNK_HEADER: usize = 4 * 1024;
/// Longest trailer section accepted, all lines and line ends included.
pub(crate) const MAX_TRAILER_SECTION: usize = 16 * 1024;
/// Largest chunk accepted in signed mode, where a chunk is buffered until verified.
pub(crate) const MAX_SIGNED_CHUNK: u64 = 16 * 1024 * 1024;
/// AWS's minimum size for every signed chunk except the last one carrying data.
pub(crate) const MIN_SIGNED_CHUNK: u64 = 8 * 1024;

const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// How the chunks are authenticated.
#[derive(Clone, Debug)]
pub(crate) enum ChunkMode {
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: no chunk signatures.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: a signature chain seeded by the request
    /// signature.
    Signed {
        signing_key: SigningKey,
        seed_signature: String,
        /// `yyyymmddTHHMMSSZ` of the request.
        amz_date: String,
        /// `yyyymmdd/region/service/aws4_request`
        scope: String,
    },
}

impl ChunkMode {
    /// The mode a verified request's payload hash announces; `None` if the body is not
    /// aws-chunked.
    pub(crate) fn from_verified(verified: &Verified) -> Option<Self> {
        use crate::sigv4::PayloadHash as P;
        match verified.payload {
            P::StreamingUnsignedTrailer => Some(Self::Unsigned),
            P::StreamingSigned | P::StreamingSignedTrailer => Some(Self::Signed {
                signing_key: verified.signing_key.clone(),
                seed_signature: verified.seed_signature.clone(),
                amz_date: verified.amz_date.clone(),
                scope: verified.scope.clone(),
            }),
            P::Unsigned | P::Hex(_) => None,
        }
    }
}

/// One decoded unit of the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Payload bytes, in order. A large unsigned chunk may arrive as several frames.
    Data(Bytes),
    /// The trailing headers: lower-case names, trimmed values, without
    /// `x-amz-trailer-signature`. Only produced when a trailer was expected.
    Trailers(Vec<(String, String)>),
    /// The body is complete.
    End,
}

/// Why a body was rejected. S3 mapping in the variant docs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum ChunkedError {
    /// 400 IncompleteBody.
    #[error("The request body terminated unexpectedly")]
    IncompleteBody,
    /// 403 SignatureDoesNotMatch.
    #[error("a chunk or trailer signature does not match")]
    SignatureMismatch,
    /// 400 MalformedTrailerError.
    #[error(
        "The request contained trailing data that was not well-formed or did not conform to our published schema: {0}"
    )]
    MalformedTrailer(String),
    /// 400 IncompleteBody (AWS has no closer code for an unreadable size).
    #[error("invalid chunk size: {0}")]
    InvalidChunkSize(String),
    /// 403 InvalidChunkSizeError.
    #[error("Only the last chunk is allowed to have a size less than 8192 bytes")]
    ChunkTooSmall,
    /// 400 IncompleteBody.
    #[error("malformed aws-chunked body: {0}")]
    Malformed(String),
}

#[derive(Debug)]
enum State {
    /// Expecting `hex-size[;ext]CRLF`.
    ChunkHeader,
    /// Inside a chunk's data; `signature` is set in signed mode.
    ChunkData {
        remaining: u64,
        signature: Option<String>,
    },
    /// Expecting the CRLF that closes a chunk's data.
    ChunkEnd,
    /// After the last chunk: trailer lines until an empty line.
    Trailers {
        consumed: usize,
        lines: Vec<(String, String)>,
        signature: Option<String>,
    },
    /// Everything parsed; `End` not yet returned.
    Finished,
    /// `End` returned.
    Done,
}

enum Line {
    Complete(Bytes),
    Partial,
    TooLong,
}

/// Decodes an aws-chunked body fed to it piece by piece.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    mode: ChunkMode,
    expect_trailer: bool,
    state: State,
    /// The signature the next chunk (or the trailer) chains from.
    previous_signature: String,
    /// Bytes of the current line already searched for CRLF (keeps byte-wise feeding linear).
    scanned: usize,
    /// A signed chunk below the minimum size has been seen; only the zero chunk may follow.
    small_chunk_seen: bool,
}

impl ChunkedDecoder {
    /// A decoder for `mode`; `expect_trailer` when the payload hash ends in `-TRAILER`.
    pub(crate) fn new(mode: ChunkMode, expect_trailer: bool) -> Self {
        let previous_signature = match &mode {
            ChunkMode::Signed { seed_signature, .. } => seed_signature.clone(),
            ChunkMode::Unsigned => String::new(),
        };
        Self {
            mode,
            expect_trailer,
            state: State::ChunkHeader,
            previous_signature,
            scanned: 0,
            small_chunk_seen: false,
        }
    }

    /// The decoder a verified request calls for, or `None` if its body is not aws-chunked.
    pub(crate) fn for_request(verified: &Verified) -> Option<Self> {
        ChunkMode::from_verified(verified)
            .map(|mode| Self::new(mode, verified.payload.has_trailer()))
    }

    /// Consumes what it can from `buf`. `Ok(Some(frame))` when a frame is complete, `Ok(None)`
    /// when more input is needed. Call again after every frame; after `End`, further input
    /// is an error.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ChunkedError> {
        loop {
            match &mut self.state {
                State::ChunkHeader => match self.take_line(buf, MAX_CHUNK_HEADER) {
                    Line::Complete(line) => self.start_chunk(&line)?,
                    Line::Partial => return Ok(None),
                    Line::TooLong => {
                        return Err(ChunkedError::Malformed(format!(
                            "chunk header longer than {MAX_CHUNK_HEADER} bytes"
                        )));
                    }
                },
                State::ChunkData {
                    remaining,
                    signature: None,
                } => {
                    // Unsigned: pass through whatever has arrived.
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::ChunkEnd;
                    }
                    return Ok(Some(Frame::Data(buf.split_to(n).freeze())));
                }
                State::ChunkData {
                    remaining,
                    signature: Some(signature),
                } => {
                    // Signed: wait for the whole chunk and its CRLF, then verify.
                    let len = usize::try_from(*remaining).expect("bounded by MAX_SIGNED_CHUNK");
                    if buf.len() < len + 2 {
                        return Ok(None);
                    }
                    if &buf[len..len + 2] != b"\r\n" {
                        return Err(ChunkedError::Malformed(
                            "chunk data not followed by CRLF".into(),
                        ));
                    }
                    let signature = std::mem::take(signature);
                    let data = buf.split_to(len).freeze();
                    buf.advance(2);
                    self.check_chunk_signature(&data, &signature)?;
                    self.state = State::ChunkHeader;
                    return Ok(Some(Frame::Data(data)));
                }
                State::ChunkEnd => {
                    if buf.len() < 2 {
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkedError::Malformed(
                            "chunk data not followed by CRLF".into(),
                        ));
                    }
                    buf.advance(2);
                    self.state = State::ChunkHeader;
                }
                State::Trailers { consumed, .. } => {
                    let limit = MAX_TRAILER_SECTION.saturating_sub(*consumed + 2);
                    match self.take_line(buf, limit) {
                        Line::Complete(line) => {
                            if let Some(frame) = self.trailer_line(&line)? {
                                return Ok(Some(frame));
                            }
                        }
                        Line::Partial => return Ok(None),
                        Line::TooLong => {
                            return Err(ChunkedError::MalformedTrailer(format!(
                                "trailer section longer than {MAX_TRAILER_SECTION} bytes"
                            )));
                        }
                    }
                }
                State::Finished => {
                    self.state = State::Done;
                    return Ok(Some(Frame::End));
                }
                State::Done => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    return Err(ChunkedError::Malformed("data after the final chunk".into()));
                }
            }
        }
    }

    /// Unsigned chunk data at the front of `piece`, split off it without a copy (what follows
    /// stays in `piece`, to be appended to the buffer [`ChunkedDecoder::decode`] reads). Only
    /// valid when that buffer is empty, so `piece` is the next input; `None` when the decoder
    /// is not inside unsigned chunk data. A large upload's bytes thus reach the handler in the
    /// buffers they were received in.
    pub(crate) fn take_data(&mut self, piece: &mut Bytes) -> Option<Bytes> {
        let State::ChunkData {
            remaining,
            signature: None,
        } = &mut self.state
        else {
            return None;
        };
        let n = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(piece.len());
        if n == 0 {
            return None;
        }
        *remaining -= n as u64;
        if *remaining == 0 {
            self.state = State::ChunkEnd;
        }
        Some(piece.split_to(n))
    }

    /// Call once the body has ended (after draining `decode`): an error if it ended early.
    pub(crate) fn finish(&self) -> Result<(), ChunkedError> {
        match self.state {
            State::Finished | State::Done => Ok(()),
            _ => Err(ChunkedError::IncompleteBody),
        }
    }

    /// Takes one CRLF-terminated line (without the CRLF) of at most `limit` bytes.
    fn take_line(&mut self, buf: &mut BytesMut, limit: usize) -> Line {
        let end = buf.len().min(limit + 2);
        // Resume one byte early: the CR may have arrived without its LF.
        let start = self.scanned.saturating_sub(1).min(end);
        match buf[start..end].windows(2).position(|w| w == b"\r\n") {
            Some(i) => {
                let line = buf.split_to(start + i).freeze();
                buf.advance(2);
                self.scanned = 0;
                Line::Complete(line)
            }
            None if end == limit + 2 => Line::TooLong,
            None => {
                self.scanned = end;
                Line::Partial
            }
        }
    }

    fn start_chunk(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let line = std::str::from_utf8(line)
            .map_err(|_| ChunkedError::Malformed("chunk header is not ASCII".into()))?;
        let (size, extension) = match line.split_once(';') {
            Some((size, ext)) => (size, Some(ext)),
            None => (line, None),
        };
        if size.is_empty() || size.len() > 16 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ChunkedError::InvalidChunkSize(format!(
                "{size:?} is not a hex size"
            )));
        }
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| ChunkedError::InvalidChunkSize(format!("{size:?} is out of range")))?;

        let signature = match &self.mode {
            // Unsigned bodies may carry HTTP chunk extensions; they mean nothing to us.
            ChunkMode::Unsigned => None,
            ChunkMode::Signed { .. } => {
                let signature = extension
                    .and_then(|ext| ext.strip_prefix("chunk-signature="))
                    .filter(|sig| sig.len() == 64 && sig.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        ChunkedError::Malformed("missing or invalid chunk-signature".into())
                    })?;
                if size > MAX_SIGNED_CHUNK {
                    return Err(ChunkedError::InvalidChunkSize(format!(
                        "{size} bytes exceeds the {MAX_SIGNED_CHUNK}-byte limit for signed chunks"
                    )));
                }
                if size > 0 && self.small_chunk_seen {
                    return Err(ChunkedError::ChunkTooSmall);
                }
                self.small_chunk_seen |= size < MIN_SIGNED_CHUNK;
                Some(signature.to_ascii_lowercase())
            }
        };

        if size > 0 {
            self.state = State::ChunkData {
                remaining: size,
                signature,
            };
            return Ok(());
        }
        if let Some(signature) = signature {
            self.check_chunk_signature(&[], &signature)?;
        }
        self.state = State::Trailers {
            consumed: 0,
            lines: Vec::new(),
            signature: None,
        };
        Ok(())
    }

    fn check_chunk_signature(&mut self, data: &[u8], provided: &str) -> Result<(), ChunkedError> {
        let ChunkMode::Signed {
            signing_key,
            amz_date,
            scope,
            ..
        } = &self.mode
        else {
            return Ok(());
        };
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{}\n{EMPTY_SHA256_HEX}\n{}",
            self.previous_signature,
            sha256_hex(data)
        );
        let expected = signing_key.sign(string_to_sign.as_bytes());
        if !signatures_match(&expected, provided) {
            return Err(ChunkedError::SignatureMismatch);
        }
        self.previous_signature = expected;
        Ok(())
    }

    /// Handles one trailer line; returns the frame to emit once the section is complete.
    fn trailer_line(&mut self, line: &[u8]) -> Result<Option<Frame>, ChunkedError> {
        let State::Trailers {
            consumed,
            lines,
            signature,
        } = &mut self.state
        else {
            unreachable!("trailer_line is only called in the trailer state");
        };
        *consumed += line.len() + 2;
        if !line.is_empty() {
            let malformed = |why: &str| ChunkedError::MalformedTrailer(why.to_owned());
            let line = std::str::from_utf8(line).map_err(|_| malformed("trailer is not UTF-8"))?;
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| malformed("trailer line without ':'"))?;
            let name = name.trim().to_ascii_lowercase();
            let valid_name = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name {
                return Err(malformed("invalid trailer name"));
            }
            let value = value.trim().to_owned();
            if name == TRAILER_SIGNATURE {
                if signature.replace(value).is_some() {
                    return Err(malformed("repeated x-amz-trailer-signature"));
                }
            } else {
                lines.push((name, value));
            }
            return Ok(None);
        }

        // The empty line: the section is complete.
        let lines = std::mem::take(lines);
        let signature = signature.take();
        if !self.expect_trailer {
            if !lines.is_empty() || signature.is_some() {
                return Err(ChunkedError::MalformedTrailer(
                    "trailer present but none was declared".into(),
                ));
            }
            self.state = State::Done;
            return Ok(Some(Frame::End));
        }
        if lines.is_empty() {
            return Err(ChunkedError::MalformedTrailer(
                "declared trailer is missing".into(),
            ));
        }
        if let ChunkMode::Signed { .. } = self.mode {
            self.check_trailer_signature(&lines, signature.as_deref())?;
        }
        self.state = State::Finished;
        Ok(Some(Frame::Trailers(lines)))
    }

    fn check_trailer_signature(
        &self,
        lines: &[(String, String)],
        provided: Option<&str>,
    ) -> Result<(), ChunkedError> {
        let ChunkMode::Signed {
            signing_key,
            amz_date,
            scope,
            ..
        } = &self.mode
        else {
            return Ok(());
        };
        let provided = provided.ok_or(ChunkedError::SignatureMismatch)?;
        let mut sorted: Vec<&(String, String)> = lines.iter().collect();
        sorted.sort();
        let canonical: String = sorted
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{}\n{}",
            self.previous_signature,
            sha256_hex(canonical.as_bytes())
        );
        let expected = signing_key.sign(string_to_sign.as_bytes());
        if signatures_match(&expected, &provided.to_ascii_lowercase()) {
            Ok(())
        } else {
            Err(ChunkedError::SignatureMismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20130524T000000Z";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

    fn signed_mode(seed: &str) -> ChunkMode {
        ChunkMode::Signed {
            signing_key: SigningKey::derive(SECRET, "20130524", "us-east-1", "s3"),
            seed_signature: seed.to_owned(),
            amz_date: DATE.to_owned(),
            scope: SCOPE.to_owned(),
        }
    }

    /// AWS doc vector (sigv4-streaming): 64 KiB + 1 KiB of `a`, no trailer.
    fn aws_signed_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n");
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n");
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n");
        body
    }
    const AWS_SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";

    /// AWS doc vector (sigv4-streaming-trailers): same data, signed CRC32C trailer.
    fn aws_signed_trailer_body() -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n");
        body.extend_from_slice(&[b'a'; 65536]);
        body.extend_from_slice(b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n");
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(b"\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n");
        body.extend_from_slice(b"x-amz-checksum-crc32c:sOO8/Q==\r\n");
        body.extend_from_slice(b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n");
        body
    }
    const AWS_TRAILER_SEED: &str =
        "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";

    /// botocore style: 1 MiB chunks, then a final chunk carrying only the trailer.
    fn unsigned_trailer_body() -> (Vec<u8>, Vec<u8>) {
        let data: Vec<u8> = (0..0x100000 + 10).map(|i| (i % 251) as u8).collect();
        let mut body = b"100000\r\n".to_vec();
        body.extend_from_slice(&data[..0x100000]);
        body.extend_from_slice(b"\r\nA\r\n");
        body.extend_from_slice(&data[0x100000..]);
        body.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        (body, data)
    }

    #[derive(Debug, Default, PartialEq)]
    struct Decoded {
        data: Vec<u8>,
        data_frames: usize,
        trailers: Option<Vec<(String, String)>>,
    }

    /// Feeds `body` in pieces of `step` bytes, draining the decoder after each one.
    fn run(mut decoder: ChunkedDecoder, body: &[u8], step: usize) -> Result<Decoded, ChunkedError> {
        let mut out = Decoded::default();
        let mut buf = BytesMut::new();
        let mut ended = false;
        for piece in body.chunks(step) {
            buf.extend_from_slice(piece);
            while let Some(frame) = decoder.decode(&mut buf)? {
                assert!(!ended, "frame after End");
                match frame {
                    Frame::Data(data) => {
                        assert!(!data.is_empty());
                        out.data.extend_from_slice(&data);
                        out.data_frames += 1;
                    }
                    Frame::Trailers(t) => out.trailers = Some(t),
                    Frame::End => ended = true,
                }
            }
        }
        decoder.finish()?;
        assert!(ended, "finish succeeded without End");
        Ok(out)
    }

    /// [`run`] as `Payload::next` feeds the decoder: a piece that arrives while nothing is
    /// buffered first gives up the chunk data at its front through `take_data`. Returns the
    /// decoded data and how many of its bytes were taken that way.
    fn run_direct(mut decoder: ChunkedDecoder, body: &[u8], step: usize) -> (Vec<u8>, usize) {
        let body = Bytes::copy_from_slice(body);
        let (mut data, mut direct) = (Vec::new(), 0);
        let mut buf = BytesMut::new();
        let mut at = 0;
        while at < body.len() {
            let start = at;
            let mut piece = body.slice(at..(at + step).min(body.len()));
            at += piece.len();
            if buf.is_empty()
                && let Some(d) = decoder.take_data(&mut piece)
            {
                // Zero-copy: a slice of the received buffer.
                assert_eq!(d.as_ptr(), body[start..].as_ptr());
                direct += d.len();
                data.extend_from_slice(&d);
            }
            buf.extend_from_slice(&piece);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                if let Frame::Data(d) = frame {
                    data.extend_from_slice(&d);
                }
            }
        }
        decoder.finish().unwrap();
        (data, direct)
    }

    #[test]
    fn unsigned_data_passes_through_uncopied_and_signed_data_never_does() {
        let (body, expected) = unsigned_trailer_body();
        for step in [1, 7, 4096, 65536, body.len()] {
            let (data, direct) =
                run_direct(ChunkedDecoder::new(ChunkMode::Unsigned, true), &body, step);
            assert_eq!(data, expected, "step {step}");
            // The first piece carries the chunk header, so it is buffered; what follows a
            // drained buffer is taken directly.
            if (4096..body.len()).contains(&step) {
                assert!(
                    direct > expected.len() / 2,
                    "step {step}: {direct} taken directly"
                );
            }
        }
        for step in [1, 4096, 70000] {
            let decoder = ChunkedDecoder::new(signed_mode(AWS_SEED), false);
            let (data, direct) = run_direct(decoder, &aws_signed_body(), step);
            assert_eq!(data, vec![b'a'; 65536 + 1024]);
            assert_eq!(direct, 0, "signed chunks are verified before release");
        }
    }

    /// Changes the last byte of `needle` in `body` to another hex digit / letter.
    fn flip_byte(body: &mut [u8], needle: &[u8]) {
        let at = body
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
            + needle.len()
            - 1;
        body[at] = if body[at] == b'0' { b'1' } else { b'0' };
    }

    #[test]
    fn aws_signed_vector_decodes_and_verifies() {
        let out = run(
            ChunkedDecoder::new(signed_mode(AWS_SEED), false),
            &aws_signed_body(),
            usize::MAX,
        )
        .unwrap();
        assert_eq!(out.data, vec![b'a'; 66560]);
        assert_eq!(out.data_frames, 2);
        assert_eq!(out.trailers, None);
    }

    #[test]
    fn aws_signed_trailer_vector_decodes_and_verifies() {
        let out = run(
            ChunkedDecoder::new(signed_mode(AWS_TRAILER_SEED), true),
            &aws_signed_trailer_body(),
            usize::MAX,
        )
        .unwrap();
        assert_eq!(out.data, vec![b'a'; 66560]);
        assert_eq!(
            out.trailers,
            Some(vec![("x-amz-checksum-crc32c".into(), "sOO8/Q==".into())])
        );
    }

    #[test]
    fn unsigned_trailer_body_decodes() {
        let (body, data) = unsigned_trailer_body();
        let out = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, true),
            &body,
            64 * 1024,
        )
        .unwrap();
        assert_eq!(out.data, data);
        assert_eq!(
            out.trailers,
            Some(vec![("x-amz-checksum-crc32".into(), "AAAAAA==".into())])
        );
        // Unsigned chunks stream: a 1 MiB chunk fed in 64 KiB pieces is not held back.
        assert!(out.data_frames > 2, "{}", out.data_frames);
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result() {
        let signed = aws_signed_body();
        let whole = run(
            ChunkedDecoder::new(signed_mode(AWS_SEED), false),
            &signed,
            usize::MAX,
        )
        .unwrap();
        let bytewise = run(
            ChunkedDecoder::new(signed_mode(AWS_SEED), false),
            &signed,
            1,
        )
        .unwrap();
        assert_eq!(whole, bytewise);

        let trailer = aws_signed_trailer_body();
        let whole = run(
            ChunkedDecoder::new(signed_mode(AWS_TRAILER_SEED), true),
            &trailer,
            usize::MAX,
        )
        .unwrap();
        let bytewise = run(
            ChunkedDecoder::new(signed_mode(AWS_TRAILER_SEED), true),
            &trailer,
            1,
        )
        .unwrap();
        assert_eq!(whole, bytewise);

        let body =
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Amz-Checksum-CRC32 : 	NhCmhg== \r\n\r\n";
        let whole = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, true),
            body,
            usize::MAX,
        )
        .unwrap();
        let bytewise = run(ChunkedDecoder::new(ChunkMode::Unsigned, true), body, 1).unwrap();
        assert_eq!(whole.data, b"hello world");
        assert_eq!(
            whole.trailers,
            Some(vec![("x-amz-checksum-crc32".into(), "NhCmhg==".into())])
        );
        assert_eq!(whole.data, bytewise.data);
        assert_eq!(whole.trailers, bytewise.trailers);
    }

    #[test]
    fn truncated_bodies_are_incomplete() {
        let signed = aws_signed_body();
        let cut_points = [
            0,
            10,
            90,
            5000,
            65536 + 86,
            65536 + 87,
            signed.len() - 90,
            signed.len() - 2,
            signed.len() - 1,
        ];
        for cut in cut_points {
            let result = run(
                ChunkedDecoder::new(signed_mode(AWS_SEED), false),
                &signed[..cut],
                usize::MAX,
            );
            assert_eq!(
                result.unwrap_err(),
                ChunkedError::IncompleteBody,
                "cut at {cut}"
            );
        }
        let (unsigned, _) = unsigned_trailer_body();
        for cut in [5, 1000, unsigned.len() - 20, unsigned.len() - 2] {
            let result = run(
                ChunkedDecoder::new(ChunkMode::Unsigned, true),
                &unsigned[..cut],
                4096,
            );
            assert_eq!(
                result.unwrap_err(),
                ChunkedError::IncompleteBody,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn bad_chunk_signatures_are_rejected() {
        let decode = |body: &[u8], seed: &str| {
            run(
                ChunkedDecoder::new(signed_mode(seed), false),
                body,
                usize::MAX,
            )
        };
        let signed = aws_signed_body();
        assert_eq!(
            decode(&signed, AWS_TRAILER_SEED).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
        for needle in [&b"=ad80c7"[..], b"=005562", b"=b6c6ea"] {
            let mut body = signed.clone();
            flip_byte(&mut body, needle);
            assert_eq!(
                decode(&body, AWS_SEED).unwrap_err(),
                ChunkedError::SignatureMismatch
            );
        }
        let mut tampered_data = signed.clone();
        tampered_data[200] = b'b';
        assert_eq!(
            decode(&tampered_data, AWS_SEED).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
        // Dropping a chunk breaks the chain even though each remaining signature is genuine.
        let second = signed.windows(4).position(|w| w == b"400;").unwrap();
        let mut skipped = b"400;".to_vec();
        skipped.extend_from_slice(&signed[second + 4..]);
        assert_eq!(
            decode(&skipped, AWS_SEED).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
        // A chunk without a signature in signed mode.
        assert!(matches!(
            decode(b"5\r\nhello\r\n", AWS_SEED),
            Err(ChunkedError::Malformed(_))
        ));
    }

    #[test]
    fn bad_trailer_signatures_are_rejected() {
        let decode = |body: &[u8]| {
            run(
                ChunkedDecoder::new(signed_mode(AWS_TRAILER_SEED), true),
                body,
                usize::MAX,
            )
        };
        let mut wrong_value = aws_signed_trailer_body();
        flip_byte(&mut wrong_value, b"sOO8/Q");
        assert_eq!(
            decode(&wrong_value).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
        let mut wrong_sig = aws_signed_trailer_body();
        flip_byte(&mut wrong_sig, b":d81f82");
        assert_eq!(
            decode(&wrong_sig).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
        let body = aws_signed_trailer_body();
        let at = body
            .windows(24)
            .position(|w| w == b"x-amz-trailer-signature:")
            .unwrap();
        let mut unsigned = body[..at].to_vec();
        unsigned.extend_from_slice(b"\r\n");
        assert_eq!(
            decode(&unsigned).unwrap_err(),
            ChunkedError::SignatureMismatch
        );
    }

    #[test]
    fn bad_hex_sizes_are_rejected() {
        for body in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"-5\r\n",
            b"\r\n",
            b" 5\r\nhello\r\n",
            b"10000000000000000\r\n",
        ] {
            let result = run(
                ChunkedDecoder::new(ChunkMode::Unsigned, false),
                body,
                usize::MAX,
            );
            assert!(
                matches!(result, Err(ChunkedError::InvalidChunkSize(_))),
                "{body:?}: {result:?}"
            );
        }
        let huge = format!(
            "{:x};chunk-signature={}\r\n",
            MAX_SIGNED_CHUNK + 1,
            "0".repeat(64)
        );
        let result = run(
            ChunkedDecoder::new(signed_mode(AWS_SEED), false),
            huge.as_bytes(),
            usize::MAX,
        );
        assert!(
            matches!(result, Err(ChunkedError::InvalidChunkSize(_))),
            "{result:?}"
        );
    }

    #[test]
    fn oversized_lines_are_rejected_without_waiting_for_crlf() {
        let mut decoder = ChunkedDecoder::new(ChunkMode::Unsigned, false);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(b"5;");
        buf.extend_from_slice(&vec![b'x'; MAX_CHUNK_HEADER - 2]);
        assert_eq!(
            decoder.decode(&mut buf),
            Ok(None),
            "a line of exactly the limit may still end"
        );
        buf.extend_from_slice(b"xx");
        assert!(matches!(
            decoder.decode(&mut buf),
            Err(ChunkedError::Malformed(_))
        ));

        let mut body = b"0\r\n".to_vec();
        body.extend_from_slice(
            format!("x-amz-meta-a:{}\r\n", "v".repeat(MAX_TRAILER_SECTION)).as_bytes(),
        );
        let result = run(ChunkedDecoder::new(ChunkMode::Unsigned, true), &body, 100);
        assert!(
            matches!(result, Err(ChunkedError::MalformedTrailer(_))),
            "{result:?}"
        );
        // Many small trailer lines count against the same budget.
        let mut body = b"0\r\n".to_vec();
        for i in 0..2000 {
            body.extend_from_slice(format!("x-amz-meta-{i}:v\r\n").as_bytes());
        }
        let result = run(ChunkedDecoder::new(ChunkMode::Unsigned, true), &body, 100);
        assert!(
            matches!(result, Err(ChunkedError::MalformedTrailer(_))),
            "{result:?}"
        );
    }

    #[test]
    fn trailer_presence_must_match_the_declaration() {
        let missing = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, true),
            b"3\r\nabc\r\n0\r\n\r\n",
            usize::MAX,
        );
        assert!(
            matches!(missing, Err(ChunkedError::MalformedTrailer(_))),
            "{missing:?}"
        );
        let undeclared = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, false),
            b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
            usize::MAX,
        );
        assert!(
            matches!(undeclared, Err(ChunkedError::MalformedTrailer(_))),
            "{undeclared:?}"
        );
        let garbage = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, true),
            b"0\r\nno colon here\r\n\r\n",
            usize::MAX,
        );
        assert!(
            matches!(garbage, Err(ChunkedError::MalformedTrailer(_))),
            "{garbage:?}"
        );
        let plain = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, false),
            b"3\r\nabc\r\n0\r\n\r\n",
            usize::MAX,
        )
        .unwrap();
        assert_eq!(plain.data, b"abc");
    }

    #[test]
    fn framing_errors() {
        let no_crlf = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, false),
            b"3\r\nabcX\r\n0\r\n\r\n",
            usize::MAX,
        );
        assert!(
            matches!(no_crlf, Err(ChunkedError::Malformed(_))),
            "{no_crlf:?}"
        );
        let extra = run(
            ChunkedDecoder::new(ChunkMode::Unsigned, false),
            b"3\r\nabc\r\n0\r\n\r\nmore",
            usize::MAX,
        );
        assert!(
            matches!(extra, Err(ChunkedError::Malformed(_))),
            "{extra:?}"
        );
    }

    /// Builds a signed body with the (vector-checked) signing primitives, for structural cases.
    fn sign_body(seed: &str, chunks: &[&[u8]]) -> Vec<u8> {
        let key = SigningKey::derive(SECRET, "20130524", "us-east-1", "s3");
        let mut previous = seed.to_owned();
        let mut body = Vec::new();
        for data in chunks.iter().copied().chain([&[][..]]) {
            let sts = format!(
                "AWS4-HMAC-SHA256-PAYLOAD\n{DATE}\n{SCOPE}\n{previous}\n{EMPTY_SHA256_HEX}\n{}",
                sha256_hex(data)
            );
            previous = key.sign(sts.as_bytes());
            body.extend_from_slice(
                format!("{:x};chunk-signature={previous}\r\n", data.len()).as_bytes(),
            );
            body.extend_from_slice(data);
            if !data.is_empty() {
                body.extend_from_slice(b"\r\n");
            }
        }
        body.extend_from_slice(b"\r\n");
        body
    }

    #[test]
    fn only_the_last_signed_chunk_may_be_small() {
        let big = vec![b'x'; MIN_SIGNED_CHUNK as usize];
        let ok = sign_body(AWS_SEED, &[&big, b"tail"]);
        let out = run(ChunkedDecoder::new(signed_mode(AWS_SEED), false), &ok, 1000).unwrap();
        assert_eq!(out.data.len(), big.len() + 4);
        let bad = sign_body(AWS_SEED, &[b"tiny", &big]);
        let result = run(
            ChunkedDecoder::new(signed_mode(AWS_SEED), false),
            &bad,
            1000,
        );
        assert_eq!(result.unwrap_err(), ChunkedError::ChunkTooSmall);
    }

    #[test]
    fn decoder_follows_the_verified_payload_hash() {
        use crate::sigv4::PayloadHash;
        let verified = |payload| Verified {
            signing_key: SigningKey::derive(SECRET, "20130524", "us-east-1", "s3"),
            seed_signature: AWS_TRAILER_SEED.into(),
            amz_date: DATE.into(),
            scope: SCOPE.into(),
            payload,
        };
        assert!(ChunkedDecoder::for_request(&verified(PayloadHash::Unsigned)).is_none());
        let decoder =
            ChunkedDecoder::for_request(&verified(PayloadHash::StreamingSignedTrailer)).unwrap();
        let out = run(decoder, &aws_signed_trailer_body(), 4096).unwrap();
        assert!(out.trailers.is_some());
        let decoder =
            ChunkedDecoder::for_request(&verified(PayloadHash::StreamingUnsignedTrailer)).unwrap();
        let (body, data) = unsigned_trailer_body();
        assert_eq!(run(decoder, &body, 4096).unwrap().data, data);
    }
}
