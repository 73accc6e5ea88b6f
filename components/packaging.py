"""Deployment archives of the route functions: their code plus pinned dependencies.

A route function used to ship as its bare folder, with Powertools from a
layer version chosen by number and urllib3 from whatever the Lambda runtime
bundles with botocore. Here the archive is built at deploy time instead:

- pip installs the function's pinned requirements for the function's runtime
  and architecture (manylinux wheels only, never a build from source), with
  dependency resolution on, and the builder then checks that pip installed
  exactly the pinned set, at the pinned versions. A missing pin therefore
  fails the build instead of letting pip pick a version the tests never ran;
- the function's own files are added;
- optionally, every module is compiled to bytecode by an interpreter of the
  runtime's Python version. Lambda's /var/task is read-only, so without
  bytecode in the archive every cold start compiles every imported module
  from source (bench/map_proxy.py --packaged measures the difference). The
  bytecode is hash-based (PEP 552), so it carries no timestamp;
- the zip is reproducible: entries sorted, one fixed timestamp, fixed
  permissions, no bytecode but the builder's own (a stale `__pycache__`
  from whoever imported the sources last is left out), no console scripts
  (their shebang names the builder's interpreter), and RECORD files without
  lines for such files;
- the archive is cached under a key that hashes everything it is built from,
  and an archive already built for the key is reused without running pip.

This module imports neither Pulumi nor boto3, so that it can be unit tested
with a fake pip and reused by other tools.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

# Lambda runtime identifier -> the Python version pip resolves wheels for.
PYTHON_VERSIONS: dict[str, str] = {
    "python3.9": "3.9",
    "python3.10": "3.10",
    "python3.11": "3.11",
    "python3.12": "3.12",
    "python3.13": "3.13",
}
# Lambda architecture -> the wheel platform tag. Every Lambda Python runtime
# from 3.9 on is Amazon Linux with glibc >= 2.26, which manylinux2014
# (glibc 2.17) wheels run on; pip also accepts the older manylinux1/2010
# tags as compatible with this one.
WHEEL_PLATFORMS: dict[str, str] = {
    "x86_64": "manylinux2014_x86_64",
    "arm64": "manylinux2014_aarch64",
}

POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"
# The account that publishes the official Powertools for AWS Lambda (Python) layers.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"

# Part of every cache key: bump it whenever the archive's layout or the
# builder's rules change, so that archives built by older rules are not reused.
BUILD_FORMAT = "1"
# The earliest time a zip entry can carry (MS-DOS time starts in 1980).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Regular file, rw-r--r--: Lambda runs the code as a user other than the
# owner, so everything must be world-readable; nothing needs to be executable
# (shared objects are loaded with read permission only).
ZIP_FILE_MODE = 0o100644
# The "made by" system of the entries: 3 is Unix, so that the mode above is
# honoured when Lambda unpacks the archive.
ZIP_CREATE_SYSTEM = 3
ZIP_COMPRESSLEVEL = 9

# Never taken from the sources or from pip: such bytecode is written by
# whoever imported the sources last, for whatever Python they ran. The only
# bytecode shipped is compiled by the builder (see compile_args).
_EXCLUDED_DIR_NAMES = frozenset({"__pycache__"})
_EXCLUDED_SUFFIXES = frozenset({".pyc", ".pyo"})
# Console scripts that `pip install --target` puts in <target>/bin. Lambda
# never runs them, and their shebang names the builder's interpreter.
_SCRIPTS_DIR = "bin"

# One pin: `name[extra,...]==version`, optionally followed by `# via a, b`.
_PIN_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)"
    r"(?:\[(?P<extras>[A-Za-z0-9._,\s-]*)\])?"
    r"\s*==\s*(?P<version>[A-Za-z0-9.!+_-]+)\s*$"
)
_VIA_RE = re.compile(r"^via\s+(?P<names>.+)$")
# A release version such as 3.37.0: what the Powertools SSM parameters are named by.
_RELEASE_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


class PackagingError(Exception):
    """A function's deployment archive could not be built."""


@dataclass(frozen=True, slots=True)
class Requirement:
    """One pinned distribution of a function's requirements file.

    `name` is normalised (PEP 503: lower case, runs of `-_.` become `-`);
    `via` lists the normalised names of what pulls it in, empty for a
    distribution the function imports itself.
    """

    name: str
    extras: tuple[str, ...]
    version: str
    via: tuple[str, ...]

    def specifier(self) -> str:
        """The line pip is given: `name[extras]==version`."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.name}{extras}=={self.version}"


@dataclass(frozen=True, slots=True)
class PipResult:
    """Exit status and combined output of one pip run."""

    returncode: int
    output: str


# Runs pip with these arguments (everything after `pip`).
PipRunner = Callable[[Sequence[str]], PipResult]


def run_pip(args: Sequence[str]) -> PipResult:
    """Run the pip of the interpreter that runs this program.

    stderr is folded into stdout so that a failure reports pip's messages in
    the order pip wrote them.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    return PipResult(returncode=completed.returncode, output=completed.stdout)


def normalize_name(name: str) -> str:
    """PEP 503 normalised distribution name (`Typing_Extensions` -> `typing-extensions`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(text: str, *, origin: str = "requirements") -> list[Requirement]:
    """Parse a requirements file made of exact pins only.

    Blank lines and whole-line comments are skipped. Every other line must be
    `name[extras]==version`, optionally followed by `# via a, b`. Ranges,
    URLs, editable installs and pip options are refused: the archive must be
    fully determined by the file.

    Raises:
        PackagingError: a line is not an exact pin, or a name is pinned twice;
            the message names `origin` and the line number.
    """
    requirements: list[Requirement] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, comment = line.partition("#")
        match = _PIN_RE.match(spec.strip())
        if match is None:
            raise PackagingError(f"{origin}:{number}: {line!r} is not an exact pin (name==version)")
        via: tuple[str, ...] = ()
        via_match = _VIA_RE.match(comment.strip())
        if via_match is not None:
            via = tuple(
                normalize_name(part.strip())
                for part in via_match.group("names").split(",")
                if part.strip()
            )
        name = normalize_name(match.group("name"))
        if name in seen:
            raise PackagingError(f"{origin}:{number}: {name} is pinned twice")
        seen.add(name)
        extras_text = match.group("extras") or ""
        extras = tuple(
            sorted(normalize_name(e.strip()) for e in extras_text.split(",") if e.strip())
        )
        requirements.append(
            Requirement(name=name, extras=extras, version=match.group("version"), via=via)
        )
    return requirements


def read_requirements(path: Path) -> list[Requirement]:
    """Read and parse a requirements file (see :func:`parse_requirements`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PackagingError(f"cannot read {path}: {err}") from err
    return parse_requirements(text, origin=str(path))


def pinned_version(requirements: Iterable[Requirement], name: str) -> str:
    """The version a requirements list pins for a distribution.

    Raises:
        PackagingError: the distribution is not pinned.
    """
    wanted = normalize_name(name)
    for requirement in requirements:
        if requirement.name == wanted:
            return requirement.version
    raise PackagingError(f"{wanted} is not pinned")


def without_distribution(requirements: Sequence[Requirement], name: str) -> list[Requirement]:
    """Drop a distribution and every pin that only it pulls in.

    A pin is dropped when every name in its `via` has been dropped, so
    `jmespath  # via aws-lambda-powertools, botocore` goes only once
    botocore has gone too. Pins without `via` are the function's own
    imports and always stay. Used when a layer provides the distribution.
    """
    dropped = {normalize_name(name)}
    changed = True
    while changed:
        changed = False
        for requirement in requirements:
            if requirement.name in dropped or not requirement.via:
                continue
            if all(parent in dropped for parent in requirement.via):
                dropped.add(requirement.name)
                changed = True
    return [requirement for requirement in requirements if requirement.name not in dropped]


def powertools_layer_parameter(architecture: str, runtime: str, version: str) -> str:
    """Name of the public SSM parameter holding a Powertools layer version ARN.

    Powertools for AWS Lambda (Python) publishes one parameter per
    architecture, runtime and release, for example
    `/aws/service/powertools/python/x86_64/python3.13/3.23.0`, so the layer
    is chosen by the library version the tests ran, never by a layer number.

    Raises:
        PackagingError: unknown architecture or runtime, or not a release
            version (`latest` is refused on purpose: it moves).
    """
    _check_target(runtime, architecture)
    if not _RELEASE_VERSION_RE.match(version):
        raise PackagingError(f"Powertools version {version!r} is not a release version (X.Y.Z)")
    return f"/aws/service/powertools/python/{architecture}/{runtime}/{version}"


def powertools_parameter_target(parameter: str) -> tuple[str, str, str] | None:
    """(architecture, runtime, version) of a Powertools layer parameter name, else None."""
    prefix = "/aws/service/powertools/python/"
    if not parameter.startswith(prefix):
        return None
    parts = parameter[len(prefix) :].split("/")
    if len(parts) != 3:
        return None
    architecture, runtime, version = parts
    return architecture, runtime, version


def official_layer_arn(
    partition: str, region: str, architecture: str, runtime: str, layer_version: int
) -> str:
    """The shape of the ARN a Powertools SSM parameter holds (the official layer account).

    For example
    `arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:4`
    (the value format of the release workflow's parameters, see
    components/function_code.py). The layer number is AWS's; the twin and the
    tests make one up.
    """
    _check_target(runtime, architecture)
    suffix = runtime.replace(".", "")  # python3.12 -> python312
    return (
        f"arn:{partition}:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-{suffix}-{architecture}:{layer_version}"
    )


def _check_runtime(runtime: str) -> None:
    if runtime not in PYTHON_VERSIONS:
        raise PackagingError(f"runtime {runtime!r} is not one of {', '.join(PYTHON_VERSIONS)}")


def _check_target(runtime: str, architecture: str) -> None:
    _check_runtime(runtime)
    if architecture not in WHEEL_PLATFORMS:
        raise PackagingError(
            f"architecture {architecture!r} is not one of {', '.join(WHEEL_PLATFORMS)}"
        )


def source_files(source_dir: Path, *, exclude: Iterable[Path] = ()) -> list[tuple[str, Path]]:
    """The function's own files as (archive name, path), sorted by archive name.

    Bytecode and `__pycache__` folders are left out, and so are the paths in
    `exclude` (the requirements file: what it pins is installed, the file
    itself is not code).
    """
    excluded = {path.resolve() for path in exclude}
    files: list[tuple[str, Path]] = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if any(part in _EXCLUDED_DIR_NAMES for part in relative.parts):
            continue
        if not path.is_file() or path.suffix in _EXCLUDED_SUFFIXES:
            continue
        if path.resolve() in excluded:
            continue
        files.append((relative.as_posix(), path))
    return sorted(files)


def _pip_version() -> str:
    """Version of the pip that :func:`run_pip` runs (part of the cache key)."""
    try:
        return importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def interpreter_version(python: Path) -> str:
    """`sys.version` of an interpreter: its exact build, which bytecode depends on.

    Raises:
        PackagingError: the interpreter does not run (a pyenv shim without
            that version, for example).
    """
    try:
        completed = subprocess.run(
            [str(python), "-c", "import sys; print(sys.version)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except OSError as err:
        raise PackagingError(f"cannot run {python}: {err}") from err
    if completed.returncode != 0:
        raise PackagingError(f"cannot run {python}: {completed.stderr.strip()}")
    return completed.stdout.strip()


def find_interpreter(runtime: str) -> Path | None:
    """An interpreter of the runtime's Python version on PATH, or None.

    `python3.12` on PATH may be a shim that fails or runs another version,
    so the candidate is run and its version checked.
    """
    _check_runtime(runtime)
    wanted = PYTHON_VERSIONS[runtime]
    found = shutil.which(f"python{wanted}")
    if found is None:
        return None
    try:
        version = interpreter_version(Path(found))
    except PackagingError:
        return None
    return Path(found) if version.split()[0].rsplit(".", 1)[0] == wanted else None


def archive_key(
    files: Sequence[tuple[str, Path]],
    requirements: Sequence[Requirement],
    *,
    runtime: str,
    architecture: str,
    pip_version: str,
    bytecode_by: str = "",
) -> str:
    """Content hash (SHA-256, hex) of everything an archive is built from.

    It covers the builder's format, the pip version, the runtime, the
    architecture, the exact interpreter that compiles the bytecode (empty
    for none), the pins as given to pip, and each source file's archive
    name and bytes. File times and comments in the requirements file are not
    part of it: they do not change the archive.
    """
    digest = hashlib.sha256()

    def field(value: bytes) -> None:
        # Length-prefixed, so that no two different inputs hash the same bytes.
        digest.update(len(value).to_bytes(8, "big"))
        digest.update(value)

    for value in (BUILD_FORMAT, pip_version, runtime, architecture, bytecode_by):
        field(value.encode("utf-8"))
    field("\n".join(requirement.specifier() for requirement in requirements).encode("utf-8"))
    for archive_name, path in files:
        field(archive_name.encode("utf-8"))
        field(path.read_bytes())
    return digest.hexdigest()


def pip_install_args(
    requirements_file: Path, target: Path, *, runtime: str, architecture: str
) -> list[str]:
    """The arguments of the pip run that installs the pins into `target`.

    Dependencies are resolved (no `--no-deps`): pip then checks that the pins
    fit together, and anything the pins do not cover shows up in `target`,
    where :func:`check_installed` turns it into an error.
    """
    _check_target(runtime, architecture)
    return [
        "install",
        "--target",
        str(target),
        "--platform",
        WHEEL_PLATFORMS[architecture],
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSIONS[runtime],
        # Only wheels: a build from source would compile for this machine.
        "--only-binary=:all:",
        # pip would compile with the builder's own Python, whatever its
        # version, into timestamped files; bytecode_python does it right.
        "--no-compile",
        "--no-input",
        "--disable-pip-version-check",
        "--requirement",
        str(requirements_file),
    ]


def compile_args(stage_dir: Path) -> list[str]:
    """Arguments of `python -m compileall` for the staged archive contents.

    Unchecked hash-based bytecode (PEP 552): no timestamp in it, and the
    import system does not re-read the source to validate it, which is
    safe because the code in /var/task never changes. `-s` strips the
    staging folder from the file names recorded in the code objects (the
    import system sets the real path when it loads them).
    """
    return [
        "-m",
        "compileall",
        "-q",
        "-s",
        str(stage_dir),
        "--invalidation-mode",
        "unchecked-hash",
        str(stage_dir),
    ]


def installed_distributions(site_dir: Path) -> dict[str, str]:
    """Normalised name -> version of each distribution under `site_dir`."""
    installed: dict[str, str] = {}
    for metadata_path in sorted(site_dir.glob("*.dist-info/METADATA")):
        headers = HeaderParser().parsestr(metadata_path.read_text(encoding="utf-8"))
        name, version = headers.get("Name"), headers.get("Version")
        if name is None or version is None:
            raise PackagingError(f"{metadata_path} has no Name or Version")
        installed[normalize_name(name)] = version
    return installed


def check_installed(
    installed: dict[str, str], requirements: Sequence[Requirement], *, origin: str
) -> None:
    """Check that pip installed exactly the pinned distributions and versions.

    Raises:
        PackagingError: listing every unpinned distribution, every version
            that differs from its pin and every pin that was not installed.
    """
    pins = {requirement.name: requirement.version for requirement in requirements}
    problems: list[str] = []
    for name, version in sorted(installed.items()):
        if name not in pins:
            problems.append(f"{name}=={version} was installed but is not pinned; pin it")
        elif pins[name] != version:
            problems.append(f"{name} was installed at {version}, not at the pinned {pins[name]}")
    for name in sorted(set(pins) - set(installed)):
        problems.append(f"{name}=={pins[name]} is pinned but was not installed")
    if problems:
        raise PackagingError(f"{origin}: " + "; ".join(problems))


def _tidy_installed(site_dir: Path) -> None:
    """Make pip's output machine-independent, in place.

    Console scripts (`bin/`) and any bytecode are removed. RECORD files lose
    their lines for files outside the installed tree (`../../bin/jp.py`):
    those files are not shipped and their hashes depend on the builder's
    interpreter path.
    """
    shutil.rmtree(site_dir / _SCRIPTS_DIR, ignore_errors=True)
    for path in sorted(site_dir.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _EXCLUDED_DIR_NAMES:
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in _EXCLUDED_SUFFIXES:
            path.unlink()
    for record in site_dir.glob("*.dist-info/RECORD"):
        lines = record.read_text(encoding="utf-8").splitlines(keepends=True)
        record.write_text(
            "".join(line for line in lines if not line.startswith("../")), encoding="utf-8"
        )


def _stage_sources(files: Sequence[tuple[str, Path]], stage_dir: Path, *, name: str) -> None:
    """Copy the function's own files next to the installed dependencies.

    Raises:
        PackagingError: a file of the function has the path of an installed
            one (a module would shadow a dependency, or the reverse).
    """
    clashes = sorted(
        archive_name for archive_name, _ in files if (stage_dir / archive_name).exists()
    )
    if clashes:
        raise PackagingError(
            f"function {name}: these files are both the function's and a dependency's: "
            + ", ".join(clashes)
        )
    for archive_name, path in files:
        destination = stage_dir / archive_name
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(path.read_bytes())


def _staged_entries(stage_dir: Path) -> list[tuple[str, bytes]]:
    """Every file under the staging folder, as (archive name, bytes)."""
    return [
        (path.relative_to(stage_dir).as_posix(), path.read_bytes())
        for path in sorted(stage_dir.rglob("*"))
        if path.is_file()
    ]


def write_reproducible_zip(entries: Iterable[tuple[str, bytes]], destination: Path) -> None:
    """Write a zip whose bytes depend only on the entries' names and contents.

    Entries are sorted by name and all carry the same timestamp, mode and
    "made by" system; there are no directory entries.

    Raises:
        PackagingError: two entries have the same name.
    """
    ordered = sorted(entries, key=lambda entry: entry[0])
    counts = Counter(name for name, _ in ordered)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise PackagingError(f"the archive would hold these paths twice: {', '.join(duplicates)}")
    with zipfile.ZipFile(destination, "w") as archive:
        for name, data in ordered:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.create_system = ZIP_CREATE_SYSTEM
            info.external_attr = ZIP_FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=ZIP_COMPRESSLEVEL)


def build_function_archive(
    source_dir: Path,
    requirements: Path | None,
    *,
    runtime: str,
    architecture: str,
    cache_dir: Path,
    name: str | None = None,
    bundle_powertools: bool = True,
    bytecode_python: Path | None = None,
    pip: PipRunner = run_pip,
) -> Path:
    """Build (or reuse) the deployment zip of one function.

    Args:
        source_dir: the function's folder; its files go to the archive root
            (the handler `app.handler` is `app.py` at the root).
        requirements: the function's requirements file, exact pins only (see
            :func:`parse_requirements`), or None for a function without
            dependencies. If it lies inside `source_dir` it is not copied
            into the archive.
        runtime: Lambda runtime, `python3.9` ... `python3.13`.
        architecture: `x86_64` or `arm64`.
        cache_dir: where archives are kept, one per key
            (`<cache_dir>/<name>-<key>.zip`); created if missing.
        name: the function's name in errors and in the archive's file name;
            defaults to the folder's name.
        bundle_powertools: False when the Powertools layer provides
            Powertools: it and every pin only it pulls in are left out.
        bytecode_python: an interpreter of the runtime's Python version
            (:func:`find_interpreter`) that compiles every module into the
            archive; None ships sources only, and Lambda then compiles the
            imported modules at every cold start.
        pip: runs pip; tests pass a fake.

    Returns:
        The archive's path. An archive already built for the same key is
        returned as it is, without running pip.

    Raises:
        PackagingError: bad requirements, pip failed (the message names the
            function and carries pip's output), pip installed something
            other than the pins, a source file collides with an installed
            one, or the bytecode interpreter is not of the runtime's version
            or fails.
    """
    name = name or source_dir.name
    if not source_dir.is_dir():
        raise PackagingError(f"function {name}: {source_dir} is not a folder")
    _check_target(runtime, architecture)
    bytecode_by = ""
    if bytecode_python is not None:
        bytecode_by = interpreter_version(bytecode_python)
        if bytecode_by.split()[0].rsplit(".", 1)[0] != PYTHON_VERSIONS[runtime]:
            raise PackagingError(
                f"function {name}: {bytecode_python} is Python {bytecode_by.split()[0]}, "
                f"it cannot compile bytecode for {runtime}"
            )
    pins = read_requirements(requirements) if requirements is not None else []
    if not bundle_powertools:
        pins = without_distribution(pins, POWERTOOLS_DISTRIBUTION)
    files = source_files(source_dir, exclude=[requirements] if requirements is not None else [])
    key = archive_key(
        files,
        pins,
        runtime=runtime,
        architecture=architecture,
        pip_version=_pip_version(),
        bytecode_by=bytecode_by,
    )
    destination = cache_dir / f"{name}-{key}.zip"
    if destination.is_file():
        return destination

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-", dir=cache_dir) as work:
        work_dir = Path(work)
        stage_dir = work_dir / "stage"
        stage_dir.mkdir()
        if pins:
            _install(
                name,
                pins,
                work_dir / "requirements.txt",
                stage_dir,
                runtime=runtime,
                architecture=architecture,
                pip=pip,
            )
        _stage_sources(files, stage_dir, name=name)
        if bytecode_python is not None:
            _compile(name, bytecode_python, stage_dir)
        # Written next to its final place, then renamed: a build that dies
        # half way, or two builds of the same key at once, never leave a
        # truncated archive under the key's name.
        partial = work_dir / "archive.zip"
        write_reproducible_zip(_staged_entries(stage_dir), partial)
        os.replace(partial, destination)
    return destination


def _install(
    name: str,
    pins: Sequence[Requirement],
    requirements_file: Path,
    stage_dir: Path,
    *,
    runtime: str,
    architecture: str,
    pip: PipRunner,
) -> None:
    """Install the pins into the (empty) staging folder and check the result."""
    requirements_file.write_text(
        "".join(f"{requirement.specifier()}\n" for requirement in pins), encoding="utf-8"
    )
    args = pip_install_args(
        requirements_file, stage_dir, runtime=runtime, architecture=architecture
    )
    result = pip(args)
    if result.returncode != 0:
        raise PackagingError(
            f"function {name}: pip install for {runtime} {architecture} failed "
            f"(exit status {result.returncode}):\n{result.output.rstrip()}"
        )
    check_installed(installed_distributions(stage_dir), pins, origin=f"function {name}")
    _tidy_installed(stage_dir)


def _compile(name: str, python: Path, stage_dir: Path) -> None:
    """Compile every module under the staging folder with `python`."""
    completed = subprocess.run(
        [str(python), *compile_args(stage_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise PackagingError(
            f"function {name}: compiling the bytecode with {python} failed "
            f"(exit status {completed.returncode}):\n{completed.stdout.rstrip()}"
        )
