//! sealgate: an S3-compatible object gateway that encrypts everything it stores, with its own
//! AWS-KMS-compatible key management service.
#![forbid(unsafe_code)]

// The public surface is what the binary, the benchmarks and the integration tests use: the CLI,
// the KMS (embedded and remote), the store with its conformance suite, and the records the store
// keeps. Everything else is crate-private, so rustc reports what nothing uses.

pub(crate) mod checksum;
pub(crate) mod chunked;
pub mod cli;
pub(crate) mod config;
pub(crate) mod envelope;
pub(crate) mod fsutil;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod gateway;
pub(crate) mod http_client;
pub(crate) mod identity;
pub mod kms;
pub(crate) mod lifecycle;
pub mod meta;
pub(crate) mod metrics;
pub(crate) mod policy;
pub(crate) mod retention;
pub(crate) mod s3;
pub(crate) mod seal;
pub(crate) mod serve;
pub(crate) mod server;
pub(crate) mod sigv2;
pub(crate) mod sigv4;
pub(crate) mod sse;
pub mod store;
pub(crate) mod sweeper;
pub(crate) mod tools;
