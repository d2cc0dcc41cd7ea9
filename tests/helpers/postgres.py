"""A throwaway PostgreSQL server on loopback, for the storage tests and benchmarks.

`PostgresServer` runs Debian's (or any) PostgreSQL binaries: `initdb` into a temporary
folder, `pg_ctl start` on a free port, one fresh database per test, `pg_ctl stop` at the
end. As root it runs them as the `postgres` user (initdb refuses root). tests/conftest.py
holds the fixtures; `benchmarks/bench_storage.py` imports `PostgresServer` from here.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

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
