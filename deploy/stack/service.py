"""What every local service provides, and how `up`/`down`/`status` drive it."""

from __future__ import annotations

import shutil
import signal
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.stack.errors import MissingTool
from deploy.stack.process import ManagedProcess
from deploy.stack.settings import StackSettings


@dataclass(frozen=True)
class Status:
    name: str
    pid: int | None
    healthy: bool
    address: str
    detail: str = ""


class Service(ABC):
    """One server of the stack. Subclasses say how to prepare, run and probe it."""

    name: str
    stop_signal = "SIGTERM"

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.process = ManagedProcess(self.name, settings.service_dir(self.name))

    @property
    def home(self) -> Path:
        return self.process.home

    @abstractmethod
    def ports(self) -> Mapping[str, int]:
        """Setting name -> port, for the port check and its message."""

    @property
    def address(self) -> str:
        return f"{self.settings.host}:{next(iter(self.ports().values()))}"

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """One-time set-up before the first start (format storage, init a database, build)."""

    @abstractmethod
    def argv(self) -> list[str]: ...

    def env(self) -> dict[str, str]:
        return {}

    def run_as(self) -> str | None:
        return None

    @abstractmethod
    def healthy(self) -> bool: ...

    def after_start(self) -> None:  # noqa: B027 - optional hook
        """Runs once the service is healthy (create topics, databases)."""

    def detail(self) -> str:
        return ""

    def up(self) -> str:
        """Start the service unless it already runs; returns what was done."""
        if self.process.pid() is not None:
            if self.healthy():
                self.after_start()
                return "already running"
            self.process.wait_healthy(self.healthy, self.settings.health_timeout_s)
            self.after_start()
            return "was starting; now healthy"
        self.process.check_ports(self.settings.host, self.ports())
        self.prepare()
        self.process.start(self.argv(), env=self.env(), user=self.run_as())
        self.process.wait_healthy(self.healthy, self.settings.health_timeout_s)
        self.after_start()
        return "started"

    def down(self) -> bool:
        return self.process.stop(signal.Signals[self.stop_signal])

    def status(self) -> Status:
        pid = self.process.pid()
        ok = pid is not None and self.healthy()
        return Status(self.name, pid, ok, self.address, self.detail() if ok else "")


def require(program: str, install_hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise MissingTool(f"`{program}` is not installed; {install_hint}")
    return path
