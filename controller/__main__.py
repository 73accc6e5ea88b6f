"""``python -m controller``: the operator CLI (see :mod:`controller.cli.main`)."""

from __future__ import annotations

import logging

from controller.cli.main import main

if __name__ == "__main__":
    # The service logs what it does on the way. Its errors (a failed
    # notification, a write retried after a failure) go to stderr; its
    # warnings repeat what the command prints anyway.
    # Configured here, not in main(), so calling main() in-process leaves the
    # host's logging alone.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s: %(message)s")
    raise SystemExit(main())
