"""Apache Kafka 4 in KRaft mode (one combined broker and controller) from Maven Central jars.

Maven resolves `deploy/local/kafka/pom.xml` into the local Maven repository (~/.m2, outside the
clone) and prints the classpath; the broker runs as `java kafka.Kafka` on it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import subprocess
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from deploy.stack.errors import ServiceFailed
from deploy.stack.process import port_is_free
from deploy.stack.service import Service, require
from deploy.stack.settings import LOCAL_DIR

log = logging.getLogger(__name__)

POM = LOCAL_DIR / "kafka" / "pom.xml"
LOG4J = LOCAL_DIR / "kafka" / "log4j2.properties"
INSTALL_HINT = "run `make system-deps` (Java 17 and Maven)"


def new_cluster_id(random_uuid: Callable[[], uuid.UUID] = uuid.uuid4) -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 without padding.

    Like Kafka's own `Uuid.randomUuid`, never one that starts with "-": the storage tool would
    read `-t -x...` as a missing cluster id and refuse to format (one id in 64 did).
    """
    while True:
        cid = base64.urlsafe_b64encode(random_uuid().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaService(Service):
    name = "kafka"

    def ports(self) -> Mapping[str, int]:
        return {
            "FRAUD_KAFKA_PORT": self.settings.kafka_port,
            "FRAUD_KAFKA_CONTROLLER_PORT": self.settings.kafka_controller_port,
        }

    @property
    def _config(self) -> Path:
        return self.home / "server.properties"

    @property
    def _data(self) -> Path:
        return self.home / "data"

    def classpath(self) -> str:
        """The broker's classpath, resolved by Maven once per version of the pom."""
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
        cached = self.home / f"classpath-{digest}"
        if not cached.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(  # noqa: S603
                [
                    require("mvn", INSTALL_HINT),
                    "-q",
                    "-B",
                    "-f",
                    str(POM),
                    "dependency:build-classpath",
                    f"-Dmdep.outputFile={cached}",
                ],  # fmt: skip
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0 or not cached.exists():
                raise ServiceFailed(
                    self.name, "Maven could not resolve the broker's jars", result.stdout[-3000:]
                )
        return cached.read_text().strip()

    def _write_config(self) -> None:
        s = self.settings
        broker = f"{s.host}:{s.kafka_port}"
        controller = f"{s.host}:{s.kafka_controller_port}"
        self._config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={controller}",
                    f"listeners=PLAINTEXT://{broker},CONTROLLER://{controller}",
                    f"advertised.listeners=PLAINTEXT://{broker},CONTROLLER://{controller}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self._data}",
                    "num.partitions=1",
                    "auto.create.topics.enable=true",
                    # One node: every internal topic has one replica; few partitions keep
                    # group coordination and test start-up fast.
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "",
                ]
            )
        )

    def _java(self) -> list[str]:
        return [
            require("java", INSTALL_HINT),
            f"-Xmx{self.settings.kafka_heap}",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            self.classpath(),
        ]

    def prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._write_config()
        if (self._data / "meta.properties").exists():
            return
        cid = new_cluster_id()
        result = subprocess.run(  # noqa: S603
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cid,
                "-c",
                str(self._config),
            ],  # fmt: skip
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceFailed(
                self.name, "formatting storage failed", result.stdout + result.stderr
            )
        log.info("formatted kafka storage cluster_id=%s", cid)

    def argv(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self._config)]

    def _admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(
            bootstrap_servers=self.settings.kafka_bootstrap,
            client_id="fraud-stack",
            request_timeout_ms=3000,
        )

    def healthy(self) -> bool:
        # A plain TCP probe first: the admin client logs every refused connection as an error.
        if port_is_free(self.settings.host, self.settings.kafka_port):
            return False
        try:
            admin = self._admin()
        except KafkaError:
            return False
        try:
            admin.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            admin.close()

    def after_start(self) -> None:
        create_topics(self._admin(), self.settings.topics)

    def detail(self) -> str:
        admin = self._admin()
        try:
            topics = sorted(t for t in admin.list_topics() if not t.startswith("__"))
        finally:
            admin.close()
        return f"{len(topics)} topics"


def create_topics(admin: KafkaAdminClient, topics: dict[str, int]) -> None:
    """Create those of `topics` (name -> partitions) that do not exist; closes `admin`."""
    try:
        existing = set(admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=partitions, replication_factor=1)
            for name, partitions in topics.items()
            if name not in existing
        ]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", ", ".join(t.name for t in missing))
    finally:
        admin.close()
