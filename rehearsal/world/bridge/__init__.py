"""The moto bridge: Pulumi resource registrations become AWS API calls on moto.

Use :class:`Bridge` (one per emulator); each service module holds the
translations of its resource types, tested one by one in
``tests/test_bridge_<module>.py``.
"""

from __future__ import annotations

from rehearsal.world.bridge.base import Created, Translation
from rehearsal.world.bridge.registry import Bridge, all_translations

__all__ = ["Bridge", "Created", "Translation", "all_translations"]
