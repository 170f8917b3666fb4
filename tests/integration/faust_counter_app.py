"""A minimal Faust app for the worker-restart test: counts events per key in a changelogged table.

Configured by environment variables set by the test (each run gets its own app id and topics).
The table lives in memory only, so after a restart its contents can come from nowhere but the
changelog topic.
"""

from __future__ import annotations

import os

import faust

app = faust.App(
    os.environ["COUNTER_APP_ID"],
    broker=f"kafka://{os.environ['COUNTER_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["COUNTER_DATADIR"],
    topic_partitions=1,
    topic_replication_factor=1,
    commit_interval=0.5,
    web_host="127.0.0.1",
    web_port=int(os.environ["COUNTER_WEB_PORT"]),
)
# Plain bytes on the wire, so the test reads and writes the topics with any Kafka client.
source = app.topic(
    os.environ["COUNTER_IN"], key_type=bytes, value_type=bytes, value_serializer="raw"
)
sink = app.topic(
    os.environ["COUNTER_OUT"], key_type=bytes, value_type=bytes, value_serializer="raw"
)
# Typed keys and values: the changelog is written and recovered as JSON.
counts = app.Table("counts", default=int, key_type=str, value_type=int, partitions=1)


@app.agent(source)
async def count(stream: faust.StreamT[bytes]) -> None:
    async for key, _value in stream.items():
        user = key.decode()
        counts[user] += 1
        await sink.send(key=key, value=str(counts[user]).encode())
