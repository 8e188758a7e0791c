"""How the value objects in events are stored as JSON by the eventsourcing transcoder."""

from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.money import Money
from domain.orders import OrderLine
from domain.privacy import Sealed


class MoneyAsDict(Transcoding):
    type = Money
    name = "money"

    def encode(self, obj: Money) -> dict[str, Any]:
        return {"cents": obj.cents, "currency": obj.currency}

    def decode(self, data: dict[str, Any]) -> Money:
        return Money(**data)


class OrderLineAsDict(Transcoding):
    type = OrderLine
    name = "order_line"

    def encode(self, obj: OrderLine) -> dict[str, Any]:
        return {"sku": obj.sku, "quantity": obj.quantity, "unit_price": obj.unit_price}

    def decode(self, data: dict[str, Any]) -> OrderLine:
        return OrderLine(**data)


class SealedAsDict(Transcoding):
    type = Sealed
    name = "sealed"

    def encode(self, obj: Sealed) -> dict[str, Any]:
        return obj.as_json()

    def decode(self, data: dict[str, Any]) -> Sealed:
        return Sealed.from_json(data)


def register_value_objects(transcoder: JSONTranscoder) -> None:
    transcoder.register(MoneyAsDict())
    transcoder.register(OrderLineAsDict())
    transcoder.register(SealedAsDict())
