"""Feast's Redis layout as the worker uses it: a store it cannot serve is refused at start-up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from feast.infra.online_stores.redis import RedisOnlineStoreConfig, RedisType

from streaming.feast_io import RedisLayout


def _store(redis_type: RedisType) -> SimpleNamespace:
    online = RedisOnlineStoreConfig(redis_type=redis_type, connection_string="127.0.0.1:1")
    return SimpleNamespace(
        config=SimpleNamespace(project="p", entity_key_serialization_version=3, online_store=online)
    )


def test_a_redis_cluster_store_is_refused_with_what_to_do() -> None:
    with pytest.raises(ValueError, match="Redis Cluster refuses: point the online store"):
        RedisLayout(_store(RedisType.redis_cluster))


@pytest.mark.parametrize("redis_type", [RedisType.redis, RedisType.redis_sentinel])
def test_a_single_redis_or_sentinel_store_is_taken(redis_type: RedisType) -> None:
    assert RedisLayout(_store(redis_type)).project == b"p"
