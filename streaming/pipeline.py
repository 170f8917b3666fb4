"""One batch of Kafka records, from bytes to scores and alerts: the worker's processing step.

For a batch of Kafka records (in partition order, as the intake gives them):
1. decode and validate every record; the invalid ones are dead-lettered, and so are events whose
   time runs more than `MAX_AHEAD_OF_ARRIVAL` ahead of their record's timestamp;
2. apply each user's events to that user's activity state, in order (late and repeated
   transactions are dead-lettered; a record already processed before a restart is skipped);
3. read the users' profiles (cached) and compute the batch's feature rows with the shared code,
   and start pushing each user's latest activity row to Feast;
4. score them on the predictor in one v2 request, or with the fallback rules when it is
   unavailable (`degraded`);
5. write a score record per event, an alert per event at or above the threshold (unless the
   alerts topic already holds one for that transaction), and the dead letters; wait for Kafka to
   acknowledge the records and for Redis to have the rows;
6. only then store the new states, locally and in the changelog (waiting for Kafka again); the
   rows of a push that failed (staged for the retry task) are stored first (`state.PendingRows`).
Kafka offsets are committed by Faust after the batch, so a crash at any point repeats work rather
than losing it, and the ledger keeps a repeat from becoming a second alert. A crash before the
states are stored repeats the batch's events, and with them the push; after, the push was done,
or its rows are in the pending rows' table for the partition's next owner to push.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from feature_repo.activity import US, Activity, Duplicate, TooLate
from feature_repo.events import Transaction
from feature_repo.vectors import batch_features
from streaming import fallback, metrics
from streaming.decode import Rejected, check_arrival, decode
from streaming.feast_io import FeastIO, activity_columns
from streaming.ledger import AlertLedger
from streaming.outbox import Outbox
from streaming.predictor_client import PredictorClient, PredictorUnavailable
from streaming.records import Scored, alert_record, dead_letter, score_record
from streaming.settings import StreamSettings
from streaming.state import PendingRows, Record, StateStore, UserState

log = logging.getLogger(__name__)


@dataclass
class _Accepted:
    message: Any  # the Kafka record (Faust's ConsumerMessage)
    event: Transaction
    activity: Activity
    ts_us: int  # the event's time (computing it from the timestamp costs microseconds)


class Pipeline:
    """Scores batches of `transactions` records; holds no state of its own beyond a batch."""

    def __init__(
        self, settings: StreamSettings, states: StateStore, predictor: PredictorClient,
        feast: FeastIO | None, ledger: AlertLedger, new_producer: Callable[[], Any],
        pending: PendingRows | None = None,
    ) -> None:  # fmt: skip
        self.s = settings
        self.states = states
        self.predictor = predictor
        self.feast = feast
        self.ledger = ledger
        self.new_producer = new_producer  # of aiokafka, made in the worker's loop
        self._outbox: Outbox | None = None
        self.fresh_partitions: set[int] = set()
        self.pending = pending
        self._unpushed: dict[str, int] = {}  # users with an entry in `pending`: their partition
        self._pushes_seen = -1  # `feast.pushes` when the entries were last checked

    def restage(self, partitions: set[int]) -> int:
        """Once Faust has recovered the tables after a rebalance (or at start): stage the rows
        that Redis had not taken in these partitions, for the retry task. Returns their count."""
        if self.pending is None or self.feast is None:
            return 0
        found = self.pending.read(partitions)
        self._unpushed = {user: partition for user, (partition, _, _) in found.items()}
        metrics.FEAST_UNPUSHED.set(len(self._unpushed))
        self._pushes_seen = -1
        self.feast.restage({user: (ts_us, columns) for user, (_, ts_us, columns) in found.items()})
        return len(found)

    def partitions_assigned(self, partitions: set[int]) -> None:
        """After a rebalance: the alerts of these partitions' replayed events must be read back."""
        self.fresh_partitions |= partitions

    async def process(self, records: Sequence[Any]) -> None:
        """Score one batch of records of the transactions topic (see the module docstring)."""
        started = time.time()
        if self._outbox is None:
            producer = self.new_producer()
            await producer.start()
            self._outbox = Outbox(producer)
        valid: list[tuple[Any, Transaction]] = []
        for msg in records:
            result = decode(msg.key, msg.value, self.s.max_event_bytes)
            if not isinstance(result, Rejected):
                result = check_arrival(result, msg.timestamp)
            if isinstance(result, Rejected):
                await self._dead_letter(msg, result)
            else:
                valid.append((msg, result))
        await self._catch_up(records)
        accepted, updated = await self._apply(valid)
        pushing = await self._score_and_emit(accepted, started) if accepted else None
        sent = await self._outbox.submit()
        # Redis has the rows before the states are stored: events applied before a crash are
        # skipped as replays after it, so their rows must not wait for a later push. (A failed
        # push leaves them staged for the timer's retries.)
        await asyncio.gather(*(s.future for s in sent), *([pushing] if pushing else []))
        await self._store(updated)  # after the outputs are acknowledged
        metrics.BATCH_SIZE.observe(len(records))

    async def _store(self, updated: dict[str, UserState]) -> None:
        """Write the new states, locally and to the changelog, and wait for Kafka to have them.

        First, if a push failed, the rows Redis has not taken (so that the states are never
        stored without them), and deletes of the entries of rows it has taken since."""
        pending = self._pending_records(updated)
        if pending:
            assert self.pending is not None  # noqa: S101 - `_pending_records` says so
            await self._write(self.pending.changelog_topic, pending, self.pending.persisted)
        if updated:
            states = self.states.put_many(updated)
            await self._write(self.states.changelog_topic, states, self.states.persisted)

    def _pending_records(self, updated: dict[str, UserState]) -> list[Record]:
        feast, table = self.feast, self.pending
        if feast is None or table is None:
            return []
        records: list[Record] = []
        staged = feast.staged(updated)
        if staged:
            rows = {u: (updated[u].message.partition, *row) for u, row in staged.items()}
            records += table.put_many(rows)
            self._unpushed.update((u, row[0]) for u, row in rows.items())
        if self._unpushed and feast.pushes != self._pushes_seen:
            self._pushes_seen = feast.pushes
            pushed = {u: p for u, p in self._unpushed.items() if not feast.is_staged(u)}
            if pushed:
                records += table.delete_many(pushed)
                for user in pushed:
                    del self._unpushed[user]
        if records:
            metrics.FEAST_UNPUSHED.set(len(self._unpushed))
        return records

    async def _write(
        self, topic: str, records: list[Record], persisted: Callable[[dict[int, int]], None]
    ) -> None:
        """Send a table's changelog records, wait for Kafka to have them, record their offsets."""
        assert self._outbox is not None  # noqa: S101 - made by `process`
        for partition, key, value in records:
            await self._outbox.add(topic, partition, key, value)
        sent = await self._outbox.submit()
        written = await asyncio.gather(*(s.future for s in sent))
        last: dict[int, int] = {}
        for batch, metadata in zip(sent, written, strict=True):
            end = metadata.offset + batch.records - 1
            last[metadata.partition] = max(end, last.get(metadata.partition, end))
        persisted(last)

    async def _catch_up(self, records: Sequence[Any]) -> None:
        if not self.fresh_partitions:
            return
        fresh = [r.timestamp for r in records if r.partition in self.fresh_partitions]
        if fresh:
            # The earliest record of a fresh partition here is where its replay starts.
            await self.ledger.catch_up(int(min(fresh) * 1000))
            self.fresh_partitions -= {r.partition for r in records}

    async def close(self) -> None:
        """Stop the producer (after the last batch)."""
        if self._outbox is not None:
            await self._outbox.producer.stop()
            self._outbox = None

    async def _send(
        self, topic: str, partition: int, key: bytes | None, value: bytes | None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> None:  # fmt: skip
        """Queue a record for this batch's Kafka write, on the source record's partition.

        Scores, alerts and dead letters are keyed by user_id like the transactions they come
        from; putting them on the source partition (modulo the topic's partition count) keeps a
        user's records in order and costs no hashing.
        """
        assert self._outbox is not None  # noqa: S101 - made by `process` before any record
        partitions = await self._outbox.partitions(topic)
        await self._outbox.add(topic, partitions[partition % len(partitions)], key, value, headers)

    async def _apply(
        self, valid: list[tuple[Any, Transaction]]
    ) -> tuple[list[_Accepted], dict[str, UserState]]:
        by_user: dict[str, list[int]] = {}
        for i, (_, event) in enumerate(valid):
            by_user.setdefault(event.user_id, []).append(i)
        accepted: dict[int, _Accepted] = {}
        updated: dict[str, UserState] = {}
        for user, indices in by_user.items():
            first = valid[indices[0]][0]
            state = self.states.get(user, first)
            changed = False
            for i in indices:
                msg, event = valid[i]
                offset = msg.offset
                ts_us = event.epoch_us
                try:
                    activity = state.activity.apply(
                        transaction_id=event.transaction_id, ts_us=ts_us,
                        amount=event.amount, latitude=event.latitude, longitude=event.longitude,
                        merchant_id=event.merchant_id,
                    )  # fmt: skip
                except (TooLate, Duplicate) as exc:
                    if offset <= state.offset:
                        # Applied before a restart or a rebalance (a user's records are applied
                        # in partition order): a replay, whether or not it is in the lateness
                        # window of the user's newer events by now; not a dead letter.
                        metrics.EVENTS.labels("replayed").inc()
                    elif isinstance(exc, TooLate):
                        reason = f"transaction {event.transaction_id} is too late: {exc}"
                        await self._dead_letter(msg, Rejected("too_late", reason))
                    else:
                        reason = f"{exc}: a transaction is scored once; send a new transaction_id"
                        await self._dead_letter(msg, Rejected("duplicate", reason))
                    continue
                state.offset = max(state.offset, offset)
                state.message = msg
                changed = True
                accepted[i] = _Accepted(msg, event, activity, ts_us)
            if changed:
                updated[user] = state
        return [accepted[i] for i in sorted(accepted)], updated

    async def _score_and_emit(
        self, accepted: list[_Accepted], started: float
    ) -> asyncio.Future[int] | None:
        """Score the events and queue their records; returns the push of their activity rows,
        started as soon as the features are known, so that it overlaps the scoring."""
        events = [a.event for a in accepted]
        ts_us = [a.ts_us for a in accepted]
        event_s = [t / US for t in ts_us]
        profiles: list[Any] = [None] * len(events)
        profiles_ok = True
        if self.feast is not None:
            profiles, profiles_ok = await self.feast.profiles([e.user_id for e in events], event_s)
        features = batch_features(events, [a.activity for a in accepted], profiles, ts_us)
        pushing = None
        if self.feast is not None:
            columns = activity_columns(
                features, [e.latitude for e in events], [e.longitude for e in events]
            )
            self.feast.stage([e.user_id for e in events], ts_us, columns)
            pushing = asyncio.ensure_future(self.feast.push())
        featured = time.time()
        try:
            # The alerting rows' reasons come with the scores, in the same request.
            result = await self.predictor.score(features.astype(np.float32), explain="decided")
            scores, version, threshold = result.scores, result.model_version, result.threshold
            model_name, degraded, reasons = self.s.model_name, not profiles_ok, result.reasons
            metrics.PREDICTOR_LATENCY.observe(self.predictor.last_latency_s)
        except PredictorUnavailable as exc:
            metrics.PREDICTOR_ERRORS.labels(
                "breaker_open" if "breaker" in str(exc) else "unavailable"
            ).inc()
            scores, reasons = fallback.fallback_scores(features)
            version, threshold = fallback.MODEL_VERSION, fallback.FALLBACK_THRESHOLD
            model_name, degraded = fallback.MODEL_NAME, True
        scored_at = time.time()
        features_ms = round((featured - started) * 1000, 3)
        scoring_ms = round((scored_at - featured) * 1000, 3)
        results = [
            Scored(
                event=a.event,
                partition=a.message.partition,
                offset=a.message.offset,
                score=score,
                threshold=threshold,
                model_name=model_name,
                model_version=version,
                degraded=degraded,
                features=row,
                scored_at_s=scored_at,
                timings_ms={
                    "ingest_to_batch": round((started - a.message.timestamp) * 1000, 3),
                    "features": features_ms,
                    "scoring": scoring_ms,
                },
            )  # fmt: skip
            for a, score, row in zip(accepted, scores.tolist(), features.tolist(), strict=True)
        ]
        for r in results:
            await self._send(self.s.topic_scores, r.partition, r.key, score_record(r))
        alerts = [i for i, r in enumerate(results) if r.is_alert]
        if alerts:
            await self._alerts(results, alerts, reasons)
        self._observe(results, accepted, degraded, scored_at, np.array(event_s), scores)
        return pushing

    async def _alerts(
        self, results: list[Scored], rows: list[int], reasons: list[list[dict[str, Any]]] | None
    ) -> None:
        """Queue an alert for each of these rows, unless its transaction already has one."""
        due = len(rows)
        rows = [i for i in rows if results[i].event.transaction_id not in self.ledger]
        metrics.ALERTS_SUPPRESSED.inc(due - len(rows))
        for i in rows:
            r = results[i]
            why = reasons[i] if reasons is not None else []
            await self._send(self.s.topic_alerts, r.partition, r.key, alert_record(r, why))
            self.ledger.add(r.event.transaction_id)
            metrics.ALERTS.labels(str(r.degraded).lower()).inc()

    async def _dead_letter(self, msg: Any, rejected: Rejected) -> None:
        metrics.EVENTS.labels("dead_lettered").inc()
        metrics.DEAD_LETTERS.labels(rejected.kind).inc()
        log.info(
            "dead letter partition=%s offset=%s kind=%s reason=%s",
            msg.partition, msg.offset, rejected.kind, rejected.reason,
        )  # fmt: skip
        key, value, headers = dead_letter(
            topic=msg.topic, partition=msg.partition, offset=msg.offset, key=msg.key,
            value=msg.value, kind=rejected.kind, reason=rejected.reason,
        )  # fmt: skip
        await self._send(self.s.topic_dlq, msg.partition, key, value, headers)

    @staticmethod
    def _observe(
        results: list[Scored], accepted: list[_Accepted], degraded: bool, scored_at: float,
        event_s: Any, scores: Any,
    ) -> None:  # fmt: skip
        metrics.EVENTS.labels("degraded" if degraded else "scored").inc(len(results))
        scored_by = "rules" if results[0].model_name == fallback.MODEL_NAME else "model"
        ingested = np.array([a.message.timestamp for a in accepted])
        metrics.INGEST_TO_SCORE.observe_many(scored_by, np.maximum(scored_at - ingested, 0.0))
        metrics.EVENT_TO_SCORE.observe_many(scored_by, np.maximum(scored_at - event_s, 0.0))
        metrics.SCORES.observe_many(results[0].model_version, scores)
