"""The Faust app: the transactions agent, the state tables, Feast pushes, lag and `/metrics`.

`build_app(settings)` wires everything and returns the app; `fraud stream worker` runs it as a
`faust worker` (faust's own `Worker`), so partitions, rebalancing, changelogs, table recovery and
offset commits are Faust's. The transactions topic's records reach the agent a fetch at a time
(`intake.py`); it scores them in batches of up to `batch_max` records or `linger_ms`, whichever
comes first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped, unused-ignore]
from mode import CrashingSupervisor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streaming import metrics
from streaming.batcher import Batcher
from streaming.feast_io import FeastIO
from streaming.intake import Intake, ScoringApp
from streaming.ledger import AlertLedger
from streaming.monitor import BatchMonitor
from streaming.pipeline import Pipeline
from streaming.predictor_client import PredictorClient
from streaming.settings import StreamSettings
from streaming.state import PendingRows, StateStore

log = logging.getLogger(__name__)

TABLE = "user-activity"
PENDING_TABLE = "pending-activity-rows"  # rows Redis has not taken (`state.PendingRows`)
LAG_INTERVAL_S = 5.0


def build_app(settings: StreamSettings) -> ScoringApp:
    """The worker's Faust app, configured from `settings`."""
    app = ScoringApp(
        settings.app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.store,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),  # Faust's is 3 s
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_bind=settings.web_host,
        producer_linger=0.01,  # Faust's own records only: outbox.py writes scores and changelog
        stream_buffer_maxsize=max(4096, 2 * settings.batch_max),
        Monitor=BatchMonitor,
    )
    source = app.topic(
        settings.topic_transactions, key_type=bytes, value_type=bytes,
        key_serializer="raw", value_serializer="raw", partitions=settings.partitions,
    )  # fmt: skip
    # Values are the JSON bytes of `state.UserState`, made and read by `state.py` (bytes: raw).
    table = app.Table(TABLE, key_type=str, value_type=bytes, partitions=settings.partitions)
    intake = app.intake = Intake(app, settings.topic_transactions)
    feast = (
        FeastIO.open(
            settings.feature_data,
            settings.redis_connection,
            settings.feast_project,
            ttl_s=settings.profile_cache_ttl_s,
            size=settings.profile_cache_size,
        )  # fmt: skip
        if settings.feature_data is not None
        else None
    )
    predictor = PredictorClient(
        settings.predictor_url, settings.model_name, timeout_s=settings.predictor_timeout_s,
        attempts=settings.predictor_attempts, breaker_failures=settings.breaker_failures,
        breaker_reset_s=settings.breaker_reset_s,
        on_state=lambda state: metrics.BREAKER_OPEN.set(0 if state == "closed" else 1),
    )  # fmt: skip

    pending = None
    if feast is not None:
        pending_table = app.Table(
            PENDING_TABLE, key_type=str, value_type=bytes, partitions=settings.partitions
        )
        pending = PendingRows(pending_table)

        @pending_table.on_recover
        async def restage() -> None:
            # After every rebalance's recovery, before the agent gets a record.
            ours = {
                tp.partition
                for tp in app.assignor.assigned_actives()
                if tp.topic == settings.topic_transactions
            }
            try:
                found = pipeline.restage(ours)
            except Exception as exc:  # Faust drops a callback's error: stop, do not lose rows
                await app.crash(exc)
                raise
            if found:
                log.warning("rows restaged: %d activity rows Redis had not taken", found)

    pipeline = Pipeline(
        settings, StateStore(table), predictor, feast,
        AlertLedger(settings.kafka_bootstrap, settings.topic_alerts, settings.replay_margin_s),
        lambda: new_producer(settings), pending,
    )  # fmt: skip

    # A bug in processing stops the worker (for its supervisor to restart from the committed
    # offsets): Faust's default would restart the agent past the batch that failed.
    # The agent subscribes the topic; its records come from the intake, not the stream.
    @app.agent(source, name="score-transactions", supervisor_strategy=CrashingSupervisor)
    async def score(stream: Any) -> None:
        batcher = Batcher(
            pipeline.process, settings.batch_max, settings.linger_s, intake.ack,
            waiting=intake.waiting,
        )  # fmt: skip
        linger = asyncio.ensure_future(batcher.run_linger())
        try:
            while True:
                fetched = asyncio.ensure_future(intake.get())
                await asyncio.wait({fetched, linger}, return_when=asyncio.FIRST_COMPLETED)
                if linger.done():
                    fetched.cancel()
                    linger.result()  # a failed batch: raise it here, to stop the worker
                await batcher.add(fetched.result())
        finally:
            linger.cancel()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # mode's signal typing
    async def on_assigned(sender: Any, assigned: set[Any], **_: Any) -> None:
        ours = {tp.partition for tp in assigned if tp.topic == settings.topic_transactions}
        log.info("partitions assigned transactions=%s", sorted(ours))
        pipeline.partitions_assigned(ours)

    @app.task  # type: ignore[untyped-decorator]
    async def push_features() -> None:
        # Each batch pushes its rows (`Pipeline.process`); this retries the rows that a failed
        # push left staged, PUSH_INTERVAL_S after each try ends (not a Faust timer, which runs
        # tries that outlast the interval back to back and warns about each).
        while feast is not None and not app.should_stop:
            await asyncio.sleep(settings.push_interval_s)
            await feast.flush()

    @app.timer(LAG_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def consumer_lag() -> None:
        # During a rebalance a partition may have no position or highwater yet: skip it.
        consumer = app.consumer
        for tp in list(consumer.assignment()):
            if tp.topic != settings.topic_transactions:
                continue
            position, highwater = await consumer.position(tp), consumer.highwater(tp)
            if position is not None and highwater is not None:
                metrics.CONSUMER_LAG.labels(str(tp.partition)).set(max(highwater - position, 0))

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        # aiohttp takes the charset apart from the content type.
        return web.bytes(
            generate_latest(metrics.REGISTRY), content_type=CONTENT_TYPE_LATEST.split(";")[0]
        )

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's signal typing
    async def close(sender: Any, **_: Any) -> None:
        if feast is not None:
            await feast.flush()
            await feast.aclose()
        await predictor.aclose()
        await pipeline.close()

    return app


def new_producer(settings: StreamSettings) -> AIOKafkaProducer:
    """The producer of scores, alerts, dead letters and the table's changelog (`outbox.py`).

    Acknowledged by every replica and idempotent, so a retried batch is not written twice; a
    batch is closed when the worker submits it, so no linger.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{settings.app_id}-outbox",
        acks="all",
        enable_idempotence=True,
        max_batch_size=1024 * 1024,
    )
