#!/usr/bin/env python3
"""Small-PUT figures (docs/PERFORMANCE.md "Small PUTs"): 4 KiB SSE-S3 PUTs of new keys, 200
per batch on one curl connection (presigned URLs in a curl config file), server CPU from
/proc/<pid>/stat, rounds interleaved over every gateway, then one batch per gateway under
`strace -f -c`. Each binary runs twice: with fsync and with --no-fsync.

    scripts/small-puts.py before=/path/to/old/sealgate after=target/release/sealgate
    (ROUNDS=5 by default; STRACE=0 skips strace; needs boto3, curl and strace)

More knobs (docs/PERFORMANCE.md "Small PUTs in flight"): N=500 PUTs per batch; INFLIGHT=8 runs
a batch on 8 connections at once (curl --parallel); HTTP=1 uses the plain-HTTP listener;
FSYNC_ONLY=1 skips the --no-fsync gateways; PEER=/path/to/s3s-fs adds s3s-fs (no fsync) to
the rounds; STRACE=T traces fsync/rename/openat with their times (strace -f -T) instead of
counting every call.
"""
import os, subprocess, sys, time, shutil, signal, statistics, tempfile
import boto3
from botocore.config import Config

from gateways import AK, SK
import gateways
N = int(os.environ.get("N", "200"))
INFLIGHT = int(os.environ.get("INFLIGHT", "1"))
HTTP = os.environ.get("HTTP") == "1"
FSYNCS = (True,) if os.environ.get("FSYNC_ONLY") == "1" else (True, False)
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
    for fsync in FSYNCS:
        d = os.path.join(work, f"{name}-{'fsync' if fsync else 'nofsync'}")
        started = gateways.start(b, d, port, fsync, http=True)
        servers[(name, fsync)] = started
        port += 10

peer = os.environ.get("PEER")
if peer:
    d = os.path.join(work, "s3s-fs")
    os.makedirs(d)
    p = subprocess.Popen([peer, "--host", "127.0.0.1", "--port", str(port), "--access-key", AK,
                          "--secret-key", SK, d], stdout=subprocess.DEVNULL,
                         stderr=open(d + ".log", "w"))
    time.sleep(1.0)
    servers[("s3s-fs", False)] = dict(proc=p, port=port, ca=None, dir=d, peer=True)

def client(s):
    if HTTP or s.get("peer"):
        url, verify = f"http://127.0.0.1:{s['port'] + (0 if s.get('peer') else 2)}", None
    else:
        url, verify = f"https://localhost:{s['port']}", s["ca"]
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=AK,
                        aws_secret_access_key=SK, region_name="us-east-1", verify=verify,
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
    cmd = ["curl", "-s", "--no-progress-meter", "-f", "-K", cfg]
    if s["ca"]:
        cmd += ["--cacert", s["ca"]]
    if INFLIGHT > 1:
        cmd += ["--parallel", "--parallel-max", str(INFLIGHT)]
    subprocess.run(cmd, check=True)

results = {k: [] for k in servers}
for r in range(ROUNDS):
    for k, s in servers.items():
        cfg = batch(s, f"r{r}")
        pid = s["proc"].pid
        c0, t0 = cpu(pid), time.monotonic()
        run(s, cfg)
        c1, t1 = cpu(pid), time.monotonic()
        results[k].append(((c1 - c0) / N * 1000, N / (t1 - t0)))

def fsync_summary(path):
    """Per PUT: fsyncs of files and of directories (and how many directories), renames, opens;
    the latency of each kind from strace -T."""
    import re
    opened, dirs, lat = {}, {}, {"fsync file": [], "fsync dir": [], "rename": [], "openat": []}
    pending = {}
    for line in open(path):
        m = re.match(r"(\d+)\s+(.*)", line.strip())
        if not m:
            continue
        pid, call = m.groups()
        if "<unfinished ...>" in call:
            pending[pid] = call.split("<unfinished")[0]
            continue
        if "resumed>" in call:
            call = pending.pop(pid, "") + call.split("resumed>", 1)[1]
        t = re.search(r"<([\d.]+)>$", call)
        ms = float(t.group(1)) * 1000 if t else 0.0
        name = call.split("(")[0]
        if name == "openat":
            o = re.match(r'openat\(\w+, "([^"]+)", ([^)]*)\)\s+= (\d+)', call)
            if o:
                opened[o.group(3)] = o.group(1)  # descriptors are the process's, not a thread's
            lat["openat"].append(ms)
        elif name in ("fsync", "fdatasync"):
            fd = re.match(r"\w+\((\d+)", call).group(1)
            where = opened.get(fd, "?")
            is_dir = "#" not in os.path.basename(where)  # the store syncs staging files and directories
            lat["fsync dir" if is_dir else "fsync file"].append(ms)
            if is_dir:
                dirs[where] = dirs.get(where, 0) + 1
        elif name in ("rename", "renameat2"):
            lat["rename"].append(ms)
    rows = [f"  {k:10} {len(v) / N:5.2f} per PUT, median {statistics.median(v):.2f} ms, "
            f"mean {statistics.mean(v):.2f} ms" for k, v in lat.items() if v]
    top = sorted(dirs.items(), key=lambda kv: -kv[1])[:3]
    rows.append("  directories synced (most): " + ", ".join(f"{os.path.relpath(d, work)} x{n}" for d, n in top))
    return "\n".join(rows)

strace = {}
if os.environ.get("STRACE", "1") in ("1", "T"):
    timed = os.environ.get("STRACE") == "T"
    for k, s in servers.items():
        if s.get("peer"):
            continue
        cfg = batch(s, "strace")
        out = os.path.join(work, f"strace-{k[0]}-{k[1]}.txt")
        how = (["-T", "-e", "trace=fsync,fdatasync,rename,openat"] if timed else ["-c"])
        st = subprocess.Popen(["strace", "-f", *how, "-o", out, "-p", str(s["proc"].pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        run(s, cfg)
        time.sleep(0.5)
        st.send_signal(signal.SIGINT)
        st.wait()
        strace[k] = fsync_summary(out) if timed else open(out).read()
        if os.environ.get("KEEP"):
            shutil.copy(out, os.environ["KEEP"])

for k, s in servers.items():
    s["proc"].terminate()
    s["proc"].wait()
shutil.rmtree(work, ignore_errors=True)

peer_rates = [x[1] for x in results.get(("s3s-fs", False), [])]
for k, v in results.items():
    cpus = sorted(x[0] for x in v)
    rates = sorted(x[1] for x in v)
    first = next(iter(results.values()))
    vs = f"  x {next(iter(results))[0]} {statistics.median(x[1] / f[1] for x, f in zip(v, first)):.2f}"
    if peer_rates:
        vs += f"  x s3s-fs {statistics.median(x[1] / p for x, p in zip(v, peer_rates)):.2f}"
    print(f"{k[0]:8} fsync={k[1]!s:5}  CPU/PUT ms: median {statistics.median(cpus):.3f} all {[round(x,3) for x in cpus]}  PUT/s median {statistics.median(rates):.0f} all {[round(x) for x in rates]}{vs}")
for k, t in strace.items():
    print(f"== strace {k[0]} fsync={k[1]} (per {N} PUTs)")
    if os.environ.get("STRACE") == "T":
        print(t)
        continue
    lines = t.strip().splitlines()
    print("\n".join(lines[:2] + [l for l in lines[2:] if any(w in l for w in ("fsync", "fdatasync", "openat", "futex", "mkdir", "rename", "statx", "pwrite", "write", "total", "unlink", "epoll", "recvfrom", "sendto", "read", "close"))]))
