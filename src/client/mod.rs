//! Clients the command line uses to talk to a running gateway: the HTTP(S) transport shared
//! with the remote KMS client, a small SigV4-signing S3 client, and where their endpoint and
//! credentials come from (flags or the usual `AWS_*` environment).

pub mod http;
pub mod s3;
pub mod settings;
