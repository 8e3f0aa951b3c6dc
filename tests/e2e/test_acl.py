"""Access control over HTTPS with the aws CLI and boto3, as a user of AWS S3 checks it: two
accounts and a narrow IAM user, bucket policies and ACLs, Block Public Access, and canned ACLs
as get-object-acl / get-bucket-acl report them (docs/ACCESS.md).

The gateway runs with `--bucket-defaults legacy` (its environment twin): new buckets are
ObjectWriter (ACLs enabled) without Block Public Access, as older S3 services start them.
Account A is the gateway's own (root = the harness's root; `alice`, an IAM user limited to the
prefix `alice/` of each bucket); account B has a root user of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from botocore.exceptions import ClientError

from conftest import AwsCli, ClientFactory, Server, launch

ACCOUNT_B = "222222222222"
ROOT_B = ("E2EROOTBACCESSKEY001", "e2e-root-b-secret-key-000000000000000001")
ALICE = ("E2EALICEACCESSKEY001", "e2e-alice-secret-key-00000000000000000001")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

ALICE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
     "Resource": "arn:aws:s3:::*/alice/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::*",
     "Condition": {"StringLike": {"s3:prefix": "alice/*"}}},
]})

CONFIG = f"""
[[users]]
name = "root"
account_id = "{ACCOUNT_B}"
access_key = "{ROOT_B[0]}"
secret_key = "{ROOT_B[1]}"

[[users]]
name = "alice"
access_key = "{ALICE[0]}"
secret_key = "{ALICE[1]}"
policy = '''{ALICE_POLICY}'''
"""


@pytest.fixture(scope="module")
def gw(tmp_path_factory) -> Iterator[Server]:
    with launch(
        tmp_path_factory.mktemp("acl-gateway"),
        extra_env={"SEALGATE_BUCKET_DEFAULTS": "legacy"},
        config_toml=CONFIG,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def cli_a(gw, tmp_path_factory) -> AwsCli:
    return AwsCli(gw, tmp_path_factory.mktemp("aws-a"))


def cli_as(gw: Server, home, creds: tuple[str, str]) -> AwsCli:
    cli = AwsCli(gw, home)
    cli.env.update(AWS_ACCESS_KEY_ID=creds[0], AWS_SECRET_ACCESS_KEY=creds[1])
    return cli


@pytest.fixture(scope="module")
def cli_b(gw, tmp_path_factory) -> AwsCli:
    return cli_as(gw, tmp_path_factory.mktemp("aws-b"), ROOT_B)


@pytest.fixture(scope="module")
def cli_alice(gw, tmp_path_factory) -> AwsCli:
    return cli_as(gw, tmp_path_factory.mktemp("aws-alice"), ALICE)


@pytest.fixture(scope="module")
def boto(gw, make_client):
    """boto3 clients of the ACL gateway: `boto("a")`, `boto("b")`, `boto("alice")`."""
    factory = ClientFactory(gw)
    creds = {"a": (gw.access_key, gw.secret_key), "b": ROOT_B, "alice": ALICE}
    return lambda who: factory(access_key=creds[who][0], secret_key=creds[who][1])


@pytest.fixture
def bucket_a(cli_a) -> str:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    cli_a.run("s3api", "create-bucket", "--bucket", name)
    cli_a.run("s3api", "put-object", "--bucket", name, "--key", "doc.txt",
              "--body", __file__)
    return name


def anonymous_get(gw: Server, bucket: str, key: str) -> requests.Response:
    return requests.get(f"{gw.endpoint_https}/{bucket}/{key}", verify=gw.ca_path, timeout=30)


def denied(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def cli_denied(cli: AwsCli, *args) -> None:
    err = cli.fails(*args)
    assert "AccessDenied" in err, err


def grants(acl: dict) -> set[tuple[str, str]]:
    out = set()
    for g in acl["Grants"]:
        who = g["Grantee"].get("URI") or g["Grantee"]["ID"]
        out.add((who, g["Permission"]))
    return out


def canonical_id(cli: AwsCli) -> str:
    return cli.json("s3api", "list-buckets")["Owner"]["ID"]


def test_own_bucket(cli_a, boto, bucket_a):
    got = cli_a.json("s3api", "get-object-acl", "--bucket", bucket_a, "--key", "doc.txt")
    assert grants(got) == {(canonical_id(cli_a), "FULL_CONTROL")}
    s3 = boto("a")
    s3.put_object(Bucket=bucket_a, Key="two", Body=b"mine")
    assert s3.get_object(Bucket=bucket_a, Key="two")["Body"].read() == b"mine"


def test_other_account_bucket_without_and_with_grants(gw, cli_a, cli_b, boto, bucket_a):
    b = boto("b")
    # No grant: every read and write is refused.
    denied(lambda: b.get_object(Bucket=bucket_a, Key="doc.txt"))
    denied(lambda: b.list_objects_v2(Bucket=bucket_a))
    cli_denied(cli_b, "s3api", "put-object", "--bucket", bucket_a, "--key", "x", "--body", __file__)

    # A bucket policy granting account B reads.
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": ACCOUNT_B}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket_a}/*"}]}
    cli_a.run("s3api", "put-bucket-policy", "--bucket", bucket_a, "--policy", json.dumps(policy))
    assert b.get_object(Bucket=bucket_a, Key="doc.txt")["Body"].read() == open(__file__, "rb").read()
    denied(lambda: b.list_objects_v2(Bucket=bucket_a))
    cli_a.run("s3api", "delete-bucket-policy", "--bucket", bucket_a)
    denied(lambda: b.get_object(Bucket=bucket_a, Key="doc.txt"))

    # An ACL grant to account B instead: object READ, then bucket READ + WRITE.
    id_a, id_b = canonical_id(cli_a), canonical_id(cli_b)
    cli_a.run("s3api", "put-object-acl", "--bucket", bucket_a, "--key", "doc.txt",
              "--grant-full-control", f"id={id_a}", "--grant-read", f"id={id_b}")
    assert b.get_object(Bucket=bucket_a, Key="doc.txt")["ContentLength"] > 0
    denied(lambda: b.get_object_acl(Bucket=bucket_a, Key="doc.txt"))
    cli_a.run("s3api", "put-bucket-acl", "--bucket", bucket_a,
              "--grant-full-control", f"id={id_a}", "--grant-read", f"id={id_b}",
              "--grant-write", f"id={id_b}")
    keys = [o["Key"] for o in b.list_objects_v2(Bucket=bucket_a)["Contents"]]
    assert keys == ["doc.txt"]
    cli_b.run("s3api", "put-object", "--bucket", bucket_a, "--key", "from-b",
              "--body", __file__, "--acl", "bucket-owner-full-control")
    # ObjectWriter: B owns what it wrote, and granted A full control.
    got = cli_b.json("s3api", "get-object-acl", "--bucket", bucket_a, "--key", "from-b")
    assert got["Owner"]["ID"] == id_b
    assert grants(got) == {(id_b, "FULL_CONTROL"), (id_a, "FULL_CONTROL")}


def test_anonymous_public_read_and_block_public_access(gw, cli_a, boto, bucket_a):
    assert anonymous_get(gw, bucket_a, "doc.txt").status_code == 403
    cli_a.run("s3api", "put-object-acl", "--bucket", bucket_a, "--key", "doc.txt",
              "--acl", "public-read")
    r = anonymous_get(gw, bucket_a, "doc.txt")
    assert r.status_code == 200
    assert r.content == open(__file__, "rb").read()
    # IgnorePublicAcls: the grant is kept but no longer counts.
    cli_a.run("s3api", "put-public-access-block", "--bucket", bucket_a,
              "--public-access-block-configuration",
              "BlockPublicAcls=false,IgnorePublicAcls=true,BlockPublicPolicy=false,"
              "RestrictPublicBuckets=false")
    r = anonymous_get(gw, bucket_a, "doc.txt")
    assert r.status_code == 403
    assert "<Code>AccessDenied</Code>" in r.text
    # BlockPublicAcls: a public ACL is refused on every write; private ones still pass.
    cli_a.run("s3api", "put-public-access-block", "--bucket", bucket_a,
              "--public-access-block-configuration",
              "BlockPublicAcls=true,IgnorePublicAcls=false,BlockPublicPolicy=false,"
              "RestrictPublicBuckets=false")
    s3 = boto("a")
    denied(lambda: s3.put_object(Bucket=bucket_a, Key="pub", Body=b"x", ACL="public-read"))
    denied(lambda: s3.put_bucket_acl(Bucket=bucket_a, ACL="authenticated-read"))
    cli_denied(cli_a, "s3api", "put-object-acl", "--bucket", bucket_a, "--key", "doc.txt",
               "--grant-read", f"uri={ALL_USERS}")
    s3.put_object(Bucket=bucket_a, Key="priv", Body=b"x", ACL="private")
    # The stored public-read grant still counts (IgnorePublicAcls is off now).
    assert anonymous_get(gw, bucket_a, "doc.txt").status_code == 200
    cli_a.run("s3api", "delete-public-access-block", "--bucket", bucket_a)


def test_user_limited_to_one_prefix(cli_a, cli_alice, boto, bucket_a):
    alice = boto("alice")
    alice.put_object(Bucket=bucket_a, Key="alice/notes", Body=b"hers")
    assert alice.get_object(Bucket=bucket_a, Key="alice/notes")["Body"].read() == b"hers"
    denied(lambda: alice.get_object(Bucket=bucket_a, Key="doc.txt"))
    denied(lambda: alice.put_object(Bucket=bucket_a, Key="elsewhere", Body=b"x"))
    listed = cli_alice.json("s3api", "list-objects-v2", "--bucket", bucket_a,
                            "--prefix", "alice/")
    assert [o["Key"] for o in listed["Contents"]] == ["alice/notes"]
    cli_denied(cli_alice, "s3api", "list-objects-v2", "--bucket", bucket_a)
    # A public-read object is readable by her too (an AllUsers grant covers every caller),
    # but READ does not let her change its ACL.
    cli_a.run("s3api", "put-object-acl", "--bucket", bucket_a, "--key", "doc.txt",
              "--acl", "public-read")
    assert alice.get_object(Bucket=bucket_a, Key="doc.txt")["ContentLength"] > 0
    denied(lambda: alice.put_object_acl(Bucket=bucket_a, Key="doc.txt", ACL="private"))


def test_canned_acls_reflected(cli_a, boto, bucket_a):
    owner = canonical_id(cli_a)
    expected = {
        "private": set(),
        "public-read": {(ALL_USERS, "READ")},
        "public-read-write": {(ALL_USERS, "READ"), (ALL_USERS, "WRITE")},
        "authenticated-read": {(AUTH_USERS, "READ")},
        "bucket-owner-read": set(),
        "bucket-owner-full-control": set(),
    }
    for canned, extra in expected.items():
        cli_a.run("s3api", "put-object", "--bucket", bucket_a, "--key", f"c/{canned}",
                  "--body", __file__, "--acl", canned)
        got = cli_a.json("s3api", "get-object-acl", "--bucket", bucket_a, "--key", f"c/{canned}")
        assert got["Owner"]["ID"] == owner
        assert grants(got) == {(owner, "FULL_CONTROL")} | extra, canned
    s3 = boto("a")
    s3.put_bucket_acl(Bucket=bucket_a, ACL="public-read")
    assert grants(s3.get_bucket_acl(Bucket=bucket_a)) == {
        (owner, "FULL_CONTROL"), (ALL_USERS, "READ")}
    # Bucket READ for everyone: anonymous listing works, object reads still need their own.
    r = requests.get(f"{cli_a.server.endpoint_https}/{bucket_a}?list-type=2",
                     verify=cli_a.server.ca_path, timeout=30)
    assert r.status_code == 200 and "<Key>doc.txt</Key>" in r.text
    s3.put_bucket_acl(Bucket=bucket_a, ACL="private")
    # Multipart uploads keep the ACL of their creation.
    up = s3.create_multipart_upload(Bucket=bucket_a, Key="mp", ACL="authenticated-read")
    part = s3.upload_part(Bucket=bucket_a, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=b"part")
    s3.complete_multipart_upload(Bucket=bucket_a, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    assert grants(s3.get_object_acl(Bucket=bucket_a, Key="mp")) == {
        (owner, "FULL_CONTROL"), (AUTH_USERS, "READ")}


def test_post_acl_field_against_object_ownership(gw, cli_a, boto):
    """A browser POST's `acl` field is judged by Object Ownership like PutObject's header."""
    name = f"acl-post-{uuid.uuid4().hex[:8]}"
    cli_a.run("s3api", "create-bucket", "--bucket", name,
              "--object-ownership", "BucketOwnerEnforced")
    client = ClientFactory(gw)(signature_version="s3v4")

    def post(acl: str) -> requests.Response:
        presigned = client.generate_presigned_post(
            Bucket=name, Key=f"form-{acl}", Fields={"acl": acl},
            Conditions=[{"acl": acl}], ExpiresIn=300)
        return requests.post(presigned["url"], data=presigned["fields"],
                             files={"file": ("f.txt", b"form body")},
                             verify=gw.ca_path, timeout=60)

    r = post("public-read")
    assert r.status_code == 400 and "AccessControlListNotSupported" in r.text, r.text
    r = post("bucket-owner-full-control")
    assert r.status_code == 204, r.text
    # ACLs enabled: the form's ACL is stored.
    cli_a.run("s3api", "put-bucket-ownership-controls", "--bucket", name,
              "--ownership-controls", "Rules=[{ObjectOwnership=ObjectWriter}]")
    r = post("public-read")
    assert r.status_code == 204, r.text
    got = boto("a").get_object_acl(Bucket=name, Key="form-public-read")
    assert (ALL_USERS, "READ") in grants(got)
    assert anonymous_get(gw, name, "form-public-read").content == b"form body"
