"""The bounded contexts of the system, declared once: `REGISTRY`.

Every consumer of "the set of contexts" reads it here: the composition root builds one
application per context from it (`System`, in the registry's order); the relay, the saga's
consumer, the check and a rebuild from the event store take their contexts and topics from
it; the saga merges the contexts' forward reactions and undo steps from it; the API mounts
the routers the contexts declare; the in-memory `Pump` follows every context it names. What
a declaration holds is in `services/context.py` (`Context`); each context declares itself in
its package, `services/contexts/<name>/__init__.py`. Adding a context is a new package and
one entry here, in the order the saga's reactions to one event should run.

Why the published half is separate: the composition root (`services/bootstrap.py`) must
build the applications, so the set lives where the application classes can be named. The
published language (`infrastructure/contracts`) cannot import services, yet the relay and a
rebuild from the event store, which are infrastructure and projections, map stored events by
context name. So each context's published half is a value of the published language,
declared in its contract module and recorded there by name (as a `Payload` is by event
type), and this registry, which imports it, decides which of them make up the system.
Nothing in infrastructure/ or projections/ enumerates contexts; the entry points hand them
the names they serve.
"""

from services.context import Registry
from services.contexts import fulfillment, inventory, orders, payments

REGISTRY = Registry(
    orders.CONTEXT,
    inventory.CONTEXT,
    payments.CONTEXT,
    fulfillment.CONTEXT,
)
CONTEXTS = REGISTRY.names  # the context names, in the registry's order
