"""The shipments against the carrier's bookings (`carrier.shipments`, its own records, read as
`orders check` reads them): per order, the parcel the carrier booked under the shipment's
key (`<shipment id>:book`) and the one the shipment holds must be the same, in states that
agree.

The carrier books before the gateway records its answer, so a booking the shipment does not
hold yet counts only once it is older than the grace period. The other way round there is no
such moment: a shipment's parcel comes from the carrier's answer, so it must be booked
whenever it is seen, and a parcel's state moves only after the shipment recorded the intent
(handing over, cancelling), which allows either state. None of this is repaired: which side
is right is for a person to find out, with the carrier.
"""

from datetime import datetime, timedelta

from domain.fulfillment import Shipment, ShipmentStatus
from domain.ids import shipment_id
from services.ops.check.invariants import Holdings
from services.ops.check.store import CarrierBooking
from services.ops.reconcile.differences import Compared, Difference

PARCEL_STATES = {  # a shipment's status -> the states its parcel may be in at the carrier
    ShipmentStatus.BOOKED: {"booked"},
    ShipmentStatus.HANDING_OVER: {"booked", "handed_over"},
    ShipmentStatus.SHIPPED: {"handed_over"},
    ShipmentStatus.CANCELLING: {"booked", "cancelled"},
    ShipmentStatus.CANCELLED: {"cancelled"},
}


def compare(holdings: Holdings, now: datetime, grace: timedelta) -> Compared:
    if holdings.bookings is None:
        note = "no carrier ledger to read: shipments not compared"
        return Compared("shipments", len(holdings.shipments), [], note)
    found = []
    for order in holdings.orders:
        booking = holdings.bookings.get(f"{shipment_id(order.id)}:book")
        parcel = booking if booking is not None and booking.tracking_id else None  # a refusal books nothing
        shipment = holdings.shipments.get(order.id)
        if what := _difference(shipment, parcel, now, grace):
            tracking = parcel.tracking_id if parcel else shipment.tracking_id if shipment else ""
            ids = {
                "order_id": str(order.id),
                "shipment_id": str(shipment_id(order.id)),
                "tracking_id": tracking,
            }
            found.append(Difference("shipment", ids, what))
    return Compared("shipments", len(holdings.shipments), found)


def _difference(
    shipment: Shipment | None, parcel: CarrierBooking | None, now: datetime, grace: timedelta
) -> str:
    """What differs between the shipment and the carrier's parcel for one order; "" if nothing."""
    held = shipment.tracking_id if shipment else ""
    ours = f"the shipment is {shipment.status}" if shipment else "there is no shipment"
    if held:
        ours += f" with parcel {held}"
    if parcel is None:
        return f"{ours}; the carrier booked none" if held else ""
    if parcel.tracking_id != held:
        young = now - parcel.recorded_at < grace  # its answer may still be on its way
        return "" if young else f"the carrier booked parcel {parcel.tracking_id} ({parcel.state}); {ours}"
    if shipment and parcel.state not in PARCEL_STATES.get(shipment.status, set()):
        return f"the shipment is {shipment.status}; the carrier's parcel is {parcel.state}"
    return ""
