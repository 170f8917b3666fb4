"""Errors of the local stack.

StackError
├── PortInUse            a port a service needs is taken; names the setting that moves it
├── MissingTool          a program the stack runs is not installed; says how to install it
└── ServiceFailed        a service did not pass its health check; carries its log's tail
"""

from __future__ import annotations


class StackError(Exception):
    """Root of every error raised while managing the local stack."""


class PortInUse(StackError):
    def __init__(self, service: str, port: int, setting: str) -> None:
        super().__init__(
            f"{service}: port {port} on the loopback address is already in use; "
            f"stop whatever holds it or move {service} with {setting}=<free port>"
        )


class MissingTool(StackError):
    pass


class ServiceFailed(StackError):
    def __init__(self, service: str, reason: str, log_tail: str) -> None:
        self.log_tail = log_tail
        super().__init__(f"{service}: {reason}\n--- last lines of its log ---\n{log_tail}")
