"""The batch histogram exposes what prometheus_client's own Histogram would for the same values."""

from __future__ import annotations

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from predictor.batch_histogram import BatchHistogram

BUCKETS = (0.1, 0.5, 0.9)


def test_same_exposition_as_a_plain_histogram() -> None:
    values = np.array([0.05, 0.1, 0.3, 0.5, 0.5, 0.95, 2.0], dtype=np.float32)
    ours_registry, theirs_registry = CollectorRegistry(), CollectorRegistry()
    ours = BatchHistogram("score", "doc", "model_version", BUCKETS, ours_registry)
    theirs = Histogram("score", "doc", ["model_version"], buckets=BUCKETS, registry=theirs_registry)
    ours.observe_many("1", values[:3])
    ours.observe_many("1", values[3:])
    for v in values.tolist():
        theirs.labels("1").observe(v)

    def samples(registry: CollectorRegistry) -> list[str]:
        text = generate_latest(registry).decode().splitlines()
        return sorted(line for line in text if line.startswith("score_") and "created" not in line)

    assert samples(ours_registry) == samples(theirs_registry)
