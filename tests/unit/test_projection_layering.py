"""Projections depend on the domain and infrastructure, never on the services: they are fed
by Kafka and, for a rebuild, by notification logs that an entry point passes in."""

from .test_layering import imported_modules, layer_violations, within


def services_imported(source: str) -> list[str]:
    return [module for module in imported_modules(source) if within(module, "services")]


def test_projections_do_not_import_services() -> None:
    assert layer_violations("projections", lambda source, _: services_imported(source)) == {}


def test_the_check_reports_an_import_of_services() -> None:
    assert services_imported("from services.bootstrap import build\nfrom domain.orders import Order") == [
        "services.bootstrap.build"
    ]
