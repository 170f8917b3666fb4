"""Predictor benchmark (not a test): our v1 `{"user_id"}` path against the seed design, and v2.

In one run, on this machine, against real Redis and the real model registry:
- v1 `{"user_id"}`: our predictor (async Feast read, TTL cache, reasons) against a re-creation of
  the seed design (`bench/seed_predictor.py`: synchronous `get_online_features` for one user,
  onnxruntime on one row), sequentially and with 16 concurrent clients: p50/p99 latency, req/s;
- v2 `features` tensors at batch sizes 1, 64 and 512, as JSON and with the binary tensor
  extension: p50/p99 latency and rows/s.
Users are cycled so that the predictor's 1 s feature cache rarely hits (its hit rate is shown).

    python -m bench.predictor_bench --prepared feature_repo/data [--model-uri model.onnx]

`--prepared` is the output of `fraud data prepare`; without it a small world is generated and
prepared with Spark first (about two minutes). Prints the table and writes
`bench/results/predictor.md`.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench.load import Load, Target, run
from deploy.stack import Service, Stack, StackSettings
from tests.unit.predictor.harness import FeastWorld, PredictorProcess, feast_world
from tests.unit.predictor.onnx_models import write_model

log = logging.getLogger("bench")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "predictor.md"
F = 26
V1_SEQUENTIAL = 2000
CONCURRENT_S = 10.0
ROUNDS = 4


def ensure_services(settings: StackSettings) -> list[Service]:
    started: list[Service] = []
    for service in Stack(settings).select(["redis", "registry"]):
        if service.process.pid() is None or not service.healthy():
            if service.up() == "started":
                started.append(service)
    return started


def prepared_data(given: Path | None, workdir: Path) -> Path:
    if given is not None:
        return given
    from batch_pipeline.data.generate import generate
    from batch_pipeline.data.prepare import prepare
    from batch_pipeline.spark import spark_session

    # Ending yesterday: the `{"user_id"}` path refuses activity past the view's 30-day TTL.
    days = 20
    start = (datetime.now(UTC) - timedelta(days=days + 1)).date()
    generate(users=2000, days=days, seed=5, out=workdir / "raw", start=start, progress=False)
    spark = spark_session("local[2]", "predictor-bench")
    try:
        prepare(spark, workdir / "raw", workdir / "prepared")
    finally:
        spark.stop()
    return workdir / "prepared"


def v1_bodies(world: FeastWorld) -> list[bytes]:
    users = list(world.latest.index)
    np.random.default_rng(1).shuffle(users)
    return [orjson.dumps({"user_id": u}) for u in users]


def v2_bodies(batch: int, binary: bool) -> tuple[list[bytes], dict[str, str]]:
    rng = np.random.default_rng(batch)
    bodies, headers = [], {"content-type": "application/json"}
    for _ in range(8):
        x = rng.random((batch, F), dtype=np.float32)
        if not binary:
            tensor = {"name": "features", "shape": [batch, F], "datatype": "FP32",
                      "data": x.reshape(-1).tolist()}  # fmt: skip
            bodies.append(orjson.dumps({"inputs": [tensor]}))
            continue
        raw = x.tobytes()
        head = orjson.dumps({
            "inputs": [{"name": "features", "shape": [batch, F], "datatype": "FP32",
                        "parameters": {"binary_data_size": len(raw)}}],
            "parameters": {"binary_data_output": True},
        })  # fmt: skip
        bodies.append(head + raw)
        headers = {"content-type": "application/octet-stream",
                   "inference-header-content-length": str(len(head))}  # fmt: skip
    return bodies, headers


def row(name: str, load: Load, cpu_ms: float, rows_per_request: int = 1) -> str:
    return (
        f"| {name} | {load.percentile_ms(50):.2f} | {load.percentile_ms(99):.2f} | "
        f"{load.requests_per_s:,.0f} | {load.requests_per_s * rows_per_request:,.0f} | "
        f"{cpu_ms:.2f} | {len(load.latencies_s):,} | {load.errors} |"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(server: PredictorProcess, job: Callable[[], Load], warmup: int) -> tuple[Load, float]:
    """Run `job`; also the server's CPU milliseconds per request it answered (warm-up incl.)."""
    assert server.process is not None  # noqa: S101 - started by main()
    before = cpu_seconds(server.process.pid)
    load = job()
    used = cpu_seconds(server.process.pid) - before
    answered = len(load.latencies_s) + load.errors + warmup
    return load, used / max(answered, 1) * 1000


def pooled(parts: list[tuple[Load, float]]) -> tuple[Load, float]:
    """One `Load` from several rounds: all latencies, summed windows, mean CPU per request."""
    load = Load(
        [x for part, _ in parts for x in part.latencies_s],
        sum(part.errors for part, _ in parts),
        sum(part.wall_s for part, _ in parts),
    )
    return load, sum(cpu for _, cpu in parts) / len(parts)


def cache_hit_rate(url: str) -> str:
    hits = misses = 0.0
    for line in httpx.get(url + "/metrics").text.splitlines():
        if line.startswith('fraud_predictor_feature_cache_total{result="hit"}'):
            hits = float(line.rsplit(" ", 1)[1])
        if line.startswith('fraud_predictor_feature_cache_total{result="miss"}'):
            misses = float(line.rsplit(" ", 1)[1])
    return f"{hits / max(hits + misses, 1):.1%}"


def main() -> int:
    parser = argparse.ArgumentParser(description="Predictor benchmark; see the module doc.")
    parser.add_argument("--prepared", type=Path, help="Output of `fraud data prepare`.")
    parser.add_argument("--model-uri", type=Path, help="An ONNX artifact (default: a test one).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = StackSettings()
    started = ensure_services(settings)
    workdir = Path(tempfile.mkdtemp(prefix="predictor-bench-"))
    servers: list[PredictorProcess] = []
    try:
        data = prepared_data(args.prepared, workdir)
        connection = settings.feast_redis
        world = feast_world(data, workdir, connection)
        model = args.model_uri or write_model(workdir / "model" / "1" / "model.onnx", "1")
        from batch_pipeline.registry import Registry

        name = f"fraud-bench-{uuid.uuid4().hex[:6]}"
        registry = Registry(settings.registry_url, model_name=name)
        registry.register("1", model.resolve().as_uri(), {"benchmark": True})
        registry.promote("1", "benchmark")
        ours = PredictorProcess(
            ["--registry-url", settings.registry_url, "--registered-model", name,
             *world.server_args()],
            workdir / "predictor.log",
        )  # fmt: skip
        seed = PredictorProcess(
            ["--model", str(model), "--feature-data", str(world.data), "--project",
             world.project, "--redis-connection", connection],
            workdir / "seed.log",
            module="bench.seed_predictor",
        )  # fmt: skip
        servers += [ours, seed]
        log.info("starting both servers (imports take a while)")
        ours.start()
        seed.start()
        lines = measure(ours, seed, world)
        lines.append("")
        lines.append(f"Feature cache hit rate of our predictor over the run: "
                     f"{cache_hit_rate(ours.url)}.")  # fmt: skip
    finally:
        for server in servers:
            server.stop()
        for service in started:
            service.down()
        shutil.rmtree(workdir, ignore_errors=True)
    text = "\n".join(header() + lines) + "\n"
    sys.stdout.write(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


def measure(ours: PredictorProcess, seed: PredictorProcess, world: FeastWorld) -> list[str]:
    """The table's rows. The two v1 designs run in alternating rounds, so that the other loads
    on a shared machine fall on both alike."""
    v1 = v1_bodies(world)
    json_headers = {"content-type": "application/json"}
    path_v1, path_v2 = "/v1/models/fraud-detector:predict", "/v2/models/fraud-detector/infer"
    lines = [
        "| path | p50 ms | p99 ms | req/s | rows/s | server CPU ms/req | requests | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    designs = (("ours", ours), ("seed design", seed))
    for clients, label in ((1, "sequential"), (16, "16 clients")):
        rounds: dict[str, list[tuple[Load, float]]] = {name: [] for name, _ in designs}
        for n in range(ROUNDS):
            for name, server in designs:
                log.info("v1 %s %s, round %d", name, label, n + 1)
                target = Target(server.port, path_v1, json_headers)
                count = V1_SEQUENTIAL // ROUNDS if clients == 1 else 0
                seconds = CONCURRENT_S / ROUNDS
                job = partial(run, target, v1, clients, count=count, seconds=seconds, warmup=20)
                rounds[name].append(timed(server, job, 20 * clients))
        for name, _ in designs:
            lines.append(row(f"v1 user_id, {name}, {label}", *pooled(rounds[name])))
    for binary in (False, True):
        kind = "binary" if binary else "JSON"
        for batch in (1, 64, 512):
            bodies, headers = v2_bodies(batch, binary)
            log.info("v2 %s batch %d", kind, batch)
            target = Target(ours.port, path_v2, headers)
            count = 1000 if batch < 512 else 400
            job = partial(run, target, bodies, 1, count=count, warmup=20)
            lines.append(row(f"v2 {kind}, batch {batch}, sequential", *timed(ours, job, 20), batch))
        log.info("v2 %s batch 512, 4 clients", kind)
        job = partial(run, target, bodies, 4, seconds=CONCURRENT_S, warmup=20)
        lines.append(row(f"v2 {kind}, batch 512, 4 clients", *timed(ours, job, 80), 512))
    return lines


def header() -> list[str]:
    load = os.getloadavg()
    return [
        "# Predictor benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; load average at the end {load[0]:.1f} / "
        f"{load[1]:.1f} / {load[2]:.1f} (1/5/15 min; the machine is shared).",
        "Both servers: one KServe process (uvicorn, 1 worker) on 127.0.0.1, the same ONNX model,",
        "the same Feast project on the local Redis. Clients are separate processes on the same",
        "machine (closed loop, keep-alive).",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
