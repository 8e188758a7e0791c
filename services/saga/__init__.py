"""The order saga: the process manager that drives each order through inventory, payments
and fulfillment, compensates when an order stops, and fails orders that miss their deadline.

`forward` and `compensation` decide (pure: event and state in, steps out); `OrderSaga` reads
the state and runs the steps; `DeadlineScheduler` fires deadlines; `Pump` drives it all in
memory, without a broker.
"""

from services.saga.pump import Pump
from services.saga.saga import COMPLETE_BY, OrderSaga
from services.saga.scheduler import DeadlineScheduler, Leadership, SoleLeadership

__all__ = ["COMPLETE_BY", "DeadlineScheduler", "Leadership", "OrderSaga", "Pump", "SoleLeadership"]
