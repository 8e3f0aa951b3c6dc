#!/usr/bin/env python3
"""Small-PUT figures (docs/PERFORMANCE.md "Small PUTs"): 4 KiB SSE-S3 PUTs of new keys, 200
per batch on one curl connection (presigned URLs in a curl config file), server CPU from
/proc/<pid>/stat, rounds interleaved over every gateway, then one batch per gateway under
`strace -f -c`. Each binary runs twice: with fsync and with --no-fsync.

    scripts/small-puts.py before=/path/to/old/sealgate after=target/release/sealgate
    (ROUNDS=5 by default; STRACE=0 skips strace; needs boto3, curl and strace)
"""
import os, subprocess, sys, time, shutil, signal, tempfile
import boto3
from botocore.config import Config

AK, SK = "BENCHROOTACCESSKEY01", "bench-root-secret-key-000000000000000001"
N = 200
ROUNDS = int(os.environ.get("ROUNDS", "5"))
bins = dict(a.split("=", 1) for a in sys.argv[1:])
if not bins:
    sys.exit(__doc__)
work = tempfile.mkdtemp(prefix="small-puts-")
tick = os.sysconf("SC_CLK_TCK")
payload = os.path.join(work, "small.bin")
with open(payload, "wb") as f:
    f.write(os.urandom(4096))

servers = {}
port = 19500
for name, b in bins.items():
    for fsync in (True, False):
        d = os.path.join(work, f"{name}-{'fsync' if fsync else 'nofsync'}")
        cmd = [b, "serve", "--data-dir", d, "--s3-listen", f"127.0.0.1:{port}",
               "--kms-listen", f"127.0.0.1:{port+1}", "--metrics-listen", "off"]
        if not fsync:
            cmd.append("--no-fsync")
        env = dict(os.environ, SEALGATE_ROOT_ACCESS_KEY=AK, SEALGATE_ROOT_SECRET_KEY=SK,
                   SEALGATE_LOG="sealgate=warn")
        env.pop("SEALGATE_CONFIG", None)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(d + ".log", "w"), env=env, text=True)
        ca = None
        for line in p.stdout:
            if line.startswith("CA certificate:"):
                ca = line.split(":", 1)[1].strip()
            if line.strip() == "Ready.":
                break
        servers[(name, fsync)] = dict(proc=p, port=port, ca=ca, dir=d)
        port += 10

def client(s):
    return boto3.client("s3", endpoint_url=f"https://localhost:{s['port']}", aws_access_key_id=AK,
                        aws_secret_access_key=SK, region_name="us-east-1", verify=s["ca"],
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))

for s in servers.values():
    c = client(s)
    c.create_bucket(Bucket="small")
    s["client"] = c

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / tick

def batch(s, tag):
    cfg = os.path.join(work, f"curl-{s['port']}-{tag}.cfg")
    with open(cfg, "w") as f:
        for i in range(N):
            url = s["client"].generate_presigned_url(
                "put_object", Params={"Bucket": "small", "Key": f"{tag}/{i}"}, ExpiresIn=3600)
            f.write(f'url = "{url}"\nupload-file = "{payload}"\noutput = "/dev/null"\n')
    return cfg

def run(s, cfg):
    subprocess.run(["curl", "-s", "-f", "--cacert", s["ca"], "-K", cfg], check=True)

results = {k: [] for k in servers}
for r in range(ROUNDS):
    for k, s in servers.items():
        cfg = batch(s, f"r{r}")
        pid = s["proc"].pid
        c0, t0 = cpu(pid), time.monotonic()
        run(s, cfg)
        c1, t1 = cpu(pid), time.monotonic()
        results[k].append(((c1 - c0) / N * 1000, N / (t1 - t0)))

strace = {}
if os.environ.get("STRACE", "1") == "1":
    for k, s in servers.items():
        cfg = batch(s, "strace")
        out = os.path.join(work, f"strace-{k[0]}-{k[1]}.txt")
        st = subprocess.Popen(["strace", "-f", "-c", "-o", out, "-p", str(s["proc"].pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        run(s, cfg)
        time.sleep(0.5)
        st.send_signal(signal.SIGINT)
        st.wait()
        strace[k] = open(out).read()

for k, s in servers.items():
    s["proc"].terminate()
    s["proc"].wait()
shutil.rmtree(work, ignore_errors=True)

import statistics
for k, v in results.items():
    cpus = sorted(x[0] for x in v)
    rates = sorted(x[1] for x in v)
    print(f"{k[0]:8} fsync={k[1]!s:5}  CPU/PUT ms: median {statistics.median(cpus):.3f} all {[round(x,3) for x in cpus]}  PUT/s median {statistics.median(rates):.0f}")
for k, t in strace.items():
    print(f"== strace {k[0]} fsync={k[1]} (per {N} PUTs)")
    lines = t.strip().splitlines()
    print("\n".join(lines[:2] + [l for l in lines[2:] if any(w in l for w in ("fsync", "fdatasync", "openat", "futex", "mkdir", "rename", "statx", "pwrite", "write", "total", "unlink", "epoll", "recvfrom", "sendto", "read", "close"))]))
