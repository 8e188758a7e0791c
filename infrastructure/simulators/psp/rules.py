"""What a payment provider allows after an authorization, as a real one does.

Per approved authorization: one capture, of at most the authorized amount, unless it is
voided; one void, unless it is captured; refunds only of a captured authorization, and never
more in total than was captured. Everything else is refused, with the problem a real
provider would answer (409 for the state it met, 422 for an amount above what is allowed).

The rules are a pure function of what the authorization holds, so the simulator's ledger
(which decides under a row lock on the authorization, so that a capture and a void racing
each other cannot both be approved) and the in-process fake refuse exactly the same requests.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace

from infrastructure.simulators import problems
from infrastructure.simulators.problems import ProblemType

FOLLOW_UPS = ("capture", "void", "refund")


@dataclass(frozen=True)
class Held:
    """One approved authorization and the approved operations that followed it."""

    amount_cents: int
    currency: str
    captured_cents: int | None = None  # None: not captured
    refunded_cents: int = 0
    voided: bool = False

    @classmethod
    def of(cls, amount_cents: int, currency: str, approved: Iterable[tuple[str, int]]) -> "Held":
        """The authorization after its approved follow-ups, (operation, cents) in any order."""
        held = cls(amount_cents, currency)
        for operation, cents in approved:
            held = held.after(operation, cents)
        return held

    def after(self, operation: str, cents: int) -> "Held":
        """The authorization once `operation` of `cents` is approved."""
        if operation == "capture":
            return replace(self, captured_cents=cents)
        if operation == "void":
            return replace(self, voided=True)
        return replace(self, refunded_cents=self.refunded_cents + cents)


@dataclass(frozen=True)
class Refusal:
    problem: ProblemType
    detail: str


def refusal(operation: str, held: Held, cents: int, currency: str | None) -> Refusal | None:
    """Why the provider refuses `operation` of `cents` in `currency` (None for a void) on
    `held`, or None if it approves it. The state is checked before the amount."""
    if operation not in FOLLOW_UPS:
        raise ValueError(f"not an operation on an authorization: {operation!r}")
    conflict = _state_conflict(operation, held)
    if conflict is not None:
        return conflict
    if currency is not None and currency != held.currency:
        return Refusal(
            problems.CURRENCY_MISMATCH, f"{operation} in {currency}: authorized in {held.currency}"
        )
    if operation == "capture" and cents > held.amount_cents:
        detail = f"capture of {cents} cents: {held.amount_cents} authorized"
        return Refusal(problems.AMOUNT_ABOVE_AUTHORIZED, detail)
    if operation == "refund" and held.captured_cents is not None:
        remaining = held.captured_cents - held.refunded_cents
        if cents > remaining:
            detail = f"refund of {cents} cents: {remaining} of {held.captured_cents} captured remain"
            return Refusal(problems.AMOUNT_ABOVE_CAPTURED, detail)
    return None


def _state_conflict(operation: str, held: Held) -> Refusal | None:
    captured = held.captured_cents is not None
    if operation == "capture" and held.voided:
        return Refusal(problems.AUTHORIZATION_VOIDED, "cannot capture: the authorization is voided")
    if operation == "capture" and captured:
        return Refusal(
            problems.AUTHORIZATION_CAPTURED, "cannot capture: the authorization is already captured"
        )
    if operation == "void" and captured:
        return Refusal(problems.AUTHORIZATION_CAPTURED, "cannot void: the authorization is captured")
    if operation == "void" and held.voided:
        return Refusal(problems.AUTHORIZATION_VOIDED, "cannot void: the authorization is already voided")
    if operation == "refund" and not captured:
        return Refusal(problems.NOT_CAPTURED, "cannot refund: the authorization is not captured")
    return None
