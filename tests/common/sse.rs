//! The three server-side encryption modes, for tests that run a case in each: one enum and the
//! request headers each mode needs, instead of a copy in every test file.

use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;
use aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    SseS3,
    SseKms,
    SseC,
}

pub const MODES: [Mode; 3] = [Mode::SseS3, Mode::SseKms, Mode::SseC];

/// The SSE-C key of [`Mode::SseC`], as (base64 key, base64 MD5 of the key).
pub fn customer_key() -> (String, String) {
    let raw = [0x5au8; 32];
    (STANDARD.encode(raw), STANDARD.encode(Md5::digest(raw)))
}

impl Mode {
    /// A PUT in this mode: SSE-S3 and SSE-KMS ask for it, SSE-C gives the key.
    pub fn put(self, p: PutObjectFluentBuilder) -> PutObjectFluentBuilder {
        let (key, md5) = customer_key();
        match self {
            Mode::SseS3 => p.server_side_encryption(ServerSideEncryption::Aes256),
            Mode::SseKms => p.server_side_encryption(ServerSideEncryption::AwsKms),
            Mode::SseC => p
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5),
        }
    }

    /// A GET of an object written in this mode: SSE-C gives the key again.
    pub fn get(self, g: GetObjectFluentBuilder) -> GetObjectFluentBuilder {
        let (key, md5) = customer_key();
        match self {
            Mode::SseC => g
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5),
            Mode::SseS3 | Mode::SseKms => g,
        }
    }

    /// A HEAD of an object written in this mode: SSE-C gives the key again.
    pub fn head(self, h: HeadObjectFluentBuilder) -> HeadObjectFluentBuilder {
        let (key, md5) = customer_key();
        match self {
            Mode::SseC => h
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5),
            Mode::SseS3 | Mode::SseKms => h,
        }
    }
}
