"""Named domain errors.

Two families matter to the idempotence layers, because they decide what a replay answers:

* `InvalidCommandError`: the command itself is malformed. Nothing is recorded, so the caller
  may correct the input and try again.
* `RuleViolationError`: a well-formed command refused by the current state (not enough stock,
  an order already shipped). The refusal is recorded as the command's outcome, so a replay of
  the same command id gets the same answer even after the state has moved on.

`NotFoundError` is neither: the thing may exist later, so nothing is recorded.
"""

from typing import ClassVar


class DomainError(Exception):
    """Base of every error the model raises on purpose."""

    code: ClassVar[str] = "domain_error"
    registry: ClassVar[dict[str, type["DomainError"]]] = {}
    replayed = False  # True when raised again from the command log, not decided anew

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        DomainError.registry[cls.code] = cls

    @classmethod
    def from_code(cls, code: str, message: str) -> "DomainError":
        """Rebuild a recorded error, so a replayed command raises what the first one did."""
        error = cls.registry.get(code, DomainError)(message)
        error.replayed = True
        return error


class InvalidCommandError(DomainError):
    code = "invalid_command"


class CommandIdReusedError(InvalidCommandError):
    """The same command id arrived with a different payload: a client bug, never applied."""

    code = "command_id_reused"


class EmptyOrderError(InvalidCommandError):
    code = "empty_order"


class TooManyLinesError(InvalidCommandError):
    code = "too_many_lines"


class InvalidQuantityError(InvalidCommandError):
    code = "invalid_quantity"


class DuplicateSkuError(InvalidCommandError):
    code = "duplicate_sku"


class InvalidSkuError(InvalidCommandError):
    code = "invalid_sku"


class InvalidCurrencyError(InvalidCommandError):
    code = "invalid_currency"


class InvalidAmountError(InvalidCommandError):
    code = "invalid_amount"


class AmountOverflowError(InvalidCommandError):
    code = "amount_overflow"


class CurrencyMismatchError(InvalidCommandError):
    code = "currency_mismatch"


class InvalidAddressError(InvalidCommandError):
    code = "invalid_address"


class InvalidPaymentTokenError(InvalidCommandError):
    code = "invalid_payment_token"


class NotFoundError(DomainError):
    code = "not_found"


class UnknownOrderError(NotFoundError):
    code = "unknown_order"


class UnknownSkuError(NotFoundError):
    code = "unknown_sku"


class UnknownPaymentError(NotFoundError):
    code = "unknown_payment"


class UnknownShipmentError(NotFoundError):
    code = "unknown_shipment"


class RuleViolationError(DomainError):
    code = "rule_violation"


class InsufficientStockError(RuleViolationError):
    code = "insufficient_stock"


class OrderExistsError(RuleViolationError):
    """An order with this id was already placed, by another command."""

    code = "order_exists"


class OrderStateError(RuleViolationError):
    code = "order_state"


class OrderShippedError(OrderStateError):
    """The order's parcel is on its way to the carrier: it can no longer be cancelled."""

    code = "order_shipped"


class StockStateError(RuleViolationError):
    code = "stock_state"


class PaymentStateError(RuleViolationError):
    code = "payment_state"


class RefundExceedsCaptureError(RuleViolationError):
    code = "refund_exceeds_capture"


class ShipmentStateError(RuleViolationError):
    code = "shipment_state"
