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
/// removed and nothing refers to it.
pub async fn write_part(
    store: &Store,
    bucket: &str,
    generation: &str,
    blob: &str,
    part_number: u32,
    object_key: &ObjectKey,
    source: &mut impl PlainSource,
) -> Result<WrittenPart, S3Error> {
    let mut salt = vec![0u8; 16];
    let mut prefix = [0u8; 7];
    rand::rng().fill_bytes(&mut salt);
    rand::rng().fill_bytes(&mut prefix);
    let part_key = envelope::derive_part_key(object_key, &salt);
    let mut writer = store
        .blob_writer(bucket, generation, blob)
        .await
        .map_err(store_error)?;
    let mut sealer = Sealer::new(&part_key, prefix, SEGMENT_SIZE).map_err(envelope_error)?;
    let mut size = 0u64;
    let result: Result<(), S3Error> = async {
        while let Some(piece) = source.next_piece().await? {
            size += piece.len() as u64;
            for segment in sealer.push(&piece).map_err(envelope_error)? {
                writer.write(segment).await.map_err(store_error)?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer.write(sealer.finish()).await.map_err(store_error)?;
    writer.finish().await.map_err(store_error)?;
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
    tokio::spawn(async move {
        for (index, from, to) in pieces {
            let part = &parts[index];
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
            let mut decoder = RangeDecoder::new(opener, plan.clone());
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
