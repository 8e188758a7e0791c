"""The projections this system runs, by name: what `orders projector NAME` and the
`orders projections` and `orders dlq` commands look up."""

from projections.errors import UnknownProjectionError
from projections.order_summary import OrderSummary
from projections.payment_ledger import PaymentLedger
from projections.projection import Projection
from projections.stock import Stock

PROJECTIONS: dict[str, Projection] = {p.name: p for p in (OrderSummary(), Stock(), PaymentLedger())}


def projection_named(name: str) -> Projection:
    try:
        return PROJECTIONS[name]
    except KeyError:
        known = ", ".join(sorted(PROJECTIONS))
        raise UnknownProjectionError(f"no projection named {name!r} (known: {known})") from None
