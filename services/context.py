"""What a bounded context is: the base its application extends (`ContextApplication`), and
its declaration (`Context`), which `services/registry.py` lists once for the whole system.

A `Context` says everything about a context that is not in its own modules:

- `published`: its published half (`infrastructure.contracts.language.PublishedContext`),
  declared in its contract module: the name (snake_case, one word or several: `orders`,
  `gift_cards`), its aggregates, the mapping of their stored events to integration events,
  and its topic, derived from the name (`<name>.events`, and a deployment's prefix);
- `application` and `build`: its service class, and how the composition root constructs it
  from the ports it is given (`Wiring`); `needs` names the contexts whose application it
  uses, which are built first;
- `calls_out`: whether its commands call an outside party, through gateway workers;
- `reactions` and `undo`: its saga steps (`services/saga/forward.py`,
  `services/saga/compensation.py`);
- `router`: its HTTP endpoints, if it has any of its own (`services/api/app.py` mounts them).

Its read models are not declared here: each projection names the contexts it reads
(`Projection.contexts`), and `Registry.read_models` inverts that. The events, commands and
calls tables are named by the library after the application's `name` lowercased; consumers
read the names from the recorders, never spell them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import Repository
from eventsourcing.persistence import JSONTranscoder

from domain.ports import Carrier, PaymentProvider
from domain.privacy import Vault
from infrastructure.contracts.envelope import IntegrationEvent
from infrastructure.contracts.language import PublishedContext
from services.application import IdempotentApplication
from services.repository import SharedCacheRepository
from services.transcodings import register_value_objects

if TYPE_CHECKING:  # the saga's steps name aggregates and commands; the saga imports contexts
    from services.saga.compensation import Undo
    from services.saga.forward import Reaction


class ContextApplication(IdempotentApplication):
    """One bounded context: its own `<name>_events` and `<name>_commands` tables and its own
    notification log (the outbox its relay follows)."""

    env: ClassVar[dict[str, str]] = {
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Hot aggregates (one SKU, many orders) would otherwise be replayed from their first
        # event on every command. Cached copies are fast-forwarded with the newer events
        # before use and handed out as deep copies; a stale copy cannot slip through, since
        # saving still checks the version.
        "AGGREGATE_CACHE_MAXSIZE": "10000",
    }

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository with its cache made safe to share between threads."""
        return SharedCacheRepository(
            event_store=self.events,
            snapshot_store=self.snapshots,
            cache_maxsize=int(self.env.get(self.AGGREGATE_CACHE_MAXSIZE) or 0) or None,
            fastforward=True,
            deepcopy_from_cache=True,
        )

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_objects(transcoder)


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
    router: Callable[..., Any] | None = None  # `router(system, gate, tenant_of)`: its endpoints

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
        merged: dict[str, tuple[Reaction, ...]] = {}
        for context in self:
            for kind, reaction in context.reactions.items():
                merged[kind] = (*merged.get(kind, ()), reaction)
        return merged

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
