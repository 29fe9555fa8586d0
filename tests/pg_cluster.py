"""A throw-away PostgreSQL cluster with password (SCRAM) authentication, for tests that need a server
which really checks passwords (the machine's own PostgreSQL trusts loopback connections).

Built with the installed ``initdb`` and ``pg_ctl`` on a free port; as root they run as the
``postgres`` OS user (initdb refuses root). Stopped and removed afterwards.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

USER = "chatops_pb"
PASSWORD = "Kp9-known-test-password-4Zq"


@dataclass(frozen=True)
class Cluster:
    port: int
    user: str
    password: str
    database: str = "postgres"

    def url(self, *, password: str | None = None, port: int | None = None, host: str = "127.0.0.1") -> str:
        return (f"postgresql://{self.user}:{self.password if password is None else password}"
                f"@{host}:{self.port if port is None else port}/{self.database}")


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot build a password-checking PostgreSQL cluster under CI: {reason}")
    pytest.skip(f"cannot build a password-checking PostgreSQL cluster: {reason}")


@contextmanager
def password_cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        _unavailable("initdb/pg_ctl not found (install PostgreSQL server binaries)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    base = Path(tempfile.mkdtemp(prefix="chatops-pg-"))
    data, pwfile = base / "data", base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(pwfile, "postgres")
    port = free_port()
    started = False
    try:
        init = subprocess.run([*prefix, initdb, "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                               "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                              capture_output=True, text=True, timeout=60)
        if init.returncode != 0:
            _unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
                       "password_encryption = 'scram-sha-256'\nfsync = off\n")
        start = subprocess.run([*prefix, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-t", "30",
                                "start"], capture_output=True, text=True, timeout=60)
        if start.returncode != 0:
            log = (base / "log").read_text() if (base / "log").exists() else ""
            _unavailable(f"pg_ctl start failed: {start.stderr.strip()[-200:]} {log[-300:]}")
        started = True
        yield Cluster(port, USER, PASSWORD)
    finally:
        if started:
            subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)
