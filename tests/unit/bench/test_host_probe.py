"""The host probe's reading of its samples: slow stretches and the summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.host_probe import Profile, Stretch, probe


def _profile(cpu_ms: list[float], step_s: float = 0.01) -> Profile:
    return Profile(np.arange(len(cpu_ms)) * step_s, np.array(cpu_ms))


def test_slow_runs_close_together_are_one_stretch_and_a_lone_one_its_own() -> None:
    runs = [1.0] * 20
    runs[5], runs[7], runs[8] = 10.0, 4.0, 12.0  # 0.05 s to 0.08 s: one stretch (gaps < 0.05 s)
    runs[15] = 5.0  # 0.15 s: its own
    runs[17] = 3.9  # under 4x the median: not slow
    found = _profile(runs).stretches()
    assert found == [Stretch(0.05, 0.08, 12.0), Stretch(0.15, 0.15, 5.0)]


def test_no_stretch_when_every_run_is_near_the_median() -> None:
    assert _profile([1.0, 1.2, 0.9, 1.1, 3.0]).stretches() == []


def test_window_and_summary() -> None:
    runs = [1.0] * 100
    runs[50] = 20.0
    profile = _profile(runs).window(0.2, 0.8)
    assert len(profile.times) == 61
    text = profile.summary()
    assert "61 runs over 1 s" in text and "1 stretches" in text and "(worst 20x)" in text
    assert _profile([1.0]).summary() == "too few probe samples"


def test_probe_writes_samples_that_read_back(tmp_path: Path) -> None:
    out = tmp_path / "probe.tsv"
    probe(out, 0.1)
    profile = Profile.read(out)
    assert len(profile.times) >= 3
    assert np.all(np.diff(profile.times) > 0)
    assert profile.median_ms == pytest.approx(float(np.median(profile.cpu_ms)))
    assert profile.median_ms > 0
