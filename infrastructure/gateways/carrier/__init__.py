"""The clients of the carrier, each an implementation of `domain.ports.Carrier`.

`HttpCarrier` (http.py) asks the carrier over its HTTP API, with the retry discipline of
`infrastructure/gateways/retrying.py`; `InMemoryCarrier` (memory.py) keeps its keys in
memory, for the unit tests, the parts of the system that never call out, and a gateway
without a carrier to call. Behind each, a repeated key gets its first answer and the
carrier's rules hold (`infrastructure/simulators/carrier/rules.py`).
"""

from infrastructure.gateways.carrier.http import HttpCarrier
from infrastructure.gateways.carrier.memory import InMemoryCarrier

__all__ = ["HttpCarrier", "InMemoryCarrier"]
