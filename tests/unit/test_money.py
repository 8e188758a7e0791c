"""Money: whole minor units in one ISO-4217-shaped currency, bounded by MAX_CENTS."""

import pytest

from domain.errors import AmountOverflowError, CurrencyMismatchError, InvalidAmountError, InvalidCurrencyError
from domain.money import MAX_CENTS, Money


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "", "E1R", 978, None])
def test_a_currency_that_is_not_three_capital_letters_is_refused(currency: object) -> None:
    with pytest.raises(InvalidCurrencyError):
        Money(100, currency)  # type: ignore[arg-type]


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        Money(-1, "EUR")


@pytest.mark.parametrize("cents", [True, 1.5, "100", None], ids=repr)
def test_an_amount_that_is_not_a_whole_number_of_cents_is_refused(cents: object) -> None:
    with pytest.raises(InvalidAmountError):
        Money(cents, "EUR")  # type: ignore[arg-type]


def test_the_largest_amount_is_max_cents() -> None:
    assert Money(MAX_CENTS, "EUR").cents == MAX_CENTS


def test_one_cent_above_max_cents_overflows() -> None:
    with pytest.raises(AmountOverflowError):
        Money(MAX_CENTS + 1, "EUR")


def test_a_sum_that_exceeds_max_cents_overflows() -> None:
    with pytest.raises(AmountOverflowError):
        Money(MAX_CENTS, "EUR") + Money(1, "EUR")


def test_amounts_in_one_currency_add_up() -> None:
    assert Money(250, "EUR") + Money(1000, "EUR") == Money(1250, "EUR")


def test_amounts_in_different_currencies_do_not_add_up() -> None:
    with pytest.raises(CurrencyMismatchError):
        Money(250, "EUR") + Money(250, "USD")


def test_subtracting_more_than_there_is_is_refused() -> None:
    with pytest.raises(InvalidAmountError):
        Money(100, "EUR") - Money(101, "EUR")
