"""The clients of the payment provider, each an implementation of `domain.ports.PaymentProvider`.

`HttpPaymentProvider` (http.py) asks the provider over its HTTP API, with the retry
discipline of `infrastructure/gateways/retrying.py`; `LedgerPaymentProvider` (ledger.py)
calls the provider simulator's ledger in process, in its PostgreSQL schema;
`InMemoryPaymentProvider` (memory.py) keeps its keys in memory, for the unit tests and the
parts of the system that never call out. Behind each, a repeated key gets its first answer
and the provider's rules hold (`infrastructure/simulators/psp/rules.py`).
"""

from infrastructure.gateways.payments.http import HttpPaymentProvider
from infrastructure.gateways.payments.ledger import LedgerPaymentProvider
from infrastructure.gateways.payments.memory import InMemoryPaymentProvider

__all__ = ["HttpPaymentProvider", "InMemoryPaymentProvider", "LedgerPaymentProvider"]
