"""The public surface of each package is what its `__init__` exports; changes are deliberate."""

from __future__ import annotations

import deploy.stack


def test_stack_exports() -> None:
    assert sorted(deploy.stack.__all__) == sorted(
        [
            "NAMES", "MissingTool", "PortInUse", "Service", "ServiceFailed", "Stack",
            "StackError", "StackSettings", "Status",
        ]
    )  # fmt: skip
    for name in deploy.stack.__all__:
        assert hasattr(deploy.stack, name)
