"""Session fixtures that use the running local stack, or start the services a test needs.

A service that is already healthy (e.g. after `make stack-up`) is used as it is and left running;
one that a fixture starts is stopped at the end of the session, by its process id. Each test gets
its own topics and consumer groups, so tests never see each other's records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from deploy.stack import Service, Stack, StackSettings


@pytest.fixture(scope="session")
def stack_settings() -> StackSettings:
    return StackSettings()


class _Services:
    """Starts services on first use and remembers which ones it started."""

    def __init__(self, settings: StackSettings) -> None:
        self.stack = Stack(settings)
        self.started: list[Service] = []

    def ensure(self, *names: str) -> None:
        for service in self.stack.select(list(names)):
            if service.process.pid() is not None and service.healthy():
                continue
            outcome = service.up()
            if outcome == "started":
                self.started.append(service)

    def stop_started(self) -> None:
        for service in reversed(self.started):
            service.down()


@pytest.fixture(scope="session")
def services(stack_settings: StackSettings) -> Iterator[_Services]:
    svc = _Services(stack_settings)
    yield svc
    svc.stop_started()


@pytest.fixture(scope="session")
def kafka_bootstrap(services: _Services, stack_settings: StackSettings) -> str:
    services.ensure("kafka")
    return stack_settings.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(services: _Services, stack_settings: StackSettings) -> str:
    services.ensure("redis")
    return stack_settings.redis_url


@pytest.fixture(scope="session")
def registry_url(services: _Services, stack_settings: StackSettings) -> str:
    services.ensure("registry")
    return stack_settings.registry_url


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Creates topics private to one test and deletes them afterwards."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="tests")
    created: list[str] = []

    def make(prefix: str = "t", partitions: int = 1) -> str:
        name = unique(prefix)
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        created.append(name)
        return name

    yield make
    existing = set(admin.list_topics())
    leftovers = [t for t in existing if any(t.startswith(c) for c in created)]
    if leftovers:
        admin.delete_topics(leftovers)
    admin.close()


@pytest.fixture
def group_id() -> str:
    return unique("group")
