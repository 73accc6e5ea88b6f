"""Entry point of ``python -m rehearsal`` (see rehearsal/cli.py)."""

from __future__ import annotations

import os
import sys

from rehearsal.cli import main

if __name__ == "__main__":
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``... | head``): not an error of the twin.
        # Point stdout at devnull so the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
