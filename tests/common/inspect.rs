//! `sealgate inspect` run against a test server's data dir, as an operator would run it.

use serde_json::Value;

use super::Server;

/// Runs `sealgate inspect` against the server's data dir; returns (exit code, stdout, stderr).
pub fn inspect(server: &Server, target: &str, json: bool) -> (i32, String, String) {
    inspect_with(server, target, json, &[])
}

/// [`inspect`] with extra arguments.
pub fn inspect_with(
    server: &Server,
    target: &str,
    json: bool,
    extra: &[&str],
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(super::bin());
    cmd.arg("inspect")
        .arg(target)
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(extra);
    if json {
        cmd.args(["--format", "json"]);
    }
    let out = cmd
        .env_remove("SEALGATE_CONFIG")
        .env_remove("SEALGATE_DATA_DIR")
        .output()
        .expect("run sealgate inspect");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn inspect_json(server: &Server, target: &str) -> Value {
    let (code, out, err) = inspect(server, target, true);
    assert_eq!(code, 0, "inspect {target} failed: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}
