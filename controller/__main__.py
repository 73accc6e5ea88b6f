"""``python -m controller``: the operator CLI (see :mod:`controller.cli`)."""

from __future__ import annotations

import logging

from controller.cli import main

if __name__ == "__main__":
    # The service logs what it does on the way (a retried write, a failed
    # notification): the operator sees its warnings and errors on stderr.
    # Configured here, not in main(), so calling main() in-process leaves the
    # host's logging alone.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    raise SystemExit(main())
