"""Every metric the predictor exports, beside KServe's own `request_*_seconds` histograms.

They live in prometheus_client's default registry, which KServe serves on `/metrics`. Labels are
bounded: `model_version` (one per deployed version, a handful a month), `protocol`, `reason`
and `outcome` (fixed sets); never a user or transaction id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from predictor.batch_histogram import BatchHistogram

# Scores are probabilities and nearly all traffic is legitimate: fine buckets near 0 show drift in
# the bulk, and the upper ones bracket usual decision thresholds (0.3 to 0.9).
SCORE_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
# An online read is one Redis pipeline on loopback: ~1 ms; the upper buckets catch a struggling
# Redis before the retries give up.
LOOKUP_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

SCORE = BatchHistogram(
    "fraud_predictor_score",
    "Fraud probability of every scored row.",
    "model_version",
    SCORE_BUCKETS,
)
ROWS = Counter(
    "fraud_predictor_rows_total",
    "Rows scored, by protocol (v1_user, v1_instances, v2).",
    ["protocol"],
)
FLAGGED = Counter(
    "fraud_predictor_flagged_total",
    "Rows whose score reached the model's threshold.",
    ["model_version"],
)
MODEL_INFO = Gauge(
    "fraud_predictor_model_info",
    "1 for the model version serving now (0 for versions it replaced).",
    ["model_version", "feature_spec_hash", "threshold"],
)
FEAST_LOOKUP = Histogram(
    "fraud_predictor_feast_lookup_seconds",
    "Latency of one online read from Feast (profile + latest activity), cache misses only.",
    buckets=LOOKUP_BUCKETS,
)
FEATURE_CACHE = Counter(
    "fraud_predictor_feature_cache_total",
    "Online feature lookups per user, by result (hit, miss).",
    ["result"],
)
REFUSED = Counter(
    "fraud_predictor_refused_requests_total",
    "Requests answered 4xx/503, by reason (schema, shape, dtype, nan, empty, too_large, "
    "unknown_user, model_unavailable, features_unavailable, ...).",
    ["reason"],
)
RELOADS = Counter(
    "fraud_predictor_model_reloads_total",
    "Attempts to load a model version, by outcome (loaded, refused_artifact, "
    "refused_features, registry_error).",
    ["outcome"],
)
