"""Errors of training and evaluation; each message says what to fix.

ModelError
├── DataError          the training table cannot be used (columns, values, classes, size)
├── ExportError        the ONNX graph does not reproduce the torch model
└── GateError          champion and challenger cannot be compared
"""

from __future__ import annotations


class ModelError(Exception):
    """Root of the model package's errors."""


class DataError(ModelError):
    pass


class ExportError(ModelError):
    pass


class GateError(ModelError):
    pass
