"""Runs the demo scenario and prints its summary."""

import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from services.bootstrap import System
from services.demo.checks import Check, check_all
from services.demo.scenario import DemoProvider, Scenario, make_plans
from services.demo.submitter import Submitter

CONTEXTS = ("orders", "inventory", "payments", "fulfillment")
OUTCOMES = ("applied", "duplicates", "refused", "retried")


def run_demo(
    system: System,
    provider: DemoProvider,
    orders: int,
    seed: int,
    workers: int,
    say: Callable[[str], None] = print,
) -> bool:
    """Run the scenario; True when every invariant holds."""
    rng = random.Random(seed)
    run = f"demo-{uuid.uuid4().hex[:6]}"
    skus = [f"{run}-SKU-{n}" for n in range(1, 6)]
    plans = make_plans(run, orders, skus, rng)
    submitter = Submitter()
    scenario = Scenario(system, provider, submitter)
    started = time.monotonic()
    say(f"run {run}: {orders} orders over {len(skus)} SKUs, {workers} workers, every command sent twice")
    scenario.restock(run, skus, quantity=40)
    endings: Counter[str] = Counter()
    with ThreadPoolExecutor(workers) as pool:
        for done, ending in enumerate(pool.map(scenario.run, plans), start=1):
            endings[ending] += 1
            if done % 20 == 0 or done == orders:
                say(f"  {done}/{orders} orders done ({time.monotonic() - started:.1f}s)")
    checks = check_all(system, provider, plans, skus)
    say(summary(endings, submitter.counts, checks, time.monotonic() - started))
    return all(check.ok for check in checks)


def summary(endings: Counter[str], counts: Counter[str], checks: list[Check], seconds: float) -> str:
    lines = ["", "orders by outcome:"]
    lines += [f"  {ending:<24}{n:>5}" for ending, n in sorted(endings.items())]
    lines += ["", f"  {'context':<14}" + "".join(f"{o:>12}" for o in OUTCOMES)]
    for context in CONTEXTS:
        lines.append(f"  {context:<14}" + "".join(f"{counts[f'{context}.{o}']:>12}" for o in OUTCOMES))
    total = sum(counts[f"{c}.duplicates"] for c in CONTEXTS)
    lines += [f"  duplicates absorbed: {total} (each answered exactly like its original)", ""]
    for check in checks:
        lines.append(f"  {'ok  ' if check.ok else 'FAIL'} {check.invariant}")
        lines += [f"       {violation}" for violation in check.violations[:10]]
    lines.append(f"\nfinished in {seconds:.1f}s")
    return "\n".join(lines)
