"""The report: what a rehearsal shows while it runs and once it is over.

The live progress lines (progress), the per-route outcome, traffic and
timeline as text or JSON (timeline), and the PNG chart (chart, matplotlib).

The names below are what ``python -m rehearsal run`` (rehearsal/run.py) uses;
each is imported from its submodule on first use (see rehearsal/lazy.py), so
matplotlib is imported only when a chart is drawn. The submodules stay
importable on their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rehearsal.lazy import load_export

if TYPE_CHECKING:
    from rehearsal.report.chart import write_chart
    from rehearsal.report.progress import ProgressPrinter
    from rehearsal.report.timeline import RehearsalReport, render_text

__all__ = ["ProgressPrinter", "RehearsalReport", "render_text", "write_chart"]

# Each name of __all__, under the submodule that defines it.
_EXPORTS = {
    "chart": ("write_chart",),
    "progress": ("ProgressPrinter",),
    "timeline": ("RehearsalReport", "render_text"),
}


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first use (see the module docstring)."""
    return load_export(__name__, _EXPORTS, name)
