"""What a carrier allows, as a real one does: which destinations it serves, and what may
happen to a booked parcel.

    booked -- cancel --> cancelled       then: cancel again -> cancelled, hand over -> 409
    booked -- hand over --> handed_over  then: hand over again -> handed_over, cancel -> 409

A pure function of the parcel's state, shared by the simulator (`parcels.py`, which decides
under a row lock on the parcel) and the in-process fake
(`infrastructure/gateways/carrier/memory.py`), so both refuse the same requests the same way.
"""

from dataclasses import dataclass

from infrastructure.simulators import problems
from infrastructure.simulators.problems import ProblemType

REFUSED_MARKER = "FAIL"  # a destination containing it is refused (how a scenario fails a shipment)


@dataclass(frozen=True)
class Transition:
    to: str  # the state the operation leads to (and answers with)
    blocked_by: str  # the state in which it is refused
    problem: ProblemType

    def refusal(self, operation: str, state: str) -> str | None:
        """Why `operation` is refused on a parcel in `state`, or None if it is done (again)."""
        if state != self.blocked_by:
            return None
        return f"cannot {operation.replace('_', ' ')}: the parcel is {state.replace('_', ' ')}"


TRANSITIONS = {
    "cancel": Transition("cancelled", "handed_over", problems.PARCEL_HANDED_OVER),
    "hand_over": Transition("handed_over", "cancelled", problems.PARCEL_CANCELLED),
}
