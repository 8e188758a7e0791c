"""python -m bench.e2e [--rates 5,10,20,40] [--duration 60] [--drain 60] [--profile [RATES]]
                      [--tiny] [--out DIR]

For each offered rate: a fresh schema and topic prefix, every process of `orders run`
started, SKUs restocked, orders placed open-loop through the API for --duration seconds,
up to --drain seconds for them to finish, the processes stopped, and the figures read from
the stores. Uses DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, or the dev stack in
$ORDERS_DEVSTACK_DIR (started if need be). Exits 0 whatever the figures say; non-zero only
when no order completed at all or the results could not be written.
"""

import argparse
import functools
import sys
import time
from pathlib import Path
from typing import Any

from bench.e2e import output, report
from bench.e2e.rate import Options, run_rate
from bench.e2e.system import servers

say = functools.partial(print, flush=True)
RESULTS = Path(__file__).parent.parent / "results"
TINY = {"rates": [2.0], "duration": 10.0, "drain": 20.0}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rates",
        type=rates,
        default=[5.0, 10.0, 20.0, 40.0],
        help="orders/s, comma-separated (default 5,10,20,40)",
    )
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of sending per rate (default 60)"
    )
    parser.add_argument(
        "--drain", type=float, default=60.0, help="seconds to wait for orders to end (default 60)"
    )
    parser.add_argument(
        "--profile",
        type=rates,
        nargs="?",
        const=[],
        metavar="RATES",
        help="sample the saga with py-spy during the send window: at every rate, or at the rates given",
    )
    parser.add_argument("--tiny", action="store_true", help="2 orders/s for 10s, short drain (for CI)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="where the results go (default bench/results)"
    )
    args = parser.parse_args(argv)
    if args.tiny:
        args.rates, args.duration, args.drain = TINY["rates"], TINY["duration"], TINY["drain"]
    return args


def rates(text: str) -> list[float]:
    values = [float(part) for part in text.split(",") if part.strip()]
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"positive numbers, comma-separated: {text!r}")
    return values


def main(argv: list[str]) -> int:
    args = parse(argv)
    began = time.time()
    stack = servers()
    results: dict[str, Any] = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": ["python", "-m", "bench.e2e", *argv],
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "environment": output.environment(stack.settings.database_url),
        "runs": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for rate in args.rates:
        profiled = args.profile is not None and (not args.profile or rate in args.profile)
        run = run_rate(stack, rate, Options(args.duration, args.drain, profiled, args.out), say)
        results["runs"].append(run)
        say(report.block(run))
    results["elapsed_s"] = time.time() - began
    say(report.summary(results["runs"]))
    say(f"\nresults: {output.write(results, args.out)}; plot: {output.plot(results['runs'], args.out)}")
    completed = sum(run["all"]["endings"].get("completed", 0) for run in results["runs"])
    if completed == 0:
        say("no order completed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
