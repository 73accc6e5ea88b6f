"""Benchmark of the failback: how long from the alarm to ECS 100 %, over many rehearsals.

Runs ``python -m rehearsal run --fail-at-stage 2`` (in-process, a fresh moto
each time: the brownfield, the real program applied, the real controller and
route function) ``--runs`` times, 20 by default, and prints each run's
``failback_ms`` and then the median, p90 and maximum.

``failback_ms`` is what the rehearsal measures: from the moment the route's
composite alarm changed state (``SetAlarmState`` returned) until a
``DescribeRules`` of the route's rule reads back ECS 100 %. In between: the
"CloudWatch Alarm State Change" event built and matched against the program's
EventBridge rule, its asynchronous delivery to the controller Lambda, and the
controller's rollback (read, ``ModifyRule``, read back). Everything runs in
one process against moto, so the figure is the controller's own path, not
AWS's delivery latency (EventBridge and CloudWatch add their own seconds).

Usage: .venv/bin/python bench/failback.py [--runs 20] [--stage 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

from rehearsal.run import RunOptions, run_rehearsal  # noqa: E402 - after the path setup

ROUTE = "map-tile"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def one_run(options: RunOptions) -> float:
    """One failing rehearsal; its failback_ms."""
    report = run_rehearsal(options)
    route = report.route(ROUTE)
    if route.outcome != "rolled_back" or route.failback_ms is None:
        raise SystemExit(f"run did not fail back: outcome {route.outcome} ({route.reason})")
    return route.failback_ms


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20, help="rehearsals to run (default 20)")
    parser.add_argument("--stage", type=int, default=2, help="the failing stage (default 2)")
    parser.add_argument("--stack", default="prod", help="the stack (default prod)")
    parser.add_argument("--bake-seconds", type=int, default=2, help="bake per stage (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    options = RunOptions(
        stack=args.stack,
        routes=(ROUTE,),
        fail_at_stage=args.stage,
        bake_seconds=args.bake_seconds,
    )
    figures: list[float] = []
    started = time.monotonic()
    for run in range(1, args.runs + 1):
        failback = one_run(options)
        figures.append(failback)
        if not args.json:
            print(f"run {run:2d}/{args.runs}: failback {failback:7.1f} ms", flush=True)
    summary = {
        "runs": len(figures),
        "stage": args.stage,
        "median_ms": round(statistics.median(figures), 1),
        "p90_ms": round(percentile(figures, 0.9), 1),
        "max_ms": round(max(figures), 1),
        "min_ms": round(min(figures), 1),
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"failback over {summary['runs']} rehearsals (stage {args.stage} failing): "
            f"median {summary['median_ms']} ms, p90 {summary['p90_ms']} ms, "
            f"max {summary['max_ms']} ms (min {summary['min_ms']} ms; {summary['seconds']} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
