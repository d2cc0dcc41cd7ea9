"""Shared fixtures: a throwaway PostgreSQL server on loopback, and tiny digits suites.

`PostgresServer` runs Debian's (or any) PostgreSQL binaries: `initdb` into a temporary
folder, `pg_ctl start` on a free port, one fresh database per test, `pg_ctl stop` at the
end of the session. As root it runs them as the `postgres` user (initdb refuses root).
`benchmarks/bench_storage.py` loads this file by path to reuse the server.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest puts tests/ on sys.path for this file, where tests/bench would pass for the `bench`
# package (a namespace package without __version__) under `.venv/bin/pytest`; the checkout's
# root goes first so `bench` is the harness.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

INSTALL_HINT = ("PostgreSQL server binaries (initdb, pg_ctl) not found; install them with "
                "`apt-get install -y postgresql` (Debian/Ubuntu) or put their folder on PATH")
FAST_SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")


def postgres_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb"), shutil.which("pg_ctl")
    if all(found):
        return Path(str(found[0])).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A PostgreSQL server in a temporary folder, listening on 127.0.0.1 only.

    Args:
        durable: keep fsync on (benchmarks); tests turn it off for speed.
    """

    def __init__(self, durable: bool = False) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError(INSTALL_HINT)
        self.bindir = bindir
        self.durable = durable
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="samplerbench-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:  # initdb refuses root: run the server as `postgres`
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root, but there is no `postgres` user to run "
                                   "the server as; install Debian's postgresql package, which "
                                   "creates it") from None
            self.user = "postgres"
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-2000:]}")

    def start(self) -> PostgresServer:
        """initdb and start the server; return self."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        # Polling tests and dask workers each hold pooled connections: the default 100 ran out.
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=400")
        if not self.durable:
            options += f" {FAST_SETTINGS}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of `database` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its URL."""
        import psycopg2

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres",
                                dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the test session; fails (never skips) without the binaries."""
    if postgres_bindir() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()


# A trial of this objective trains one epoch of 3 steps on digits: a fraction of a second.
TINY_OBJECTIVE = {"kind": "mnist", "dataset": "digits", "epochs": 1, "batch_size": 512}


def tiny_suite_data(**overrides: Any) -> dict[str, Any]:
    """A suite file's contents on digits, with top-level keys replaced by `overrides`."""
    data: dict[str, Any] = {"name": "tiny", "trials": 3, "seeds": 1, "strategies": ["random"],
                            "pruners": ["none"], "objective": dict(TINY_OBJECTIVE)}
    data.update(overrides)
    return data


def suite_toml(data: dict[str, Any]) -> str:
    """TOML text of a suite dict (scalars, lists and one level of tables)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list | tuple):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for name, table in data.items():
        if isinstance(table, dict):
            lines += [f"[{name}]", *(f"{k} = {value(v)}" for k, v in table.items())]
    return "\n".join(lines) + "\n"


@pytest.fixture
def tiny_suite() -> Callable[..., dict[str, Any]]:
    """Factory of tiny digits suite dicts (see `tiny_suite_data`)."""
    return tiny_suite_data


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[..., Path]:
    """Factory that writes a tiny digits suite file (overrides as keywords) and returns it."""
    def write(**overrides: Any) -> Path:
        path = tmp_path / f"suite-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(suite_toml(tiny_suite_data(**overrides)), encoding="utf-8")
        return path

    return write
