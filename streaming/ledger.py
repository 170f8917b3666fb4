"""Which transactions already have an alert: the alerts topic itself, read back after a handover.

Outputs are written before offsets are committed (at least once), so after a crash, or when a
partition moves to another worker, events from the last committed offset on are processed again,
and some of them may already have alerts in `fraud-alerts`. Those alerts were written after the
replayed events reached Kafka. So when a worker sees the first event of a newly assigned
partition, whose Kafka timestamp is T, it reads the alerts topic from T (less a margin for
producers' clocks) to its end before writing any alert, and writes none whose transaction is
there. Alerts it writes itself are remembered as they go. Kafka transactions would make this
atomic, but would also hold every score back until a transaction commits; this keeps scores
immediate and alerts at most once.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

log = logging.getLogger(__name__)

CAPACITY = 1_000_000  # transaction ids remembered; far more than one replay can need


class AlertLedger:
    """Transaction ids with an alert in the alerts topic, as far as this worker has read it."""

    def __init__(self, bootstrap: str, topic: str, margin_s: float) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.margin_ms = int(margin_s * 1000)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, transaction_id: str) -> bool:
        return transaction_id in self._ids

    def add(self, transaction_id: str) -> None:
        self._ids[transaction_id] = None
        if len(self._ids) > CAPACITY:
            self._ids.popitem(last=False)

    async def catch_up(self, since_ms: int) -> int:
        """Read the alerts written since `since_ms` (less the margin) up to the topic's end."""
        started = time.monotonic()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        read = 0
        try:
            tps = [TopicPartition(self.topic, p) for p in await self._partitions()]
            if not tps:
                return 0
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.offsets_for_times(
                {tp: max(since_ms - self.margin_ms, 0) for tp in tps}
            )
            todo = {}
            for tp in tps:
                found = starts.get(tp)
                if found is not None and found.offset < ends[tp]:
                    consumer.seek(tp, found.offset)
                    todo[tp] = ends[tp]
            while todo:
                batches = await consumer.getmany(*todo, timeout_ms=1000, max_records=5000)
                for records in batches.values():
                    read += len(records)
                    for record in records:
                        self._remember(record.value)
                for tp in list(todo):
                    # The position, not the last record: the log may end in control records.
                    if await consumer.position(tp) >= todo[tp]:
                        del todo[tp]
        finally:
            await consumer.stop()
        log.info(
            "alert ledger caught up since_ms=%d read=%d took_s=%.3f",
            since_ms, read, time.monotonic() - started,
        )  # fmt: skip
        return read

    async def _partitions(self) -> list[int]:
        # A consumer without a group knows no topic's partitions until it is assigned some, so
        # ask the cluster. A missing topic is an error: alerts could not be checked at all.
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            (described,) = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        if described["error_code"] != 0:
            raise RuntimeError(
                f"alerts topic {self.topic!r} cannot be described (error "
                f"{described['error_code']}): create it, or set FRAUD_STREAM_TOPIC_ALERTS"
            )
        return sorted(p["partition"] for p in described["partitions"])

    def _remember(self, value: bytes | None) -> None:
        try:
            transaction_id = orjson.loads(value or b"")["transaction_id"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return  # not one of ours: another writer's record cannot be a repeat of ours
        self.add(str(transaction_id))
