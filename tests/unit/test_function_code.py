"""Tests of components/function_code.py: what a route function deploys, and its seam."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components import function_code, packaging
from components.config import FunctionConfig
from components.function_code import ArchiveRequest, archive_builder, function_archive

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "map_proxy"


def fn_config(**overrides: Any) -> FunctionConfig:
    values: dict[str, Any] = {
        "source": "functions/map_proxy",
        "source_path": SOURCE,
        "handler": "app.handler",
        "runtime": "python3.12",
        "architecture": "arm64",
        "memory_mb": 512,
        "timeout_seconds": 10,
        "reserved_concurrency": 5,
        "requirements_path": SOURCE / "requirements.txt",
    }
    values.update(overrides)
    return FunctionConfig(**values)


def test_the_request_is_the_folder_its_pins_and_its_target() -> None:
    assert function_code.archive_request(fn_config()) == ArchiveRequest(
        name="map_proxy",
        source_dir=SOURCE,
        requirements=SOURCE / "requirements.txt",
        runtime="python3.12",
        architecture="arm64",
        bundle_powertools=True,
    )
    layered = fn_config(powertools_layer=True, powertools_version="3.37.0")
    assert function_code.archive_request(layered).bundle_powertools is False


def test_the_archive_is_what_the_builder_in_place_returns(tmp_path: Path) -> None:
    built = tmp_path / "built.zip"
    seen: list[ArchiveRequest] = []

    def builder(request: ArchiveRequest) -> Path:
        seen.append(request)
        return built

    with archive_builder(builder):
        archive = function_archive("strangler-prod-map-tile", fn_config())
    assert archive.path == str(built)
    assert [request.name for request in seen] == ["map_proxy"]


def test_a_failed_build_names_the_function() -> None:
    def builder(request: ArchiveRequest) -> Path:
        raise packaging.PackagingError("function map_proxy: pip install failed")

    expected = r"^strangler-prod-map-tile: function map_proxy: pip"
    with archive_builder(builder), pytest.raises(packaging.PackagingError, match=expected):
        function_archive("strangler-prod-map-tile", fn_config())


def test_the_deploy_builds_with_pip_into_the_project_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def build(source_dir: Path, requirements: Path | None, **kwargs: Any) -> Path:
        calls.append({"source_dir": source_dir, "requirements": requirements, **kwargs})
        return tmp_path / "a.zip"

    monkeypatch.setattr(packaging, "build_function_archive", build)
    monkeypatch.setattr(packaging, "find_interpreter", lambda runtime: None)
    function_code.bytecode_interpreter.cache_clear()
    request = function_code.archive_request(fn_config(powertools_layer=True))
    try:
        assert function_code.build_with_pip(request) == tmp_path / "a.zip"
    finally:
        function_code.bytecode_interpreter.cache_clear()
    assert calls == [
        {
            "source_dir": SOURCE,
            "requirements": SOURCE / "requirements.txt",
            "runtime": "python3.12",
            "architecture": "arm64",
            "cache_dir": Path(__file__).resolve().parents[2] / "build" / "functions",
            "name": "map_proxy",
            "bundle_powertools": False,
            "bytecode_python": None,
        }
    ]
