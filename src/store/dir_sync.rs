//! Group commit of directory fsyncs: concurrent writes that renamed a file into the same
//! directory share one `fsync` of it.
//!
//! A published file is durable once its data was synced before the rename and its directory
//! after it (`local_write.rs`). Eight small PUTs in flight into one bucket all rename into
//! `meta/<bucket>` and each then synced that directory: eight journal commits where one covers
//! them all, since an `fsync` of a directory makes durable every entry changed in it before the
//! call. The rule that keeps each caller's guarantee: **a sync covers a rename only if the sync
//! started after the rename.** A caller joins the batch of the *next* sync (never the one in
//! progress, which may have started before its rename); when no sync of the directory is in
//! progress, one member of that batch runs it for all, and every member gets its result. Syncs
//! of one directory run one at a time, so at most one batch waits while one runs.
//!
//! Callers block (they run on blocking threads, inside the write's own task); a directory
//! with no caller is forgotten.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

/// Whether published files are made durable, and the directory syncs they share (`None` with
/// `no_fsync`).
pub(super) type Fsync = Option<Arc<DirSyncs>>;

/// The directories being synced, by path. One per local store.
#[derive(Debug, Default)]
pub(crate) struct DirSyncs {
    dirs: Mutex<HashMap<PathBuf, Arc<DirSync>>>,
}

impl DirSyncs {
    /// Makes durable every entry of `dir` changed before this call (and possibly later ones),
    /// sharing the `fsync` with concurrent callers for the same directory.
    pub(super) fn sync(&self, dir: &Path) -> io::Result<()> {
        let entry = lock(&self.dirs)
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        let result = entry.sync(|| File::open(dir)?.sync_all());
        let mut dirs = lock(&self.dirs);
        // Clones are only made under this lock, so two counts (the map's and ours) mean no
        // other caller holds the entry or can reach it before we remove it.
        if Arc::strong_count(&entry) == 2 {
            dirs.remove(dir);
        }
        result
    }
}

/// One directory's syncs: at most one running, and the batch of callers waiting for the next.
#[derive(Debug, Default)]
struct DirSync {
    state: Mutex<State>,
    /// Signalled when a sync finishes.
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    running: bool,
    /// The callers that arrived since the running sync (or the last one) started.
    next: Option<Arc<Batch>>,
}

/// The result of one sync, shared by the callers it covers. `io::Error` is not `Clone`, so
/// the members get its kind and message.
#[derive(Debug, Default)]
struct Batch {
    result: OnceLock<Result<(), (io::ErrorKind, String)>>,
}

impl DirSync {
    /// Runs `sync_now` (or waits for a member of the same batch to) such that the sync
    /// starts after this call did; returns that sync's result.
    fn sync(&self, sync_now: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        let mut state = lock(&self.state);
        let mine = state.next.get_or_insert_with(Arc::default).clone();
        loop {
            if let Some(result) = mine.result.get() {
                return result
                    .clone()
                    .map_err(|(kind, msg)| io::Error::new(kind, msg));
            }
            let my_turn = !state.running
                && state
                    .next
                    .as_ref()
                    .is_some_and(|next| Arc::ptr_eq(next, &mine));
            if my_turn {
                // Every member joined before this point, so their renames precede the sync.
                state.next = None;
                state.running = true;
                drop(state);
                let result = sync_now();
                let shared = result
                    .as_ref()
                    .map(|_| ())
                    .map_err(|e| (e.kind(), e.to_string()));
                let _ = mine.result.set(shared);
                lock(&self.state).running = false;
                self.done.notify_all();
                return result;
            }
            state = self
                .done
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    /// A caller that arrives while a sync is running is not covered by it: it waits for the
    /// next one, which then covers every caller that arrived meanwhile — one sync for all.
    #[test]
    fn a_caller_arriving_during_a_sync_waits_for_the_next_one_which_is_shared() {
        let dir = Arc::new(DirSync::default());
        let syncs = Arc::new(AtomicUsize::new(0));
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));

        // The first caller's sync starts and blocks until released.
        let first = {
            let (dir, syncs, started_tx, release_rx) = (
                dir.clone(),
                syncs.clone(),
                started_tx.clone(),
                release_rx.clone(),
            );
            thread::spawn(move || {
                // Which sync this caller's result came from (the next may start as it returns).
                let mut ran = 0;
                dir.sync(|| {
                    ran = syncs.fetch_add(1, Ordering::SeqCst) + 1;
                    started_tx.send(ran).unwrap();
                    release_rx.lock().unwrap().recv().unwrap();
                    Ok(())
                })
                .map(|()| ran)
            })
        };
        assert_eq!(started_rx.recv().unwrap(), 1);

        // Five callers arrive while it runs (their "renames" came after it started).
        let (finished_tx, finished_rx) = mpsc::channel();
        let late: Vec<_> = (0..5)
            .map(|_| {
                let (dir, syncs, started_tx, release_rx, finished_tx) = (
                    dir.clone(),
                    syncs.clone(),
                    started_tx.clone(),
                    release_rx.clone(),
                    finished_tx.clone(),
                );
                thread::spawn(move || {
                    let ran = dir.sync(|| {
                        let n = syncs.fetch_add(1, Ordering::SeqCst) + 1;
                        started_tx.send(n).unwrap();
                        release_rx.lock().unwrap().recv().unwrap();
                        Ok(())
                    });
                    finished_tx.send(()).unwrap();
                    ran
                })
            })
            .collect();
        // Wait until all five joined the next batch (the state's handle and one each).
        while lock(&dir.state)
            .next
            .as_ref()
            .is_none_or(|next| Arc::strong_count(next) < 6)
        {
            thread::sleep(Duration::from_millis(5));
        }
        release_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), 1);
        assert!(
            finished_rx
                .recv_timeout(Duration::from_millis(200))
                .is_err(),
            "a caller that arrived during sync 1 returned before sync 2 ran"
        );
        // Exactly one more sync starts, for all five.
        assert_eq!(started_rx.recv().unwrap(), 2);
        release_tx.send(()).unwrap();
        for t in late {
            t.join().unwrap().unwrap();
        }
        assert_eq!(syncs.load(Ordering::SeqCst), 2, "one sync for the five");
        assert!(started_rx.try_recv().is_err());
    }

    /// Every member of a failed sync's batch gets its error; the next sync is tried afresh.
    #[test]
    fn a_failed_sync_fails_its_whole_batch_only() {
        let dir = Arc::new(DirSync::default());
        let (started_tx, started_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let first = {
            let dir = dir.clone();
            thread::spawn(move || {
                dir.sync(|| {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(())
                })
            })
        };
        started_rx.recv().unwrap();
        let failing: Vec<_> = (0..3)
            .map(|_| {
                let dir = dir.clone();
                thread::spawn(move || dir.sync(|| Err(io::Error::other("disk gone"))))
            })
            .collect();
        while lock(&dir.state)
            .next
            .as_ref()
            .is_none_or(|next| Arc::strong_count(next) < 4)
        {
            thread::sleep(Duration::from_millis(5));
        }
        release_tx.send(()).unwrap();
        first.join().unwrap().unwrap();
        for t in failing {
            let err = t.join().unwrap().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::Other);
            assert!(err.to_string().contains("disk gone"), "{err}");
        }
        dir.sync(|| Ok(())).unwrap();
    }

    /// The store-level entry point syncs real directories and forgets them afterwards.
    #[test]
    fn syncs_directories_and_forgets_idle_ones() {
        let root = tempfile::tempdir().unwrap();
        let syncs = Arc::new(DirSyncs::default());
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let (syncs, dir) = (syncs.clone(), root.path().to_path_buf());
                thread::spawn(move || {
                    std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
                    syncs.sync(&dir)
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert!(lock(&syncs.dirs).is_empty());
        let err = syncs.sync(&root.path().join("missing")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(lock(&syncs.dirs).is_empty());
    }
}
