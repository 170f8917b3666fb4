"""Start, track and stop one local server process through a pid file in its own folder."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from deploy.stack.errors import PortInUse, ServiceFailed

log = logging.getLogger(__name__)

# Servers started by this interpreter, kept so that they can be reaped when stopped (and so that
# Popen does not warn about a child it thinks was forgotten). Other runs find them by pid file.
_children: dict[int, subprocess.Popen[bytes]] = {}


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by us) is not alive.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
            return False
    return True


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class ManagedProcess:
    """A server process of the stack: its folder holds `pid`, `log` and its data."""

    name: str
    home: Path

    @property
    def pid_file(self) -> Path:
        return self.home / "pid"

    @property
    def log_file(self) -> Path:
        return self.home / "log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def check_ports(self, host: str, ports: Mapping[str, int]) -> None:
        for setting, port in ports.items():
            if not port_is_free(host, port):
                raise PortInUse(self.name, port, setting)

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> int:
        self.home.mkdir(parents=True, exist_ok=True)
        log.info("starting service=%s argv=%s", self.name, " ".join(argv))
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, never from input
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd or self.home,
                env={**os.environ, **(env or {})},
                user=user,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        _children[proc.pid] = proc
        return proc.pid

    def wait_healthy(self, healthy: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise ServiceFailed(self.name, "exited during start-up", tail(self.log_file))
            if healthy():
                return
            time.sleep(0.3)
        raise ServiceFailed(self.name, f"not healthy after {timeout_s:.0f}s", tail(self.log_file))

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> bool:
        """Stop the process this folder's pid file names. True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        log.info("stopping service=%s pid=%d", self.name, pid)
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.2)
        if pid_alive(pid):
            log.warning("service=%s pid=%d ignored %s; killing", self.name, pid, sig.name)
            os.kill(pid, signal.SIGKILL)
        child = _children.pop(pid, None)
        if child is not None:
            child.wait()
        self.pid_file.unlink(missing_ok=True)
        return True
