//! sealgate: an S3-compatible object gateway that encrypts everything it stores, with its own
//! AWS-KMS-compatible key management service.
#![forbid(unsafe_code)]

pub mod checksum;
pub mod chunked;
pub mod cli;
pub mod config;
pub mod envelope;
pub mod fsutil;
pub mod gateway;
pub mod http_client;
pub mod identity;
pub mod kms;
pub mod meta;
pub mod metrics;
pub mod policy;
pub mod s3;
pub mod seal;
pub mod serve;
pub mod server;
pub mod sigv4;
pub mod sse;
pub mod store;
pub mod tools;
