"""The batch data set: users, merchants, transactions and labels, written as four parquet files.

`generate` runs `fraud.simulate` chunk by chunk over the whole period, adds arrival delays and
chargeback labels (`records.py`), and writes the files. Same arguments, same bytes: every random
number comes from a Generator seeded by (seed, stream, chunk), and nothing reads the clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]  # no type information
from rich.progress import Progress

from batch_pipeline.data.events import DAY, Events, Window
from batch_pipeline.data.fraud import PATTERNS as PATTERNS  # re-exported for existing importers
from batch_pipeline.data.fraud import simulate
from batch_pipeline.data.records import (
    ALLOWED_LATENESS_S,
    arrival_delays_us,
    labels_table,
    merchants_table,
    transaction_ids,
    transactions_table,
    users_table,
)
from batch_pipeline.data.world import (
    STREAM_ARRIVAL,
    STREAM_CHUNK,
    STREAM_LABELS,
    build_world,
    make_rng,
)

logger = logging.getLogger(__name__)

CHUNK_USERS = 2_000


@dataclass(frozen=True)
class PatternStats:
    """How many transactions of one fraud pattern, and their share of all transactions."""

    pattern: str
    transactions: int
    rate: float


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote."""

    users: int
    merchants: int
    days: int
    transactions: int
    fraud_transactions: int
    fraud_rate: float
    patterns: tuple[PatternStats, ...]
    late_events: int  # arrived after later events, within ALLOWED_LATENESS_S
    too_late_events: int  # arrived beyond ALLOWED_LATENESS_S: the pipeline rejects them
    users_path: Path
    merchants_path: Path
    transactions_path: Path
    labels_path: Path

    def by_pattern(self) -> dict[str, int]:
        """Fraud transactions per pattern name."""
        return {p.pattern: p.transactions for p in self.patterns}


def check_arguments(users: int, days: int, drift_from: int | None) -> None:
    """Raise ValueError saying what to fix when the world cannot be generated."""
    if users < 1:
        raise ValueError(f"users must be at least 1, got {users}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if drift_from is not None and not 0 <= drift_from < days:
        raise ValueError(f"drift day must be between 0 and {days - 1} (days - 1), got {drift_from}")


def generate(
    users: int,
    days: int,
    seed: int,
    out: Path,
    start: date = date(2026, 9, 1),
    drift_from: int | None = None,
    progress: bool = True,
) -> GenerationSummary:
    """Simulate a world and write users, merchants, transactions and labels as parquet.

    Args:
        users: Number of card holders.
        days: Length of simulated time, whole days from `start` (UTC midnight).
        seed: Everything follows from it: same arguments, byte-identical files.
        out: Folder for users/merchants/transactions/labels.parquet (created if missing).
        start: First simulated day.
        drift_from: Day (0-based) from which the world drifts (new `atm_cashout` fraud, honest
            amounts up ~30%, more online spending); None for a stationary world.
        progress: Show a progress bar on the terminal.

    Returns:
        Counts, rates and the paths written.

    Raises:
        ValueError: If an argument is out of range.
    """
    check_arguments(users, days, drift_from)
    world = build_world(users, seed, start)
    window = Window((start - date(1970, 1, 1)).days * DAY, days)
    chunks = range(0, users, CHUNK_USERS)
    parts, ids = [], []
    with Progress(disable=not progress) as bar:
        task = bar.add_task("Simulating", total=len(chunks) + 1)
        for c, lo in enumerate(chunks):
            rng = make_rng(seed, STREAM_CHUNK, c)
            part = simulate(
                world, range(lo, min(lo + CHUNK_USERS, users)), window, rng, 1.0, drift_from
            )
            parts.append(part)
            ids.append(transaction_ids(seed, c, len(part)))
            bar.advance(task)
        bar.update(task, description="Writing parquet")
        events, id_values = Events.concat(parts), np.concatenate(ids)
        order = np.lexsort((id_values, events.ts))
        events, id_values = events.take(order), id_values[order]
        delay = arrival_delays_us(make_rng(seed, STREAM_ARRIVAL), len(events))
        transactions = transactions_table(world, events, id_values, events.ts * 1_000_000 + delay)
        labels = labels_table(transactions["transaction_id"], events, make_rng(seed, STREAM_LABELS))
        out.mkdir(parents=True, exist_ok=True)
        paths = [
            out / f"{name}.parquet" for name in ("users", "merchants", "transactions", "labels")
        ]
        for table, path in zip(
            (users_table(world), merchants_table(world), transactions, labels), paths, strict=True
        ):
            pq.write_table(table, path, compression="zstd")
        bar.advance(task)

    counts = np.bincount(events.pattern, minlength=len(PATTERNS))
    n = max(len(events), 1)
    summary = GenerationSummary(
        users=users,
        merchants=world.merchants,
        days=days,
        transactions=len(events),
        fraud_transactions=int(counts[1:].sum()),
        fraud_rate=float(counts[1:].sum() / n),
        patterns=tuple(
            PatternStats(name, int(counts[i]), float(counts[i] / n))
            for i, name in enumerate(PATTERNS)
            if i > 0 and (name != "atm_cashout" or drift_from is not None)
        ),
        late_events=int(((delay > 2_000_000) & (delay <= ALLOWED_LATENESS_S * 1_000_000)).sum()),
        too_late_events=int((delay > ALLOWED_LATENESS_S * 1_000_000).sum()),
        users_path=paths[0],
        merchants_path=paths[1],
        transactions_path=paths[2],
        labels_path=paths[3],
    )
    logger.info(
        "generated users=%d transactions=%d fraud_rate=%.4f out=%s",
        users, summary.transactions, summary.fraud_rate, out,
    )  # fmt: skip
    return summary
