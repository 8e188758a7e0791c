"""The four contexts the product is built on, in a registry of their own.

The tests that pin the order flow (its steps, its compensations, the commands each context
records) are about these four. A context added with `orders new-context --saga` joins the
flow (it opens on OrderPlaced and is undone when an order stops), so those tests either run
on this registry or look only at these contexts, and adding a context changes none of them.
"""

from collections.abc import Iterable

from services.context import Registry
from services.registry import REGISTRY

PRODUCT_CONTEXTS = ("orders", "inventory", "payments", "fulfillment")
PRODUCT = Registry(*(REGISTRY[name] for name in PRODUCT_CONTEXTS))
PRODUCT_UNDO_STEPS = frozenset(undo.step for undo in PRODUCT.undo)


def product_steps(compensations: Iterable[str]) -> list[str]:
    """The compensations recorded on an order that the product's own contexts undid."""
    return [step for step in compensations if step in PRODUCT_UNDO_STEPS]
