"""Nightly retraining: data preparation, training, evaluation, registry and rollout (KFP)."""
