"""Starting release gateways side by side for the A/B scripts in scripts/ (small-puts.py,
kms-small-puts.py): fixed root credentials, quiet logs, fsync or --no-fsync."""
import os
import subprocess

AK, SK = "BENCHROOTACCESSKEY01", "bench-root-secret-key-000000000000000001"


def start(binary, data_dir, port, fsync, http=False):
    """Runs `binary serve` with its data in `data_dir`: HTTPS S3 on `port`, KMS on port+1 and,
    with `http`, plain-HTTP S3 on port+2. Returns dict(proc, port, ca, dir) once it is ready."""
    cmd = [binary, "serve", "--data-dir", data_dir, "--s3-listen", f"127.0.0.1:{port}",
           "--kms-listen", f"127.0.0.1:{port + 1}", "--metrics-listen", "off"]
    if http:
        cmd += ["--http-listen", f"127.0.0.1:{port + 2}"]
    if not fsync:
        cmd.append("--no-fsync")
    env = dict(os.environ, SEALGATE_ROOT_ACCESS_KEY=AK, SEALGATE_ROOT_SECRET_KEY=SK,
               SEALGATE_LOG="sealgate=warn")
    env.pop("SEALGATE_CONFIG", None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(data_dir + ".log", "w"),
                            env=env, text=True)
    ca = None
    for line in proc.stdout:
        if line.startswith("CA certificate:"):
            ca = line.split(":", 1)[1].strip()
        if line.strip() == "Ready.":
            break
    return dict(proc=proc, port=port, ca=ca, dir=data_dir)
