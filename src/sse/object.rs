//! [`ObjectCrypto`]: one object's (or upload's) opened crypto, with the verbs handlers need.
//!
//! Writing: a plaintext source is cut into segments, sealed under a fresh part key
//! ([`Sealer::for_new_part`]) and streamed into one immutable blob. Reading: a plaintext range
//! maps to the segments that cover it, only those ciphertext bytes are fetched, and each segment
//! is authenticated ([`Opener::for_part`]) before any of its bytes leave.

use std::sync::Arc;

use bytes::Bytes;
use rand::RngCore;
use tokio::sync::mpsc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::SseError;
use super::record_mac::RecordMacKey;
use crate::envelope::{
    self, DEFAULT_SEGMENT_SIZE, ObjectKey, Opener, PartBinding, RangeDecoder, Sealer,
};
use crate::meta::{Checksum, META_FORMAT, META_FORMAT_V1, ObjectMeta, PartLayout, Sealing};
use crate::store::{BLOB_READ_CHUNK, BlobReader, BlobWriter, Store};

/// Segment size of new objects.
pub(super) const SEGMENT_SIZE: u32 = DEFAULT_SEGMENT_SIZE;

/// An object's key, opened or freshly sealed, with how it is stored. Plaintext comparison
/// objects have no key and bypass the envelope.
pub(crate) struct ObjectCrypto {
    key: Option<ObjectKey>,
    sealing: Sealing,
    segment_size: u32,
    version: Version,
}

/// The envelope version an object's data and record use (docs/FORMAT.md §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// Part keys do not bind part numbers; the record is not authenticated. Objects written
    /// before version 2, copies of them (which share their blobs), and plaintext comparison
    /// objects (which have no key to authenticate with).
    V1,
    /// Part keys bind part numbers; the record carries a MAC.
    V2,
}

impl Version {
    pub(crate) fn of(meta: &ObjectMeta) -> Version {
        if meta.is_authenticated() {
            Version::V2
        } else {
            Version::V1
        }
    }

    fn part_binding(self, part_number: u32) -> PartBinding {
        match self {
            Version::V1 => PartBinding::V1,
            Version::V2 => PartBinding::Number(part_number),
        }
    }
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
    pub(crate) tags: std::collections::BTreeMap<String, String>,
    /// The version id (`None`: the `null` version), covered by the record MAC.
    pub(crate) version_id: Option<String>,
    pub(crate) acl: Option<crate::meta::Acl>,
    /// The Object Lock state of the new version, covered by the record MAC.
    pub(crate) lock: crate::meta::ObjectLock,
}

/// The record of a new object; with `mac_key` (version 2) it is authenticated as the record of
/// `bucket/key`.
pub(super) fn object_meta(
    body: ObjectBody,
    sealing: Sealing,
    segment_size: u32,
    mac_key: Option<(&RecordMacKey, &str, &str)>,
) -> ObjectMeta {
    let mut meta = ObjectMeta {
        format: if mac_key.is_some() {
            META_FORMAT
        } else {
            META_FORMAT_V1
        }
        .into(),
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
        tags: body.tags,
        acl: body.acl,
        mac: None,
        record_key: None,
        version_id: body.version_id,
        lock: body.lock,
    };
    if let Some((k, bucket, key)) = mac_key {
        meta.mac = Some(STANDARD.encode(k.sign(bucket, key, &meta)));
    }
    meta
}

/// Where plaintext comes from when writing: a request payload or another object's data.
/// Its errors pass through [`ObjectCrypto::write_part`] unchanged.
pub(crate) trait PlainSource: Send {
    type Error: From<SseError> + Send;
    fn next_piece(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Bytes>, Self::Error>> + Send;

    /// Whether `next_piece` costs little CPU of its own (it hashes nothing costly, or hashes
    /// on another thread): then a large part is sealed on the caller's task, since a sealing
    /// stage apart would only add a hand-off per piece.
    fn light(&self) -> bool {
        false
    }
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
            version: Version::V1,
        }
    }

    pub(super) fn sealed(
        key: ObjectKey,
        sealing: Sealing,
        segment_size: u32,
        version: Version,
    ) -> ObjectCrypto {
        ObjectCrypto {
            key: Some(key),
            sealing,
            segment_size,
            version,
        }
    }

    pub(super) fn version(&self) -> Version {
        self.version
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

    /// The ETag of a multipart part whose plaintext MD5 is `md5`. The same content gets the
    /// same ETag within one upload in every mode, so a retried UploadPart answers what the
    /// first did and a Complete naming the first response's ETag succeeds. Where the ETag must
    /// not reveal the MD5 (SSE-KMS, SSE-C) it is an HMAC of it keyed from the upload's own
    /// object key, which no other object shares, so it says nothing across objects.
    pub(crate) fn part_etag(&self, md5: Option<[u8; 16]>) -> String {
        match (self.etag_rule(), &self.key, md5) {
            (EtagRule::Opaque, Some(ok), Some(md5)) => super::part_etag::opaque(ok, &md5),
            (rule, _, md5) => rule.etag(md5),
        }
    }

    /// The meta record of a new object `bucket/key` written with this crypto: authenticated
    /// (version 2) unless the data is version 1 or there is no key.
    pub(crate) fn meta(&self, bucket: &str, key: &str, body: ObjectBody) -> ObjectMeta {
        let mac_key = match (&self.key, self.version) {
            (Some(ok), Version::V2) => Some(RecordMacKey::derive(ok)),
            _ => None,
        };
        object_meta(
            body,
            self.sealing.clone(),
            self.segment_size,
            mac_key.as_ref().map(|k| (k, bucket, key)),
        )
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

    /// Writes the one part of a single-part object (PutObject, a POST upload): sealed into the
    /// record ([`PartLayout::inline`]) when a bound on its plaintext size known before the body
    /// is read (`bound`: PutObject's declared length, a POST's request length) is at most
    /// `inline_max` (0: never), else into blob `1` of `generation` as
    /// [`ObjectCrypto::write_part`] does. The sealed bytes are the same either way.
    pub(crate) async fn write_single_part<S: PlainSource>(
        &self,
        store: &Store,
        bucket: &str,
        generation: &str,
        bound: Option<u64>,
        inline_max: u64,
        source: &mut S,
    ) -> Result<PartLayout, S::Error> {
        match bound {
            Some(len) if inline_max > 0 && len <= inline_max => {
                self.write_inline(1, len, source).await
            }
            _ => {
                self.write_part(store, bucket, generation, "1", 1, source)
                    .await
            }
        }
    }

    /// Seals everything `source` yields (at most `max` bytes) in memory, on this task: for a
    /// few KiB a second stage would cost more than it overlaps.
    async fn write_inline<S: PlainSource>(
        &self,
        part_number: u32,
        max: u64,
        source: &mut S,
    ) -> Result<PartLayout, S::Error> {
        let NewPart(mut sealer, salt, prefix) = self.new_part(part_number)?;
        let capacity = envelope::ciphertext_len(max, self.segment_size);
        let mut sealed = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut size = 0u64;
        while let Some(piece) = source.next_piece().await? {
            size += piece.len() as u64;
            if size > max {
                // The source checks its declared length; this only bounds the buffer.
                return Err(SseError::InlineOverflow.into());
            }
            match sealer.as_mut() {
                Some(s) => s.push_into(&piece, &mut sealed).map_err(SseError::from)?,
                None => sealed.extend_from_slice(&piece),
            }
        }
        if let Some(s) = sealer {
            s.finish_into(&mut sealed);
        }
        Ok(PartLayout {
            part_number,
            size,
            blob: String::new(),
            key_salt: salt,
            nonce_prefix: prefix,
            etag: String::new(),
            checksum: None,
            inline: Some(sealed),
        })
    }

    /// A new part's sealer (none for a plaintext comparison object), key salt and nonce prefix.
    fn new_part(&self, part_number: u32) -> Result<NewPart, SseError> {
        Ok(match &self.key {
            Some(ok) => {
                let binding = self.version.part_binding(part_number);
                let (sealer, params) = Sealer::for_new_part(ok, binding, self.segment_size)?;
                NewPart(
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
                NewPart(None, salt, prefix)
            }
        })
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
        let NewPart(sealer, salt, prefix) = self.new_part(part_number)?;
        let writer = store
            .blob_writer(bucket, generation, blob)
            .await
            .map_err(SseError::from)?;
        let mut writer = SealingWriter { writer, sealer };
        let mut size = 0u64;
        if source.light() {
            let read: Result<(), S::Error> = async {
                while let Some(piece) = source.next_piece().await? {
                    size += piece.len() as u64;
                    writer.push(&piece).await?;
                }
                Ok(())
            }
            .await;
            match read {
                Ok(()) => writer.finish().await?,
                Err(e) => {
                    writer.abort().await;
                    return Err(e);
                }
            }
        } else {
            // Two stages on two tasks, so hashing the payload (this task) and sealing + writing
            // (the other) run on different cores; the bounded channel keeps memory flat.
            let (tx, rx) = mpsc::channel::<Piece>(8);
            let stage = tokio::spawn(writer.drain(rx));
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
        }
        Ok(PartLayout {
            part_number,
            size,
            blob: blob.to_owned(),
            key_salt: salt,
            nonce_prefix: prefix,
            etag: String::new(),
            checksum: None,
            inline: None,
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
        let (tx, rx) = mpsc::channel(read_ahead(meta.segment_size));
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
            version: self.version,
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

/// A new part's sealer (none for plaintext comparison objects), key salt and nonce prefix.
struct NewPart(Option<Sealer>, Vec<u8>, Vec<u8>);

/// Reads plaintext ranges of one object's parts into a channel.
struct PartReader {
    store: Arc<Store>,
    bucket: String,
    generation: String,
    segment_size: u32,
    key: Option<ObjectKey>,
    version: Version,
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
        if let Some(sealed) = &part.inline {
            return self.send_inline(part, sealed, from, to, tx).await;
        }
        let Some(ok) = &self.key else {
            let source = self
                .store
                .open_blob(
                    &self.bucket,
                    &self.generation,
                    &part.blob,
                    from..to + 1,
                    self.segment_size as usize,
                )
                .await?;
            pump(source, tx, |record| Ok(vec![record])).await?;
            return Ok(());
        };
        let plan = envelope::plan_range(part.size, self.segment_size, from, to)?;
        let mut decoder = RangeDecoder::new(self.opener(ok, part)?, plan);
        // One sealed segment per record, so each is opened in the memory it was read into.
        let sealed_segment = self.segment_size as usize + envelope::TAG_LEN as usize;
        let source = self
            .store
            .open_blob(
                &self.bucket,
                &self.generation,
                &part.blob,
                plan.ciphertext_start..plan.ciphertext_end_exclusive,
                sealed_segment,
            )
            .await?;
        let delivered = pump(source, tx, |record| {
            decoder.push_bytes(record).map_err(SseError::Tampered)
        })
        .await?;
        if !delivered {
            return Ok(());
        }
        decoder.finish().map_err(SseError::Tampered)
    }

    fn opener(&self, ok: &ObjectKey, part: &PartLayout) -> Result<Opener, SseError> {
        Ok(Opener::for_part(
            ok,
            self.version.part_binding(part.part_number),
            &part.key_salt,
            &part.nonce_prefix,
            self.segment_size,
            part.size,
        )?)
    }

    /// [`PartReader::send`] for a part kept in the record: the same segments, from memory. A
    /// record whose bytes are short (or whose plaintext part is) fails like a cut blob.
    async fn send_inline(
        &self,
        part: &PartLayout,
        sealed: &[u8],
        from: u64,
        to: u64,
        tx: &Sender,
    ) -> Result<(), SseError> {
        let within = |start: u64, end: u64| {
            let end = usize::try_from(end).map_or(sealed.len(), |e| e.min(sealed.len()));
            let start = usize::try_from(start).map_or(end, |s| s.min(end));
            Bytes::copy_from_slice(&sealed[start..end])
        };
        let Some(ok) = &self.key else {
            let plain = within(from, to + 1);
            if plain.len() as u64 != to + 1 - from {
                return Err(SseError::Store(crate::store::StoreError::Corrupt(
                    "inline part shorter than its size".into(),
                )));
            }
            let _ = tx.send(Ok(plain)).await;
            return Ok(());
        };
        let plan = envelope::plan_range(part.size, self.segment_size, from, to)?;
        let mut decoder = RangeDecoder::new(self.opener(ok, part)?, plan);
        let chunk = within(plan.ciphertext_start, plan.ciphertext_end_exclusive);
        for piece in decoder.push_bytes(chunk).map_err(SseError::Tampered)? {
            if tx.send(Ok(piece)).await.is_err() {
                return Ok(());
            }
        }
        decoder.finish().map_err(SseError::Tampered)
    }
}

/// The channel capacity of a GET, in pieces (one segment each): a full read (about
/// [`BLOB_READ_CHUNK`] bytes, at least one segment) plus one segment, so the connection still
/// has a segment to write while the next read runs rather than waiting for every read; more
/// spares were no cheaper in the measurements (docs/PERFORMANCE.md) and a stalled client would
/// hold them.
fn read_ahead(segment_size: u32) -> usize {
    let sealed_segment = segment_size as usize + envelope::TAG_LEN as usize;
    BLOB_READ_CHUNK.div_ceil(sealed_segment) + 1
}

/// Reads `source` through `decode` into `tx` no faster than the receiver takes it: a read
/// happens only once the channel has room for every record it reads, so all a GET holds for a
/// client that stopped reading is the channel's capacity (plus the piece its connection is
/// writing), never a read blocked on a full channel besides. Reads start at one record and
/// double, up to all but one of the channel's slots, each time the channel had room for them
/// without waiting (the receiver keeps up), so a fast GET soon reads [`BLOB_READ_CHUNK`] per
/// blocking task. (Growing only when the channel was empty kept a fast GET at one or two
/// records per read, at more server CPU per GB.) `false` when the receiver went away.
async fn pump(
    mut source: BlobReader,
    tx: &Sender,
    mut decode: impl FnMut(Bytes) -> Result<Vec<Bytes>, SseError>,
) -> Result<bool, SseError> {
    let most = tx.max_capacity().saturating_sub(1).max(1);
    let mut batch = 1;
    loop {
        let (mut permits, kept_up) = match tx.try_reserve_many(batch) {
            Ok(permits) => (permits, true),
            Err(mpsc::error::TrySendError::Full(())) => match tx.reserve_many(batch).await {
                Ok(permits) => (permits, false),
                Err(_) => return Ok(false),
            },
            Err(mpsc::error::TrySendError::Closed(())) => return Ok(false),
        };
        let Some(records) = source.next(batch).await else {
            return Ok(true);
        };
        for record in records? {
            for piece in decode(record)? {
                match permits.next() {
                    Some(permit) => permit.send(Ok(piece)),
                    // A remote backend's chunk may hold more segments than were reserved.
                    None => {
                        if tx.send(Ok(piece)).await.is_err() {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        if kept_up {
            batch = (batch * 2).min(most);
        }
    }
}

enum Piece {
    Data(Bytes),
    /// The source ended cleanly: finish the blob. A channel that closes without it aborts.
    End,
}

/// Seals (unless `sealer` is `None`: a plaintext comparison object) and writes a blob.
struct SealingWriter {
    writer: BlobWriter,
    sealer: Option<Sealer>,
}

impl SealingWriter {
    async fn push(&mut self, data: &[u8]) -> Result<(), SseError> {
        match self.sealer.as_mut() {
            None => Ok(self.writer.write(data).await?),
            Some(sealer) => {
                self.writer
                    .write_with(|buf| sealer.push_into(data, buf).map_err(SseError::from))
                    .await
            }
        }
    }

    /// Seals the last segment and publishes the blob; a failure leaves nothing behind.
    async fn finish(mut self) -> Result<(), SseError> {
        let sealed = match self.sealer.take() {
            Some(sealer) => {
                self.writer
                    .write_with(|buf| {
                        sealer.finish_into(buf);
                        Ok::<(), SseError>(())
                    })
                    .await
            }
            None => Ok(()),
        };
        match sealed {
            Ok(()) => {
                self.writer.finish().await?;
                Ok(())
            }
            Err(e) => {
                let _ = self.writer.abort().await;
                Err(e)
            }
        }
    }

    async fn abort(self) {
        let _ = self.writer.abort().await;
    }

    /// The sealing stage: writes what arrives until [`Piece::End`]; a channel that closes
    /// without it aborts the blob.
    async fn drain(mut self, mut rx: mpsc::Receiver<Piece>) -> Result<(), SseError> {
        while let Some(piece) = rx.recv().await {
            match piece {
                Piece::Data(data) => {
                    if let Err(e) = self.push(&data).await {
                        self.abort().await;
                        return Err(e);
                    }
                }
                Piece::End => return self.finish().await,
            }
        }
        self.abort().await;
        Err(SseError::SourceAborted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::SealedKey;

    /// Plaintext from memory, one piece at a time.
    struct Pieces(std::vec::IntoIter<Bytes>);

    impl PlainSource for Pieces {
        type Error = SseError;
        async fn next_piece(&mut self) -> Result<Option<Bytes>, SseError> {
            Ok(self.0.next())
        }
    }

    fn crypto(version: Version) -> ObjectCrypto {
        let sealing = Sealing::SseC {
            key_md5: String::new(),
            sealed: SealedKey {
                salt: vec![],
                nonce: vec![],
                ciphertext: vec![],
            },
        };
        ObjectCrypto::sealed(ObjectKey::from_bytes(&[5; 32]), sealing, 16, version)
    }

    async fn read_all(
        c: &ObjectCrypto,
        store: &Arc<Store>,
        meta: &ObjectMeta,
    ) -> Result<Vec<u8>, SseError> {
        let (first, mut rest) = c
            .read_range(store.clone(), "bkt".into(), meta, 0, meta.size - 1)
            .await?;
        let mut out = first.map(|b| b.to_vec()).unwrap_or_default();
        while let Some(piece) = rest.next().await {
            out.extend_from_slice(&piece?);
        }
        Ok(out)
    }

    /// Both versions write and read back; a record of either version does not open as the
    /// other (the part keys differ), and only version 2 records carry a MAC.
    #[tokio::test]
    async fn version_1_and_2_objects_round_trip_and_do_not_cross() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::local(dir.path()).unwrap());
        let data: Vec<u8> = (0..100u8).collect();
        for version in [Version::V1, Version::V2] {
            let c = crypto(version);
            let generation = Store::new_generation();
            let mut parts = Vec::new();
            for (i, chunk) in data.chunks(60).enumerate() {
                let mut src = Pieces(vec![Bytes::copy_from_slice(chunk)].into_iter());
                let n = i as u32 + 1;
                let blob = n.to_string();
                parts.push(
                    c.write_part(&store, "bkt", &generation, &blob, n, &mut src)
                        .await
                        .unwrap(),
                );
            }
            let meta = c.meta(
                "bkt",
                "k",
                ObjectBody {
                    size: data.len() as u64,
                    etag: "e".into(),
                    last_modified_ms: 0,
                    content_headers: Default::default(),
                    user_meta: Default::default(),
                    checksum: None,
                    generation,
                    parts,
                    tags: Default::default(),
                    version_id: None,
                    acl: None,
                    lock: Default::default(),
                },
            );
            assert_eq!(Version::of(&meta), version);
            assert_eq!(meta.mac.is_some(), version == Version::V2);
            assert_eq!(read_all(&c, &store, &meta).await.unwrap(), data);
            let other = crypto(match version {
                Version::V1 => Version::V2,
                Version::V2 => Version::V1,
            });
            assert!(
                read_all(&other, &store, &meta).await.is_err(),
                "{version:?}"
            );
        }
    }
}
