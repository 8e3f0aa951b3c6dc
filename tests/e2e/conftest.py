"""End-to-end fixtures: one real `sealgate serve` per test session, and the two clients users
actually run against it (the aws CLI and boto3).

The server binary comes from `SEALGATE_BIN` (scripts/test points it at target/debug/sealgate).
It listens on ephemeral ports in a throw-away data directory with root credentials chosen here,
so nothing depends on a developer's machine; its stdout and stderr go to a log file whose tail
is attached to every failing test's report.

Clients never see the developer's AWS configuration: every aws CLI call gets empty config and
credentials files and an environment stripped of `AWS_*` variables, and boto3 clients are built
from explicit arguments only.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

READY_TIMEOUT_S = 60
LOG_TAIL_LINES = 80

# What `sealgate serve` prints before "Ready."; the HTTP line ends with a note after the URL.
_PREFIXES = {
    "S3 API (HTTPS):": "endpoint_https",
    "S3 API (HTTP):": "endpoint_http",
    "KMS API (HTTPS):": "endpoint_kms",
    "CA certificate:": "ca_path",
    "Region:": "region",
}


@dataclass
class Server:
    endpoint_https: str
    endpoint_http: str
    endpoint_kms: str
    ca_path: str
    access_key: str
    secret_key: str
    data_dir: Path
    region: str
    log_path: Path
    work_dir: Path

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"(no log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    def endpoint(self, scheme: str = "https") -> str:
        return self.endpoint_https if scheme == "https" else self.endpoint_http


_server: Server | None = None


def _server_bin() -> str:
    path = os.environ.get("SEALGATE_BIN", "target/debug/sealgate")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.exit(
            f"SEALGATE_BIN={path!r} is not an executable file; run `cargo build --bins` "
            "or ./scripts/test",
            returncode=2,
        )
    return os.path.abspath(path)


def _parse_banner(log_path: Path) -> dict[str, str] | None:
    """The banner fields once `Ready.` has been printed, else None."""
    lines = log_path.read_text(errors="replace").splitlines()
    if "Ready." not in (line.strip() for line in lines):
        return None
    found: dict[str, str] = {}
    for line in lines:
        for prefix, field in _PREFIXES.items():
            if line.startswith(prefix):
                found[field] = line[len(prefix):].split()[0]
    return found


@contextlib.contextmanager
def launch(
    work: Path, *, extra_env: dict[str, str] | None = None, config_toml: str | None = None
) -> Iterator[Server]:
    """Starts `sealgate serve` on ephemeral ports in `work` with fresh root credentials,
    yields it once `Ready.` is printed and stops it on exit."""
    data_dir = work / "data"
    log_path = work / "sealgate.log"
    access_key = "E2E" + secrets.token_hex(8).upper()[:17]
    secret_key = secrets.token_urlsafe(30)[:40]

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEALGATE_", "AWS_"))}
    env.update(
        SEALGATE_ROOT_ACCESS_KEY=access_key,
        SEALGATE_ROOT_SECRET_KEY=secret_key,
        SEALGATE_LOG=os.environ.get("SEALGATE_LOG", "info"),
        NO_COLOR="1",
    )
    env.update(extra_env or {})
    cmd = [
        _server_bin(),
        "serve",
        "--data-dir", str(data_dir),
        "--s3-listen", "127.0.0.1:0",
        "--http-listen", "127.0.0.1:0",
        "--kms-listen", "127.0.0.1:0",
        "--metrics-listen", "127.0.0.1:0",
    ]
    if config_toml is not None:
        config = work / "sealgate.toml"
        config.write_text(config_toml)
        cmd += ["--config", str(config)]
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=work
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        banner = None
        while banner is None:
            if proc.poll() is not None:
                pytest.exit(
                    f"sealgate exited with {proc.returncode} before Ready.\n"
                    + log_path.read_text(errors="replace"),
                    returncode=3,
                )
            if time.monotonic() > deadline:
                pytest.exit(
                    f"sealgate not Ready within {READY_TIMEOUT_S}s\n"
                    + log_path.read_text(errors="replace"),
                    returncode=3,
                )
            time.sleep(0.05)
            banner = _parse_banner(log_path)
        missing = {"endpoint_https", "endpoint_http", "endpoint_kms", "ca_path"} - banner.keys()
        assert not missing, f"banner lacks {missing}:\n{log_path.read_text()}"
        yield Server(
            endpoint_https=banner["endpoint_https"],
            endpoint_http=banner["endpoint_http"],
            endpoint_kms=banner["endpoint_kms"],
            ca_path=banner["ca_path"],
            access_key=access_key,
            secret_key=secret_key,
            data_dir=data_dir,
            region=banner.get("region", "us-east-1"),
            log_path=log_path,
            work_dir=work,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    global _server
    with launch(tmp_path_factory.mktemp("gateway")) as srv:
        _server = srv
        try:
            yield srv
        finally:
            _server = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _server is not None:
        rep.sections.append(("sealgate log (tail)", _server.log_tail()))


# ---------------------------------------------------------------------------------------------
# aws CLI


def _venv_aws() -> str:
    """The `aws` installed next to the running interpreter (the .venv one)."""
    candidate = Path(sys.executable).parent / "aws"
    if candidate.exists():
        return str(candidate)
    pytest.exit(f"no aws CLI next to {sys.executable}; run ./scripts/test", returncode=2)


class AwsCli:
    """Runs `aws ...` against the server with an isolated configuration."""

    def __init__(self, server: Server, home: Path):
        self.server = server
        self.exe = _venv_aws()
        home.mkdir(parents=True, exist_ok=True)
        config = home / "config"
        creds = home / "credentials"
        config.write_text("")
        creds.write_text("")
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        base.update(
            HOME=str(home),
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(creds),
            AWS_ACCESS_KEY_ID=server.access_key,
            AWS_SECRET_ACCESS_KEY=server.secret_key,
            AWS_DEFAULT_REGION=server.region,
            AWS_CA_BUNDLE=server.ca_path,
            AWS_DEFAULT_OUTPUT="json",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_PAGER="",
        )
        self.env = base

    def run(
        self,
        *args: str,
        scheme: str = "https",
        check: bool = True,
        cwd: str | Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess:
        cmd = [self.exe, "--endpoint-url", self.server.endpoint(scheme), *map(str, args)]
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            cmd,
            env=full_env,
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"aws {' '.join(map(str, args))} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str, **kw) -> dict:
        """Runs an `aws s3api` style command and parses its JSON output ({} when empty)."""
        out = self.run(*args, **kw).stdout.strip()
        return json.loads(out) if out else {}

    def fails(self, *args: str, **kw) -> str:
        """Runs a command that must fail; returns its stderr."""
        proc = self.run(*args, check=False, **kw)
        assert proc.returncode != 0, (
            f"aws {' '.join(map(str, args))} unexpectedly succeeded\n{proc.stdout}"
        )
        return proc.stderr


@pytest.fixture(scope="session")
def aws(server, tmp_path_factory) -> AwsCli:
    return AwsCli(server, tmp_path_factory.mktemp("aws-home"))


# ---------------------------------------------------------------------------------------------
# boto3


class ClientFactory:
    def __init__(self, server: Server):
        self.server = server
        self._session = boto3.session.Session()

    def __call__(
        self,
        scheme: str = "https",
        access_key: str | None = None,
        secret_key: str | None = None,
        **config,
    ):
        cfg = Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            **config,
        )
        return self._session.client(
            "s3",
            endpoint_url=self.server.endpoint(scheme),
            region_name=self.server.region,
            aws_access_key_id=access_key or self.server.access_key,
            aws_secret_access_key=secret_key or self.server.secret_key,
            verify=self.server.ca_path,
            config=cfg,
        )


@pytest.fixture(scope="session")
def make_client(server) -> ClientFactory:
    # Isolate botocore from ~/.aws and AWS_* variables for the whole session.
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[k]
    empty = server.work_dir / "empty-aws-config"
    empty.write_text("")
    os.environ["AWS_CONFIG_FILE"] = str(empty)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(empty)
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return ClientFactory(server)


@pytest.fixture(scope="session")
def s3(make_client):
    """The default client: HTTPS, root credentials, default checksum behaviour."""
    return make_client()


@pytest.fixture
def bucket(s3) -> str:
    """A fresh, empty bucket for one test."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name
