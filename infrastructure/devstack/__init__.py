"""An embedded dev stack: a real PostgreSQL server and a Kafka-protocol broker, both from wheels.

It lets a fresh checkout run the system and its integration tests with no Docker engine and
nothing installed on the machine; `orders dev up|down|status` is its command line.
"""

from infrastructure.devstack.broker import LocalBroker
from infrastructure.devstack.errors import DevStackError
from infrastructure.devstack.ports import free_port
from infrastructure.devstack.postgres import EmbeddedPostgres
from infrastructure.devstack.stack import DevStack
from infrastructure.devstack.status import ComponentStatus, StackInfo, StackStatus

__all__ = [
    "ComponentStatus",
    "DevStack",
    "DevStackError",
    "EmbeddedPostgres",
    "LocalBroker",
    "StackInfo",
    "StackStatus",
    "free_port",
]
