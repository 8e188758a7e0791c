"""The bounded contexts of the system, declared once: `REGISTRY`.

Every consumer of "the set of contexts" reads it here: the composition root builds one
application per context from it (`System`, in the registry's order); the relay, the saga's
consumer, the check and a rebuild from the event store take their contexts and topics from
it; the saga merges the contexts' forward reactions and undo steps from it; the in-memory
`Pump` follows every context it names. One `Context` per bounded context says everything
about it that is not in its own modules:

- `published`: its published half (`infrastructure.contracts.language.PublishedContext`),
  declared in its contract module: the name (snake_case, one word or several: `orders`,
  `gift_cards`), its aggregates, the mapping of their stored events to integration events,
  and its topic, derived from the name (`<name>.events`, and a deployment's prefix);
- `application` and `build`: its service class, and how the composition root constructs it
  from the ports it is given (`Wiring`); `needs` names the contexts whose application it
  uses, which are built first;
- `calls_out`: whether its commands call an outside party, through gateway workers;
- `reactions` and `undo`: its saga steps (`services/saga/forward.py`,
  `services/saga/compensation.py`).

Its read models are not declared here: each projection names the contexts it reads
(`Projection.contexts`), and `Registry.read_models` inverts that. The events, commands and
calls tables are named by the library after the application's `name` lowercased; consumers
read the names from the recorders, never spell them.

Why here, in services, and why the published half is separate: the composition root
(`services/bootstrap.py`) must build the applications, so the set lives where the
application classes can be named. The published language (`infrastructure/contracts`)
cannot import services, yet the relay and a rebuild from the event store, which are
infrastructure and projections, map stored events by context name. So each context's
published half is a value of the published language, declared in its contract module and
recorded there by name (as a `Payload` is by event type), and this registry, which imports
it, decides which of them make up the system. Nothing in infrastructure/ or projections/
enumerates contexts; the entry points hand them the names they serve. This module imports
only the domain, the published language and services, so any module of services may read it.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from domain.ports import Carrier, PaymentProvider
from domain.privacy import Vault
from infrastructure.contracts import fulfillment as fulfillment_contract
from infrastructure.contracts import inventory as inventory_contract
from infrastructure.contracts import orders as orders_contract
from infrastructure.contracts import payments as payments_contract
from infrastructure.contracts.envelope import IntegrationEvent
from infrastructure.contracts.language import PublishedContext
from services.context import ContextApplication
from services.fulfillment import FulfillmentService
from services.inventory import InventoryService
from services.orders import OrdersService
from services.payments import PaymentsService
from services.saga import compensation, forward
from services.saga.compensation import Undo
from services.saga.forward import Reaction

A = TypeVar("A", bound=ContextApplication)


class Wiring:
    """What the composition root hands each context's `build`: the persistence settings, the
    ports to outside parties, the customers' keys, and the applications built so far."""

    def __init__(
        self,
        env: Mapping[str, str],
        provider: PaymentProvider,
        carrier: Carrier,
        vault: Callable[[Any], Vault],
    ) -> None:
        """`vault(cipher)` makes the key vault, from the cipher of the first application
        built (every context's is made alike from `env`), when a context first asks for it."""
        self.env = dict(env)
        self.provider = provider
        self.carrier = carrier
        self.built: dict[str, ContextApplication] = {}
        self._make_vault = vault
        self._vault: Vault | None = None

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            if not self.built:
                raise RuntimeError("the vault is made from an application's cipher: build one first")
            self._vault = self._make_vault(next(iter(self.built.values())).mapper.cipher)
        return self._vault

    def app(self, name: str, kind: type[A]) -> A:
        """The application of a context named in `needs`, built before this one."""
        app = self.built[name]
        assert isinstance(app, kind), f"{name} is a {type(app).__name__}, not a {kind.__name__}"
        return app


@dataclass(frozen=True, eq=False)
class Context:
    """One bounded context, declared once (see the module docstring)."""

    published: PublishedContext
    application: type[ContextApplication]
    build: Callable[[Wiring], ContextApplication]
    needs: tuple[str, ...] = ()  # contexts whose application `build` uses: built before it
    calls_out: bool = False  # its commands call an outside party, through gateway workers
    reactions: Mapping[str, Reaction] = field(default_factory=dict)  # event type -> forward step
    undo: tuple[Undo, ...] = ()  # its steps undone once an order stops, in this order

    @property
    def name(self) -> str:
        return self.published.name

    @property
    def topic(self) -> str:
        """`<name>.events`; `Settings.topic(name)` adds a deployment's prefix."""
        return self.published.topic

    @property
    def aggregates(self) -> tuple[type, ...]:
        return self.published.aggregates

    @property
    def mapping(self) -> Mapping[type, Callable[[Any], Any]]:
        return self.published.mapping


class ReadModel(Protocol):
    """What the registry reads of a projection (`projections.projection.Projection`)."""

    name: str
    contexts: tuple[str, ...]


class Registry:
    """The contexts in their order: the order the saga's reactions to one event run in, the
    in-memory pump reads the logs in, and `System.contexts` lists the applications in."""

    def __init__(self, *contexts: Context) -> None:
        self._contexts = {context.name: context for context in contexts}
        if len(self._contexts) != len(contexts):
            raise ValueError(f"a context is declared twice: {[c.name for c in contexts]}")
        for context in contexts:
            self._check(context)
        self._build_order = self._ordered_by_needs()

    def __iter__(self) -> Iterator[Context]:
        return iter(self._contexts.values())

    def __len__(self) -> int:
        return len(self._contexts)

    def __contains__(self, name: object) -> bool:
        return name in self._contexts

    def __getitem__(self, name: str) -> Context:
        try:
            return self._contexts[name]
        except KeyError:
            raise KeyError(f"no context {name!r} (known: {', '.join(self.names)})") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._contexts)

    @property
    def calling(self) -> tuple[Context, ...]:
        """The contexts whose commands call outside parties, through gateway workers."""
        return tuple(context for context in self if context.calls_out)

    @property
    def forward(self) -> dict[str, tuple[Reaction, ...]]:
        """Every context's reactions to each event type, in the registry's order."""
        return forward.merged(*(context.reactions for context in self))

    @property
    def undo(self) -> tuple[Undo, ...]:
        """Every undo step, in reverse order of the flow: the last context's first."""
        return tuple(undo for context in reversed(tuple(self)) for undo in context.undo)

    def to_integration_event(self, context: str, domain_event: Any, notification_id: int) -> IntegrationEvent:
        """The published form of one stored domain event of `context`, as the relay publishes it."""
        return self[context].published.integration_event(domain_event, notification_id)

    def build(self, wiring: Wiring) -> dict[str, ContextApplication]:
        """Each context's application, built after those it needs; in the registry's order."""
        for name in self._build_order:
            wiring.built[name] = self[name].build(wiring)
        return {name: wiring.built[name] for name in self.names}

    def read_models(self, projections: Iterable[ReadModel]) -> dict[str, tuple[str, ...]]:
        """The projections that read each context; raises for one that reads an unknown context."""
        readers: dict[str, tuple[str, ...]] = dict.fromkeys(self.names, ())
        for projection in projections:
            for name in projection.contexts:
                if name not in self:
                    raise KeyError(f"projection {projection.name} reads {name!r}, not a context")
                readers[name] += (projection.name,)
        return readers

    def _check(self, context: Context) -> None:
        unknown = [name for name in context.needs if name not in self]
        if unknown:
            raise ValueError(f"{context.name} needs {unknown}, which are not declared")
        if context.application.name.lower().replace("_", "") != context.name.replace("_", ""):
            raise ValueError(
                f"{context.application.__name__}.name {context.application.name!r} does not name the"
                f" context {context.name!r}; its tables are named after it"
            )
        stray = [undo.step for undo in context.undo if undo.context != context.name]
        if stray:
            raise ValueError(f"{context.name} declares undo steps of another context: {stray}")
        if context.calls_out and not hasattr(context.application, "ask"):
            raise ValueError(f"{context.name} calls out, but {context.application.__name__} has no `ask`")

    def _ordered_by_needs(self) -> tuple[str, ...]:
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in path:
                raise ValueError(f"contexts need each other: {' -> '.join((*path, name))}")
            if name not in order:
                for needed in self[name].needs:
                    visit(needed, (*path, name))
                order.append(name)

        for name in self.names:
            visit(name, ())
        return tuple(order)


def _orders(wiring: Wiring) -> OrdersService:
    inventory = wiring.app("inventory", InventoryService)
    return OrdersService(is_known_sku=inventory.is_known_sku, vault=wiring.vault, env=wiring.env)


ORDERS = Context(
    published=orders_contract.PUBLISHED,
    application=OrdersService,
    build=_orders,
    needs=("inventory",),  # the catalogue check, passed in rather than imported
    reactions=forward.ORDERS,
)
INVENTORY = Context(
    published=inventory_contract.PUBLISHED,
    application=InventoryService,
    build=lambda wiring: InventoryService(env=wiring.env),
    reactions=forward.INVENTORY,
    undo=compensation.INVENTORY_UNDO,
)
PAYMENTS = Context(
    published=payments_contract.PUBLISHED,
    application=PaymentsService,
    build=lambda wiring: PaymentsService(provider=wiring.provider, vault=wiring.vault, env=wiring.env),
    calls_out=True,
    reactions=forward.PAYMENTS,
    undo=compensation.PAYMENTS_UNDO,
)
FULFILLMENT = Context(
    published=fulfillment_contract.PUBLISHED,
    application=FulfillmentService,
    build=lambda wiring: FulfillmentService(carrier=wiring.carrier, vault=wiring.vault, env=wiring.env),
    calls_out=True,
    reactions=forward.FULFILLMENT,
    undo=compensation.FULFILLMENT_UNDO,
)

REGISTRY = Registry(ORDERS, INVENTORY, PAYMENTS, FULFILLMENT)
CONTEXTS = REGISTRY.names  # the context names, in the registry's order
