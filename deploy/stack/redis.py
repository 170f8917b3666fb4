"""Redis from Debian's `redis-server`: the Feast online store."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from deploy.stack.service import Service, require

APT_HINT = "run `make system-deps` (apt-get install redis-server)"


class RedisService(Service):
    name = "redis"

    def ports(self) -> Mapping[str, int]:
        return {"FRAUD_REDIS_PORT": self.settings.redis_port}

    def argv(self) -> list[str]:
        return [
            require("redis-server", APT_HINT),
            "--bind", self.settings.host,
            "--port", str(self.settings.redis_port),
            "--dir", str(self.home),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def healthy(self) -> bool:
        client = redis.Redis(
            host=self.settings.host, port=self.settings.redis_port, socket_timeout=1
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def detail(self) -> str:
        client = redis.Redis(host=self.settings.host, port=self.settings.redis_port)
        try:
            info: dict[str, object] = client.info("server")  # type: ignore[assignment]
            return f"redis {info['redis_version']}"
        finally:
            client.close()
