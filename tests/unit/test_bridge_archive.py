"""Tests of rehearsal/world/bridge/archive.py: Pulumi archives become Lambda zip bytes."""

from __future__ import annotations

import io
import zipfile

import pulumi
import pytest

from rehearsal.errors import BridgeError
from rehearsal.world.bridge.archive import archive_to_zip


def _entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


@pytest.fixture
def source(tmp_path):
    folder = tmp_path / "functions" / "fn"
    (folder / "pkg").mkdir(parents=True)
    (folder / "app.py").write_text("def handler(e, c): return 1\n")
    (folder / "pkg" / "mod.py").write_text("X = 1\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    return tmp_path


def test_file_archive_folder_is_zipped_relative_to_the_project(source):
    data = archive_to_zip(pulumi.FileArchive("functions/fn"), source)
    assert _entries(data) == {
        "app.py": b"def handler(e, c): return 1\n",
        "pkg/mod.py": b"X = 1\n",
    }


def test_zip_is_reproducible(source):
    first = archive_to_zip(pulumi.FileArchive("functions/fn"), source)
    (source / "functions" / "fn" / "app.py").touch()
    assert archive_to_zip(pulumi.FileArchive("functions/fn"), source) == first


def test_zip_file_is_passed_as_is(source):
    zipped = archive_to_zip(pulumi.FileArchive("functions/fn"), source)
    (source / "code.zip").write_bytes(zipped)
    assert archive_to_zip(pulumi.FileArchive("code.zip"), source) == zipped


def test_asset_archive_combines_assets_and_folders(source):
    archive = pulumi.AssetArchive(
        {
            "handler.py": pulumi.StringAsset("print(1)\n"),
            "copied.py": pulumi.FileAsset("functions/fn/app.py"),
            "lib": pulumi.FileArchive("functions/fn/pkg"),
        }
    )
    assert _entries(archive_to_zip(archive, source)) == {
        "handler.py": b"print(1)\n",
        "copied.py": b"def handler(e, c): return 1\n",
        "lib/mod.py": b"X = 1\n",
    }


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(BridgeError, match="functions/missing"):
        archive_to_zip(pulumi.FileArchive("functions/missing"), tmp_path)


def test_remote_archive_is_refused(tmp_path):
    with pytest.raises(BridgeError, match="RemoteArchive"):
        archive_to_zip(pulumi.RemoteArchive("https://example.com/code.zip"), tmp_path)
