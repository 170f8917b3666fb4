"""`fraud demo`: send a few transactions through the local Kafka and show them coming back.

This is the foundation's demo: it proves the broker, the topics and both Kafka clients work end to
end. The scoring pipeline replaces it as it lands.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from rich.console import Console
from rich.table import Table

from deploy.stack.settings import StackSettings

console = Console()

CITIES = {"Berlin": (52.52, 13.405), "Lisbon": (38.722, -9.139), "Warsaw": (52.23, 21.012)}
CATEGORIES = ("grocery", "fuel", "restaurant", "electronics", "travel")


def sample_transactions(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Transactions in the event schema of DESIGN.md, spread over a few users and cities."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, 9, tzinfo=UTC)
    events = []
    for i in range(count):
        lat, lon = CITIES[rng.choice(sorted(CITIES))]
        events.append(
            {
                "schema_version": 1,
                "transaction_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "user_id": f"user_{rng.randrange(5)}",
                "amount": round(rng.lognormvariate(3.2, 0.8), 2),
                "currency": "EUR",
                "merchant_id": f"merchant_{rng.randrange(40)}",
                "merchant_category": rng.choice(CATEGORIES),
                "timestamp": (start + timedelta(minutes=7 * i)).isoformat(),
                "latitude": round(lat + rng.uniform(-0.05, 0.05), 5),
                "longitude": round(lon + rng.uniform(-0.05, 0.05), 5),
                "channel": rng.choice(("online", "pos", "atm")),
                "used_chip": rng.random() < 0.7,
                "used_pin": rng.random() < 0.5,
            }
        )
    return events


def run(
    count: int = typer.Option(8, min=1, max=1000, help="How many transactions to send."),
) -> None:
    """Send COUNT sample transactions to the `transactions` topic and read them back."""
    settings = StackSettings()
    topic = settings.topic_transactions
    events = sample_transactions(count)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    sent: dict[str, tuple[int, int]] = {}
    for event in events:
        meta = producer.send(topic, key=event["user_id"].encode(), value=orjson.dumps(event)).get(
            timeout=30
        )
        sent[event["transaction_id"]] = (meta.partition, meta.offset)
    producer.close()
    console.print(
        f"sent {len(sent)} transactions to [bold]{topic}[/bold] at {settings.kafka_bootstrap}"
    )

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    partitions = {p for p, _ in sent.values()}
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    for tp in assigned:
        consumer.seek(tp, min(o for p, o in sent.values() if p == tp.partition))
    table = Table(
        "partition", "offset", "transaction_id", "user", "amount", "channel", "event time"
    )
    seen = 0
    for record in consumer:
        event = orjson.loads(record.value)
        if sent.get(event["transaction_id"]) != (record.partition, record.offset):
            continue
        table.add_row(
            str(record.partition),
            str(record.offset),
            event["transaction_id"][:8],
            event["user_id"],
            f"{event['amount']:.2f} {event['currency']}",
            event["channel"],
            event["timestamp"][:16],
        )
        seen += 1
        if seen == len(sent):
            break
    consumer.close()
    console.print(table)
    if seen != len(sent):
        console.print(f"[red]only {seen} of {len(sent)} transactions came back[/red]")
        raise typer.Exit(1)
    console.print(f"[green]all {seen} transactions came back through Kafka[/green]")
