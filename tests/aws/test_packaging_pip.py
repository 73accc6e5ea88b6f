"""The map proxy's deployment archive built with the real pip (needs PyPI).

This tier (tests/aws) may reach the network; tests/unit covers the builder
with a fake pip. The builds go to a temporary cache, so every test really
runs pip (pip's own download cache still saves the downloads).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.packaging import build_function_archive

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DIR = REPO_ROOT / "functions" / "map_proxy"
REQUIREMENTS = FUNCTION_DIR / "requirements.txt"
# This interpreter's runtime, so that the archive's compiled wheels can be
# loaded here (wrapt ships a C extension per Python version).
LOCAL_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
LOCAL_ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine(), "")


def names_in(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        return zf.namelist()


@pytest.fixture(scope="module")
def local_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two real builds of the same inputs, for this machine's runtime, into separate caches.

    One pair serves both the reproducibility check and the run of the
    unpacked handler, so the module runs pip for them twice, not three times.
    """
    if not LOCAL_ARCHITECTURE:
        pytest.skip("no Lambda architecture matches this machine")
    root = tmp_path_factory.mktemp("builds")
    first, second = (
        build_function_archive(
            FUNCTION_DIR,
            REQUIREMENTS,
            runtime=LOCAL_RUNTIME,
            architecture=LOCAL_ARCHITECTURE,
            cache_dir=root / cache,
            name="map-tile",
            bytecode_python=Path(sys.executable),
        )
        for cache in ("one", "two")
    )
    return first, second


def test_two_real_builds_are_byte_identical_and_hold_the_pins(
    local_builds: tuple[Path, Path],
) -> None:
    first, second = local_builds
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    names = names_in(first)
    for expected in (
        "app.py",
        "proxy_upstream.py",
        "aws_lambda_powertools-3.37.0.dist-info/METADATA",
        "aws_xray_sdk-2.15.0.dist-info/METADATA",
        "urllib3-2.8.0.dist-info/METADATA",
    ):
        assert expected in names
    # wrapt's compiled part, built for this runtime and architecture.
    assert [n for n in names if n.startswith("wrapt/_wrappers.cpython-") and n.endswith(".so")]
    assert not [n for n in names if n.startswith("bin/")]
    assert not [n for n in names if n.startswith(("boto3/", "boto3-"))]


def test_arm64_with_the_layer_bundles_urllib3_only(tmp_path: Path) -> None:
    archive = build_function_archive(
        FUNCTION_DIR,
        REQUIREMENTS,
        runtime="python3.13",
        architecture="arm64",
        cache_dir=tmp_path,
        name="map-tile",
        bundle_powertools=False,
    )
    packages = {name.split("/")[0] for name in names_in(archive) if "/" in name}
    assert packages == {"urllib3", "urllib3-2.8.0.dist-info"}


def test_the_unpacked_archive_runs_the_handler_without_the_virtualenv(
    tmp_path: Path, local_builds: tuple[Path, Path]
) -> None:
    """Import and invoke the handler from the unpacked archive alone.

    The archive carries bytecode compiled by this interpreter, and the
    imports must use it: the run sets PYTHONDONTWRITEBYTECODE, as Lambda's
    read-only /var/task imposes, and checks that each module came from its
    `.pyc`. `python -S` leaves site-packages (this virtualenv) off sys.path, so a
    dependency missing from the archive fails the import, as it would in
    Lambda. The upstream URL points at a closed port: the health check path
    answers without calling it.
    """
    archive = local_builds[0]
    task_root = tmp_path / "task"
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(task_root)
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import app, urllib3, aws_lambda_powertools\n"
        "event = {'requestContext': {'elb': {}}, 'httpMethod': 'GET', 'path': '/health',\n"
        "         'headers': {}, 'body': '', 'isBase64Encoded': False}\n"
        "class Context:\n"
        "    function_name = 'map-tile'; memory_limit_in_mb = 512; aws_request_id = 'r'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:map-tile'\n"
        "    def get_remaining_time_in_millis(self): return 3000\n"
        "response = app.handler(event, Context())\n"
        "modules = [app, urllib3, aws_lambda_powertools]\n"
        "print(json.dumps({'status': response['statusCode'],\n"
        "    'files': [m.__file__ for m in modules],\n"
        "    'cached': [m.__spec__.cached for m in modules]}))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "map-tile",
        "AWS_REGION": "us-east-1",
        "UPSTREAM_URL": "http://127.0.0.1:9",
        "ROUTE_NAME": "map-tile",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [sys.executable, "-S", "-c", script, str(task_root)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["status"] == 200
    for path in result["files"]:
        assert Path(path).is_relative_to(task_root), path
    for cached in result["cached"]:
        # Present before the run: nothing could write it during the run.
        assert Path(cached).is_file(), cached
        assert Path(cached).is_relative_to(task_root), cached
