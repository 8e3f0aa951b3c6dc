//! Moving object data between plaintext and stored ciphertext: the one place handlers reach
//! the envelope.
//!
//! Writing: a plaintext source is cut into segments, sealed under a fresh part key and streamed
//! into one immutable blob. Reading: a plaintext range maps to the segments that cover it, only
//! those ciphertext bytes are fetched, and each segment is authenticated before any of its
//! bytes leave.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use rand::RngCore;
use tokio::sync::mpsc;

use crate::envelope::{self, ObjectKey, Opener, RangeDecoder, Sealer};
use crate::meta::{ObjectMeta, PartLayout};
use crate::s3::error::S3Error;
use crate::s3::payload::Payload;
use crate::store::{Store, StoreError};

/// Segment size of new objects.
pub const SEGMENT_SIZE: u32 = 64 * 1024;

/// Where plaintext comes from when writing: a request payload or another object's data.
pub trait PlainSource: Send {
    fn next_piece(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, S3Error>> + Send;
}

impl PlainSource for Payload {
    async fn next_piece(&mut self) -> Result<Option<Bytes>, S3Error> {
        self.next().await
    }
}

/// Plaintext produced by [`read_plain`].
pub struct PlainStream(pub mpsc::Receiver<Result<Bytes, S3Error>>);

impl PlainSource for PlainStream {
    async fn next_piece(&mut self) -> Result<Option<Bytes>, S3Error> {
        self.0.recv().await.transpose()
    }
}

fn envelope_error(e: envelope::EnvelopeError) -> S3Error {
    S3Error::InternalError(format!("envelope: {e}"))
}

pub fn store_error(e: StoreError) -> S3Error {
    match e {
        StoreError::NotFound => S3Error::InternalError("object data is missing".into()),
        StoreError::Backend(m) => S3Error::ServiceUnavailable(m),
        other => S3Error::InternalError(other.to_string()),
    }
}

/// A part written to the store; the caller fills in ETag and checksum.
pub struct WrittenPart {
    pub layout: PartLayout,
}

/// Seals everything `source` yields into blob `blob` of `generation`. On any error the blob is
/// removed and nothing refers to it. `plain` writes the bytes unsealed: only for buckets
/// configured as plaintext comparison buckets (benchmarks), never otherwise.
#[allow(clippy::too_many_arguments)]
pub async fn write_part(
    store: &Store,
    bucket: &str,
    generation: &str,
    blob: &str,
    part_number: u32,
    object_key: &ObjectKey,
    plain: bool,
    source: &mut impl PlainSource,
) -> Result<WrittenPart, S3Error> {
    let mut salt = vec![0u8; 16];
    let mut prefix = [0u8; 7];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut prefix);
    let part_key = envelope::derive_part_key(object_key, &salt);
    let writer = store
        .blob_writer(bucket, generation, blob)
        .await
        .map_err(store_error)?;
    let sealer = Sealer::new(&part_key, prefix, SEGMENT_SIZE).map_err(envelope_error)?;
    // Two stages on two tasks, so hashing the payload (this task) and sealing + writing (the
    // other) run on different cores; the bounded channel keeps memory flat.
    let (tx, rx) = mpsc::channel::<Piece>(8);
    let stage = tokio::spawn(seal_and_write(writer, sealer, plain, rx));
    let mut size = 0u64;
    let read: Result<(), S3Error> = async {
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
        .map_err(|e| S3Error::InternalError(format!("write stage: {e}")))?;
    read?;
    written?;
    Ok(WrittenPart {
        layout: PartLayout {
            part_number,
            size,
            blob: blob.to_owned(),
            key_salt: salt,
            nonce_prefix: prefix.to_vec(),
            etag: String::new(),
            checksum: None,
        },
    })
}

enum Piece {
    Data(Bytes),
    /// The source ended cleanly: finish the blob. A channel that closes without it aborts.
    End,
}

async fn seal_and_write(
    mut writer: crate::store::BlobWriter,
    mut sealer: Sealer,
    plain: bool,
    mut rx: mpsc::Receiver<Piece>,
) -> Result<(), S3Error> {
    let result: Result<bool, S3Error> = async {
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Data(data) if plain => writer.write(data).await.map_err(store_error)?,
                Piece::Data(data) => {
                    for segment in sealer.push(&data).map_err(envelope_error)? {
                        writer.write(segment).await.map_err(store_error)?;
                    }
                }
                Piece::End => return Ok(true),
            }
        }
        Ok(false)
    }
    .await;
    match result {
        Ok(true) => {
            if !plain {
                writer.write(sealer.finish()).await.map_err(store_error)?;
            }
            writer.finish().await.map_err(store_error)?;
            Ok(())
        }
        Ok(false) => {
            let _ = writer.abort().await;
            Err(S3Error::IncompleteBody)
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Streams the plaintext bytes `start..=end` of an object. The first item is produced before
/// this returns, so a failure to read or authenticate the first segment surfaces as an error
/// response rather than a truncated body.
pub async fn read_plain(
    store: Arc<Store>,
    bucket: String,
    meta: &ObjectMeta,
    object_key: ObjectKey,
    start: u64,
    end_inclusive: u64,
) -> Result<(Option<Bytes>, PlainStream), S3Error> {
    let (tx, rx) = mpsc::channel(4);
    let sizes: Vec<u64> = meta.parts.iter().map(|p| p.size).collect();
    let pieces = if meta.size == 0 {
        Vec::new()
    } else {
        envelope::split_range_over_parts(&sizes, start, end_inclusive)
    };
    let parts = meta.parts.clone();
    let generation = meta.generation.clone();
    let segment = meta.segment_size;
    let plain = matches!(meta.sealing, crate::meta::Sealing::None);
    tokio::spawn(async move {
        for (index, from, to) in pieces {
            let part = &parts[index];
            if plain {
                match store
                    .read_blob(&bucket, &generation, &part.blob, from..to + 1)
                    .await
                {
                    Ok(mut stream) => {
                        while let Some(chunk) = stream.next().await {
                            if tx.send(chunk.map_err(store_error)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(store_error(e))).await;
                        return;
                    }
                }
                continue;
            }
            let part_key = envelope::derive_part_key(&object_key, &part.key_salt);
            let Ok(prefix) = <[u8; 7]>::try_from(part.nonce_prefix.as_slice()) else {
                let _ = tx
                    .send(Err(S3Error::InternalError("bad nonce prefix".into())))
                    .await;
                return;
            };
            let planned = Opener::new(&part_key, prefix, segment, part.size)
                .and_then(|o| envelope::plan_range(part.size, segment, from, to).map(|p| (o, p)));
            let (opener, plan) = match planned {
                Ok(x) => x,
                Err(e) => {
                    let _ = tx.send(Err(envelope_error(e))).await;
                    return;
                }
            };
            let mut decoder = RangeDecoder::new(opener, plan);
            let stream = store
                .read_blob(
                    &bucket,
                    &generation,
                    &part.blob,
                    plan.ciphertext_start..plan.ciphertext_end_exclusive,
                )
                .await;
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(store_error(e))).await;
                    return;
                }
            };
            while let Some(chunk) = stream.next().await {
                let out = match chunk {
                    Ok(ct) => decoder.push(&ct).map_err(|e| {
                        S3Error::InternalError(format!("stored object failed authentication: {e}"))
                    }),
                    Err(e) => Err(store_error(e)),
                };
                match out {
                    Ok(pieces) => {
                        for p in pieces {
                            if tx.send(Ok(p)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if let Err(e) = decoder.finish() {
                let _ = tx
                    .send(Err(S3Error::InternalError(format!(
                        "stored object is truncated: {e}"
                    ))))
                    .await;
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
