"""Load a labelled table, check it, choose its features and split it in time (or stratified)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from batch_pipeline.model.errors import DataError
from feature_repo.spec import FEATURE_NAMES

MIN_ROWS = 200
MIN_POSITIVES = 10
# Columns of our training set that describe a row but are not features.
NOT_FEATURES = {"transaction_id", "user_id", "label_available_at", "fraud_pattern"}


@dataclass(frozen=True)
class Split:
    """Row positions of each part, and the time window each covers (when split in time)."""

    train: npt.NDArray[np.int64]
    validation: npt.NDArray[np.int64]
    test: npt.NDArray[np.int64]
    windows: dict[str, tuple[str, str]]


def load_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path} does not exist")
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet" or path.is_dir():
        return pd.read_parquet(path)
    raise DataError(f"{path}: expected a .parquet file or folder, or a .csv file")


def choose_features(frame: pd.DataFrame, label: str, time: str | None) -> list[str]:
    """The spec's features in order when the table is ours; every other numeric column otherwise."""
    if label not in frame.columns:
        raise DataError(f"label column {label!r} not found; columns are {list(frame.columns)}")
    present = [n for n in FEATURE_NAMES if n in frame.columns]
    if present:
        missing = [n for n in FEATURE_NAMES if n not in frame.columns]
        if missing:
            raise DataError(
                f"the table has some of the feature spec's columns but lacks {missing}: "
                "rebuild it with `fraud data training-set` (feature_repo/spec.py lists them)"
            )
        candidates = list(FEATURE_NAMES)
    else:
        skip = {label, time, *NOT_FEATURES}
        candidates = [c for c in frame.columns if c not in skip]
    non_numeric = [
        c for c in candidates
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]  # fmt: skip
    if non_numeric:
        raise DataError(
            f"features must be numeric; {non_numeric} are not (drop or encode them first)"
        )
    if not candidates:
        raise DataError("no feature columns left besides the label and time columns")
    return candidates


def check_values(
    frame: pd.DataFrame, features: list[str], label: str
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Features as float32 and the label as 0/1, after checking for NaN, infinities and classes."""
    x = frame[features].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        columns = sorted({features[j] for j in np.nonzero(bad)[1]})
        raise DataError(
            f"{int(bad.sum())} NaN or infinite values in {columns}; fill or drop those rows"
        )
    y_raw = frame[label]
    if y_raw.isna().any():
        raise DataError(f"label {label!r} has {int(y_raw.isna().sum())} missing values")
    values = set(pd.unique(y_raw.astype("float64")))
    if not values <= {0.0, 1.0}:
        raise DataError(f"label {label!r} must be 0/1 (or boolean); found {sorted(values)[:5]}")
    y = y_raw.astype(np.float32).to_numpy()
    if len(frame) < MIN_ROWS:
        raise DataError(f"{len(frame)} rows is too few to train and evaluate; need {MIN_ROWS}+")
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        raise DataError(f"label {label!r} has one class only; need both 0 and 1")
    if positives < MIN_POSITIVES:
        raise DataError(f"only {positives} positive rows; need at least {MIN_POSITIVES}")
    return x.astype(np.float32), y


def split(
    frame: pd.DataFrame, y: npt.NDArray[np.float32], time: str | None, seed: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> Split:  # fmt: skip
    """Oldest rows train, the next validate, the newest test; stratified at random without time."""
    n = len(frame)
    if time is not None:
        if time not in frame.columns:
            raise DataError(f"time column {time!r} not found")
        moments = pd.to_datetime(frame[time], utc=True)
        order = np.argsort(moments.to_numpy(), kind="stable")
        a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
        parts = order[:a], order[a:b], order[b:]
        windows = {
            name: (str(moments.iloc[p].min()), str(moments.iloc[p].max()))
            for name, p in zip(("train", "validation", "test"), parts, strict=True)
        }
    else:
        rng = np.random.default_rng(seed)
        train, val, test = [], [], []
        for cls in (0.0, 1.0):
            idx = rng.permutation(np.nonzero(y == cls)[0])
            a, b = int(len(idx) * fractions[0]), int(len(idx) * (fractions[0] + fractions[1]))
            train.append(idx[:a])
            val.append(idx[a:b])
            test.append(idx[b:])
        parts = tuple(np.sort(np.concatenate(p)) for p in (train, val, test))  # type: ignore[assignment]
        windows = {}
    for name, part in zip(("train", "validation", "test"), parts, strict=True):
        if y[part].sum() == 0:
            raise DataError(f"the {name} part has no positive rows; use more data")
    train_idx, val_idx, test_idx = (p.astype(np.int64) for p in parts)
    return Split(train_idx, val_idx, test_idx, windows)
