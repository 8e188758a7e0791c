"""The demo holds each process to the duplicate layers its scenario exercised there."""

from infrastructure.metrics import LAYERS
from services.ops.demo.absorbed import Absorbed, exercised


def counts(**nonzero: float) -> dict[str, float]:
    return {layer: nonzero.get(layer, 0.0) for layer in LAYERS}


def test_every_projector_and_the_saga_are_held_to_the_consumer_layer() -> None:
    assert exercised("projector-order_summary") == ("consumer",)
    assert exercised("saga") == ("command_log", "consumer")
    assert exercised("relay") == ()
    assert exercised("projector") == (), "a pattern matches names that continue it, not itself"


def test_a_zero_where_the_scenario_put_duplicates_is_missing_and_a_silent_process_too() -> None:
    absorbed = Absorbed(
        {
            "api": counts(http_replay=3, webhook=2),
            "saga": counts(command_log=1),
            "projector-stock": counts(consumer=4),
            "relay": counts(),
        },
        silent=("gateway",),
    )
    assert absorbed.missing() == [
        "gateway: /metrics did not answer",
        "api: http_in_flight at 0",
        "saga: consumer at 0",
    ]
    assert absorbed.missing(unused=["http_in_flight"])[1:] == ["saga: consumer at 0"]


def test_the_table_shows_only_the_layers_some_process_counted() -> None:
    table = Absorbed({"api": counts(http_replay=3), "relay": counts()}, silent=()).table()
    assert table[0].split() == ["http_replay"]
    assert [line.split() for line in table[1:]] == [["api", "3"], ["relay", "0"]]
