"""The moto bridge: Pulumi resource registrations become AWS API calls on moto.

Use :class:`Bridge` (one per emulator); each service module holds the
translations of its resource types, tested one by one in
``tests/aws/test_bridge_<module>.py``. A translation is the one entry a
resource type needs: ``plan`` (rehearsal/world/fabricate.py,
rehearsal/world/records.py) reads the same table.
"""

from __future__ import annotations

from rehearsal.world.bridge.base import Created, Translation
from rehearsal.world.bridge.registry import Bridge, all_translations, translation_for

__all__ = ["Bridge", "Created", "Translation", "all_translations", "translation_for"]
