"""The example stack the tests deploy: Pulumi.prod.yaml at the project root."""

from __future__ import annotations

from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
STACK = "prod"
REGION = "ap-northeast-1"
# The example stack's first route.
ROUTE = "map-tile"
