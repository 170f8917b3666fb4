"""The local stack: real Kafka, Redis, PostgreSQL, Kubeflow Model Registry and Prometheus processes.

Each service binds to 127.0.0.1, keeps its data, log and pid file in `FRAUD_STACK_DIR/<name>/`,
and is stopped by the process id that `up` recorded.
"""

from deploy.stack.errors import MissingTool, PortInUse, ServiceFailed, StackError
from deploy.stack.service import Service, Status
from deploy.stack.settings import StackSettings
from deploy.stack.stack import NAMES, Stack

__all__ = [
    "NAMES",
    "MissingTool",
    "PortInUse",
    "Service",
    "ServiceFailed",
    "Stack",
    "StackError",
    "StackSettings",
    "Status",
]
