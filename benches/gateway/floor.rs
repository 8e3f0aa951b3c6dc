//! Floors: the CPU that serving a request costs whatever the gateway's code, measured in this
//! process on one thread with the thread's own CPU clock (so the benchmark can say whether a
//! target is above what the machine allows, with the measurement beside it).
//!
//! - GET of a local object over HTTPS: read the ciphertext from the page cache, open its
//!   segments, seal TLS records, write them into a loopback TCP socket.
//! - A small PUT: the filesystem calls that make one new file durable, and those the local
//!   store makes for one PUT of a new key (docs/PERFORMANCE.md, "The limits, measured").

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, FileExt as _, OpenOptionsExt as _};
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::measure::{Cost, cost};

/// The store's read size for a local blob (`BLOB_READ_CHUNK`: up to four sealed segments, about
/// 256 KiB, per blocking read).
const READ_CHUNK: usize = 256 * 1024;
/// A TLS record's plaintext (the most TLS 1.2 and 1.3 allow).
const TLS_RECORD: usize = 16 * 1024;
/// Bytes per socket write: the server's `writev` of a 256 MiB GET averaged 64 KiB
/// (4,099 per GET, docs/PERFORMANCE.md "GET: the profile after").
const SOCKET_WRITE: usize = 64 * 1024;

/// The four parts of the GET floor for `data.len()` bytes.
pub struct GetFloor {
    pub read: Cost,
    pub open: Cost,
    pub tls_seal: Cost,
    pub socket: Cost,
}

impl GetFloor {
    pub fn parts(&self) -> [(&'static str, Cost); 4] {
        [
            ("pread 256 KiB, page cache", self.read),
            ("AES-GCM open, 64 KiB segs", self.open),
            ("AES-GCM seal, 16 KiB TLS", self.tls_seal),
            ("write to loopback TCP", self.socket),
        ]
    }

    /// CPU seconds of the four together.
    pub fn cpu(&self) -> f64 {
        self.parts().iter().map(|(_, c)| c.cpu).sum()
    }
}

/// Measures the GET floor for `data` on the calling thread; the file it reads goes in `dir`
/// (the disk of the gateway's data dir) and is removed afterwards. `open` is the ideal
/// gateway's open of the same bytes, measured just before (the segment cipher is already its
/// own floor).
pub fn get_floor(dir: &Path, data: &[u8], open: Cost) -> GetFloor {
    let path = dir.join("floor-get.bin");
    std::fs::write(&path, data).expect("write the floor's file");
    let file = File::open(&path).unwrap();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut read_all = || {
        let mut at = 0;
        while at < data.len() {
            let n = file.read_at(&mut buf, at as u64).expect("pread");
            assert!(n > 0, "short file");
            at += n;
        }
    };
    read_all(); // in the page cache, as a GET of a recently written object finds it
    let read = cost(read_all);
    let _ = std::fs::remove_file(&path);

    let tls = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[5u8; 32]).unwrap());
    let mut records = data.to_vec();
    let tls_seal = cost(|| {
        for (i, record) in records.chunks_mut(TLS_RECORD).enumerate() {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&(i as u64).to_be_bytes());
            let tag = tls
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    record,
                )
                .unwrap();
            std::hint::black_box(tag.as_ref()[0]);
        }
    });

    let socket = loopback_write(data);
    GetFloor {
        read,
        open,
        tls_seal,
        socket,
    }
}

/// Writes `data` into a loopback TCP connection that another thread drains (its CPU is the
/// client's, not counted): the kernel's copy into the socket and the loopback delivery that
/// runs in the sender's context.
fn loopback_write(data: &[u8]) -> Cost {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let drain = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0usize;
        loop {
            match conn.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) => panic!("drain: {e}"),
            }
        }
    });
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    let c = cost(|| {
        for chunk in data.chunks(SOCKET_WRITE) {
            conn.write_all(chunk).expect("socket write");
        }
    });
    drop(conn);
    assert_eq!(drain.join().unwrap(), data.len());
    c
}

/// Ways of creating one new 4 KiB file, as the small-PUT floor measures them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NewFile {
    /// One file: create 0600 temp, write, (fsync), fstat, rename, (fsync the directory).
    One,
    /// The same without the directory's fsync: what each durable new file costs on its own
    /// when concurrent writers share their directory's syncs (the store's group commit,
    /// `store/dir_sync.rs`), the floor of any store that syncs each PUT's file.
    OneSharedDir,
    /// The local store's PUT of a new key: its meta record with the object inline (see
    /// [`store_put`]).
    StorePut,
}

/// Per operation (wall ms, CPU ms) of `n` new files made the way `how` says, with or without
/// the fsyncs, in the new directory `root`, by `in_flight` threads at once (the gateway's PUTs
/// run 8 in flight, and concurrent fsyncs share the journal's commits and the disk's flushes).
/// The CPU is the sum of the threads' own clocks, so only the floor's work is counted. Nothing
/// is deleted here: on this disk deletes are slow synchronous discards, which the gateway's
/// PUTs do not meet either; the caller removes `root` when the phase is over.
pub fn small_put_floor(
    root: &Path,
    how: NewFile,
    fsync: bool,
    n: usize,
    in_flight: usize,
) -> (f64, f64) {
    for d in ["", "buckets", "meta/bench"] {
        private_dir(&root.join(d));
    }
    std::fs::write(root.join("buckets/bench"), [b'{'; 326]).unwrap();
    // 4 KiB sealed: one segment and its tag, what the store writes as the blob.
    let data = vec![7u8; 4096 + 16];
    let t = std::time::Instant::now();
    let cpu: f64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..in_flight)
            .map(|first| {
                let data = &data;
                scope.spawn(move || {
                    cost(|| {
                        for i in (first..n).step_by(in_flight) {
                            match how {
                                NewFile::One => {
                                    one_file(root, &format!("obj-{i}"), &data[..4096], fsync)
                                }
                                NewFile::OneSharedDir => {
                                    let name = format!("obj-{i}");
                                    let staging = root.join(format!("{name}#1"));
                                    publish(&staging, &root.join(name), &data[..4096], fsync)
                                }
                                NewFile::StorePut => store_put(root, i, data, fsync),
                            }
                            .expect("floor write");
                        }
                    })
                    .cpu
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    let wall = t.elapsed().as_secs_f64();
    (wall * 1000.0 / n as f64, cpu * 1000.0 / n as f64)
}

/// Mean wall ms of one new 4 KiB file's data `fsync` (create 0600, write, **fsync**, rename, in
/// the new directory `root`), `in_flight` threads at once: what a server that syncs each PUT's
/// file before answering adds to every PUT's latency on this disk. Timed around the call
/// alone, so the files' other costs (which the no-fsync gateway already pays) are not in it.
pub fn fsync_latency(root: &Path, n: usize, in_flight: usize) -> f64 {
    private_dir(root);
    let data = [7u8; 4096];
    let total: f64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..in_flight)
            .map(|first| {
                scope.spawn(move || {
                    let mut synced = 0.0;
                    for i in (first..n).step_by(in_flight) {
                        let (staging, dest) =
                            (root.join(format!("f-{i}#1")), root.join(format!("f-{i}")));
                        let f = create_private(&staging).expect("floor file");
                        f.write_all_at(&data, 0).expect("floor write");
                        let t = std::time::Instant::now();
                        f.sync_all().expect("floor fsync");
                        synced += t.elapsed().as_secs_f64();
                        std::fs::rename(&staging, &dest).expect("floor rename");
                    }
                    synced
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).sum()
    });
    total * 1000.0 / n as f64
}

/// Creates `dir` and its parents, 0700 as the gateway's own directories.
fn private_dir(dir: &Path) {
    std::fs::DirBuilder::new()
        .mode(0o700)
        .recursive(true)
        .create(dir)
        .expect("floor directory");
}

fn create_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// One durable new file: create 0600 temp, write, fsync, (fstat,) rename, fsync the directory.
fn one_file(dir: &Path, name: &str, data: &[u8], fsync: bool) -> std::io::Result<()> {
    publish(&dir.join(format!("{name}#1")), &dir.join(name), data, fsync)?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The file-system calls of the local store's PUT of a new 4 KiB key (SSE-S3, unversioned
/// bucket), in the order `strace -f` showed them on a running gateway (docs/PERFORMANCE.md,
/// "The limits, measured" and "Inline small objects"), minus the threads' hand-offs:
/// 1. the bucket record read twice (open, fstat, read, read, close);
/// 2. the key's meta record is looked up twice (ENOENT: a new key);
/// 3. the meta record, which holds the sealed 4 KiB inline (945 bytes of record and the
///    4,112-byte sealed segment in base64: 6,429 bytes), is created 0600, written, fsynced,
///    fstat'ed and renamed, and its directory fsynced.
///
/// Two fsyncs and one new file per PUT; without fsync the same minus the fsyncs. (Before small
/// objects went inline, the blob had a generation directory of its own: five fsyncs, two new
/// files and a directory.) The store now shares the directory's fsync between concurrent PUTs
/// (`store/dir_sync.rs`), about half a sync per PUT at 8 in flight; this floor keeps one per
/// PUT, so it is the store's cost before that change and an upper bound after it.
fn store_put(root: &Path, i: usize, data: &[u8], fsync: bool) -> std::io::Result<()> {
    let (buckets, metas) = (root.join("buckets"), root.join("meta/bench"));
    let bucket = buckets.join("bench");
    for _ in 0..2 {
        std::hint::black_box(std::fs::read(&bucket)?);
    }
    let record = metas.join(format!("6b6579{i:08x}-"));
    for _ in 0..2 {
        let e = std::fs::read(&record).expect_err("a new key");
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
    let mut body = data[..945].to_vec();
    body.extend(data.iter().cycle().take(INLINE_RECORD - 945));
    let mut staging = record.as_os_str().to_owned();
    staging.push("#1");
    publish(Path::new(&staging), &record, &body, fsync)?;
    if fsync {
        sync_dir(&metas)?;
    }
    Ok(())
}

/// The size of a 4 KiB object's meta record with the sealed object inline.
const INLINE_RECORD: usize = 945 + 4_112usize.div_ceil(3) * 4;

/// The store's write of one staged file: create 0600, write, fsync, fstat, rename.
fn publish(staging: &Path, dest: &Path, data: &[u8], fsync: bool) -> std::io::Result<()> {
    let f = create_private(staging)?;
    f.write_all_at(data, 0)?;
    if fsync {
        f.sync_all()?;
    }
    std::hint::black_box(f.metadata()?);
    std::fs::rename(staging, dest)?;
    Ok(())
}

/// Bytes of one audit record line: a GenerateDataKey for a 4 KiB SSE-KMS PUT (who, the key,
/// the bucket and object, the encryption context, the chain's `seq` and `prev`).
const AUDIT_LINE: usize = 640;
/// The audit head file's fixed size (docs/AUDIT.md "The head file").
const AUDIT_HEAD: usize = 384;

/// Per commit (wall ms, CPU ms) of `n` audit commits of one record each, one after another on
/// the calling thread, in the new directory `root`: the file-system calls of the KMS audit
/// log's commit (docs/AUDIT.md "Writing"): the line appended with one `write` to the O_APPEND
/// log and `fdatasync`ed — the sync the audit contract puts before a data key is handed out —
/// then the head rewritten in place with one `pwrite` (synced off the caller's path, "The head
/// file"). An SSE-KMS PUT without bucket keys waits for at least one such commit.
pub fn audit_commit(root: &Path, n: usize) -> (f64, f64) {
    private_dir(root);
    let (mut log, head) = (
        OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(root.join("kms-audit.log"))
            .expect("floor audit log"),
        create_private(&root.join("kms-audit.head")).expect("floor audit head"),
    );
    let (mut line, head_bytes) = (vec![b'a'; AUDIT_LINE], [b' '; AUDIT_HEAD]);
    line[AUDIT_LINE - 1] = b'\n';
    let c = cost(|| {
        for _ in 0..n {
            log.write_all(&line).expect("floor audit append");
            log.sync_data().expect("floor audit sync");
            head.write_all_at(&head_bytes, 0).expect("floor audit head");
        }
    });
    (c.wall * 1000.0 / n as f64, c.cpu * 1000.0 / n as f64)
}
