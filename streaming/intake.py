"""The transactions topic's records in whole fetches, past Faust's per-record delivery.

Faust hands a fetched record to its agent through four tasks (`Service.wait_first` around the
conductor's callback), a lock, an `Event`, a queue and the stream's iterator: some 100 µs a record
on the 2-core development machine, where a bare `take_events` agent moved 4,300-5,300 records/s
doing nothing else. The worker scores batches anyway, so here the consumer's fetch loop
(`BatchConsumer._drain_messages`) puts each fetched partition's records, as one list, on the
`Intake` queue the worker reads; records of every other topic (table changelogs during recovery)
still take Faust's own path.

What stays Faust's: group membership, assignment, rebalances, table recovery and offset commits.
A record is tracked as unacknowledged when it is put on the queue and acknowledged (its offset
becomes committable) only after its batch is fully written, as Faust's streams do; on a rebalance
Faust's flow control clears the queue when a rebalance starts (`FetchQueue`), and a list
fetched in an earlier consumer generation is dropped when taken (Kafka delivers those records
again from the committed offset).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, cast

import faust
from aiokafka.errors import IllegalStateError  # type: ignore[import-untyped, unused-ignore]
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.utils.queues import FlowControlEvent, FlowControlQueue

log = logging.getLogger(__name__)

QUEUE_FETCHES = 16  # fetched lists waiting for the worker before the fetch loop waits


class FetchQueue(FlowControlQueue[list[Any]]):
    """Fetched lists, cleared when a rebalance starts but not when the flow resumes.

    Faust clears the queues under its flow control when a rebalance starts (flow suspended:
    the revocation then waits for every tracked record, so none may stay queued) and each time
    it resumes the flow. The last resume comes right after recovery has resumed the stream
    partitions and sought them to the committed offsets, and the fetch loop runs meanwhile: a
    list it handed over in between is of the new generation, and its offsets are already read.
    Clearing that list skipped its records for good, and Faust could not commit past them (the
    e2e test of a second worker lost 1,322 of 33,578 transactions so, once in CI). Faust's own
    streams have the same race: faust-streaming/faust#596, open.
    """

    def clear(self) -> None:
        if not self._flow_control.is_active():  # a rebalance's start, not a resume
            super().clear()


class Intake:
    """A queue of fetched record lists of one topic, under Faust's flow control."""

    def __init__(self, app: faust.App, topic: str) -> None:
        self.app = app
        self.topic = topic
        flow_control: FlowControlEvent = app.flow_control
        self.queue = FetchQueue(
            maxsize=QUEUE_FETCHES, flow_control=flow_control, clear_on_resume=True
        )

    def waiting(self) -> int:
        """How many fetched lists wait on the queue (a rebalance's start clears it)."""
        return self.queue.qsize()

    async def put(self, messages: list[Any]) -> None:
        await self.queue.put(messages)

    async def get(self) -> list[Any]:
        """The next list of records fetched in the consumer's current generation."""
        while True:
            messages: list[Any] = await self.queue.get()
            if messages[0].generation_id == self.app.consumer_generation_id:
                return messages
            # Fetched before a rebalance: the partition may be another worker's now. Not held
            # while waiting for the next list, or Faust's revocation would wait for it.
            del messages

    def ack(self, messages: list[Any]) -> None:
        """Make the records' offsets committable (after their batch is fully written)."""
        ack = self.app.consumer.ack
        for message in messages:
            ack(message)


class BatchConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, delivering the intake topic's records a fetch at a time."""

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
        intake: Intake | None = getattr(self.app, "intake", None)
        if intake is None:
            await super()._drain_messages(fetcher)
            return
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                generation = self.app.consumer_generation_id
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records and not self.should_stop:
                    await self._hand_over(intake, records, active, generation)
                del records  # no fetch outlives its hand-over (see `_hand_over`)
                if not self._generation_is(generation):
                    await self._seek_after_rebalance(intake.topic)
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    await self.commit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    def _generation_is(self, generation: int) -> bool:
        return bool(self.app.consumer_generation_id == generation)

    async def _seek_after_rebalance(self, topic: str) -> None:
        """Back to the committed offsets, after a fetch or hand-over that spanned a rebalance.

        Such a fetch may hold records fetched before the rebalance's seek to the committed
        offsets: handed over, they would skip the records between the committed offset and
        them (counted as a gap in the offsets, never processed). So it is dropped (`_hand_over`
        stops at a new generation too), and once the rebalance is over (flow resumes after
        Faust's own seek) the partitions are sought to their committed offsets again: records
        since then come again, and those already applied are skipped as replays.
        """
        while not self.flow_active and not self.should_stop:
            await self.wait(self.can_resume_flow)  # type: ignore[arg-type]  # as Faust's own
        assigned = self.assignment()
        if self.should_stop or not assigned:
            return
        try:
            await self.perform_seek()  # Faust's (it leaves partitions without a commit alone)
            for tp in assigned:
                if tp.topic == topic and not self._committed_offset.get(tp):
                    await self.seek(tp, 0)  # nothing committed: the start (reset: earliest)
        except IllegalStateError:
            # Revoked meanwhile: another rebalance is under way, and this runs again after it.
            log.info("seek after a rebalance interrupted by the next one")

    async def _hand_over(
        self, intake: Intake, records: Mapping[Any, list[Any]], active: Any, generation: int
    ) -> None:
        """One fetch's records to the intake (its topic) or Faust's own path (other topics).

        A separate call so that no reference to the fetch's messages outlives it: Faust tracks
        unacknowledged messages in a weak set, and on a rebalance clears its queues (the
        intake's too) and waits until that set is empty. A message still referenced here (a
        list the intake's queue dropped, or one whose `put` the suspension cancelled) would
        never leave the set, and the revocation would hang: the worker then misses the
        rebalance and its partitions stall until it is evicted from the group.
        """
        read_offset = self._read_offset
        to_message = self._to_message
        track = self.track_message
        inbound = self.app.monitor.stream_inbound_time
        acks_enabled_for = self.app.topics.acks_enabled_for
        fetched_in, generation = generation, self.app.consumer_generation_id
        for tp, fetched in records.items():
            if not self.flow_active or not self._generation_is(generation):
                break
            if tp.topic == intake.topic and fetched_in != generation:
                continue  # sought again after the rebalance; other topics (changelogs) as Faust
            if not (active is None or tp in active or tp in self._buffered_partitions):
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            last = read_offset[tp]
            messages = []
            for record in fetched:
                offset = record.offset
                if last is not None and offset < last:
                    continue  # already delivered (Faust drops these too)
                if last and offset - last > 1 and acks_enabled_for(tp.topic):
                    await self._add_gap(tp, last + 1, offset)
                messages.append(to_message(tp, record))
                last = offset
            if not messages:
                continue
            if tp.topic == intake.topic:
                for message in messages:
                    track(message)
                inbound[tp] = time.monotonic()
                await self.wait_first(intake.put(messages), self.suspend_flow.wait())
            else:
                await self._deliver_one_by_one(messages)
            if not self.flow_active or not self._generation_is(generation):
                break  # maybe not handed over: the records come again from the committed offset
            read_offset[tp] = last

    async def _deliver_one_by_one(self, messages: list[Any]) -> None:
        for message in messages:
            await self.wait_first(self.callback(message), self.suspend_flow.wait())


class BatchTransport(faust_aiokafka.Transport):
    Consumer = BatchConsumer


class ScoringApp(faust.App):
    """A Faust app whose consumer feeds `intake` (when set) a fetch at a time."""

    intake: Intake | None = None

    def _new_transport(self) -> Any:
        return cast(Any, BatchTransport(self.conf.broker_consumer, self))
