#!/usr/bin/env python3
"""Large-PUT figures (docs/PERFORMANCE.md "Large PUT: the idle core"): one 256 MiB PUT per
gateway per round over HTTPS by curl to a presigned URL, every gateway serving at once and the
rounds interleaved. Per gateway, medians: server CPU per GB (/proc/PID/stat), MB/s, and the
server's context switches per GB (/proc/PID/task/*/status).

    scripts/large-puts.py main=/path/to/old/sealgate new=target/release/sealgate
    (MODE=AES256|aws:kms|none, ROUNDS=3, SIZE_MIB=256; needs boto3 and curl)
"""
import os, shutil, subprocess, sys, tempfile, time

import boto3
from botocore.config import Config

import gateways

bins = [a.split("=", 1) for a in sys.argv[1:]]
if not bins:
    sys.exit(__doc__)
rounds = int(os.environ.get("ROUNDS", "3"))
size = int(os.environ.get("SIZE_MIB", "256")) << 20
mode = os.environ.get("MODE", "AES256")
tick = os.sysconf("SC_CLK_TCK")
work = tempfile.mkdtemp(prefix="large-puts-")


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick


def switches(pid):
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            for line in open(f"/proc/{pid}/task/{tid}/status"):
                if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")):
                    n += int(line.split()[1])
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return n


servers = []
try:
    for i, (label, path) in enumerate(bins):
        d = os.path.join(work, label)
        g = gateways.start(path, d, 29443 + 10 * i, fsync=True)
        p = g["proc"]
        s3 = boto3.client(
            "s3", endpoint_url=f"https://127.0.0.1:{g['port']}", region_name="us-east-1",
            aws_access_key_id=gateways.AK, aws_secret_access_key=gateways.SK,
            verify=g["ca"], config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="large-puts")
        servers.append((label, p, s3, g["ca"]))
    blob = os.path.join(work, "blob.bin")
    with open(blob, "wb") as f:
        f.write(os.urandom(size))
    gb = size / 1e9
    res = {label: [] for label, *_ in servers}
    for r in range(rounds):
        for label, p, s3, ca in servers:
            params, hdr = {"Bucket": "large-puts", "Key": f"k{r}"}, []
            if mode != "none":
                params["ServerSideEncryption"] = mode
                hdr = ["-H", f"x-amz-server-side-encryption: {mode}"]
            url = s3.generate_presigned_url("put_object", Params=params, ExpiresIn=600)
            c0, x0, t0 = cpu(p.pid), switches(p.pid), time.time()
            subprocess.run(["curl", "-sS", "-f", "--cacert", ca, "-T", blob,
                            *hdr, "-o", "/dev/null", url], check=True)
            t1, c1, x1 = time.time(), cpu(p.pid), switches(p.pid)
            res[label].append(((c1 - c0) / gb, gb * 1000 / (t1 - t0), (x1 - x0) / gb))
            s3.delete_object(Bucket="large-puts", Key=f"k{r}")
        print("round", r, {l: f"{v[-1][0]:.2f} s/GB {v[-1][1]:.0f} MB/s" for l, v in res.items()},
              flush=True)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    for label, v in res.items():
        print(f"{label} median {med([x[0] for x in v]):.2f} s/GB, {med([x[1] for x in v]):.0f} "
              f"MB/s, {med([x[2] for x in v]):.0f} switches/GB")
finally:
    for _, p, _, _ in servers:
        p.terminate()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)
