"""Object Lock with the aws CLI over HTTPS: a bucket created with Object Lock, a
COMPLIANCE-locked version that refuses deletion (even with the governance bypass) while a
plain DELETE only hides it behind a delete marker, and a legal hold that blocks removal until
it is lifted."""

from __future__ import annotations

import datetime
import uuid


def _bucket(aws) -> str:
    name = f"lock-{uuid.uuid4().hex[:12]}"
    aws.run("s3api", "create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket")
    return name


def _in(seconds: int) -> str:
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_compliance_locked_version_refuses_deletion(aws, tmp_path):
    bucket = _bucket(aws)
    assert aws.json("s3api", "get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    cfg = aws.json("s3api", "get-object-lock-configuration", "--bucket", bucket)
    assert cfg["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"

    src = tmp_path / "ledger.txt"
    src.write_bytes(b"entries that must stay\n")
    until = _in(3600)
    put = aws.json(
        "s3api", "put-object", "--bucket", bucket, "--key", "ledger.txt", "--body", src,
        "--object-lock-mode", "COMPLIANCE", "--object-lock-retain-until-date", until,
    )
    version = put["VersionId"]
    head = aws.json("s3api", "head-object", "--bucket", bucket, "--key", "ledger.txt")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"].startswith(until[:19])
    ret = aws.json("s3api", "get-object-retention", "--bucket", bucket, "--key", "ledger.txt")
    assert ret["Retention"]["Mode"] == "COMPLIANCE"

    for extra in ([], ["--bypass-governance-retention"]):
        err = aws.fails(
            "s3api", "delete-object", "--bucket", bucket, "--key", "ledger.txt",
            "--version-id", version, *extra,
        )
        assert "AccessDenied" in err, err
    err = aws.fails(
        "s3api", "put-object-retention", "--bucket", bucket, "--key", "ledger.txt",
        "--retention", f"Mode=COMPLIANCE,RetainUntilDate={_in(60)}",
        "--bypass-governance-retention",
    )
    assert "AccessDenied" in err, err

    # A DELETE without a version id adds a delete marker; the locked version stays whole.
    gone = aws.json("s3api", "delete-object", "--bucket", bucket, "--key", "ledger.txt")
    assert gone["DeleteMarker"] is True
    out = tmp_path / "back.txt"
    aws.run(
        "s3api", "get-object", "--bucket", bucket, "--key", "ledger.txt",
        "--version-id", version, out,
    )
    assert out.read_bytes() == src.read_bytes()
    versions = aws.json("s3api", "list-object-versions", "--bucket", bucket)
    assert [v["VersionId"] for v in versions["Versions"]] == [version]


def test_legal_hold_blocks_removal_until_lifted(aws, tmp_path):
    bucket = _bucket(aws)
    src = tmp_path / "evidence.bin"
    src.write_bytes(b"\x00\x01 evidence")
    version = aws.json(
        "s3api", "put-object", "--bucket", bucket, "--key", "evidence.bin", "--body", src,
        "--object-lock-legal-hold-status", "ON",
    )["VersionId"]
    hold = aws.json("s3api", "get-object-legal-hold", "--bucket", bucket, "--key", "evidence.bin")
    assert hold["LegalHold"]["Status"] == "ON"
    err = aws.fails(
        "s3api", "delete-object", "--bucket", bucket, "--key", "evidence.bin",
        "--version-id", version, "--bypass-governance-retention",
    )
    assert "AccessDenied" in err, err

    aws.run(
        "s3api", "put-object-legal-hold", "--bucket", bucket, "--key", "evidence.bin",
        "--version-id", version, "--legal-hold", "Status=OFF",
    )
    hold = aws.json("s3api", "get-object-legal-hold", "--bucket", bucket, "--key", "evidence.bin")
    assert hold["LegalHold"]["Status"] == "OFF"
    aws.run(
        "s3api", "delete-object", "--bucket", bucket, "--key", "evidence.bin",
        "--version-id", version,
    )
    assert "Versions" not in aws.json("s3api", "list-object-versions", "--bucket", bucket)


def test_plain_bucket_has_no_lock_configuration(aws):
    name = f"plain-{uuid.uuid4().hex[:12]}"
    aws.run("s3api", "create-bucket", "--bucket", name)
    err = aws.fails("s3api", "get-object-lock-configuration", "--bucket", name)
    assert "ObjectLockConfigurationNotFoundError" in err, err
