"""Money as integer minor units with an ISO-4217-shaped currency code."""

import re
from dataclasses import dataclass
from typing import Self

from domain.errors import (
    AmountOverflowError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidCurrencyError,
)

# Ten billion major units: far above any order, far below PostgreSQL's bigint and the
# 2**53 that JSON clients can represent exactly.
MAX_CENTS = 10**12
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class Money:
    cents: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.currency, str) or not CURRENCY_PATTERN.fullmatch(self.currency):
            raise InvalidCurrencyError(f"currency must be three capital letters, got {self.currency!r}")
        if isinstance(self.cents, bool) or not isinstance(self.cents, int):
            raise InvalidAmountError(f"amount must be a whole number of cents, got {self.cents!r}")
        if self.cents < 0:
            raise InvalidAmountError(f"amount must not be negative, got {self.cents}")
        if self.cents > MAX_CENTS:
            raise AmountOverflowError(f"amount {self.cents} exceeds the limit of {MAX_CENTS} cents")

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    def check_same_currency(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{other.currency} amount used with {self.currency}")

    def __add__(self, other: "Money") -> "Money":
        self.check_same_currency(other)
        return Money(self.cents + other.cents, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self.check_same_currency(other)
        return Money(self.cents - other.cents, self.currency)

    def times(self, factor: int) -> "Money":
        return Money(self.cents * factor, self.currency)

    def __str__(self) -> str:
        return f"{self.cents / 100:.2f} {self.currency}"
