"""The names of a new context, checked, and everything derived from them.

Two names are given: the context's (`gift_cards`: snake_case, one word or several) and its
aggregate's (`GiftCard`: PascalCase). Every other name the generated code uses is derived
here, once: the application class and its `name` (which names the tables), the events,
commands and errors, the topic, the read model's table, the API's path and operations.
"""

import builtins
import keyword
import re
from dataclasses import dataclass

from services.ops.scaffold.errors import ScaffoldError

CONTEXT_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")  # as the published language requires
AGGREGATE_NAME = re.compile(r"(?:[A-Z][a-z0-9]+)+")  # capitalised words: GiftCard, Return
MAX_CONTEXT_NAME = 30  # the tables are named after it, and PostgreSQL cuts names at 63 bytes
MAX_AGGREGATE_NAME = 30
# The event store's tables of one context: the library's, the command log's and the calls'.
STORE_TABLES = ("events", "snapshots", "commands", "calls", "tracking")
# PostgreSQL's reserved key words (those it reserves even as a table's name): the read model's
# table is named after the context, unquoted.
RESERVED_WORDS = """all analyse analyze and any array as asc asymmetric authorization binary both case cast
    check collate collation column concurrently constraint create cross current_catalog
    current_date current_role current_schema current_time current_timestamp current_user
    default deferrable desc distinct do else end except false fetch for foreign freeze from full
    grant group having ilike in initially inner intersect into is isnull join lateral leading
    left like limit localtime localtimestamp natural not notnull null offset on only or order
    outer overlaps placing primary references returning right select session_user similar some
    symmetric system_user table tablesample then to trailing true union unique user using
    variadic verbose when where window with"""
POSTGRES_RESERVED = frozenset(RESERVED_WORDS.split())


@dataclass(frozen=True)
class Names:
    """`name` and `aggregate` as given (checked by `checked`), and what derives from them."""

    name: str  # gift_cards
    aggregate: str  # GiftCard
    saga: bool = False

    @classmethod
    def checked(cls, name: str, aggregate: str, saga: bool = False) -> "Names":
        check_context_name(name)
        check_aggregate_name(aggregate)
        return cls(name, aggregate, saga)

    @property
    def pascal(self) -> str:
        """GiftCards: the read model's class, and the application's as GiftCardsService."""
        return "".join(word.capitalize() for word in self.name.split("_"))

    @property
    def service(self) -> str:
        return f"{self.pascal}Service"

    @property
    def app_name(self) -> str:
        """Gift_Cards: the application's `name`. The library names the tables after it,
        lowercased (`gift_cards_events`), so they spell the context's name, as `<context>_events`
        does wherever a table is named; the registry compares the letters only."""
        return "_".join(word.capitalize() for word in self.name.split("_"))

    @property
    def title(self) -> str:
        """gift cards: the context, in prose."""
        return self.name.replace("_", " ")

    @property
    def dashed(self) -> str:
        """gift-cards: the API's path."""
        return self.name.replace("_", "-")

    @property
    def entity(self) -> str:
        """gift_card: the aggregate in snake_case, always followed by more (`gift_card_id`)."""
        return snake_case(self.aggregate)

    @property
    def var(self) -> str:
        """gift_card: a variable holding one aggregate; `return_` where that is a keyword."""
        bare = self.entity
        taken = keyword.iskeyword(bare) or keyword.issoftkeyword(bare) or hasattr(builtins, bare)
        return f"{bare}_" if taken else bare

    @property
    def thing(self) -> str:
        """gift card: the aggregate, in prose."""
        return self.entity.replace("_", " ")

    @property
    def tables(self) -> tuple[str, ...]:
        """The event store's tables and the read model's table."""
        return (*(f"{self.name}_{suffix}" for suffix in STORE_TABLES), self.name)

    @property
    def topic(self) -> str:
        return f"{self.name}.events"

    @property
    def event_types(self) -> tuple[str, ...]:
        return (f"{self.aggregate}Opened", f"{self.aggregate}Closed")

    @property
    def event_topics(self) -> tuple[str, ...]:
        """The stored events' topics (`TOPIC`), versioned."""
        return tuple(f"{event}.v1" for event in self.event_types)

    @property
    def error_codes(self) -> tuple[str, ...]:
        return (f"unknown_{self.entity}", f"{self.entity}_state")

    @property
    def operation_ids(self) -> tuple[str, ...]:
        return tuple(f"{verb}_{self.entity}" for verb in ("open", "close", "get"))

    @property
    def schemas(self) -> tuple[str, ...]:
        """The API's request and response bodies, named in the OpenAPI document."""
        return (f"{self.aggregate}Receipt", f"{self.aggregate}View", f"Close{self.aggregate}Request")

    @property
    def undo_step(self) -> str:
        return f"{self.entity}_closed"

    def placeholders(self) -> dict[str, str]:
        """What the templates' `$name`, `$Class`... stand for."""
        return {
            "name": self.name,
            "Name": self.pascal,
            "Service": self.service,
            "app_name": self.app_name,
            "title": self.title,
            "Title": self.title.capitalize(),
            "dashed": self.dashed,
            "Class": self.aggregate,
            "entity": self.entity,
            "var": self.var,
            "thing": self.thing,
            "a_thing": f"{article(self.thing)} {self.thing}",
            "step": self.undo_step,
        }


def check_context_name(name: str) -> None:
    """Raise `ScaffoldError` saying what is wrong with `name` as a context's name."""
    if not name:
        raise ScaffoldError("a context needs a name: snake_case, such as gift_cards")
    if "-" in name or " " in name:
        suggestion = re.sub(r"[-\s]+", "_", name).lower()
        raise ScaffoldError(f"{name!r} is not a context name: join words with '_', as in {suggestion!r}")
    if any(c.isupper() for c in name):
        raise ScaffoldError(
            f"{name!r} is not a context name: use lowercase snake_case, as in {snake_case(name)!r}"
        )
    if not name[0].isalpha():
        raise ScaffoldError(f"{name!r} is not a context name: it must start with a letter")
    if not CONTEXT_NAME.fullmatch(name):
        raise ScaffoldError(
            f"{name!r} is not a context name: lowercase letters and digits, words joined by one '_'"
            " (gift_cards)"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(f"{name!r} is a Python keyword: the context's package is named after it")
    if hasattr(builtins, name):
        raise ScaffoldError(f"{name!r} is a Python builtin: the registry would import a module over it")
    if len(name) > MAX_CONTEXT_NAME:
        raise ScaffoldError(
            f"{name!r} is longer than {MAX_CONTEXT_NAME} characters: the tables are named after it"
        )
    if name in POSTGRES_RESERVED:
        raise ScaffoldError(f"{name!r} is reserved in PostgreSQL: the read model's table is named after it")


def check_aggregate_name(aggregate: str) -> None:
    """Raise `ScaffoldError` saying what is wrong with `aggregate` as the aggregate's class name."""
    if not aggregate:
        raise ScaffoldError("the aggregate needs a class name: PascalCase, such as GiftCard")
    if not AGGREGATE_NAME.fullmatch(aggregate):
        hint = "".join(word.capitalize() for word in re.split(r"[^A-Za-z0-9]+", aggregate) if word)
        example = hint if hint and AGGREGATE_NAME.fullmatch(hint) else "GiftCard"
        raise ScaffoldError(
            f"{aggregate!r} is not an aggregate's class name: use PascalCase, capitalised words"
            f" of letters and digits, as in {example!r}"
        )
    if keyword.iskeyword(aggregate) or hasattr(builtins, aggregate):
        raise ScaffoldError(f"{aggregate!r} is a Python keyword or builtin: choose another class name")
    if len(aggregate) > MAX_AGGREGATE_NAME:
        raise ScaffoldError(f"{aggregate!r} is longer than {MAX_AGGREGATE_NAME} characters")


def snake_case(name: str) -> str:
    """GiftCard -> gift_card; HTTPProxy -> http_proxy."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name)
    return re.sub(r"_+", "_", spaced).lower()


def article(words: str) -> str:
    return "an" if words[:1] in tuple("aeiou") else "a"
