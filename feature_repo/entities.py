"""Feast entities: the card holder every feature is keyed by."""

from __future__ import annotations

from feast import Entity, ValueType


def user_entity() -> Entity:
    return Entity(
        name="user",
        join_keys=["user_id"],
        value_type=ValueType.STRING,
        description="A card holder; the Kafka key of `transactions`.",
    )
