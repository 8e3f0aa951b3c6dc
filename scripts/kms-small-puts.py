#!/usr/bin/env python3
"""SSE-KMS against SSE-S3 small PUTs, A/B (docs/PERFORMANCE.md "SSE-KMS small PUTs: where the
time went"): every binary serves at once (fsync and, with NOFSYNC=1, --no-fsync gateways too);
per round and gateway, N 4 KiB PUTs of new keys per mode (SSE-S3, SSE-KMS with the AWS managed
key, SSE-KMS with a bucket key), IN_FLIGHT boto3 threads over HTTPS; PUT/s and the server's CPU
per PUT from each thread's clock (/proc/<pid>/task/*/schedstat). Medians over interleaved rounds;
"x S3" is the median of per-round ratios to the same gateway's SSE-S3.

    scripts/kms-small-puts.py main=/path/to/old/sealgate new=target/release/sealgate
    (ROUNDS=5 N=500 IN_FLIGHT=8 NOFSYNC=1 by default; needs boto3)
"""
import os, subprocess, sys, time, tempfile, statistics, glob
from concurrent.futures import ThreadPoolExecutor
import boto3
from botocore.config import Config

from gateways import AK, SK
import gateways
N = int(os.environ.get("N", "500"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
IN_FLIGHT = int(os.environ.get("IN_FLIGHT", "8"))
NOFSYNC = os.environ.get("NOFSYNC", "1") == "1"
bins = dict(a.split("=", 1) for a in sys.argv[1:])
if not bins:
    sys.exit(__doc__)
work = tempfile.mkdtemp(prefix="kms-small-puts-")
body = os.urandom(4096)
MODES = {
    "SSE-S3": dict(ServerSideEncryption="AES256"),
    "SSE-KMS": dict(ServerSideEncryption="aws:kms"),
    "SSE-KMS+bk": dict(ServerSideEncryption="aws:kms", BucketKeyEnabled=True),
}

servers = {}
port = 19700
for name, b in bins.items():
    for fsync in ((True, False) if NOFSYNC else (True,)):
        d = os.path.join(work, f"{name}-{'fsync' if fsync else 'nofsync'}")
        started = gateways.start(b, d, port, fsync)
        label = f"{name} {'fsync' if fsync else 'no_fsync'}"
        servers[label] = started
        port += 10

cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
             max_pool_connections=IN_FLIGHT, retries={"max_attempts": 1})
for s in servers.values():
    s["client"] = boto3.client("s3", endpoint_url=f"https://localhost:{s['port']}",
                               aws_access_key_id=AK, aws_secret_access_key=SK,
                               region_name="us-east-1", verify=s["ca"], config=cfg)
    s["client"].create_bucket(Bucket="small")
    # Warm the connections and the KMS (alias/aws/s3 is created on first use).
    for m, extra in MODES.items():
        s["client"].put_object(Bucket="small", Key=f"warm/{m}", Body=body, **extra)

def cpu_ns(pid):
    t = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            t += int(open(f).read().split()[0])
        except (OSError, ValueError):
            pass
    return t

pool = ThreadPoolExecutor(IN_FLIGHT)

def batch(s, mode, tag):
    c, extra = s["client"], MODES[mode]
    def one(i):
        c.put_object(Bucket="small", Key=f"{tag}/{i}", Body=body, **extra)
    pid = s["proc"].pid
    c0, t0 = cpu_ns(pid), time.monotonic()
    list(pool.map(one, range(N)))
    wall = time.monotonic() - t0
    return N / wall, (cpu_ns(pid) - c0) / 1e6 / N

res = {(g, m): [] for g in servers for m in MODES}
for r in range(ROUNDS):
    for g, s in servers.items():
        for m in MODES:
            res[(g, m)].append(batch(s, m, f"r{r}-{m}"))
    print(f"round {r + 1}/{ROUNDS} done, load {os.getloadavg()[0]:.1f}", file=sys.stderr)

print(f"4 KiB PUT, {IN_FLIGHT} in flight, {N} per round, {ROUNDS} interleaved rounds, medians "
      f"(load average now {os.getloadavg()[0]:.1f}):")
for g in servers:
    s3 = [x[0] for x in res[(g, "SSE-S3")]]
    for m in MODES:
        rate = statistics.median(x[0] for x in res[(g, m)])
        cpu = statistics.median(x[1] for x in res[(g, m)])
        ratio = statistics.median(x[0] / b for x, b in zip(res[(g, m)], s3))
        print(f"{g:<22} {m:<11} {rate:>7.0f} PUT/s   server CPU {cpu:6.3f} ms/PUT   x S3 {ratio:.2f}")

for s in servers.values():
    s["proc"].terminate()
    s["proc"].wait()
