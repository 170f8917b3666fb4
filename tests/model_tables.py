"""Small labelled tables for model tests: the spec's features, a learnable rule, event times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from feature_repo.spec import FEATURE_NAMES


def spec_table(rows: int = 6000, seed: int = 0, positives: float = 0.03) -> pd.DataFrame:
    """Rows with every spec feature; fraud depends on amount ratio, speed and merchant novelty."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    risk = (
        1.5 * frame["amount_to_median_ratio"]
        + 1.2 * frame["speed_from_last_kmh"]
        - 1.0 * frame["merchant_seen_30d"]
        + rng.normal(scale=0.8, size=rows)
    )
    frame["is_fraud"] = (risk > np.quantile(risk, 1 - positives)).astype(int)
    frame["event_timestamp"] = pd.Timestamp("2026-09-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 60 * 86400, rows)), unit="s"
    )
    frame["fraud_pattern"] = np.where(frame["is_fraud"] == 1, "spend_spike", "none")
    return frame
