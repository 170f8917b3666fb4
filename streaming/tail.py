"""Fraud alerts as they arrive on `fraud-alerts`, handed one by one to a callback.

No consumer group: the tail assigns every partition of the topic and starts at its end (only new
alerts) or its beginning, so watching alerts never moves anyone's committed offsets. A record that
is not a JSON object is reported with its partition and offset and skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from kafka import KafkaConsumer, TopicPartition
from rich.text import Text

logger = logging.getLogger(__name__)

# The longest a poll blocks: how soon an idle timeout or Ctrl-C is noticed.
POLL_MS = 500
TOP_REASONS = 3

Alert = dict[str, Any]


@dataclass(frozen=True)
class InvalidRecord:
    """A record on the alerts topic that is not an alert."""

    topic: str
    partition: int
    offset: int
    reason: str


@dataclass(frozen=True)
class TailSummary:
    """How a tail ended: alerts and invalid records seen, and why it stopped."""

    alerts: int
    invalid: int
    stopped: Literal["max_alerts", "idle"]


def _log_invalid(record: InvalidRecord) -> None:
    logger.warning(
        "skipped invalid alert topic=%s partition=%d offset=%d reason=%s",
        record.topic, record.partition, record.offset, record.reason,
    )  # fmt: skip


def parse_alert(value: bytes | None) -> Alert:
    """An alert record's value as a dict.

    Raises:
        ValueError: If the value is not a JSON object (says why).
    """
    if value is None:
        raise ValueError("empty value")
    try:
        alert = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(alert, dict):
        raise ValueError(f"not a JSON object but {type(alert).__name__}")
    return alert


BOOTSTRAP_TIMEOUT_MS = 5_000  # kafka-python waits 30 s for a broker that is not there


def new_consumer(bootstrap: str) -> KafkaConsumer:
    """A consumer without a group, that never commits."""
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="fraud-alerts-tail",
        group_id=None,
        enable_auto_commit=False,
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
    )


def tail(
    consumer_or_bootstrap: KafkaConsumer | str,
    topic: str,
    *,
    from_beginning: bool = False,
    max_alerts: int | None = None,
    idle_timeout_s: float | None = None,
    on_alert: Callable[[Alert], None],
    on_invalid: Callable[[InvalidRecord], None] = _log_invalid,
) -> TailSummary:
    """Hand each alert of `topic` to `on_alert` until enough arrived or none came for a while.

    Args:
        consumer_or_bootstrap: A KafkaConsumer (the tail assigns it the topic's partitions and
            leaves it open) or bootstrap servers (the tail makes one and closes it).
        topic: The alerts topic.
        from_beginning: Start at the oldest alert instead of after the newest.
        max_alerts: Stop after this many alerts; None for no limit.
        idle_timeout_s: Stop after this many seconds without an alert; None to wait for ever
            (until Ctrl-C, which raises KeyboardInterrupt as usual).
        on_alert: Called with each alert's JSON object, in partition order.
        on_invalid: Called with each record that is not a JSON object (default: a warning in
            the log).

    Returns:
        Counts and the reason the tail stopped.

    Raises:
        LookupError: If the topic does not exist.
    """
    own = isinstance(consumer_or_bootstrap, str)
    if isinstance(consumer_or_bootstrap, str):
        consumer = new_consumer(consumer_or_bootstrap)
    else:
        consumer = consumer_or_bootstrap
    try:
        numbers = sorted(consumer.partitions_for_topic(topic))
        partitions = [TopicPartition(topic, number) for number in numbers]
        if not partitions:
            raise LookupError(f"topic {topic!r} does not exist (is the stack up? `fraud stack up`)")
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        for partition in partitions:
            # Resolve the seek now: alerts sent after this call are not skipped.
            consumer.position(partition)
        return _loop(consumer, max_alerts, idle_timeout_s, on_alert, on_invalid)
    finally:
        if own:
            consumer.close()


def _loop(
    consumer: KafkaConsumer,
    max_alerts: int | None,
    idle_timeout_s: float | None,
    on_alert: Callable[[Alert], None],
    on_invalid: Callable[[InvalidRecord], None],
) -> TailSummary:
    alerts = invalid = 0
    last_alert = time.monotonic()
    while max_alerts is None or alerts < max_alerts:
        wait_ms = POLL_MS
        if idle_timeout_s is not None:
            left = idle_timeout_s - (time.monotonic() - last_alert)
            if left <= 0:
                return TailSummary(alerts, invalid, "idle")
            wait_ms = min(POLL_MS, max(1, int(left * 1000)))
        limit = None if max_alerts is None else max_alerts - alerts
        batches = consumer.poll(timeout_ms=wait_ms, max_records=limit)
        for records in batches.values():
            for record in records:
                try:
                    alert = parse_alert(record.value)
                except ValueError as exc:
                    invalid += 1
                    where = (record.topic, record.partition, record.offset)
                    on_invalid(InvalidRecord(*where, str(exc)))
                    continue
                on_alert(alert)
                alerts += 1
                last_alert = time.monotonic()
    return TailSummary(alerts, invalid, "max_alerts")


def _number(value: Any, spec: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value) if value is not None else "?"
    return format(value, spec)


def score_and_threshold(score: Any, threshold: Any) -> tuple[str, str]:
    """The two numbers with 3 decimals, or as many more (up to 8) as tell them apart.

    Thresholds chosen on a validation set are often 0.99-something: at 3 decimals a score of
    0.99962 against 0.9995 would print as "1.000 ≥ 1.000".
    """
    numbers = isinstance(score, int | float) and isinstance(threshold, int | float)
    decimals = 3
    while (
        numbers and score != threshold and decimals < 8
        and format(score, f".{decimals}f") == format(threshold, f".{decimals}f")
    ):  # fmt: skip
        decimals += 1
    spec = f".{decimals}f"
    return _number(score, spec), _number(threshold, spec)


def event_time(value: object) -> str:
    """The alert's event time in UTC, to the second (an event's own time carries the offset of
    where it happened, which shown without it looks hours off); what it is, if not a time."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"


def alert_line(alert: Alert) -> Text:
    """One alert as one line: time (UTC), user, transaction, score vs threshold, model, reasons."""
    line = Text()
    line.append(event_time(alert.get("event_timestamp", "?")), style="dim")
    line.append(f"  {alert.get('user_id', '?')}", style="bold")
    line.append(f"  {alert.get('transaction_id', '?')}")
    score, threshold = score_and_threshold(alert.get("score"), alert.get("threshold"))
    line.append(f"  score {score}", style="bold red")
    line.append(f" ≥ {threshold}", style="dim")
    line.append(f"  {alert.get('model_name', '?')} v{alert.get('model_version', '?')}")
    if alert.get("degraded"):
        line.append("  DEGRADED", style="bold yellow")
    reasons = alert.get("reasons")
    reasons = reasons if isinstance(reasons, list) else []
    shown = [
        f"{r.get('feature', '?')}={_number(r.get('value'), '.6g')}"
        for r in reasons[:TOP_REASONS]
        if isinstance(r, dict)
    ]
    if shown:
        line.append("  " + ", ".join(shown), style="cyan")
    return line
