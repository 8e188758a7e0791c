"""docker-compose.yml, the Dockerfile and the monitoring files they mount, checked by parsing
them: no Docker engine is needed, and none runs where these tests usually do.

What each check takes from the code rather than from a copy:

- the processes: `orders run`'s children (services/cli/run.py, one projector per projection
  in projections/catalog.py); each must be a service whose command is that `orders` command,
  and every command must parse with the command line itself;
- the settings: every variable an application service sets must be one
  infrastructure/settings.py reads, every service's environment must make valid Settings,
  and the URLs in it must name a service, on the port that service listens on (its Settings);
- which commands serve HTTP: those with a `--host` option, which must listen beyond
  127.0.0.1, and every process's metrics (on ORDERS_METRICS_PORT, the API's on its own port);
  each such service needs a health check, on a port it listens on, for a path it answers
  with 200 (the application itself is asked, in process);
- what Prometheus scrapes: every application service, where it serves its metrics;
- the metric families on the dashboards: what the API's /metrics declares, and every family
  infrastructure/metrics.py defines charted by some panel;
- the install commands: the Makefile's `install` recipe, which the Dockerfile must repeat.

Every check is a function returning its problems, and the tests at the end feed each one a
broken document and expect a report (as test_layering.py does for its rules).
"""

import copy
import functools
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict
from support.api import api_client
from typer.core import TyperGroup

from infrastructure.metrics import NAME, Metrics
from infrastructure.settings import PREFIX, Settings, SettingsError
from infrastructure.simulators import web
from services.bootstrap import System
from services.cli import command, credentials, run
from services.cli.simulators import SIMULATORS

ROOT = Path(__file__).resolve().parents[2]
Doc = dict[str, Any]
Service = dict[str, Any]

SERVERS = ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")  # what `orders run` gives every child
# What a process needs beyond the servers, and why. The API refuses to start on a database
# without its keys (services/cli/credentials.py); the processes that read or write the event
# stores need the key they are encrypted with; without the simulators' URLs the gateway calls
# fakes in its own process; without a webhook URL the provider sends none.
NEEDS: dict[str, tuple[str, ...]] = {
    "api": credentials.VARIABLES,
    "relay": ("ORDERS_CIPHER_KEY",),
    "saga": ("ORDERS_CIPHER_KEY",),
    "reconcile": ("ORDERS_CIPHER_KEY",),
    "gateway": ("ORDERS_CIPHER_KEY", "ORDERS_PSP_URL", "ORDERS_CARRIER_URL"),
    "psp-sim": ("ORDERS_PSP_WEBHOOK_URL", "ORDERS_PSP_WEBHOOK_SECRET"),
}
# What every process that sets it must set alike: one database and broker, one set of keys
# (another cipher key could not read the events, another webhook secret would refuse them).
SHARED = (*SERVERS, *credentials.VARIABLES)
CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
ALL_INTERFACES = ("0.0.0.0", "::")
LOCAL = ("127.0.0.1", "localhost", "::1")
# Where a process other than the API serves /metrics when ORDERS_METRICS_PORT is unset.
METRICS_PORT_DEFAULT = 9100
METRICS_PORT = "ORDERS_METRICS_PORT"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"  # the image's GF_PATHS_PROVISIONING
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not found: apt-get install prometheus")


# --- reading the files ----------------------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def services(doc: Doc) -> dict[str, Service]:
    return doc.get("services") or {}


def app_services(doc: Doc) -> dict[str, Service]:
    """The services built from the Dockerfile: the application's processes."""
    return {name: service for name, service in services(doc).items() if "build" in service}


def argv(service: Service) -> list[str]:
    given = service.get("command") or []
    return shlex.split(given) if isinstance(given, str) else [str(word) for word in given]


def environment(service: Service) -> dict[str, str]:
    """The service's variables as written (a mapping, or a list of NAME=value)."""
    given = service.get("environment") or {}
    if isinstance(given, list):
        given = dict(item.partition("=")[::2] for item in given)
    return {str(name): "" if value is None else str(value) for name, value in given.items()}


_INTERPOLATION = re.compile(r"\$\$|\$\{(\w+)(?:(:?)-([^}]*))?\}|\$(\w+)")


def interpolated(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` as compose reads it: ${NAME}, ${NAME:-default}, ${NAME-default}, $NAME and $$.
    By default with nothing set, so the demo values are what is checked."""
    environ = environ or {}

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        given = environ.get(name)
        if match.group(3) is not None and (given is None or (match.group(2) and given == "")):
            return match.group(3)
        return given or ""

    return _INTERPOLATION.sub(value, text)


def effective_environment(service: Service) -> dict[str, str]:
    return {name: interpolated(value) for name, value in environment(service).items()}


def volumes(service: Service) -> list[tuple[str, str]]:
    """(source, target) of every mount, short or long syntax."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((str(volume.get("source", "")), str(volume.get("target", ""))))
        else:
            source, _, rest = str(volume).partition(":")
            mounts.append((source, rest.partition(":")[0]))
    return mounts


def depends_on(service: Service) -> dict[str, str | None]:
    """{service: condition}; None for a list entry, which has no condition."""
    given = service.get("depends_on") or {}
    if isinstance(given, list):
        return dict.fromkeys(given)
    return {name: (spec or {}).get("condition") for name, spec in given.items()}


def has_healthcheck(service: Service) -> bool:
    check = service.get("healthcheck")
    if not isinstance(check, dict) or check.get("disable"):
        return False
    test = check.get("test")
    return bool(test) and test not in (["NONE"], "NONE")


# --- what the code says -------------------------------------------------------------------------


def processes() -> list[list[str]]:
    """Each process `orders run` starts, as its `orders` arguments (`["projector", "stock"]`)."""
    return [argv[argv.index("services.cli") + 1 :] for _, argv in run.children()]


def settings_variables() -> set[str]:
    """Every environment variable the Settings model reads."""
    return {
        field.validation_alias if isinstance(field.validation_alias, str) else PREFIX + name.upper()
        for name, field in Settings.model_fields.items()
    }


def http_commands(group: TyperGroup) -> set[str]:
    """The `orders` commands that serve HTTP: those told where to listen (`--host`)."""
    return {name for name, cmd in group.commands.items() if any(p.name == "host" for p in cmd.params)}


def metrics_port(service: Service) -> int | None:
    """Where an application service serves /metrics: the API on its own port, any other
    process on its ORDERS_METRICS_PORT (9100 unless the Settings say otherwise); None if 0."""
    if argv(service)[:1] == ["api"]:
        return listening_port(service)
    if "metrics_port" not in Settings.model_fields:  # the brief's default, until Settings read it
        return int(effective_environment(service).get(METRICS_PORT) or METRICS_PORT_DEFAULT)
    try:
        port = int(Settings.from_env(effective_environment(service)).metrics_port)
    except SettingsError:
        port = int(Settings().metrics_port)
    return port or None


LISTENS: dict[str, Callable[[Settings], int]] = {
    "api": lambda settings: settings.api_port,
    **{simulator.name: simulator.port for simulator in SIMULATORS},
}


def listening_port(service: Service) -> int | None:
    """Where an HTTP process listens: its --port, else its port setting; None if it serves none."""
    words = argv(service)
    if not words or words[0] not in LISTENS:
        return None
    if "--port" in words[:-1]:
        return int(words[words.index("--port") + 1])
    try:
        return LISTENS[words[0]](Settings.from_env(effective_environment(service)))
    except SettingsError:
        return LISTENS[words[0]](Settings())


# --- the checks -----------------------------------------------------------------------------------


def runs(words: list[str], process: list[str]) -> bool:
    """True if `words` is `orders` `process`, perhaps with options after it."""
    rest = words[len(process) :]
    return words[: len(process)] == process and (not rest or rest[0].startswith("--"))


def process_problems(doc: Doc, wanted: Iterable[list[str]]) -> list[str]:
    commands = [argv(service) for service in app_services(doc).values()]
    return [
        f"no service runs `orders {' '.join(process)}`"
        for process in wanted
        if not any(runs(words, process) for words in commands)
    ]


def command_problems(doc: Doc, group: TyperGroup) -> list[str]:
    """Every application service's command is one the command line accepts."""
    problems = []
    for name, service in app_services(doc).items():
        words = argv(service)
        if not words:
            problems.append(f"{name} has no command (the image's default is only --help)")
            continue
        cmd = group.commands.get(words[0])
        if cmd is None:
            problems.append(f"{name} runs `orders {words[0]}`, which is no command")
            continue
        try:
            cmd.make_context(words[0], words[1:])
        except Exception as error:  # typer's own click's usage errors
            message = error.format_message() if hasattr(error, "format_message") else str(error)
            problems.append(f"{name}: `orders {' '.join(words)}`: {message}")
    return problems


def image_problems(doc: Doc) -> list[str]:
    return [
        f"{name} has neither an image nor a build"
        for name, s in services(doc).items()
        if not (s.get("image") or s.get("build"))
    ]


def healthcheck_problems(doc: Doc, http: set[str]) -> list[str]:
    """Every server has a health check: every service from an image of its own (PostgreSQL,
    Kafka, Prometheus, Grafana) and every application service that serves HTTP, its
    command's or its metrics."""
    problems = []
    for name, service in services(doc).items():
        words = argv(service)
        serves = bool(words) and (words[0] in http or metrics_port(service) is not None)
        server = "build" not in service or serves
        if server and not has_healthcheck(service):
            problems.append(f"{name} is a server without a health check")
    return problems


def dependency_problems(doc: Doc) -> list[str]:
    """Every depends_on names a defined service, with a condition (a health check, if it waits
    for health), and none waits on itself through others."""
    defined = services(doc)
    problems = []
    for name, service in defined.items():
        for other, condition in depends_on(service).items():
            if other not in defined:
                problems.append(f"{name} depends on {other}, which is not a service")
            elif condition is None:
                problems.append(f"{name} depends on {other} without a condition")
            elif condition not in CONDITIONS:
                problems.append(f"{name} depends on {other} with an unknown condition {condition!r}")
            elif condition == "service_healthy" and not has_healthcheck(defined[other]):
                problems.append(f"{name} waits for {other} to be healthy, which has no health check")
    return problems + cycle_problems(doc)


def cycle_problems(doc: Doc) -> list[str]:
    graph = {name: [d for d in depends_on(s) if d in services(doc)] for name, s in services(doc).items()}
    problems, done = [], set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            problems.append("a dependency cycle: " + " -> ".join([*path[path.index(name) :], name]))
            return
        if name in done:
            return
        for other in graph[name]:
            visit(other, [*path, name])
        done.add(name)

    for name in graph:
        visit(name, [])
    return problems


def environment_problems(doc: Doc, known: set[str], needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Each application service sets only variables the Settings read, at least the servers
    and what its command needs, values Settings accept, and the servers and keys (SHARED) as
    every other service that sets them does."""
    problems: list[str] = []
    seen: dict[str, tuple[str, str]] = {}
    for name, service in app_services(doc).items():
        given = effective_environment(service)
        for variable in sorted(set(given) - known):
            problems.append(f"{name} sets {variable}, which infrastructure/settings.py does not read")
        words = argv(service)
        needed = [*SERVERS, *needs.get(words[0] if words else "", ())]
        problems += [f"{name} does not set {v}" for v in needed if not given.get(v)]
        try:
            Settings.from_env(given)
        except SettingsError as error:
            problems.append(f"{name}: {error}")
        for variable, value in given.items():
            if variable in SHARED and seen.setdefault(variable, (name, value))[1] != value:
                problems.append(f"{variable} differs between {seen[variable][0]} and {name}")
    return problems


def _hosts(variable: str, value: str) -> Iterator[tuple[str, int | None]]:
    """(host, port) of every server a variable's value names."""
    if variable == "DATABASE_URL":
        params = conninfo_to_dict(value)
        yield str(params.get("host") or ""), int(params.get("port") or 5432)
    elif variable == "KAFKA_BOOTSTRAP_SERVERS":
        for address in value.split(","):
            host, _, port = address.strip().rpartition(":")
            yield host, int(port) if port.isdigit() else None
    elif re.match(r"https?://", value):
        url = urlsplit(value)
        yield url.hostname or "", url.port or (443 if url.scheme == "https" else 80)


def address_problems(doc: Doc, http: set[str]) -> list[str]:
    """Every server an application service's environment names is a service it waits for (to
    be healthy), on the port that service listens on; the provider's webhooks go to the path
    where the API takes them; and an HTTP process listens beyond 127.0.0.1."""
    defined = services(doc)
    problems = []
    for name, service in app_services(doc).items():
        waits = depends_on(service)
        for variable, value in effective_environment(service).items():
            for host, port in _hosts(variable, value):
                target = defined.get(host)
                if target is None:
                    problems.append(f"{name}'s {variable} names {host!r}, which is not a service")
                    continue
                if waits.get(host) != "service_healthy":
                    problems.append(
                        f"{name} reaches {host} ({variable}) but does not wait for it to be healthy"
                    )
                listens = listening_port(target)
                if listens is not None and port != listens:
                    problems.append(f"{name}'s {variable} says port {port}; {host} listens on {listens}")
                advertised = effective_environment(target).get("KAFKA_ADVERTISED_LISTENERS")
                if advertised and f"//{host}:{port}" not in advertised:
                    problems.append(f"{name}'s {variable} is {host}:{port}, which {host} does not advertise")
            if variable == "ORDERS_PSP_WEBHOOK_URL" and urlsplit(value).path != run.WEBHOOK_PATH:
                path = urlsplit(value).path
                problems.append(f"{name} sends webhooks to {path}; the API takes them at {run.WEBHOOK_PATH}")
        words = argv(service)
        if words and words[0] in http:
            host = words[words.index("--host") + 1] if "--host" in words[:-1] else "127.0.0.1"
            if host not in ALL_INTERFACES:
                problems.append(f"{name} listens on {host}: no other container can reach it")
            published = [str(p).rpartition(":")[2] for p in service.get("ports") or []]
            if any(port != str(listening_port(service)) for port in published):
                problems.append(f"{name} publishes {published}, but listens on {listening_port(service)}")
    return problems


def probe_problems(doc: Doc, status: Callable[[str, str], int]) -> list[str]:
    """An application service's health check asks itself, on a port it listens on, a path it
    answers with 200: its metrics port's /metrics, or one its command answers (`status(command,
    path)` asks the application in process)."""
    problems = []
    for name, service in app_services(doc).items():
        words = argv(service)
        if not words or not has_healthcheck(service):
            continue
        test = " ".join(map(str, service["healthcheck"]["test"]))
        found = re.search(r"https?://[^\s'\"]+", test)
        if found is None:
            problems.append(f"{name}'s health check asks no URL")
            continue
        url = urlsplit(found.group(0))
        ports = {port for port in (listening_port(service), metrics_port(service)) if port is not None}
        if url.hostname not in LOCAL or url.port not in ports:
            problems.append(f"{name}'s health check asks {url.netloc}; it listens on {sorted(ports)}")
        elif url.port == metrics_port(service) and url.port != listening_port(service):
            if url.path != "/metrics":
                problems.append(
                    f"{name}'s health check asks {url.path} of its metrics port, which serves /metrics"
                )
        elif (answer := status(words[0], url.path)) != 200:
            problems.append(
                f"{name}'s health check asks {url.path}, which `orders {words[0]}` answers with {answer}"
            )
    return problems


def _targets(prometheus: Doc) -> set[tuple[str, int]]:
    found = set()
    for job in prometheus.get("scrape_configs") or []:
        if job.get("metrics_path", "/metrics") != "/metrics":
            continue
        for static in job.get("static_configs") or []:
            for target in static.get("targets") or []:
                host, _, port = str(target).rpartition(":")
                found.add((host, int(port)))
    return found


def scrape_problems(doc: Doc, prometheus: Doc) -> list[str]:
    """Prometheus scrapes every application service at /metrics (the API on its own port, the
    others on ORDERS_METRICS_PORT), only services of the file, and loads the alerts."""
    targets = _targets(prometheus)
    problems = []
    for name, service in app_services(doc).items():
        port = metrics_port(service)
        if port is not None and (name, port) not in targets:
            problems.append(f"Prometheus does not scrape {name} at {name}:{port}/metrics")
    for host, port in sorted(targets):
        if host not in services(doc) and host not in LOCAL:
            problems.append(f"Prometheus scrapes {host}:{port}, which is not a service")
    if "alerts.yml" not in (prometheus.get("rule_files") or []):
        problems.append("Prometheus does not load alerts.yml")
    return problems


def dashboard_peer_problems(doc: Doc) -> list[str]:
    """The API's dashboard adds up every other application service's metrics: its
    ORDERS_METRICS_URLS names each of them, at its /metrics, and nothing else."""
    apps = app_services(doc)
    api = next((s for s in apps.values() if argv(s)[:1] == ["api"]), None)
    if api is None:
        return []
    pairs = (pair.partition("=") for pair in effective_environment(api).get(run.METRICS_URLS, "").split())
    named = {(urlsplit(url).hostname, urlsplit(url).port, urlsplit(url).path) for _, _, url in pairs}
    wanted = {
        (name, port, "/metrics")
        for name, service in apps.items()
        if argv(service)[:1] != ["api"] and (port := metrics_port(service)) is not None
    }
    return [
        f"the API's {run.METRICS_URLS} lacks {host}:{port}{path}"
        for host, port, path in sorted(wanted - named)
    ] + [
        f"the API's {run.METRICS_URLS} names {host}:{port}{path}, no service's metrics"
        for host, port, path in sorted(named - wanted, key=str)
    ]


def _mounted(service: Service, root: Path) -> dict[str, Path]:
    """{container path: host path} of the service's bind mounts."""
    return {target: root / source for source, target in volumes(service) if source.startswith((".", "/"))}


def mount_problems(doc: Doc, root: Path) -> list[str]:
    """Every file or directory a service mounts from the repository exists."""
    return [
        f"{name} mounts {source}, which does not exist"
        for name, service in services(doc).items()
        for source, _ in volumes(service)
        if source.startswith((".", "/")) and not (root / source).exists()
    ]


def prometheus_problems(doc: Doc, root: Path) -> tuple[list[str], Doc]:
    """Prometheus reads the configuration it is given, and every rule file that names is
    mounted beside it. Returns the problems and the configuration (empty if unreadable)."""
    service = services(doc).get("prometheus")
    if service is None:
        return ["no prometheus service"], {}
    flags = dict(word.partition("=")[::2] for word in argv(service) if word.startswith("--"))
    config = flags.get("--config.file", "/etc/prometheus/prometheus.yml")
    mounted = _mounted(service, root)
    if config not in mounted or not mounted[config].is_file():
        return [f"Prometheus reads {config}, which no mount of an existing file gives it"], {}
    prometheus = load_yaml(mounted[config]) or {}
    problems = []
    for rule_file in prometheus.get("rule_files") or []:
        path = str(PurePosixPath(config).parent / rule_file)
        if path not in mounted:
            problems.append(f"Prometheus loads {path}, which is not mounted")
    return problems, prometheus


def grafana_problems(doc: Doc, root: Path) -> tuple[list[str], dict[str, Any]]:
    """Grafana is provisioned from a mounted directory: data sources that name a service, and
    dashboard providers whose path is a mounted directory of dashboards. Returns the problems
    and {dashboard file: its JSON}."""
    service = services(doc).get("grafana")
    if service is None:
        return ["no grafana service"], {}
    mounted = _mounted(service, root)
    provisioning = mounted.get(GRAFANA_PROVISIONING)
    if provisioning is None or not provisioning.is_dir():
        return [f"nothing is mounted at {GRAFANA_PROVISIONING}"], {}
    problems, uids, dashboards = [], set(), {}
    sources = [
        s for f in sorted(provisioning.glob("datasources/*.y*ml")) for s in load_yaml(f)["datasources"]
    ]
    if not sources:
        problems.append("no data source is provisioned")
    for source in sources:
        uids.add(source.get("uid"))
        host = urlsplit(source.get("url", "")).hostname
        if host not in services(doc):
            problems.append(f"the data source {source.get('name')} names {host!r}, which is not a service")
    providers = [p for f in sorted(provisioning.glob("dashboards/*.y*ml")) for p in load_yaml(f)["providers"]]
    if not providers:
        problems.append("no dashboard provider is provisioned")
    for provider in providers:
        path = (provider.get("options") or {}).get("path", "")
        if path not in mounted or not mounted[path].is_dir():
            problems.append(
                f"the dashboard provider {provider.get('name')} reads {path}, which is not mounted"
            )
            continue
        for json_file in sorted(mounted[path].glob("*.json")):
            dashboards[json_file.name] = json.loads(json_file.read_text())
        if not any(mounted[path].glob("*.json")):
            problems.append(f"{path} holds no dashboard")
    for file, dashboard in dashboards.items():
        for panel in dashboard.get("panels") or []:
            if (panel.get("datasource") or {}).get("uid") not in uids:
                problems.append(f"{file}: panel {panel.get('title')!r} uses no provisioned data source")
    return problems, dashboards


_METRIC = re.compile(r"\b(orders_[a-zA-Z0-9_:]*)\b")
SUFFIXES = ("_total", "_sum", "_count", "_bucket", "_created")


def dashboard_problems(dashboards: Mapping[str, Any], families: set[str]) -> list[str]:
    """Every dashboard has a uid, a title and panels, each with a query, and names only
    metrics that are exposed (a family, or a summary's or histogram's series of one)."""
    problems = []
    for file, dashboard in dashboards.items():
        if not (dashboard.get("uid") and dashboard.get("title") and dashboard.get("panels")):
            problems.append(f"{file} lacks a uid, a title or panels")
        for panel in dashboard.get("panels") or []:
            exprs = [t.get("expr", "") for t in panel.get("targets") or []]
            if not any(exprs):
                problems.append(f"{file}: panel {panel.get('title')!r} has no query")
            for metric in (m for expr in exprs for m in _METRIC.findall(expr)):
                base = next((metric.removesuffix(s) for s in SUFFIXES if metric.endswith(s)), metric)
                if metric not in families and base not in families:
                    problems.append(
                        f"{file}: panel {panel.get('title')!r} queries {metric}, which nothing exposes"
                    )
    return problems


def uncharted(dashboards: Mapping[str, Any], families: Iterable[str]) -> list[str]:
    """The families no panel of any dashboard queries, by any of their series."""
    exprs = [
        target.get("expr", "")
        for dashboard in dashboards.values()
        for panel in dashboard.get("panels") or []
        for target in panel.get("targets") or []
    ]
    queried = {metric for expr in exprs for metric in _METRIC.findall(expr)}
    bases = {next((m.removesuffix(s) for s in SUFFIXES if m.endswith(s)), m) for m in queried}
    return sorted(set(families) - queried - bases)


def promtool_problems(config: Path) -> list[str]:
    """What `promtool check config` says of a Prometheus configuration, the syntax only (the
    rule files are test_alert_rules.py's)."""
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [] if checked.returncode == 0 else [(checked.stdout + checked.stderr).strip()]


def pip_installs(commands: Iterable[str]) -> list[str]:
    """The `pip install` commands among `commands`, without what does not change what gets
    installed: quietness, pip's cache, and whether the project is editable."""
    noise = {"--quiet", "-q", "--no-cache-dir", "-e", "--editable"}
    found = []
    for text in commands:
        words = shlex.split(text)
        for i in range(len(words) - 1):
            if words[i].endswith("pip") and words[i + 1] == "install":
                found.append(" ".join(w for w in words[i + 2 :] if w not in noise))
    return found


def makefile_install_commands(makefile: str, target: str = "install") -> list[str]:
    """The recipe lines of `target` and of the prerequisites the Makefile defines, in order."""
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] | None = None
    for line in makefile.splitlines():
        if line.startswith("\t") and current is not None:
            current.append(line.strip().lstrip("@-"))
        elif (rule := re.match(r"^([^\s:#=][^:#=]*?)\s*:(?!=)(.*)$", line)) is not None:
            current = []
            for name in rule.group(1).split():
                rules[name] = (rule.group(2).split(), current)
        elif line.strip() and not line.startswith("#"):
            current = None
    lines: list[str] = []

    def gather(name: str) -> None:
        prerequisites, recipe = rules.get(name, ([], []))
        for prerequisite in prerequisites:
            gather(prerequisite)
        lines.extend(recipe)

    gather(target)
    return lines


def dockerfile_instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    joined = re.sub(
        r"\\\n", " ", "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    )
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip())
        for line in joined.splitlines()
        if line.strip()
    ]


def dockerfile_problems(dockerfile: str, makefile: str, packages: Iterable[str]) -> list[str]:
    """The image installs as `make install` does, from the files that needs, with the
    project's packages; runs as a user other than root; runs `orders`; has no health check."""
    instructions = dockerfile_instructions(dockerfile)
    run_commands = [part for kind, args in instructions if kind == "RUN" for part in re.split(r"&&|;", args)]
    problems = []
    docker, make = pip_installs(run_commands), pip_installs(makefile_install_commands(makefile))
    if docker != make:
        problems.append(f"the Dockerfile installs {docker}; make install runs {make}")
    base = [args for kind, args in instructions if kind == "FROM"]
    if base[:1] != ["python:3.11-slim"]:
        problems.append(f"the image is built FROM {base}, not python:3.11-slim")
    copied = {word.rstrip("/") for kind, args in instructions if kind == "COPY" for word in args.split()[:-1]}
    for needed in ("requirements.lock", "pyproject.toml", "README.md", *packages):
        if needed not in copied:
            problems.append(f"the Dockerfile does not copy {needed}")
    users = [args.split(":")[0] for kind, args in instructions if kind == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append("the image runs as root")
    entrypoints = [args for kind, args in instructions if kind == "ENTRYPOINT"]
    if not entrypoints or json.loads(entrypoints[-1]) != ["orders"]:
        problems.append(f'the entry point is {entrypoints}, not ["orders"]')
    if any(kind == "HEALTHCHECK" for kind, _ in instructions):
        problems.append("the image has a HEALTHCHECK: the compose file has one per service")
    return problems


def dockerignore_problems(dockerignore: str, required: Iterable[str] = (".venv", ".git")) -> list[str]:
    patterns = {
        line.strip().strip("/")
        for line in dockerignore.splitlines()
        if line.strip() and not line.startswith("#")
    }
    return [f".dockerignore does not exclude {path}" for path in required if path not in patterns]


# --- the repository's files -----------------------------------------------------------------------


@functools.cache
def compose() -> Doc:
    doc: Doc = load_yaml(ROOT / "docker-compose.yml")
    return doc


@functools.cache
def group() -> TyperGroup:
    return command()


def packages() -> list[str]:
    found = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    return [name.rstrip("*") for name in found["include"]]


@pytest.fixture
def families(system: System) -> set[str]:
    """The metric families the API's /metrics declares."""
    return set(re.findall(r"^# TYPE (\S+) ", api_client(system).get("/metrics").text, re.MULTILINE))


@pytest.fixture
def status(system: System) -> Callable[[str, str], int]:
    """How an HTTP command answers a GET of a path: the API over an in-memory system, a
    simulator as the app both share (its own routes need PostgreSQL)."""
    clients = {
        "api": api_client(system),
        **{s.name: TestClient(web.simulator_app(s.name, {})) for s in SIMULATORS},
    }
    return lambda name, path: clients[name].get(path).status_code


def test_the_file_is_a_compose_file_with_the_system_in_it() -> None:
    assert compose()["name"] == "idempotent-orders"
    assert {"postgres", "kafka", "prometheus", "grafana"} <= set(services(compose()))
    assert len(app_services(compose())) == len(processes())


def test_every_process_of_orders_run_is_a_service_running_its_command() -> None:
    assert ["projector", "stock"] in processes()  # derived from the code, not copied
    assert process_problems(compose(), processes()) == []
    assert command_problems(compose(), group()) == []


def test_every_service_has_an_image_and_every_server_a_health_check() -> None:
    assert http_commands(group()) == {"api", "psp-sim", "carrier-sim"}
    assert image_problems(compose()) == []
    assert healthcheck_problems(compose(), http_commands(group())) == []


def test_every_dependency_names_a_service_with_a_condition() -> None:
    assert dependency_problems(compose()) == []


def test_every_variable_is_a_setting_and_every_process_gets_what_it_needs() -> None:
    known = settings_variables()
    assert {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS", "ORDERS_API_KEYS", "ORDERS_CIPHER_KEY"} <= known
    assert environment_problems(compose(), known, NEEDS) == []


def test_every_address_names_a_service_on_its_port_and_waits_for_it() -> None:
    assert address_problems(compose(), http_commands(group())) == []


def test_every_health_check_asks_a_path_its_process_answers(status: Callable[[str, str], int]) -> None:
    assert probe_problems(compose(), status) == []


def test_prometheus_scrapes_every_process_and_grafana_shows_what_the_api_exposes(families: set[str]) -> None:
    assert "orders_api_requests_total" in families
    problems, prometheus = prometheus_problems(compose(), ROOT)
    assert problems == []
    assert scrape_problems(compose(), prometheus) == []
    assert dashboard_peer_problems(compose()) == []
    problems, dashboards = grafana_problems(compose(), ROOT)
    assert problems == []
    assert "orders.json" in dashboards
    assert dashboard_problems(dashboards, families | {"up"}) == []


def test_every_family_the_system_defines_has_a_panel() -> None:
    families = {family.name for family in Metrics().registry.collect() if NAME.fullmatch(family.name)}
    assert "orders_consumer_lag_records" in families
    _, dashboards = grafana_problems(compose(), ROOT)
    assert uncharted(dashboards, families) == []


@needs_promtool
def test_prometheus_accepts_its_configuration(tmp_path: Path) -> None:
    assert promtool_problems(ROOT / "ops/prometheus/prometheus.yml") == []
    broken_config = tmp_path / "prometheus.yml"
    broken_config.write_text("global:\n  scrape_interval: soon\n")
    assert promtool_problems(broken_config) != []


def test_every_mounted_file_exists() -> None:
    assert mount_problems(compose(), ROOT) == []


def test_the_dockerfile_installs_as_make_install_does() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert pip_installs(makefile_install_commands(makefile)) == [
        "--upgrade pip",
        "-r requirements.lock",
        "--no-deps .",
    ]
    assert dockerfile_problems((ROOT / "Dockerfile").read_text(), makefile, packages()) == []
    assert dockerignore_problems((ROOT / ".dockerignore").read_text()) == []


def test_make_up_and_down_run_docker_compose() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert makefile_install_commands(makefile, "up") == ["docker compose up -d --build"]
    assert makefile_install_commands(makefile, "down") == ["docker compose down"]


# --- each check reports a broken document ---------------------------------------------------------


def broken(change: Callable[[Doc], object]) -> Doc:
    """The compose file, changed; a copy that shares nothing, as anchors make services share
    their environments in what the YAML parser returns."""
    doc: Doc = json.loads(json.dumps(compose()))
    change(doc)
    return doc


def _service(name: str) -> Callable[[Doc], Service]:
    return lambda doc: doc["services"][name]


def test_a_process_without_a_service_is_reported() -> None:
    doc = broken(lambda d: d["services"].pop("projector-stock"))
    assert process_problems(doc, processes()) == ["no service runs `orders projector stock`"]
    doc = broken(lambda d: _service("saga")(d).update(command=["saga-ish"]))
    assert process_problems(doc, processes()) == ["no service runs `orders saga`"]


def test_a_command_the_command_line_refuses_is_reported() -> None:
    doc = broken(lambda d: _service("relay")(d).update(command=["relay", "--bogus"]))
    assert command_problems(doc, group()) == ["relay: `orders relay --bogus`: No such option: --bogus"]
    doc = broken(lambda d: _service("relay")(d).update(command=["projector", "no_such"]))
    assert command_problems(doc, group()) == [
        "relay: `orders projector no_such`: Invalid value for 'NAME': 'no_such' is not one of"
        " order_summary, payment_ledger, stock"
    ]
    assert process_problems(doc, processes()) == ["no service runs `orders relay`"]
    doc = broken(lambda d: _service("saga")(d).pop("command"))
    assert command_problems(doc, group()) == ["saga has no command (the image's default is only --help)"]


def test_a_service_without_image_or_build_is_reported() -> None:
    doc = broken(lambda d: _service("postgres")(d).pop("image"))
    assert image_problems(doc) == ["postgres has neither an image nor a build"]


def test_a_server_without_a_health_check_is_reported() -> None:
    doc = broken(
        lambda d: (
            _service("api")(d).pop("healthcheck"),
            _service("kafka")(d)["healthcheck"].update(disable=True),
            _service("relay")(d).pop("healthcheck"),
            _service("saga")(d).pop("healthcheck"),
            _service("saga")(d)["environment"].update({METRICS_PORT: "0"}),  # serves nothing
        )
    )
    assert healthcheck_problems(doc, http_commands(group())) == [
        "kafka is a server without a health check",
        "api is a server without a health check",
        "relay is a server without a health check",
    ]


def test_a_bad_dependency_is_reported() -> None:
    def change(doc: Doc) -> None:
        doc["services"]["relay"]["depends_on"] = {"redis": {"condition": "service_healthy"}}
        doc["services"]["saga"]["depends_on"] = ["postgres"]
        doc["services"]["saga"].pop("healthcheck")
        doc["services"]["gateway"]["depends_on"]["saga"] = {"condition": "service_healthy"}
        doc["services"]["api"]["depends_on"]["kafka"] = {"condition": "service_up"}

    assert dependency_problems(broken(change)) == [
        "api depends on kafka with an unknown condition 'service_up'",
        "relay depends on redis, which is not a service",
        "gateway waits for saga to be healthy, which has no health check",
        "saga depends on postgres without a condition",
    ]


def test_a_dependency_cycle_is_reported() -> None:
    doc = broken(
        lambda d: _service("api")(d)["depends_on"].update({"psp-sim": {"condition": "service_healthy"}})
    )
    assert dependency_problems(doc) == ["a dependency cycle: api -> psp-sim -> api"]


def test_a_variable_the_settings_do_not_read_or_lack_is_reported() -> None:
    def change(doc: Doc) -> None:
        doc["services"]["relay"]["environment"] = {
            **environment(_service("relay")(doc)),
            "ORDERS_NOT_A_SETTING": "1",
        }
        doc["services"]["saga"]["environment"] = {
            k: v for k, v in environment(_service("saga")(doc)).items() if k != "DATABASE_URL"
        }
        doc["services"]["gateway"]["environment"] = {
            k: v for k, v in environment(_service("gateway")(doc)).items() if k != "ORDERS_PSP_URL"
        }

    assert environment_problems(broken(change), settings_variables(), NEEDS) == [
        "relay sets ORDERS_NOT_A_SETTING, which infrastructure/settings.py does not read",
        "gateway does not set ORDERS_PSP_URL",
        "saga does not set DATABASE_URL",
    ]


def test_an_unusable_or_inconsistent_value_is_reported() -> None:
    def change(doc: Doc) -> None:
        doc["services"]["saga"]["environment"]["ORDERS_CIPHER_KEY"] = "${KEY:-short}"
        doc["services"]["psp-sim"]["environment"]["ORDERS_PSP_WEBHOOK_SECRET"] = "another"

    problems = environment_problems(broken(change), settings_variables(), NEEDS)
    assert problems == [
        "saga: ORDERS_CIPHER_KEY must be base64 of 16, 24 or 32 random bytes (make one: python -c"
        " 'import os, base64; print(base64.b64encode(os.urandom(32)).decode())')",
        "ORDERS_CIPHER_KEY differs between api and saga",
        "ORDERS_PSP_WEBHOOK_SECRET differs between api and psp-sim",
    ]


def test_a_wrong_address_is_reported() -> None:
    def change(doc: Doc) -> None:
        gateway = doc["services"]["gateway"]
        gateway["environment"] = {**environment(gateway), "ORDERS_PSP_URL": "http://psp-sim:9999"}
        gateway["environment"]["ORDERS_CARRIER_URL"] = "http://carrier:8002"
        gateway["depends_on"].pop("psp-sim")
        psp = doc["services"]["psp-sim"]
        psp["environment"] = {**environment(psp), "ORDERS_PSP_WEBHOOK_URL": "http://api:8000/webhooks"}
        psp["environment"]["KAFKA_BOOTSTRAP_SERVERS"] = "kafka:9092"
        doc["services"]["api"]["command"] = ["api"]
        doc["services"]["carrier-sim"]["ports"] = ["8002:8003"]

    assert address_problems(broken(change), http_commands(group())) == [
        "api listens on 127.0.0.1: no other container can reach it",
        "gateway reaches psp-sim (ORDERS_PSP_URL) but does not wait for it to be healthy",
        "gateway's ORDERS_PSP_URL says port 9999; psp-sim listens on 8001",
        "gateway's ORDERS_CARRIER_URL names 'carrier', which is not a service",
        "psp-sim's KAFKA_BOOTSTRAP_SERVERS is kafka:9092, which kafka does not advertise",
        f"psp-sim sends webhooks to /webhooks; the API takes them at {run.WEBHOOK_PATH}",
        "carrier-sim publishes ['8003'], but listens on 8002",
    ]


def test_a_health_check_that_asks_the_wrong_place_is_reported(status: Callable[[str, str], int]) -> None:
    def change(doc: Doc) -> None:
        def ask(name: str, old: str, new: str) -> None:
            check = doc["services"][name]["healthcheck"]
            check["test"] = [word.replace(old, new) for word in check["test"]]

        ask("api", "/readyz", "/ready")
        ask("relay", "/metrics", "/healthz")
        ask("saga", ":9100", ":8000")
        ask("carrier-sim", ":8002", ":8001")
        ask("psp-sim", "/openapi.json", "/metrics")  # its metrics are on 9100, not 8001

    assert probe_problems(broken(change), status) == [
        "api's health check asks /ready, which `orders api` answers with 404",
        "relay's health check asks /healthz of its metrics port, which serves /metrics",
        "saga's health check asks 127.0.0.1:8000; it listens on [9100]",
        "psp-sim's health check asks /metrics, which `orders psp-sim` answers with 404",
        "carrier-sim's health check asks 127.0.0.1:8001; it listens on [8002, 9100]",
    ]


def test_a_process_prometheus_does_not_scrape_is_reported() -> None:
    _, prometheus = prometheus_problems(compose(), ROOT)
    prometheus = copy.deepcopy(prometheus)
    prometheus["scrape_configs"] = [job for job in prometheus["scrape_configs"] if job["job_name"] != "saga"]
    prometheus["scrape_configs"].append({"job_name": "x", "static_configs": [{"targets": ["gone:9100"]}]})
    prometheus["rule_files"] = []
    doc = broken(lambda d: _service("relay")(d)["environment"].update({METRICS_PORT: "9200"}))
    assert scrape_problems(doc, prometheus) == [
        "Prometheus does not scrape relay at relay:9200/metrics",
        "Prometheus does not scrape saga at saga:9100/metrics",
        "Prometheus scrapes gone:9100, which is not a service",
        "Prometheus does not load alerts.yml",
    ]


def test_a_process_the_dashboard_does_not_add_up_is_reported() -> None:
    doc = broken(lambda d: _service("relay")(d)["environment"].update({METRICS_PORT: "9200"}))
    assert dashboard_peer_problems(doc) == [
        f"the API's {run.METRICS_URLS} lacks relay:9200/metrics",
        f"the API's {run.METRICS_URLS} names relay:9100/metrics, no service's metrics",
    ]


def test_a_missing_mount_or_monitoring_file_is_reported(tmp_path: Path) -> None:
    doc = broken(
        lambda d: _service("prometheus")(d)["volumes"].append("./ops/prometheus/missing.yml:/etc/x.yml:ro")
    )
    assert mount_problems(doc, ROOT) == [
        *mount_problems(compose(), ROOT),
        "prometheus mounts ./ops/prometheus/missing.yml, which does not exist",
    ]
    assert prometheus_problems(compose(), tmp_path) == (
        ["Prometheus reads /etc/prometheus/prometheus.yml, which no mount of an existing file gives it"],
        {},
    )
    doc = broken(lambda d: _service("prometheus")(d)["volumes"].pop(1))  # alerts.yml
    assert prometheus_problems(doc, ROOT)[0] == [
        "Prometheus loads /etc/prometheus/alerts.yml, which is not mounted"
    ]
    assert grafana_problems(compose(), tmp_path) == ([f"nothing is mounted at {GRAFANA_PROVISIONING}"], {})


def test_a_grafana_dashboard_that_queries_nothing_exposed_is_reported(tmp_path: Path) -> None:
    provisioning, dashboards = tmp_path / "provisioning", tmp_path / "dashboards"
    (provisioning / "datasources").mkdir(parents=True)
    (provisioning / "dashboards").mkdir()
    dashboards.mkdir()
    (provisioning / "datasources/ds.yml").write_text(
        "datasources: [{name: P, uid: p, url: 'http://nowhere:9090'}]\n"
    )
    (provisioning / "dashboards/d.yml").write_text("providers: [{name: d, options: {path: /dash}}]\n")
    panel = {
        "title": "T",
        "datasource": {"uid": "other"},
        "targets": [{"expr": "rate(orders_api_nothing_total[5m])"}],
    }
    (dashboards / "d.json").write_text(
        json.dumps({"uid": "d", "title": "D", "panels": [panel, {"title": "E"}]})
    )
    doc = {
        "services": {
            "grafana": {
                "image": "g",
                "volumes": [f"{provisioning}:{GRAFANA_PROVISIONING}", f"{dashboards}:/dash"],
            }
        }
    }

    problems, found = grafana_problems(doc, tmp_path)

    assert problems == [
        "the data source P names 'nowhere', which is not a service",
        "d.json: panel 'T' uses no provisioned data source",
        "d.json: panel 'E' uses no provisioned data source",
    ]
    assert dashboard_problems(found, {"orders_api_requests_total"}) == [
        "d.json: panel 'T' queries orders_api_nothing_total, which nothing exposes",
        "d.json: panel 'E' has no query",
    ]
    ok = {
        "d.json": {
            "uid": "d",
            "title": "D",
            "panels": [{"targets": [{"expr": "orders_x_seconds_sum / orders_x_seconds_count"}]}],
        }
    }
    assert dashboard_problems(ok, {"orders_x_seconds"}) == []
    both = {**found, "e.json": ok["d.json"]}
    assert uncharted(both, {"orders_x_seconds", "orders_api_nothing", "orders_y"}) == ["orders_y"]


def test_a_dockerfile_that_installs_otherwise_or_runs_as_root_is_reported() -> None:
    makefile = (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    other = dockerfile.replace("pip install --quiet -r requirements.lock", "pip install --quiet -e '.[dev]'")
    other = other.replace("USER orders", "USER root").replace("COPY projections/ projections/\n", "")
    other += 'HEALTHCHECK CMD ["true"]\n'
    assert dockerfile_problems(other, makefile, packages()) == [
        "the Dockerfile installs ['--upgrade pip', '.[dev]', '--no-deps .'];"
        " make install runs ['--upgrade pip', '-r requirements.lock', '--no-deps .']",
        "the Dockerfile does not copy projections",
        "the image runs as root",
        "the image has a HEALTHCHECK: the compose file has one per service",
    ]
    entry = dockerfile.replace('ENTRYPOINT ["orders"]', 'ENTRYPOINT ["python", "-m", "services.cli"]')
    assert dockerfile_problems(entry.replace("python:3.11-slim", "python:3.12"), makefile, packages()) == [
        "the image is built FROM ['python:3.12'], not python:3.11-slim",
        """the entry point is ['["python", "-m", "services.cli"]'], not ["orders"]""",
    ]


def test_a_dockerignore_that_lets_the_virtualenv_in_is_reported() -> None:
    assert dockerignore_problems("# nothing\n.git/\n") == [".dockerignore does not exclude .venv"]
    assert dockerignore_problems("/.venv\n.git\n") == []


def test_compose_interpolation_reads_defaults_and_the_environment() -> None:
    assert interpolated("a${X:-b}c${Y-d}$$e") == "abcd$e"
    assert interpolated("${X:-b}|${X-b}|$X|${X}", {"X": ""}) == "b|||"
    assert interpolated("${X:-b}|$X", {"X": "v"}) == "v|v"
