//! Sealed start-up helpers (docs/KMS.md "Sealed start-up"): `sealgate kms init-shares`, and a
//! KMS client that shows a sealed KMS's 503 instead of retrying it.

use std::path::Path;
use std::process::Command;

use aws_sdk_kms::error::ProvideErrorMetadata;

use super::Server;

/// `sealgate kms init-shares` on `data_dir`; returns the printed shares.
pub fn init_shares(data_dir: &Path, shares: u8, threshold: u8) -> Vec<String> {
    let out = Command::new(super::bin())
        .args(["kms", "init-shares", "--data-dir"])
        .arg(data_dir)
        .args(["--shares", &shares.to_string()])
        .args(["--threshold", &threshold.to_string()])
        .env_remove("SEALGATE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "init-shares failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_once(": sealgate-share-").map(|(_, s)| s))
        .map(|s| format!("sealgate-share-{s}"))
        .collect();
    assert_eq!(found.len(), shares as usize, "{stdout}");
    found
}

/// A KMS client that does not retry (a sealed KMS answers 503, which the SDK would retry).
pub async fn kms_once(server: &Server) -> aws_sdk_kms::Client {
    let cfg = server.sdk_config(None).await;
    let conf = aws_sdk_kms::config::Builder::from(&cfg)
        .endpoint_url(&server.kms_https)
        .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// (HTTP status, error code, message) of a KMS call that must fail.
pub fn sdk_failure<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    r: Result<T, aws_sdk_kms::error::SdkError<E, aws_smithy_runtime_api::http::Response>>,
) -> (u16, String, String) {
    let e = r.expect_err("the call must fail");
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    (
        status,
        e.code().unwrap_or_default().to_owned(),
        e.message().unwrap_or_default().to_owned(),
    )
}
