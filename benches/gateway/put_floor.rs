//! The floor of a large PUT over HTTPS: the CPU the server spends receiving and storing an
//! object whatever its code, measured in this process on one thread with the thread's own CPU
//! clock (as the GET floor in super::floor). Its parts: read the body from a loopback TCP
//! socket (another thread writes it; that is the client's CPU, not counted), open the TLS
//! records, and write the sealed object durably as the store writes a large blob (past the page
//! cache, `O_DIRECT`, 1 MiB per aligned write, into a new 0600 file; fsync, rename, fsync the
//! directory; through the page cache in 1 MiB writes where the filesystem takes no direct
//! writes). The MD5 and the segment seal are the
//! ideal gateway's, measured beside it; the caller adds them per row (MD5 only where the ETag
//! needs it).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::Path;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::measure::{Cost, cost};

/// A TLS record's plaintext (the most TLS 1.2 and 1.3 allow) and its tag.
const TLS_RECORD: usize = 16 * 1024;
const TAG: usize = 16;
/// Bytes per socket read: generous, so the floor counts the copy rather than the calls.
const SOCKET_READ: usize = 256 * 1024;
/// The local store's write buffer (`LOCAL_BLOB_BUFFER`).
const WRITE_BUFFER: usize = 1024 * 1024;
/// A direct write's size and alignment (`store/direct_write.rs`).
const DIRECT_SLICE: usize = 1024 * 1024;
const DIRECT_ALIGN: usize = 4096;

/// The three parts of the PUT floor for `data.len()` bytes.
pub struct PutFloor {
    pub socket: Cost,
    pub tls_open: Cost,
    pub write: Cost,
    /// Whether `write` went past the page cache.
    pub direct: bool,
}

impl PutFloor {
    pub fn parts(&self) -> [(&'static str, Cost); 3] {
        [
            ("read from loopback TCP", self.socket),
            ("AES-GCM open, 16 KiB TLS", self.tls_open),
            (
                if self.direct {
                    "O_DIRECT 1 MiB, fsync, rename"
                } else {
                    "pwrite 1 MiB, fsync, rename"
                },
                self.write,
            ),
        ]
    }

    /// Seconds per GB the disk took to take the object (the write's wall time): no PUT to this
    /// disk is faster, whatever its CPU.
    pub fn disk_s_per_gb(&self, bytes: usize) -> f64 {
        self.write.wall / bytes as f64 * 1e9
    }

    /// CPU seconds of the three together.
    pub fn cpu(&self) -> f64 {
        self.parts().iter().map(|(_, c)| c.cpu).sum()
    }
}

/// Measures the PUT floor for `data` on the calling thread; the file it writes goes in `dir`
/// (the disk of the gateway's data dir) and is removed afterwards.
pub fn put_floor(dir: &Path, data: &[u8]) -> PutFloor {
    let socket = loopback_read(data);
    let tls_open = tls_open(data);
    let (staging, dest) = (dir.join("floor-put.bin#1"), dir.join("floor-put.bin"));
    let direct = rustix::fs::OFlags::DIRECT.bits() as i32;
    let create = |flags: i32| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(flags)
            .open(&staging)
    };
    // The sealer fills the store's aligned buffer in the gateway; here one copy per slice
    // stands for it (a memcpy of 1 MiB: tens of µs).
    let mut bounce = vec![0u8; DIRECT_SLICE + DIRECT_ALIGN];
    let start = bounce.as_ptr().align_offset(DIRECT_ALIGN);
    let mut went_direct = false;
    let write = cost(|| {
        let f = match create(direct) {
            Ok(f) => {
                went_direct = true;
                f
            }
            Err(_) => {
                let _ = std::fs::remove_file(&staging);
                create(0).expect("create the floor's file")
            }
        };
        if went_direct {
            for (i, chunk) in data.chunks(DIRECT_SLICE).enumerate() {
                let n = chunk.len().next_multiple_of(DIRECT_ALIGN);
                let window = &mut bounce[start..start + n];
                window[..chunk.len()].copy_from_slice(chunk);
                window[chunk.len()..].fill(0);
                f.write_all_at(window, (i * DIRECT_SLICE) as u64)
                    .expect("direct pwrite");
            }
            f.set_len(data.len() as u64).expect("ftruncate");
        } else {
            for (i, chunk) in data.chunks(WRITE_BUFFER).enumerate() {
                f.write_all_at(chunk, (i * WRITE_BUFFER) as u64)
                    .expect("pwrite");
            }
        }
        f.sync_all().expect("fsync");
        std::fs::rename(&staging, &dest).expect("rename");
        File::open(dir)
            .and_then(|d| d.sync_all())
            .expect("fsync dir");
    });
    let _ = std::fs::remove_file(&dest);
    PutFloor {
        socket,
        tls_open,
        write,
        direct: went_direct,
    }
}

/// Reads `data` from a loopback TCP connection another thread writes into.
fn loopback_read(data: &[u8]) -> Cost {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let owned = data.to_vec();
    let writer = std::thread::spawn(move || {
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        for chunk in owned.chunks(64 * 1024) {
            conn.write_all(chunk).expect("socket write");
        }
    });
    let (mut conn, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; SOCKET_READ];
    let mut total = 0usize;
    let c = cost(|| {
        loop {
            match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n,
                Err(e) => panic!("read: {e}"),
            }
        }
    });
    writer.join().unwrap();
    assert_eq!(total, data.len());
    c
}

/// Opens `data` sealed as TLS records (sealed first, not counted), in place.
fn tls_open(data: &[u8]) -> Cost {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[6u8; 32]).unwrap());
    let nonce = |i: usize| {
        let mut n = [0u8; 12];
        n[4..].copy_from_slice(&(i as u64).to_be_bytes());
        Nonce::assume_unique_for_key(n)
    };
    let mut records: Vec<u8> = Vec::with_capacity(data.len() + data.len() / TLS_RECORD * TAG + TAG);
    let mut lens = Vec::new();
    for (i, chunk) in data.chunks(TLS_RECORD).enumerate() {
        let start = records.len();
        records.extend_from_slice(chunk);
        let tag = key
            .seal_in_place_separate_tag(nonce(i), Aad::empty(), &mut records[start..])
            .unwrap();
        records.extend_from_slice(tag.as_ref());
        lens.push(records.len() - start);
    }
    cost(|| {
        let mut at = 0;
        for (i, len) in lens.iter().enumerate() {
            let plain = key
                .open_in_place(nonce(i), Aad::empty(), &mut records[at..at + len])
                .expect("open");
            std::hint::black_box(plain[0]);
            at += len;
        }
    })
}
