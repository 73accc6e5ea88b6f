"""Turn a Pulumi archive (the ``code`` of a Lambda function) into zip bytes.

Pulumi zips a ``FileArchive`` folder (or passes a ``.zip`` file as is) and
builds an ``AssetArchive`` from its named assets; ``CreateFunction`` takes
the zip bytes. Entries are sorted and carry a fixed timestamp so the same
folder always gives the same ``CodeSha256``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pulumi

from rehearsal.errors import BridgeError

# The earliest timestamp a zip entry can carry; fixed for reproducible zips.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Folders that Python recreates on import: leaving them out keeps the zip
# identical whether or not the code was imported before.
_SKIPPED_DIRS = frozenset({"__pycache__"})


def archive_to_zip(archive: Any, base_dir: Path) -> bytes:
    """The zip bytes of ``archive``; relative paths resolve against ``base_dir``."""
    if isinstance(archive, pulumi.FileArchive):
        path = _resolve(archive.path, base_dir)
        if path.is_file():
            # A .zip (or .jar) file is uploaded as is, like Pulumi does.
            return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        _add(zipped, archive, "", base_dir)
    return buffer.getvalue()


def _resolve(path: str, base_dir: Path) -> Path:
    resolved = Path(path)
    if not resolved.is_absolute():
        resolved = base_dir / resolved
    if not resolved.exists():
        raise BridgeError(f"archive path {str(resolved)!r} does not exist")
    return resolved


def _write(zipped: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    # Regular file, rw-r--r--: Lambda needs the handler file readable.
    info.external_attr = 0o100644 << 16
    zipped.writestr(info, data)


def _add(zipped: zipfile.ZipFile, item: Any, prefix: str, base_dir: Path) -> None:
    if isinstance(item, pulumi.FileArchive):
        path = _resolve(item.path, base_dir)
        if path.is_file():
            with zipfile.ZipFile(path) as inner:
                for entry in sorted(inner.namelist()):
                    if not entry.endswith("/"):
                        _write(zipped, prefix + entry, inner.read(entry))
            return
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            relative = file.relative_to(path)
            if _SKIPPED_DIRS.intersection(relative.parts):
                continue
            _write(zipped, prefix + relative.as_posix(), file.read_bytes())
    elif isinstance(item, pulumi.AssetArchive):
        for name in sorted(item.assets):
            asset = item.assets[name]
            if isinstance(asset, pulumi.Archive):
                _add(zipped, asset, f"{prefix}{name.rstrip('/')}/", base_dir)
            else:
                _write(zipped, prefix + name, _asset_bytes(asset, base_dir))
    else:
        raise BridgeError(f"unsupported archive {type(item).__name__} (no network in the twin)")


def _asset_bytes(asset: Any, base_dir: Path) -> bytes:
    if isinstance(asset, pulumi.FileAsset):
        return _resolve(str(asset.path), base_dir).read_bytes()
    if isinstance(asset, pulumi.StringAsset):
        return str(asset.text).encode()
    raise BridgeError(f"unsupported asset {type(asset).__name__} (no network in the twin)")
