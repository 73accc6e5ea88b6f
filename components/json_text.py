"""The JSON text of a document that goes into a resource input.

Keys are sorted so that the same document always gives the same text: a
reordered dict must not show up as a diff in a preview.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def json_text(document: Mapping[str, Any]) -> str:
    """``document`` as JSON with sorted keys."""
    return json.dumps(document, sort_keys=True)
