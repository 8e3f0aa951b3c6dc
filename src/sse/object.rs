//! [`ObjectCrypto`]: one object's (or upload's) opened crypto, with the verbs handlers need.
//!
//! Writing: a plaintext source is cut into segments, sealed under a fresh part key
//! ([`Sealer::for_new_part`]) and streamed into one immutable blob. Reading: a plaintext range
//! maps to the segments that cover it, only those ciphertext bytes are fetched, and each segment
//! is authenticated ([`Opener::for_part`]) before any of its bytes leave.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use rand::RngCore;
use tokio::sync::mpsc;

use super::SseError;
use crate::envelope::{self, DEFAULT_SEGMENT_SIZE, ObjectKey, Opener, RangeDecoder, Sealer};
use crate::meta::{Checksum, META_FORMAT, ObjectMeta, PartLayout, Sealing, UploadRecord};
use crate::store::{BlobWriter, Store};

/// Segment size of new objects.
pub(super) const SEGMENT_SIZE: u32 = DEFAULT_SEGMENT_SIZE;

/// An object's key, opened or freshly sealed, with how it is stored. Plaintext comparison
/// objects have no key and bypass the envelope.
pub(crate) struct ObjectCrypto {
    key: Option<ObjectKey>,
    sealing: Sealing,
    segment_size: u32,
}

/// Which ETag an object gets: S3 returns the plaintext MD5 for SSE-S3 (and unencrypted)
/// objects, and an opaque value for SSE-KMS and SSE-C, whose ETag must not reveal a digest
/// of the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EtagRule {
    PlaintextMd5,
    Opaque,
}

impl EtagRule {
    pub(crate) fn of(sealing: &Sealing) -> EtagRule {
        match sealing {
            Sealing::None | Sealing::SseS3 { .. } => EtagRule::PlaintextMd5,
            Sealing::SseKms { .. } | Sealing::SseC { .. } => EtagRule::Opaque,
        }
    }

    /// The ETag (unquoted) for content whose MD5 is `md5`, when it was computed.
    pub(crate) fn etag(self, md5: Option<[u8; 16]>) -> String {
        match (self, md5) {
            (EtagRule::PlaintextMd5, Some(md5)) => hex::encode(md5),
            _ => opaque_etag(),
        }
    }
}

/// A fresh random ETag.
fn opaque_etag() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What a write knows about a new object besides its crypto.
pub(crate) struct ObjectBody {
    pub(crate) size: u64,
    pub(crate) etag: String,
    pub(crate) last_modified_ms: i64,
    pub(crate) content_headers: std::collections::BTreeMap<String, String>,
    pub(crate) user_meta: std::collections::BTreeMap<String, String>,
    pub(crate) checksum: Option<Checksum>,
    pub(crate) generation: String,
    pub(crate) parts: Vec<PartLayout>,
}

fn object_meta(body: ObjectBody, sealing: Sealing, segment_size: u32) -> ObjectMeta {
    ObjectMeta {
        format: META_FORMAT.into(),
        size: body.size,
        etag: body.etag,
        last_modified_ms: body.last_modified_ms,
        content_headers: body.content_headers,
        user_meta: body.user_meta,
        checksum: body.checksum,
        segment_size,
        generation: body.generation,
        parts: body.parts,
        sealing,
    }
}

/// The meta record of a completed multipart upload: its parts were written by
/// [`ObjectCrypto::write_part`] under the upload's sealing, so Complete needs no key.
pub(crate) fn completed_meta(upload: &UploadRecord, body: ObjectBody) -> ObjectMeta {
    object_meta(body, upload.sealing.clone(), SEGMENT_SIZE)
}

/// Where plaintext comes from when writing: a request payload or another object's data.
/// Its errors pass through [`ObjectCrypto::write_part`] unchanged.
pub(crate) trait PlainSource: Send {
    type Error: From<SseError> + Send;
    fn next_piece(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, Self::Error>> + Send;
}

/// Plaintext produced by [`ObjectCrypto::read_range`].
pub(crate) struct PlainStream(mpsc::Receiver<Result<Bytes, SseError>>);

impl PlainStream {
    /// A stream with nothing in it (a zero-length object).
    pub(crate) fn empty() -> PlainStream {
        PlainStream(mpsc::channel(1).1)
    }

    pub(crate) async fn next(&mut self) -> Option<Result<Bytes, SseError>> {
        self.0.recv().await
    }

    pub(crate) fn into_stream(mut self) -> impl futures::Stream<Item = Result<Bytes, SseError>> {
        futures::stream::poll_fn(move |cx| self.0.poll_recv(cx))
    }
}

impl ObjectCrypto {
    pub(super) fn plain() -> ObjectCrypto {
        ObjectCrypto {
            key: None,
            sealing: Sealing::None,
            segment_size: SEGMENT_SIZE,
        }
    }

    pub(super) fn sealed(key: ObjectKey, sealing: Sealing, segment_size: u32) -> ObjectCrypto {
        ObjectCrypto {
            key: Some(key),
            sealing,
            segment_size,
        }
    }

    pub(super) fn object_key(&self) -> Option<&ObjectKey> {
        self.key.as_ref()
    }

    pub(super) fn segment_size(&self) -> u32 {
        self.segment_size
    }

    /// How the object key is stored: what the meta or upload record keeps.
    pub(crate) fn sealing(&self) -> &Sealing {
        &self.sealing
    }

    pub(crate) fn etag_rule(&self) -> EtagRule {
        EtagRule::of(&self.sealing)
    }

    /// The meta record of a new object written with this crypto.
    pub(crate) fn meta(&self, body: ObjectBody) -> ObjectMeta {
        object_meta(body, self.sealing.clone(), self.segment_size)
    }

    /// Seals everything `source` yields into blob `blob` of `generation` and returns its
    /// layout (ETag and checksum left for the caller). On any error the blob is removed and
    /// nothing refers to it.
    pub(crate) async fn write_part<S: PlainSource>(
        &self,
        store: &Store,
        bucket: &str,
        generation: &str,
        blob: &str,
        part_number: u32,
        source: &mut S,
    ) -> Result<PartLayout, S::Error> {
        let written = self
            .write_blob(store, bucket, generation, blob, part_number, source)
            .await;
        if written.is_err() {
            let _ = store.delete_blob(bucket, generation, blob).await;
        }
        written
    }

    async fn write_blob<S: PlainSource>(
        &self,
        store: &Store,
        bucket: &str,
        generation: &str,
        blob: &str,
        part_number: u32,
        source: &mut S,
    ) -> Result<PartLayout, S::Error> {
        let (sealer, salt, prefix) = match &self.key {
            Some(ok) => {
                let (sealer, params) =
                    Sealer::for_new_part(ok, self.segment_size).map_err(SseError::from)?;
                (
                    Some(sealer),
                    params.key_salt.to_vec(),
                    params.nonce_prefix.to_vec(),
                )
            }
            // Plaintext comparison objects still get random layout fields, as they always had.
            None => {
                let mut salt = vec![0u8; envelope::PART_SALT_LEN];
                let mut prefix = vec![0u8; envelope::NONCE_PREFIX_LEN];
                rand::rng().fill_bytes(&mut salt);
                rand::rng().fill_bytes(&mut prefix);
                (None, salt, prefix)
            }
        };
        let writer = store
            .blob_writer(bucket, generation, blob)
            .await
            .map_err(SseError::from)?;
        // Two stages on two tasks, so hashing the payload (this task) and sealing + writing
        // (the other) run on different cores; the bounded channel keeps memory flat.
        let (tx, rx) = mpsc::channel::<Piece>(8);
        let stage = tokio::spawn(seal_and_write(writer, sealer, rx));
        let mut size = 0u64;
        let read: Result<(), S::Error> = async {
            while let Some(piece) = source.next_piece().await? {
                size += piece.len() as u64;
                if tx.send(Piece::Data(piece)).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok(())
        }
        .await;
        if read.is_ok() {
            let _ = tx.send(Piece::End).await;
        }
        drop(tx);
        let written = stage
            .await
            .map_err(|e| SseError::WriteStage(e.to_string()))?;
        read?;
        written?;
        Ok(PartLayout {
            part_number,
            size,
            blob: blob.to_owned(),
            key_salt: salt,
            nonce_prefix: prefix,
            etag: String::new(),
            checksum: None,
        })
    }

    /// Streams the plaintext bytes `start..=end` of the object `meta` describes (this crypto
    /// must be the one opened for it). The first item is produced before this returns, so a
    /// failure to read or authenticate the first segment surfaces as an error response rather
    /// than a truncated body.
    pub(crate) async fn read_range(
        &self,
        store: Arc<Store>,
        bucket: String,
        meta: &ObjectMeta,
        start: u64,
        end_inclusive: u64,
    ) -> Result<(Option<Bytes>, PlainStream), SseError> {
        let (tx, rx) = mpsc::channel(4);
        let sizes: Vec<u64> = meta.parts.iter().map(|p| p.size).collect();
        let pieces = if meta.size == 0 {
            Vec::new()
        } else {
            envelope::split_range_over_parts(&sizes, start, end_inclusive)
        };
        let reader = PartReader {
            store,
            bucket,
            generation: meta.generation.clone(),
            segment_size: meta.segment_size,
            key: self.key.clone(),
        };
        let parts = meta.parts.clone();
        tokio::spawn(async move {
            for (index, from, to) in pieces {
                if let Err(e) = reader.send(&parts[index], from, to, &tx).await {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
                if tx.is_closed() {
                    return;
                }
            }
        });
        let mut rx = rx;
        let first = match rx.recv().await {
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => return Err(e),
            None => None,
        };
        Ok((first, PlainStream(rx)))
    }
}

/// Reads plaintext ranges of one object's parts into a channel.
struct PartReader {
    store: Arc<Store>,
    bucket: String,
    generation: String,
    segment_size: u32,
    key: Option<ObjectKey>,
}

type Sender = mpsc::Sender<Result<Bytes, SseError>>;

impl PartReader {
    /// Sends plaintext bytes `from..=to` of `part`. `Ok` also when the receiver went away.
    async fn send(
        &self,
        part: &PartLayout,
        from: u64,
        to: u64,
        tx: &Sender,
    ) -> Result<(), SseError> {
        let Some(ok) = &self.key else {
            let mut stream = self
                .store
                .read_blob(&self.bucket, &self.generation, &part.blob, from..to + 1)
                .await?;
            while let Some(chunk) = stream.next().await {
                if tx.send(chunk.map_err(SseError::from)).await.is_err() {
                    return Ok(());
                }
            }
            return Ok(());
        };
        let opener = Opener::for_part(
            ok,
            &part.key_salt,
            &part.nonce_prefix,
            self.segment_size,
            part.size,
        )?;
        let plan = envelope::plan_range(part.size, self.segment_size, from, to)?;
        let mut decoder = RangeDecoder::new(opener, plan);
        let mut stream = self
            .store
            .read_blob(
                &self.bucket,
                &self.generation,
                &part.blob,
                plan.ciphertext_start..plan.ciphertext_end_exclusive,
            )
            .await?;
        while let Some(chunk) = stream.next().await {
            for piece in decoder.push(&chunk?).map_err(SseError::Tampered)? {
                if tx.send(Ok(piece)).await.is_err() {
                    return Ok(());
                }
            }
        }
        decoder.finish().map_err(SseError::Tampered)
    }
}

enum Piece {
    Data(Bytes),
    /// The source ended cleanly: finish the blob. A channel that closes without it aborts.
    End,
}

/// Seals (unless `sealer` is `None`: a plaintext comparison object) and writes what arrives.
async fn seal_and_write(
    mut writer: BlobWriter,
    mut sealer: Option<Sealer>,
    mut rx: mpsc::Receiver<Piece>,
) -> Result<(), SseError> {
    let result: Result<bool, SseError> = async {
        while let Some(piece) = rx.recv().await {
            match (piece, sealer.as_mut()) {
                (Piece::Data(data), None) => writer.write(data).await?,
                (Piece::Data(data), Some(sealer)) => {
                    for segment in sealer.push(&data)? {
                        writer.write(segment).await?;
                    }
                }
                (Piece::End, _) => return Ok(true),
            }
        }
        Ok(false)
    }
    .await;
    match result {
        Ok(true) => {
            if let Some(sealer) = sealer {
                writer.write(sealer.finish()).await?;
            }
            writer.finish().await?;
            Ok(())
        }
        Ok(false) => {
            let _ = writer.abort().await;
            Err(SseError::SourceAborted)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}
