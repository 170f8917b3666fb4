"""The local stack as a whole: which services, in which order they start and stop."""

from __future__ import annotations

from collections.abc import Sequence

from deploy.stack.kafka import KafkaService
from deploy.stack.postgres import PostgresService
from deploy.stack.prometheus import PrometheusService
from deploy.stack.redis import RedisService
from deploy.stack.registry import RegistryService
from deploy.stack.service import Service, Status
from deploy.stack.settings import StackSettings

# Start order: the registry needs PostgreSQL; stop in reverse.
SERVICE_TYPES: tuple[type[Service], ...] = (
    KafkaService,
    RedisService,
    PostgresService,
    RegistryService,
    PrometheusService,
)
NAMES = tuple(t.name for t in SERVICE_TYPES)


class Stack:
    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.services = {t.name: t(settings) for t in SERVICE_TYPES}

    def select(self, names: Sequence[str] | None) -> list[Service]:
        if not names:
            return list(self.services.values())
        unknown = sorted(set(names) - set(self.services))
        if unknown:
            raise ValueError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}"
            )
        wanted = set(names)
        if "registry" in wanted:
            wanted.add("postgres")
        return [s for s in self.services.values() if s.name in wanted]

    def status(self) -> list[Status]:
        return [s.status() for s in self.services.values()]
