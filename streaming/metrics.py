"""Every metric of the stream worker, in its own registry, served on the worker's `/metrics`.

A registry of its own, so that the worker's page shows the worker (and not, say, the predictor's
metrics that come along with an import). Labels are bounded: outcomes, kinds, model versions,
partitions of one topic; never a user or a transaction.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from predictor.batch_histogram import BatchHistogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Scoring is milliseconds when healthy and up to a few seconds when the predictor times out and
# retries; event time also lags when a producer replays a backlog, hence the long tail to an hour.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 3600.0,
)  # fmt: skip
# Powers of two up to the largest batch the settings allow.
BATCH_BUCKETS = tuple(float(2**k) for k in range(13))
SCORE_BUCKETS = tuple(round(0.05 * k, 2) for k in range(1, 20)) + (0.99, 1.0)

EVENTS = Counter(
    "fraud_stream_events_total",
    "Events taken from the transactions topic, by outcome: scored (by the model), degraded "
    "(by the fallback rules), dead_lettered, replayed (applied before a restart or rebalance).",
    ["outcome"],
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "fraud_stream_dead_letters_total", "Events sent to the DLQ, by kind.", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
# Per-event histograms take a whole batch at once (predictor.batch_histogram), by who scored it.
EVENT_TO_SCORE = BatchHistogram(
    "fraud_stream_event_time_to_score_seconds",
    "From the event's own timestamp to its score being written, by scorer (model or rules).",
    "scored_by",
    LATENCY_BUCKETS,
    registry=REGISTRY,
)
INGEST_TO_SCORE = BatchHistogram(
    "fraud_stream_ingest_to_score_seconds",
    "From the record's Kafka timestamp (when it was produced) to its score being written.",
    "scored_by",
    LATENCY_BUCKETS,
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "fraud_stream_batch_size", "Events per scored batch.", buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)  # fmt: skip
PREDICTOR_LATENCY = Histogram(
    "fraud_stream_predictor_request_seconds",
    "One successful v2 request to the predictor, send to answer.",
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
PREDICTOR_ERRORS = Counter(
    "fraud_stream_predictor_errors_total",
    "Batches the predictor did not score: unavailable (after retries) or breaker_open.",
    ["kind"],
    registry=REGISTRY,
)
BREAKER_OPEN = Gauge(
    "fraud_stream_predictor_breaker_open", "1 while the circuit breaker is open or half-open.",
    registry=REGISTRY,
)  # fmt: skip
ALERTS = Counter(
    "fraud_stream_alerts_total", "Alerts written, by whether the fallback scored them.",
    ["degraded"], registry=REGISTRY,
)  # fmt: skip
ALERTS_SUPPRESSED = Counter(
    "fraud_stream_alerts_suppressed_total",
    "Alerts not written again because the alerts topic already holds them (replay after a crash).",
    registry=REGISTRY,
)
SCORES = BatchHistogram(
    "fraud_stream_score", "Scores written, by model version.", "model_version", SCORE_BUCKETS,
    registry=REGISTRY,
)  # fmt: skip
CONSUMER_LAG = Gauge(
    "fraud_stream_consumer_lag_records",
    "Records of the transactions topic not yet processed, per assigned partition.",
    ["partition"],
    registry=REGISTRY,
)
FEAST_PUSH = Histogram(
    "fraud_stream_feast_push_seconds", "One push of activity rows to Feast's push source.",
    buckets=LATENCY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
FEAST_ROWS = Counter(
    "fraud_stream_feast_pushed_rows_total", "Activity rows pushed (the latest per user per push).",
    registry=REGISTRY,
)  # fmt: skip
FEAST_ERRORS = Counter(
    "fraud_stream_feast_errors_total", "Failed pushes or profile reads.", ["operation"],
    registry=REGISTRY,
)  # fmt: skip
FEAST_UNPUSHED = Gauge(
    "fraud_stream_feast_unpushed_rows",
    "Users whose latest activity row Redis has not taken: kept in the pending rows' table.",
    registry=REGISTRY,
)  # fmt: skip
PROFILE_CACHE = Counter(
    "fraud_stream_profile_cache_total", "Profile lookups by result (hit or miss).", ["result"],
    registry=REGISTRY,
)  # fmt: skip
GC_PAUSE = Histogram(
    "fraud_stream_gc_pause_seconds", "Python garbage collections (scoring stops meanwhile).",
    ["generation"], buckets=LATENCY_BUCKETS, registry=REGISTRY,
)  # fmt: skip
