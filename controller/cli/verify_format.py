"""The table ``python -m controller verify`` prints: one row per sample, then every difference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_verify"]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = []
    for row in (header, *rows):
        lines.append(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
    return lines


def render_verify(report: Mapping[str, Any]) -> str:
    """The check's report (``VerifyReport.to_dict()``) as text tables."""
    samples = report.get("samples") or []
    rows = [
        [
            str(s["sample"]),
            str(s["lambdaStatus"]),
            str(s["ecsStatus"]),
            str(s["lambdaBodyLength"]),
            str(s["ecsBodyLength"]),
            "same" if not s["differences"] else f"{s['differences']} differ",
        ]
        for s in samples
    ]
    lines = [f"compare {report.get('mode')}"]
    lines += _table(["SAMPLE", "LAMBDA", "ECS", "LAMBDA BYTES", "ECS BYTES", "RESULT"], rows)
    differences = report.get("differences") or []
    if differences:
        lines.append("")
        lines += _table(
            ["SAMPLE", "FIELD", "LAMBDA", "ECS"],
            [
                [str(d["sample"]), str(d["field"]), _cell(d.get("lambda")), _cell(d.get("ecs"))]
                for d in differences
            ],
        )
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return "(none)" if value is None else str(value)
