//! Clients the command line uses to talk to a running gateway: a small SigV4-signing S3 client
//! (over [`crate::http_client`], the transport shared with the remote KMS client), and where
//! their endpoint and credentials come from (flags or the usual `AWS_*` environment).

pub(crate) mod s3;
pub(crate) mod settings;
