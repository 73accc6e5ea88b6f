"""``--chart PATH``: the weight and the error rate over time, one row per route (PNG).

Each row shows the Lambda share of the rule (as the traffic read it), the
error rate of the requests the Lambda side served (5xx per time bucket), the
stage boundaries (verified shifts), and, when there was one, the failback:
the span from the alarm to the weights reading back ECS 100 %, labelled with
``failback_ms``.

Drawn with matplotlib's object API on the Agg canvas (no pyplot): no
display, no global figure state, safe to call from any thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from controller.core.split import split_text
from rehearsal.report.timeline import RehearsalReport, RouteReport

__all__ = ["DEFAULT_BUCKET_MS", "error_rate", "write_chart"]

# Error-rate buckets: short enough to show a spike within a compressed bake.
DEFAULT_BUCKET_MS = 250.0
ROW_HEIGHT_INCHES = 3.0
WIDTH_INCHES = 10.0

_WEIGHT_COLOUR = "tab:blue"
_ERROR_COLOUR = "tab:red"
_FAILBACK_COLOUR = "tab:orange"
_DRIFT_COLOUR = "tab:purple"
_CHANGE_COLOUR = "tab:green"


def error_rate(
    requests: Sequence[tuple[float, str, int]],
    *,
    side: str = "lambda",
    bucket_ms: float = DEFAULT_BUCKET_MS,
) -> list[tuple[float, float]]:
    """(bucket start in ms, percent of 5xx) of the requests ``side`` served, per bucket.

    Buckets with no request of that side are left out (no traffic is not a
    0 % error rate).
    """
    if bucket_ms <= 0:
        raise ValueError(f"bucket_ms must be positive, got {bucket_ms}")
    totals: dict[int, list[int]] = {}
    for at_ms, served_by, status in requests:
        if served_by != side:
            continue
        counts = totals.setdefault(int(at_ms // bucket_ms), [0, 0])
        counts[0] += 1
        if status >= 500:
            counts[1] += 1
    return [
        (index * bucket_ms, 100.0 * errors / count)
        for index, (count, errors) in sorted(totals.items())
    ]


def _step_points(
    points: Sequence[tuple[float, float]], end_ms: float
) -> tuple[list[float], list[float]]:
    """x (seconds) and y of a step line holding each value until the next point."""
    xs: list[float] = []
    ys: list[float] = []
    for at_ms, value in points:
        xs.append(at_ms / 1000)
        ys.append(value)
    if xs:
        xs.append(max(end_ms / 1000, xs[-1]))
        ys.append(ys[-1])
    return xs, ys


def _draw_route(axes: Axes, route: RouteReport, end_ms: float) -> None:
    series = route.series
    xs, ys = _step_points(series.weights, end_ms)
    axes.step(xs, ys, where="post", color=_WEIGHT_COLOUR, linewidth=2, label="lambda %")
    axes.set_ylim(-5, 105)
    axes.set_ylabel("lambda % (ecs % = 100 - lambda %)", color=_WEIGHT_COLOUR)
    axes.set_xlim(0, max(end_ms / 1000, 0.1))
    axes.grid(True, alpha=0.3)
    failback = f", failback {route.failback_ms:.0f} ms" if route.failback_ms is not None else ""
    final = split_text(route.final_weights)
    axes.set_title(f"{route.route}: {route.outcome}, {final}{failback}", loc="left", fontsize=10)

    for at_ms, stage in series.stage_starts:
        axes.axvline(at_ms / 1000, color="grey", linestyle=":", linewidth=1)
        axes.annotate(
            f"stage {stage}",
            (at_ms / 1000, 102),
            fontsize=7,
            color="grey",
            xytext=(2, 0),
            textcoords="offset points",
        )
    if series.alarm_at_ms is not None:
        end = series.failback_at_ms if series.failback_at_ms is not None else series.alarm_at_ms
        axes.axvspan(series.alarm_at_ms / 1000, end / 1000, color=_FAILBACK_COLOUR, alpha=0.3)
        axes.axvline(
            series.alarm_at_ms / 1000, color=_FAILBACK_COLOUR, linewidth=1.5, label="alarm"
        )
    # Vertical lines: when, colour, line style, width, legend label.
    markers: list[tuple[float | None, str, str, float, str]] = [
        (
            series.failback_at_ms,
            _FAILBACK_COLOUR,
            "--",
            1.5,
            f"failback ({route.failback_ms:.0f} ms)" if route.failback_ms else "failback",
        ),
        (series.manual_change_at_ms, _DRIFT_COLOUR, "--", 1.5, "weights changed by hand"),
        (series.redeploy_at_ms, _CHANGE_COLOUR, "-.", 1.2, "pulumi up (redeploy)"),
        (series.synced_at_ms, _CHANGE_COLOUR, "-.", 1.2, "rule synced"),
        (series.reorder_at_ms, _CHANGE_COLOUR, "-.", 1.2, "rule reordered by hand"),
    ]
    for marker_at_ms, colour, linestyle, linewidth, label in markers:
        if marker_at_ms is not None:
            axes.axvline(
                marker_at_ms / 1000,
                color=colour,
                linestyle=linestyle,
                linewidth=linewidth,
                label=label,
            )

    errors = axes.twinx()
    rates = error_rate(series.requests)
    if rates:
        errors.bar(
            [at / 1000 for at, _ in rates],
            [rate for _, rate in rates],
            width=DEFAULT_BUCKET_MS / 1000,
            align="edge",
            color=_ERROR_COLOUR,
            alpha=0.45,
            label="Lambda 5xx %",
        )
    errors.set_ylim(0, 105)
    errors.set_ylabel("Lambda 5xx %", color=_ERROR_COLOUR)

    handles, labels = axes.get_legend_handles_labels()
    more_handles, more_labels = errors.get_legend_handles_labels()
    axes.legend(handles + more_handles, labels + more_labels, loc="center left", fontsize=7)


def write_chart(report: RehearsalReport, path: Path) -> Path:
    """Write the PNG of ``report`` to ``path`` (parent folders created); returns the path."""
    rows = max(len(report.routes), 1)
    figure = Figure(figsize=(WIDTH_INCHES, ROW_HEIGHT_INCHES * rows), layout="constrained")
    # The x axis is the canaries' time, which starts after the stack was applied.
    end_ms = report.duration_ms - report.apply_ms
    for route in report.routes:
        for at_ms, _ in route.series.weights:
            end_ms = max(end_ms, at_ms)
    axes_list = figure.subplots(rows, 1, squeeze=False)[:, 0]
    for axes, route in zip(axes_list, report.routes, strict=False):
        _draw_route(axes, route, end_ms)
    axes_list[-1].set_xlabel("seconds since the canaries started")
    figure.suptitle(f"Strangler rehearsal of stack {report.stack}", fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=100)
    return path
