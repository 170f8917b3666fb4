"""Synthetic card transactions worth learning fraud from: a batch data set and a live stream."""

from batch_pipeline.data.fraud import PATTERNS
from batch_pipeline.data.generate import GenerationSummary, PatternStats, generate
from batch_pipeline.data.live import LiveGenerator

__all__ = ["PATTERNS", "GenerationSummary", "LiveGenerator", "PatternStats", "generate"]
