//! S3 lifecycle rules: what a bucket's rules say about an object ([`rules`]), one pass that
//! applies them to the store ([`run`]), and the background task that makes that pass
//! ([`worker`]).
//!
//! Decisions (docs/STORAGE.md "Lifecycle"):
//! - **Days end at midnight UTC, as on S3.** An action due `Days` after a moment is due at the
//!   first midnight UTC after that moment plus the days; the moment is the object's
//!   Last-Modified, for a noncurrent version the Last-Modified of the version that replaced it
//!   (when it became noncurrent, which needs no extra field: the next newer version says
//!   it), for a multipart upload its initiation.
//! - **One clock.** The worker reads the gateway's clock: the wall clock, or the KMS test
//!   clock under `SEALGATE_TEST_CLOCK=1`, so a test moves days forward with
//!   `Sealgate.AdvanceClock` and the worker runs at once after every move (besides once an
//!   hour). The `x-amz-expiration` header needs no clock: it names a date.
//! - **Cost follows the work.** A run lists only the buckets with enabled rules, and in them
//!   only the keys under the rules' prefixes, a page at a time; each key's versions are read
//!   from its own folder.
//! - **What an action does is what a client's delete does**, through the same store calls:
//!   expiring a current version is DeleteObject (a delete marker when versioning is on or
//!   suspended, gone otherwise), removing a noncurrent version or a delete marker is
//!   DeleteObject with its version id, aborting an upload is AbortMultipartUpload. Data is
//!   retired, and deleted by the sweep after its grace period like any other.

pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod worker;
