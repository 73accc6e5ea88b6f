"""``python -m controller``: the operator CLI (see :mod:`controller.cli`)."""

from __future__ import annotations

from controller.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
