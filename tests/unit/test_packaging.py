"""The deployment archive builder, with a fake pip (no network).

The fake pip installs, for each pin it is given, a distribution folder the
way `pip install --target` lays one out: a package, a `.dist-info` with
METADATA, INSTALLER, REQUESTED and RECORD, and a console script in `bin/`
whose shebang names an interpreter path that changes on every run, as it
would between machines.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import re
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components import packaging
from components.packaging import (
    BUILD_FORMAT,
    ZIP_TIMESTAMP,
    PackagingError,
    PipResult,
    Requirement,
    archive_key,
    build_function_archive,
    normalize_name,
    parse_requirements,
    pinned_version,
    powertools_layer_parameter,
    read_requirements,
    source_files,
    without_distribution,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MAP_PROXY_DIR = REPO_ROOT / "functions" / "map_proxy"
MAP_PROXY_REQUIREMENTS = MAP_PROXY_DIR / "requirements.txt"

PINS = """\
# comment line
aws-lambda-powertools[tracer]==3.37.0
urllib3==2.8.0
aws-xray-sdk==2.15.0  # via aws-lambda-powertools
botocore==1.44.8  # via aws-xray-sdk
jmespath==1.1.0  # via aws-lambda-powertools, botocore
"""


@dataclass
class FakePip:
    """Records each call and installs the pinned distributions into --target.

    `extra` adds a distribution that no pin asked for (an unpinned transitive
    dependency); `version_override` installs another version than pinned;
    `fail_with` makes pip exit 1 with that output. `interpreter` is what
    the console scripts' shebang, and so their RECORD hash, depends on.
    """

    extra: tuple[str, str] | None = None
    version_override: dict[str, str] = field(default_factory=dict)
    fail_with: str | None = None
    interpreter: str = "/home/builder/venv/bin/python"
    calls: list[list[str]] = field(default_factory=list)
    pins_seen: list[list[str]] = field(default_factory=list)

    def __call__(self, args: Sequence[str]) -> PipResult:
        args = list(args)
        self.calls.append(args)
        requirements_file = Path(args[args.index("--requirement") + 1])
        lines = [line for line in requirements_file.read_text().splitlines() if line]
        self.pins_seen.append(lines)
        if self.fail_with is not None:
            return PipResult(returncode=1, output=self.fail_with)
        target = Path(args[args.index("--target") + 1])
        for line in lines:
            name, version = re.sub(r"\[.*\]", "", line).split("==")
            self._install(target, name, self.version_override.get(name, version))
        if self.extra is not None:
            self._install(target, *self.extra)
        return PipResult(returncode=0, output="Successfully installed")

    def _install(self, target: Path, name: str, version: str) -> None:
        module = name.replace("-", "_")
        package = target / module
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text(f"VERSION = {version!r}\n")
        # Bytecode as an import during the install could leave it.
        (package / "__pycache__").mkdir(exist_ok=True)
        (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\x00junk")
        scripts = target / "bin"
        scripts.mkdir(exist_ok=True)
        (scripts / f"{module}-cli").write_text(f"#!{self.interpreter}\nprint('cli')\n")
        info = target / f"{module}-{version}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nDescription.\n"
        )
        (info / "INSTALLER").write_text("pip\n")
        (info / "REQUESTED").write_text("")
        (info / "RECORD").write_text(
            f"{module}/__init__.py,sha256=abc,20\n"
            f"../../bin/{module}-cli,sha256={hashlib.sha256(self.interpreter.encode()).hexdigest()},40\n"
            f"{module}-{version}.dist-info/RECORD,,\n"
        )


def make_function(root: Path, requirements: str = PINS) -> Path:
    """A small function folder with a requirements file and some bytecode."""
    source = root / "fn"
    (source / "lib").mkdir(parents=True)
    (source / "app.py").write_text("def handler(event, context):\n    return {}\n")
    (source / "lib" / "helper.py").write_text("X = 1\n")
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00bytecode")
    (source / "stray.pyc").write_bytes(b"\x00bytecode")
    (source / "requirements.txt").write_text(requirements)
    return source


def build(
    source: Path,
    cache: Path,
    pip: FakePip,
    *,
    runtime: str = "python3.12",
    architecture: str = "x86_64",
    bundle_powertools: bool = True,
    bytecode_python: Path | None = None,
) -> Path:
    return build_function_archive(
        source,
        source / "requirements.txt",
        runtime=runtime,
        architecture=architecture,
        cache_dir=cache,
        name="map-tile",
        bundle_powertools=bundle_powertools,
        bytecode_python=bytecode_python,
        pip=pip,
    )


# --- Requirements -------------------------------------------------------------------------


def test_parse_requirements_reads_pins_extras_and_via() -> None:
    pins = parse_requirements(PINS)
    assert [p.name for p in pins] == [
        "aws-lambda-powertools",
        "urllib3",
        "aws-xray-sdk",
        "botocore",
        "jmespath",
    ]
    assert pins[0].extras == ("tracer",)
    assert pins[0].via == ()
    assert pins[4].via == ("aws-lambda-powertools", "botocore")
    assert pins[0].specifier() == "aws-lambda-powertools[tracer]==3.37.0"


@pytest.mark.parametrize(
    "line",
    [
        "urllib3>=2.8",
        "urllib3",
        "-e ./local",
        "-r other.txt",
        "urllib3 @ https://example.com/urllib3.whl",
        "urllib3==2.8.0; python_version < '3.10'",
    ],
)
def test_parse_requirements_refuses_anything_but_an_exact_pin(line: str) -> None:
    with pytest.raises(PackagingError, match=r"fn/requirements.txt:2: .* is not an exact pin"):
        parse_requirements(f"six==1.17.0\n{line}\n", origin="fn/requirements.txt")


def test_parse_requirements_refuses_a_name_pinned_twice() -> None:
    with pytest.raises(PackagingError, match="typing-extensions is pinned twice"):
        parse_requirements("typing_extensions==4.16.0\nTyping-Extensions==4.16.0\n")


def test_without_distribution_keeps_a_pin_another_kept_pin_still_needs() -> None:
    pins = parse_requirements(
        "powertools==1.0\nbotocore==1.0\n"
        "jmespath==1.0  # via powertools, botocore\n"
        "only-pt==1.0  # via powertools\n"
        "deep==1.0  # via only-pt\n"
    )
    kept = [p.name for p in without_distribution(pins, "powertools")]
    assert kept == ["botocore", "jmespath"]


def test_powertools_layer_leaves_only_urllib3_of_the_map_proxy_pins() -> None:
    pins = read_requirements(MAP_PROXY_REQUIREMENTS)
    kept = without_distribution(pins, "aws-lambda-powertools")
    assert [p.specifier() for p in kept] == ["urllib3==2.8.0"]


def test_pinned_version() -> None:
    pins = parse_requirements(PINS)
    assert pinned_version(pins, "AWS_Lambda_Powertools") == "3.37.0"
    with pytest.raises(PackagingError, match="boto3 is not pinned"):
        pinned_version(pins, "boto3")


# --- The map proxy's own requirements ---------------------------------------------------------


def _repo_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[normalize_name(name)] = version.strip()
    return pins


def test_map_proxy_pins_the_versions_the_tests_run() -> None:
    repo = _repo_pins()
    for pin in read_requirements(MAP_PROXY_REQUIREMENTS):
        assert repo.get(pin.name) == pin.version, pin.name


def test_map_proxy_pins_what_its_code_imports_and_no_boto3() -> None:
    own_modules = {path.stem for path in MAP_PROXY_DIR.glob("*.py")}
    imported: set[str] = set()
    for path in MAP_PROXY_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    third_party = imported - own_modules - set(sys.stdlib_module_names) - {"__future__"}
    distributions = importlib.metadata.packages_distributions()
    needed = {normalize_name(distributions[module][0]) for module in third_party}
    direct = {p.name for p in read_requirements(MAP_PROXY_REQUIREMENTS) if not p.via}
    assert needed == {"aws-lambda-powertools", "urllib3"}
    assert needed <= direct
    assert "boto3" not in {p.name for p in read_requirements(MAP_PROXY_REQUIREMENTS)}


# --- Layer parameter ---------------------------------------------------------------------------


def test_powertools_layer_parameter_names_the_public_ssm_parameter() -> None:
    assert (
        powertools_layer_parameter("x86_64", "python3.13", "3.23.0")
        == "/aws/service/powertools/python/x86_64/python3.13/3.23.0"
    )
    assert (
        powertools_layer_parameter("arm64", "python3.12", "3.37.0")
        == "/aws/service/powertools/python/arm64/python3.12/3.37.0"
    )


@pytest.mark.parametrize(
    ("architecture", "runtime", "version", "message"),
    [
        ("x86_64", "python3.13", "latest", "not a release version"),
        ("aarch64", "python3.13", "3.23.0", "architecture 'aarch64'"),
        ("x86_64", "python3.8", "3.23.0", "runtime 'python3.8'"),
    ],
)
def test_powertools_layer_parameter_refuses(
    architecture: str, runtime: str, version: str, message: str
) -> None:
    with pytest.raises(PackagingError, match=message):
        powertools_layer_parameter(architecture, runtime, version)


# --- Building -----------------------------------------------------------------------------------


def test_build_installs_for_the_runtime_and_architecture(tmp_path: Path) -> None:
    pip = FakePip()
    build(
        make_function(tmp_path), tmp_path / "cache", pip, runtime="python3.13", architecture="arm64"
    )
    (args,) = pip.calls
    assert args[0] == "install"
    assert args[args.index("--platform") + 1] == "manylinux2014_aarch64"
    assert args[args.index("--python-version") + 1] == "3.13"
    assert args[args.index("--implementation") + 1] == "cp"
    assert "--only-binary=:all:" in args
    assert "--no-compile" in args
    assert "--no-deps" not in args
    assert pip.pins_seen[0] == [
        "aws-lambda-powertools[tracer]==3.37.0",
        "urllib3==2.8.0",
        "aws-xray-sdk==2.15.0",
        "botocore==1.44.8",
        "jmespath==1.1.0",
    ]


def test_archive_holds_code_and_dependencies_without_bytecode_or_scripts(
    tmp_path: Path,
) -> None:
    archive = build(make_function(tmp_path), tmp_path / "cache", FakePip())
    assert archive.parent == tmp_path / "cache"
    assert archive.name.startswith("map-tile-") and archive.suffix == ".zip"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        record = zf.read("urllib3-2.8.0.dist-info/RECORD").decode()
        infos = zf.infolist()
    assert "app.py" in names and "lib/helper.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert "urllib3-2.8.0.dist-info/INSTALLER" in names
    assert "requirements.txt" not in names
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]
    assert not [n for n in names if n.startswith("bin/")]
    assert names == sorted(names)
    assert "../" not in record and "urllib3/__init__.py" in record
    for info in infos:
        assert info.date_time == ZIP_TIMESTAMP
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3
        assert info.compress_type == zipfile.ZIP_DEFLATED


def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path: Path) -> None:
    source = make_function(tmp_path)
    first = build(source, tmp_path / "one", FakePip())
    # Newer file times, and a pip whose scripts name another interpreter.
    for path in source.rglob("*.py"):
        path.touch()
    second = build(source, tmp_path / "two", FakePip(interpreter="/opt/other/bin/python3"))
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()


def test_an_archive_built_for_the_key_is_reused_without_pip(tmp_path: Path) -> None:
    source, cache = make_function(tmp_path), tmp_path / "cache"
    first = build(source, cache, FakePip())
    pip = FakePip()
    assert build(source, cache, pip) == first
    assert pip.calls == []
    assert [p.name for p in cache.iterdir()] == [first.name]  # no leftovers


@pytest.mark.parametrize(
    "change",
    ["source", "new file", "requirements", "runtime", "architecture", "layer"],
)
def test_any_input_change_builds_a_new_archive(tmp_path: Path, change: str) -> None:
    source, cache = make_function(tmp_path), tmp_path / "cache"
    first = build(source, cache, FakePip())
    options: dict[str, object] = {}
    if change == "source":
        (source / "lib" / "helper.py").write_text("X = 2\n")
    elif change == "new file":
        (source / "lib" / "extra.py").write_text("")
    elif change == "requirements":
        (source / "requirements.txt").write_text(PINS.replace("urllib3==2.8.0", "urllib3==2.7.0"))
    elif change == "runtime":
        options["runtime"] = "python3.13"
    elif change == "architecture":
        options["architecture"] = "arm64"
    else:
        options["bundle_powertools"] = False
    pip = FakePip()
    second = build(source, cache, pip, **options)  # type: ignore[arg-type]
    assert second != first
    assert len(pip.calls) == 1


def test_comments_in_the_requirements_do_not_change_the_key(tmp_path: Path) -> None:
    source, cache = make_function(tmp_path), tmp_path / "cache"
    first = build(source, cache, FakePip())
    (source / "requirements.txt").write_text("# reworded\n" + PINS.replace("# via", "#  via"))
    pip = FakePip()
    assert build(source, cache, pip) == first
    assert pip.calls == []


def test_archive_key_covers_the_builder_inputs(tmp_path: Path) -> None:
    source = make_function(tmp_path)
    files = source_files(source, exclude=[source / "requirements.txt"])
    assert [name for name, _ in files] == ["app.py", "lib/helper.py"]
    pins = [Requirement(name="six", extras=(), version="1.17.0", via=())]
    base = archive_key(files, pins, runtime="python3.12", architecture="x86_64", pip_version="26")
    assert len(base) == 64 and BUILD_FORMAT
    assert base != archive_key(
        files, pins, runtime="python3.12", architecture="x86_64", pip_version="27"
    )
    assert base != archive_key(
        files[:1], pins, runtime="python3.12", architecture="x86_64", pip_version="26"
    )


def test_with_the_layer_powertools_is_not_bundled(tmp_path: Path) -> None:
    pip = FakePip()
    archive = build(make_function(tmp_path), tmp_path / "cache", pip, bundle_powertools=False)
    assert pip.pins_seen[0] == ["urllib3==2.8.0"]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.startswith(("aws_lambda_powertools", "botocore"))]
    assert "urllib3/__init__.py" in names


def test_no_requirements_file_means_no_dependencies(tmp_path: Path) -> None:
    source = make_function(tmp_path)
    archive = build_function_archive(
        source, None, runtime="python3.12", architecture="x86_64", cache_dir=tmp_path / "c"
    )
    assert archive.name.startswith("fn-")  # named after the folder by default
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["app.py", "lib/helper.py", "requirements.txt"]


def test_a_function_without_requirements_needs_no_pip(tmp_path: Path) -> None:
    pip = FakePip()
    archive = build(make_function(tmp_path, requirements="# nothing\n"), tmp_path / "c", pip)
    assert pip.calls == []
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["app.py", "lib/helper.py"]


# --- Bytecode ---------------------------------------------------------------------------------

LOCAL_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
OTHER_RUNTIME = "python3.13" if LOCAL_RUNTIME != "python3.13" else "python3.12"
CACHE_TAG = sys.implementation.cache_tag


def test_bytecode_is_compiled_hash_based_for_every_module(tmp_path: Path) -> None:
    archive = build(
        make_function(tmp_path),
        tmp_path / "cache",
        FakePip(),
        runtime=LOCAL_RUNTIME,
        bytecode_python=Path(sys.executable),
    )
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        app_pyc = zf.read(f"__pycache__/app.{CACHE_TAG}.pyc")
    assert f"lib/__pycache__/helper.{CACHE_TAG}.pyc" in names
    assert f"urllib3/__pycache__/__init__.{CACHE_TAG}.pyc" in names
    assert "stray.pyc" not in names
    # The stale file of the source folder was replaced by a real compile.
    assert app_pyc[:4] == importlib.util.MAGIC_NUMBER
    # PEP 552 flags: bit 0 hash-based, bit 1 check_source off (unchecked).
    assert int.from_bytes(app_pyc[4:8], "little") == 0b01


def test_two_builds_with_bytecode_are_byte_identical(tmp_path: Path) -> None:
    source = make_function(tmp_path)
    first, second = (
        build(
            source,
            tmp_path / cache,
            FakePip(),
            runtime=LOCAL_RUNTIME,
            bytecode_python=Path(sys.executable),
        )
        for cache in ("one", "two")
    )
    assert first.read_bytes() == second.read_bytes()
    assert first != build(source, tmp_path / "one", FakePip(), runtime=LOCAL_RUNTIME)


def test_bytecode_of_another_python_version_is_refused(tmp_path: Path) -> None:
    pip = FakePip()
    with pytest.raises(PackagingError, match=f"cannot compile bytecode for {OTHER_RUNTIME}"):
        build(
            make_function(tmp_path),
            tmp_path / "cache",
            pip,
            runtime=OTHER_RUNTIME,
            bytecode_python=Path(sys.executable),
        )
    assert pip.calls == []


def test_find_interpreter_checks_the_version_of_what_path_offers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shim = tmp_path / "python-shim"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    offered: dict[str, str] = {
        f"python{sys.version_info.major}.{sys.version_info.minor}": sys.executable,
        f"python{OTHER_RUNTIME.removeprefix('python')}": str(shim),
    }
    monkeypatch.setattr(packaging.shutil, "which", offered.get)
    assert packaging.find_interpreter(LOCAL_RUNTIME) == Path(sys.executable)
    assert packaging.find_interpreter(OTHER_RUNTIME) is None  # the shim fails
    assert (
        packaging.find_interpreter("python3.9" if LOCAL_RUNTIME != "python3.9" else "python3.10")
        is None
    )


# --- Failures -----------------------------------------------------------------------------------


def test_a_pip_failure_names_the_function_and_carries_pip_output(tmp_path: Path) -> None:
    pip = FakePip(fail_with="ERROR: No matching distribution found for urllib3==9.9.9\n")
    cache = tmp_path / "cache"
    with pytest.raises(PackagingError) as caught:
        build(make_function(tmp_path), cache, pip)
    message = str(caught.value)
    assert "function map-tile" in message
    assert "python3.12 x86_64" in message
    assert "No matching distribution found for urllib3==9.9.9" in message
    assert list(cache.iterdir()) == []  # nothing cached under the key


def test_an_unpinned_transitive_dependency_fails_the_build(tmp_path: Path) -> None:
    pip = FakePip(extra=("typing-extensions", "4.16.0"))
    with pytest.raises(
        PackagingError, match=r"typing-extensions==4.16.0 was installed but is not pinned"
    ):
        build(make_function(tmp_path), tmp_path / "cache", pip)


def test_a_version_other_than_the_pin_fails_the_build(tmp_path: Path) -> None:
    pip = FakePip(version_override={"botocore": "1.44.9"})
    with pytest.raises(
        PackagingError,
        match=re.escape("botocore was installed at 1.44.9, not at the pinned 1.44.8"),
    ):
        build(make_function(tmp_path), tmp_path / "cache", pip)


def test_a_source_file_that_shadows_a_dependency_fails_the_build(tmp_path: Path) -> None:
    source = make_function(tmp_path)
    (source / "urllib3").mkdir()
    (source / "urllib3" / "__init__.py").write_text("")
    with pytest.raises(PackagingError, match=r"function's and a dependency's: urllib3/__init__.py"):
        build(source, tmp_path / "cache", FakePip())


def test_an_unknown_runtime_is_refused_before_pip(tmp_path: Path) -> None:
    pip = FakePip()
    with pytest.raises(PackagingError, match=re.escape("runtime 'python2.7'")):
        build(make_function(tmp_path), tmp_path / "cache", pip, runtime="python2.7")
    assert pip.calls == []
