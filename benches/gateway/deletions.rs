//! Mass deletions on the gateways' disk, kept away from the phases that create files.
//!
//! ext4 without a journal (this machine's root file system) does not reuse an inode freed less
//! than 60 s ago, or 360 s ago while the inode table block holding it is unwritten
//! (`recently_deleted()` in the kernel's `fs/ext4/ialloc.c`), and every new file's allocation
//! walks past each such inode. New files land beside the freed ones and dirty their blocks,
//! so under a stream of new files the longer delay is the one that holds. Right after a bench
//! run removed its data dirs (tens of thousands of 4 KiB objects), a 4 KiB PUT cost 1.0-1.2 ms
//! of server CPU instead of 0.3; perf put `recently_deleted`, `find_get_block_common` and the
//! directory lock's `rwsem_spin_on_owner` at 40% of the gateway's samples; a run that waited
//! 62 s after a sync still measured 0.52 ms (docs/PERFORMANCE.md "Freed inodes skew small
//! PUTs").
//!
//! So a run removes nothing its phases create until it is over, then leaves a stamp; a run
//! with phases that create many files starts them only when the last stamp is
//! [`INODE_REUSE_DELAY`] old.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// ext4's 60 s plus 300 s for a dirty block, and a margin for the clock's granularity (the
/// kernel compares whole seconds).
const INODE_REUSE_DELAY: Duration = Duration::from_secs(362);

/// `$CARGO_TARGET_DIR/bench-gateway.deleted` (`target/` by default): its mtime is when the
/// last run finished removing its files.
fn stamp() -> PathBuf {
    super::measure::target_dir().join("bench-gateway.deleted")
}

/// Records that this run's files are gone: call it after the last of them is removed.
pub fn note_removed() {
    let _ = std::fs::write(stamp(), b"");
}

/// Waits until the last run's removals are [`INODE_REUSE_DELAY`] old.
pub async fn wait_for_inode_reuse() {
    let age = std::fs::metadata(stamp())
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok());
    let Some(wait) = age.and_then(|age| INODE_REUSE_DELAY.checked_sub(age)) else {
        return;
    };
    println!(
        "waiting {:.0} s: the last run removed its files {:.0} s ago, and ext4 without a journal \
         reuses a freed inode only after 60-360 s (benches/gateway/deletions.rs)",
        wait.as_secs_f64(),
        (INODE_REUSE_DELAY - wait).as_secs_f64()
    );
    tokio::time::sleep(wait).await;
}
