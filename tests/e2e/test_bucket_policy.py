"""Bucket policies over the aws CLI: the policy API, and the classic policies people write to
enforce encryption and TLS, each refusing the wrong upload and allowing the right one.

The encryption condition keys are read from the request headers, as on AWS: an upload that
relies on the bucket's default encryption sends no `x-amz-server-side-encryption` and is refused
by the "deny unless SSE" policy (docs/ACCESS.md).
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

import pytest

from conftest import AwsCli


@pytest.fixture
def cli_bucket(aws) -> str:
    name = f"pol-{uuid.uuid4().hex[:12]}"
    aws.run("s3api", "create-bucket", "--bucket", name)
    return name


@pytest.fixture(scope="module")
def kms_cli(server, tmp_path_factory) -> AwsCli:
    return AwsCli(
        dataclasses.replace(server, endpoint_https=server.endpoint_kms),
        tmp_path_factory.mktemp("aws-kms-home"),
    )


@pytest.fixture(scope="module")
def key_arn(kms_cli) -> str:
    return kms_cli.json("kms", "create-key", "--description", "policy e2e")["KeyMetadata"]["Arn"]


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(10_000))
    return path


def put_policy(aws: AwsCli, bucket: str, statements: list[dict]) -> None:
    doc = {"Version": "2012-10-17", "Statement": statements}
    aws.run("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", json.dumps(doc))


def deny_put(bucket: str, sid: str, condition: dict) -> dict:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": condition,
    }


def refused(aws: AwsCli, *args, **kw) -> None:
    err = aws.fails(*args, **kw)
    assert "AccessDenied" in err, err


def head(aws: AwsCli, bucket: str, key: str) -> dict:
    return aws.json("s3api", "head-object", "--bucket", bucket, "--key", key)


def test_policy_api(aws, cli_bucket):
    err = aws.fails("s3api", "get-bucket-policy", "--bucket", cli_bucket)
    assert "NoSuchBucketPolicy" in err, err
    err = aws.fails("s3api", "get-bucket-policy-status", "--bucket", cli_bucket)
    assert "NoSuchBucketPolicy" in err, err

    other = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::some-other-bucket/*"}]}
    err = aws.fails("s3api", "put-bucket-policy", "--bucket", cli_bucket,
                    "--policy", json.dumps(other))
    assert "MalformedPolicy" in err and "Policy has invalid resource" in err, err
    err = aws.fails("s3api", "put-bucket-policy", "--bucket", cli_bucket, "--policy", "not json")
    assert "MalformedPolicy" in err, err

    public = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{cli_bucket}/*"}]}
    # New buckets block public policies, as on AWS: the owner lifts the block first.
    aws.run("s3api", "delete-public-access-block", "--bucket", cli_bucket)
    aws.run("s3api", "put-bucket-policy", "--bucket", cli_bucket, "--policy", json.dumps(public))
    got = aws.json("s3api", "get-bucket-policy", "--bucket", cli_bucket)
    assert json.loads(got["Policy"]) == public
    status = aws.json("s3api", "get-bucket-policy-status", "--bucket", cli_bucket)
    assert status["PolicyStatus"]["IsPublic"] is True

    restricted = dict(public)
    restricted["Statement"] = [dict(public["Statement"][0],
                                    Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}})]
    aws.run("s3api", "put-bucket-policy", "--bucket", cli_bucket,
            "--policy", json.dumps(restricted))
    status = aws.json("s3api", "get-bucket-policy-status", "--bucket", cli_bucket)
    assert status["PolicyStatus"]["IsPublic"] is False

    aws.run("s3api", "delete-bucket-policy", "--bucket", cli_bucket)
    err = aws.fails("s3api", "get-bucket-policy", "--bucket", cli_bucket)
    assert "NoSuchBucketPolicy" in err, err


def test_deny_unless_aws_kms_with_one_key(aws, cli_bucket, key_arn, kms_cli, payload):
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "DenyNotKms",
                 {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}),
        deny_put(cli_bucket, "DenyOtherKey",
                 {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}),
    ])
    dest = f"s3://{cli_bucket}"
    refused(aws, "s3", "cp", payload, f"{dest}/plain.bin")
    refused(aws, "s3", "cp", payload, f"{dest}/aes.bin", "--sse", "AES256")
    refused(aws, "s3", "cp", payload, f"{dest}/default-kms.bin", "--sse", "aws:kms")
    other = kms_cli.json("kms", "create-key", "--description", "other")["KeyMetadata"]["Arn"]
    refused(aws, "s3", "cp", payload, f"{dest}/other-key.bin", "--sse", "aws:kms",
            "--sse-kms-key-id", other)

    aws.run("s3", "cp", payload, f"{dest}/right.bin", "--sse", "aws:kms",
            "--sse-kms-key-id", key_arn)
    meta = head(aws, cli_bucket, "right.bin")
    assert meta["ServerSideEncryption"] == "aws:kms"
    assert meta["SSEKMSKeyId"] == key_arn
    listed = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["right.bin"]


def test_deny_unless_any_sse_null_trick(aws, cli_bucket, payload, tmp_path):
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "DenyNoSseHeader",
                 {"Null": {"s3:x-amz-server-side-encryption": "true"}}),
    ])
    dest = f"s3://{cli_bucket}"
    # No header: refused even though the bucket default would encrypt it (AWS reads headers).
    refused(aws, "s3", "cp", payload, f"{dest}/plain.bin")
    key = tmp_path / "c.key"
    key.write_bytes(os.urandom(32))
    refused(aws, "s3", "cp", payload, f"{dest}/ssec.bin", "--sse-c", "AES256",
            "--sse-c-key", f"fileb://{key}")

    aws.run("s3", "cp", payload, f"{dest}/aes.bin", "--sse", "AES256")
    aws.run("s3", "cp", payload, f"{dest}/kms.bin", "--sse", "aws:kms")
    assert head(aws, cli_bucket, "aes.bin")["ServerSideEncryption"] == "AES256"
    assert head(aws, cli_bucket, "kms.bin")["ServerSideEncryption"] == "aws:kms"
    err = aws.fails("s3api", "head-object", "--bucket", cli_bucket, "--key", "plain.bin")
    assert "404" in err or "Not Found" in err, err


def test_deny_sse_c(aws, cli_bucket, payload, tmp_path):
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "DenySseC",
                 {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}),
    ])
    dest = f"s3://{cli_bucket}"
    key = tmp_path / "c.key"
    key.write_bytes(os.urandom(32))
    refused(aws, "s3", "cp", payload, f"{dest}/ssec.bin", "--sse-c", "AES256",
            "--sse-c-key", f"fileb://{key}")
    refused(aws, "s3api", "put-object", "--bucket", cli_bucket, "--key", "ssec2.bin",
            "--body", payload, "--sse-customer-algorithm", "AES256",
            "--sse-customer-key", f"fileb://{key}")

    aws.run("s3", "cp", payload, f"{dest}/plain.bin")
    assert head(aws, cli_bucket, "plain.bin")["ServerSideEncryption"] == "AES256"
    listed = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["plain.bin"]


def test_deny_insecure_transport(aws, cli_bucket, payload, tmp_path):
    put_policy(aws, cli_bucket, [{
        "Sid": "TlsOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{cli_bucket}", f"arn:aws:s3:::{cli_bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }])
    dest = f"s3://{cli_bucket}"
    refused(aws, "s3", "cp", payload, f"{dest}/http.bin", scheme="http")
    aws.run("s3", "cp", payload, f"{dest}/https.bin")
    # A download starts with HeadObject, whose 403 has no body to carry the code.
    err = aws.fails("s3", "cp", f"{dest}/https.bin", tmp_path / "http-back.bin", scheme="http")
    assert "(403)" in err or "AccessDenied" in err, err
    assert not (tmp_path / "http-back.bin").exists()
    refused(aws, "s3api", "list-objects-v2", "--bucket", cli_bucket, scheme="http")
    aws.run("s3", "cp", f"{dest}/https.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == payload.read_bytes()
    listed = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert [o["Key"] for o in listed["Contents"]] == ["https.bin"]


def test_block_public_access(aws, cli_bucket):
    """A new bucket has all four Block Public Access flags and BucketOwnerEnforced; a public
    policy is refused until BlockPublicPolicy is off, a restricted one is accepted throughout."""
    got = aws.json("s3api", "get-public-access-block", "--bucket", cli_bucket)
    assert got["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}
    got = aws.json("s3api", "get-bucket-ownership-controls", "--bucket", cli_bucket)
    assert got["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    public = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{cli_bucket}/*"}]}
    err = aws.fails("s3api", "put-bucket-policy", "--bucket", cli_bucket,
                    "--policy", json.dumps(public))
    assert "AccessDenied" in err and "BlockPublicPolicy" in err, err
    err = aws.fails("s3api", "get-bucket-policy", "--bucket", cli_bucket)
    assert "NoSuchBucketPolicy" in err, err

    aws.run("s3api", "put-public-access-block", "--bucket", cli_bucket,
            "--public-access-block-configuration",
            "BlockPublicAcls=true,IgnorePublicAcls=true,"
            "BlockPublicPolicy=false,RestrictPublicBuckets=true")
    got = aws.json("s3api", "get-public-access-block", "--bucket", cli_bucket)
    assert got["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False
    aws.run("s3api", "put-bucket-policy", "--bucket", cli_bucket, "--policy", json.dumps(public))
    status = aws.json("s3api", "get-bucket-policy-status", "--bucket", cli_bucket)
    assert status["PolicyStatus"]["IsPublic"] is True

    aws.run("s3api", "delete-public-access-block", "--bucket", cli_bucket)
    err = aws.fails("s3api", "get-public-access-block", "--bucket", cli_bucket)
    assert "NoSuchPublicAccessBlockConfiguration" in err, err


def test_acls_disabled_by_default(aws, cli_bucket, payload):
    err = aws.fails("s3api", "put-object", "--bucket", cli_bucket, "--key", "k",
                    "--body", str(payload), "--acl", "public-read")
    assert "AccessControlListNotSupported" in err, err
    aws.run("s3api", "put-object", "--bucket", cli_bucket, "--key", "k",
            "--body", str(payload), "--acl", "bucket-owner-full-control")
    err = aws.fails("s3api", "create-bucket", "--bucket", f"{cli_bucket}-acl", "--acl", "public-read")
    assert "InvalidBucketAclWithObjectOwnership" in err, err
    aws.run("s3api", "put-bucket-ownership-controls", "--bucket", cli_bucket,
            "--ownership-controls", "Rules=[{ObjectOwnership=ObjectWriter}]")
    got = aws.json("s3api", "get-bucket-ownership-controls", "--bucket", cli_bucket)
    assert got["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "ObjectWriter"}]
    aws.run("s3api", "delete-bucket-ownership-controls", "--bucket", cli_bucket)
    err = aws.fails("s3api", "get-bucket-ownership-controls", "--bucket", cli_bucket)
    assert "OwnershipControlsNotFoundError" in err, err


def test_tls_version_condition(aws, cli_bucket, payload):
    """`s3:TlsVersion` is the connection's TLS version as a number; over plain HTTP it is
    absent, so only `Null` (or an `…IfExists` operator) matches there."""
    dest = f"s3://{cli_bucket}"
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "OldTls", {"NumericLessThan": {"s3:TlsVersion": "1.2"}})])
    aws.run("s3", "cp", payload, f"{dest}/tls12.bin")
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "Below14", {"NumericLessThan": {"s3:TlsVersion": "1.4"}})])
    refused(aws, "s3", "cp", payload, f"{dest}/refused.bin")
    aws.run("s3", "cp", payload, f"{dest}/plain.bin", scheme="http")
    put_policy(aws, cli_bucket, [
        deny_put(cli_bucket, "NoTls", {"Null": {"s3:TlsVersion": "true"}})])
    refused(aws, "s3", "cp", payload, f"{dest}/plain2.bin", scheme="http")
    aws.run("s3", "cp", payload, f"{dest}/tls.bin")
    listed = aws.json("s3api", "list-objects-v2", "--bucket", cli_bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == ["plain.bin", "tls.bin", "tls12.bin"]


def test_unknown_action_refused(aws, cli_bucket):
    doc = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetObjekt",
        "Resource": f"arn:aws:s3:::{cli_bucket}/*"}]}
    err = aws.fails("s3api", "put-bucket-policy", "--bucket", cli_bucket,
                    "--policy", json.dumps(doc))
    assert "MalformedPolicy" in err and "Policy has invalid action" in err, err
    doc["Statement"][0]["Action"] = "s3:Get*"
    aws.run("s3api", "put-bucket-policy", "--bucket", cli_bucket, "--policy", json.dumps(doc))
