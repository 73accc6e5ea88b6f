"""Benchmark of the map proxy handler against a loopback upstream.

Runs the shipped handler (`functions/map_proxy/app.handler`) in-process N
times, interleaved with a minimal baseline handler (one plain urllib3 pool, no
Powertools) against the same upstream, and prints median and p99 microseconds
per invocation, their ratio, and the cold-init time (import + first
invocation in a fresh interpreter, median of several runs).

The upstream is a threaded HTTP/1.1 `http.server` in a child process (so that
it does not compete with the handler for this interpreter's GIL), bound to
127.0.0.1 port 0, with Nagle's algorithm disabled.

Shipped configuration: the process looks like a Lambda execution environment
to Powertools and the X-Ray SDK (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME,
_X_AMZN_TRACE_ID with Sampled=1), so Tracer is enabled as in Lambda and every
invocation builds and emits real subsegments. They go as UDP datagrams to
AWS_XRAY_DAEMON_ADDRESS, a loopback port this script binds and never reads
(the X-Ray daemon does not exist here); the cost of sending is measured, the
daemon's work is not. Log and EMF lines go to /dev/null, as real writes.

With --packaged, the function runs as it is deployed: the deployment archive
is built by components/packaging.py (for this interpreter's Python version
and this machine's architecture, so that compiled wheels load here), unpacked
into a temporary folder that becomes LAMBDA_TASK_ROOT, and every child
interpreter runs with `python -S`, so that nothing comes from this
virtualenv: Powertools, urllib3 (the baseline's too) and the rest come from
the archive. The archive carries bytecode compiled by this interpreter, as
deployments should (Lambda's /var/task is read-only, so nothing compiled at
init is kept); --no-bytecode measures an archive of sources only. Without
--packaged, the function folder is used as it is, with the virtualenv's
packages.

Usage: .venv/bin/python bench/map_proxy.py [--packaged [--no-bytecode]] [--n 3000] [--cold-runs 7]
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = REPO_ROOT / "functions" / "map_proxy"
TILE_PATH = "/tiles/12/3638/1612.png"
TILE_BYTES = random.Random(12).randbytes(12 * 1024)  # a typical raster tile size
# X-Ray's default sampling rule: the first request each second, then 5%.
XRAY_RESERVOIR_PER_SECOND = 1
XRAY_FIXED_RATE = 0.05
TRACING_MODES = ("shipped", "all-sampled", "off")

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


# --- Upstream (child process) -----------------------------------------------------------


class _TileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without this, headers and body leave in two writes and the client's
    # delayed ACK adds ~40 ms to every response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Cache-Control", "public, max-age=86400")
        self.send_header("ETag", '"tile-v1"')
        self.send_header("Content-Length", str(len(TILE_BYTES)))
        self.end_headers()
        self.wfile.write(TILE_BYTES)


def serve() -> None:
    """Run the upstream until stdin closes; print its port first."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TileHandler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # returns when the parent closes the pipe
    server.shutdown()


def child_command(*args: str) -> list[str]:
    """Command line of a child interpreter running this script.

    Packaged runs (BENCH_NO_SITE set) start children with `-S`: no
    site-packages, so every import outside the standard library resolves in
    LAMBDA_TASK_ROOT, as in Lambda.
    """
    flags = ["-S"] if os.environ.get("BENCH_NO_SITE") else []
    return [sys.executable, *flags, __file__, *args]


def start_upstream() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise RuntimeError(f"upstream did not start: {line!r}")
    return proc, f"http://127.0.0.1:{line[1]}"


# --- Lambda-like environment -------------------------------------------------------------


@dataclass
class BenchContext:
    """The parts of the Lambda context object the handler uses."""

    function_name: str = "strangler-tiles-proxy"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = (
        "arn:aws:lambda:ap-northeast-1:123456789012:function:strangler-tiles-proxy"
    )
    aws_request_id: str = "6f8d5c3e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def lambda_env(
    upstream_url: str, xray_port: int, task_root: Path, *, tracing: bool
) -> dict[str, str]:
    """Environment of a Lambda execution environment running the proxy."""
    env = {
        "UPSTREAM_URL": upstream_url,
        "ROUTE_NAME": "tiles",
        "POWERTOOLS_SERVICE_NAME": "map-proxy",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "strangler-tiles-proxy",
        "AWS_REGION": "ap-northeast-1",
        "_X_AMZN_TRACE_ID": trace_header(1, sampled=True),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_port}",
    }
    if not tracing:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def trace_header(invocation: int, *, sampled: bool) -> str:
    """The `_X_AMZN_TRACE_ID` value the Lambda runtime sets for one invocation."""
    return f"Root=1-5db31bde-{invocation:024x};Parent=53995c3f42cd8ad8;Sampled={int(sampled)}"


class XRaySampler:
    """Sampling decisions of X-Ray's default rule, on the benchmark's clock."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._rng = random.Random(5)
        self._second = -1
        self._used = 0

    def sampled(self) -> bool:
        if self.mode == "all-sampled":
            return True
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._used = second, 0
        if self._used < XRAY_RESERVOIR_PER_SECOND:
            self._used += 1
            return True
        return self._rng.random() < XRAY_FIXED_RATE


def alb_event() -> dict[str, Any]:
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:"
                "targetgroup/strangler-tiles-lambda/6d0ecf831eec9f09"
            }
        },
        "httpMethod": "GET",
        "path": TILE_PATH,
        "queryStringParameters": {"style": "day"},
        "headers": {
            "accept": "image/png,image/*;q=0.8",
            "accept-encoding": "gzip, deflate, br",
            "host": "maps.example.com",
            "user-agent": "Mozilla/5.0",
            "x-amzn-trace-id": "Root=1-5db31bde-f102927a851f3aaa17ebd23a",
            "x-forwarded-for": "198.51.100.23",
        },
        "body": "",
        "isBase64Encoded": False,
    }


def enter_task_root() -> None:
    """Put LAMBDA_TASK_ROOT first on sys.path, as the Lambda runtime does."""
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])


# --- Packaging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackagedCode:
    """The built archive and the folder it is unpacked into."""

    archive: Path
    task_root: Path
    runtime: str
    architecture: str
    bytecode: bool


def unpack_packaged(*, bytecode: bool) -> PackagedCode:
    """Build (or reuse) the map proxy's archive and unpack it into a temp folder.

    The archive is built for this interpreter's Python version and this
    machine's architecture: wheels with compiled code (wrapt) only load on
    the Python and CPU they were built for.
    """
    sys.path.insert(0, str(REPO_ROOT))
    from components.packaging import build_function_archive

    runtime = f"python{sys.version_info.major}.{sys.version_info.minor}"
    architecture = {"x86_64": "x86_64", "aarch64": "arm64"}[platform.machine()]
    archive = build_function_archive(
        FUNCTION_DIR,
        FUNCTION_DIR / "requirements.txt",
        runtime=runtime,
        architecture=architecture,
        cache_dir=REPO_ROOT / "build" / "functions",
        name="map_proxy",
        bytecode_python=Path(sys.executable) if bytecode else None,
    )
    task_root = Path(tempfile.mkdtemp(prefix="map-proxy-task-"))
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(task_root)
    return PackagedCode(archive, task_root, runtime, architecture, bytecode)


# --- Baseline ------------------------------------------------------------------------------


def make_baseline(upstream_url: str) -> Handler:
    """A minimal ALB proxy: one urllib3 pool, no Powertools, no checks."""
    import urllib3

    pool = urllib3.connection_from_url(upstream_url, maxsize=1, retries=False)

    def baseline(event: dict[str, Any], context: Any) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in event["queryStringParameters"].items())
        response = pool.urlopen(
            "GET", f"{event['path']}?{query}", timeout=3.0, preload_content=True
        )
        return {
            "statusCode": response.status,
            "headers": {"Content-Type": response.headers.get("Content-Type", "")},
            "body": base64.b64encode(response.data).decode("ascii"),
            "isBase64Encoded": True,
        }

    return baseline


# --- Cold start (child process) ---------------------------------------------------------------


def cold_child(kind: str) -> None:
    """Import and invoke once in this fresh interpreter; print timings as JSON."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    real_stdout = sys.stdout
    sys.stdout = devnull
    started = time.perf_counter()
    enter_task_root()
    if kind == "proxy":
        handler: Handler = importlib.import_module("app").handler
    else:
        handler = make_baseline(os.environ["UPSTREAM_URL"])
    imported = time.perf_counter()
    response = handler(alb_event(), BenchContext())
    done = time.perf_counter()
    sys.stdout = real_stdout
    print(
        json.dumps(
            {
                "import_ms": (imported - started) * 1000,
                "first_ms": (done - imported) * 1000,
                "total_ms": (done - started) * 1000,
                "status": response["statusCode"],
            }
        )
    )


def measure_cold(kind: str, env: dict[str, str], runs: int) -> dict[str, float]:
    results: list[dict[str, float]] = []
    for _ in range(runs):
        completed = subprocess.run(
            child_command("--cold-child", kind),
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        if result["status"] != 200:
            raise RuntimeError(f"cold {kind} run answered {result['status']}")
        results.append(result)
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


# --- Warm ------------------------------------------------------------------------------------


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def measure_warm(
    handlers: dict[str, Handler], n: int, warmup: int, sampler: XRaySampler
) -> dict[str, list[float]]:
    """Interleave the handlers so that drift hits them equally.

    Before each proxy invocation `_X_AMZN_TRACE_ID` gets a new trace id, as
    the Lambda runtime does, outside the timed region.
    """
    event = alb_event()
    context = BenchContext()
    samples: dict[str, list[float]] = {name: [] for name in handlers}
    traced = 0
    for i in range(warmup + n):
        for name, handler in handlers.items():
            if name == "proxy":
                sampled = sampler.sampled()
                traced += sampled
                os.environ["_X_AMZN_TRACE_ID"] = trace_header(i + 2, sampled=sampled)
            started = time.perf_counter_ns()
            response = handler(event, context)
            elapsed = time.perf_counter_ns() - started
            if response["statusCode"] != 200:
                raise RuntimeError(f"{name} answered {response['statusCode']}")
            if i >= warmup:
                samples[name].append(elapsed / 1000)
    samples["traced"] = [float(traced)]
    return samples


def warm_child(mode: str, n: int, warmup: int) -> None:
    """Warm run in this fresh interpreter; print medians and p99s as JSON.

    Logs and EMF lines are written to /dev/null, as real writes (Powertools'
    Logger binds sys.stdout when it is created, so swap it before the import).
    """
    upstream_url = os.environ["UPSTREAM_URL"]
    real_stdout = sys.stdout
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    sys.stdout = devnull
    enter_task_root()
    app = importlib.import_module("app")
    samples = measure_warm(
        {"baseline": make_baseline(upstream_url), "proxy": app.handler},
        n,
        warmup,
        XRaySampler(mode),
    )
    sys.stdout = real_stdout
    result: dict[str, Any] = {
        name: {"median": statistics.median(values), "p99": percentile(values, 99)}
        for name, values in samples.items()
        if name != "traced"
    }
    result["tracer_enabled"] = not app.tracer.disabled
    result["traced"] = int(samples["traced"][0])
    print(json.dumps(result))


def run_warm(mode: str, env: dict[str, str], n: int, warmup: int) -> dict[str, Any]:
    completed = subprocess.run(
        child_command("--warm-child", mode, "--n", str(n), "--warmup", str(warmup)),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=3000, help="timed invocations per handler")
    parser.add_argument("--warmup", type=int, default=200, help="untimed invocations first")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh interpreters per figure")
    parser.add_argument(
        "--packaged",
        action="store_true",
        help="run the built deployment archive, unpacked, with no virtualenv packages",
    )
    parser.add_argument(
        "--no-bytecode",
        action="store_true",
        help="with --packaged: an archive of sources only, no compiled bytecode",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cold-child", choices=["proxy", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--warm-child", choices=TRACING_MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve()
        return
    if args.cold_child:
        cold_child(args.cold_child)
        return
    if args.warm_child:
        warm_child(args.warm_child, args.n, args.warmup)
        return

    packaged = unpack_packaged(bytecode=not args.no_bytecode) if args.packaged else None
    task_root = packaged.task_root if packaged is not None else FUNCTION_DIR
    if packaged is not None:
        os.environ["BENCH_NO_SITE"] = "1"
    xray_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    xray_sink.bind(("127.0.0.1", 0))
    xray_port = xray_sink.getsockname()[1]
    upstream, upstream_url = start_upstream()
    try:
        traced_env = lambda_env(upstream_url, xray_port, task_root, tracing=True)
        untraced_env = lambda_env(upstream_url, xray_port, task_root, tracing=False)
        warm = {
            mode: run_warm(mode, untraced_env if mode == "off" else traced_env, args.n, args.warmup)
            for mode in TRACING_MODES
        }
        cold = {
            "proxy, tracer on (shipped)": measure_cold("proxy", traced_env, args.cold_runs),
            "proxy, tracer off": measure_cold("proxy", untraced_env, args.cold_runs),
            "baseline": measure_cold("baseline", traced_env, args.cold_runs),
        }
    finally:
        if upstream.stdin is not None:
            upstream.stdin.close()
        upstream.wait(timeout=10)
        xray_sink.close()
        if packaged is not None:
            shutil.rmtree(packaged.task_root, ignore_errors=True)

    print(
        f"map proxy benchmark: {args.n} timed invocations per handler after {args.warmup} "
        f"warm-up, {len(TILE_BYTES)} B PNG tile, loopback upstream in a child process"
    )
    if packaged is not None:
        size_mb = packaged.archive.stat().st_size / 1e6
        print(
            f"code: packaged archive {packaged.archive.relative_to(REPO_ROOT)} "
            f"({packaged.runtime} {packaged.architecture}, "
            f"{'with' if packaged.bytecode else 'without'} bytecode, {size_mb:.1f} MB), "
            "unpacked as LAMBDA_TASK_ROOT; children run with python -S (no virtualenv packages)"
        )
    else:
        print("code: functions/map_proxy as it is, dependencies from the virtualenv")
    print(
        "Tracer: Lambda-like environment (LAMBDA_TASK_ROOT, _X_AMZN_TRACE_ID renewed per "
        "invocation); sampled subsegments go as UDP datagrams to a loopback port where no "
        "X-Ray daemon runs, so their building and sending is measured, the daemon is not."
    )
    print(
        f"  {'tracing':<34} {'baseline med/p99 us':>20} {'proxy med/p99 us':>18} "
        f"{'ratio med':>9} {'ratio p99':>9}"
    )
    labels = {
        "shipped": "on, X-Ray default sampling (ship)",
        "all-sampled": "on, every request sampled",
        "off": "off (POWERTOOLS_TRACE_DISABLED)",
    }
    for mode in TRACING_MODES:
        result = warm[mode]
        base, proxy = result["baseline"], result["proxy"]
        enabled = (
            "" if result["tracer_enabled"] == (mode != "off") else "  (tracer state mismatch!)"
        )
        print(
            f"  {labels[mode]:<34} {base['median']:>9.0f} /{base['p99']:>6.0f}    "
            f"{proxy['median']:>7.0f} /{proxy['p99']:>6.0f}   "
            f"{proxy['median'] / base['median']:>8.2f}x {proxy['p99'] / base['p99']:>8.2f}x"
            f"{enabled}"
        )
        if mode == "shipped":
            print(
                f"  {'':<34} ({result['traced']} of {args.n + args.warmup} proxy "
                "invocations sampled: 1 per second, then 5%)"
            )
    print(f"cold init, median of {args.cold_runs} fresh interpreters (import + first invocation):")
    for label, figures in cold.items():
        print(
            f"  {label:<28} total {figures['total_ms']:6.1f} ms "
            f"(import {figures['import_ms']:6.1f} ms, "
            f"first invocation {figures['first_ms']:5.1f} ms)"
        )


if __name__ == "__main__":
    main()
