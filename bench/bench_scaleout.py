"""Benchmark: bounded scaleout throughput and growth (package E).

Starts its own embedded PostgreSQL, applies the migrations and the fixtures,
then times ``fn_iu_bounded_scaleout(N, actor, bound => N)`` — N orchestrator
instances in ONE transaction, rolled back afterwards, each run on a fresh clone
of the loaded database — for N = 40, 1,000 and 10,000 (the bound is raised
explicitly to N). Reports instances per second per
N and the growth ratio t(10,000) / t(1,000); the goal is linear growth, a
ratio of at most 11.

    .venv/bin/python bench/bench_scaleout.py [--sizes 40,1000,10000] [--repeat 3] [--out reports/bench-scaleout.json]

Writes the figures as JSON (default ``reports/bench-scaleout.json``) and prints
a short table (wall clock, the fastest of --repeat runs, and the backend's CPU
time, which a busy machine disturbs less). Exit 0 when the ratio meets the goal,
1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from iu_prove import migrations, paths, seed
from iu_prove.dsn import connect
from iu_prove.embedded import EmbeddedCluster

GOAL_RATIO = 11.0
DEFAULT_SIZES = (40, 1_000, 10_000)
TEMPLATE = "iu_bench_template"


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local server backend (None when /proc is not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_batch(dsn: str, n: int) -> tuple[float, float | None]:
    """(wall seconds, backend CPU seconds) of one batch of n in one transaction (then rolled back)."""
    with connect(dsn) as conn:
        conn.execute("SET statement_timeout = 0")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        cpu_before = backend_cpu_seconds(pid)
        started = time.perf_counter()
        made = conn.execute(
            "SELECT count(*) FROM fn_iu_bounded_scaleout(%s::int, %s::text, p_bound => %s::int)",
            [n, f"iu-core-bench-{n}x", n],
        ).fetchone()[0]
        elapsed = time.perf_counter() - started
        cpu_after = backend_cpu_seconds(pid)
        conn.rollback()
    if made != n:
        raise RuntimeError(f"batch of {n} returned {made} rows")
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return elapsed, cpu


def time_on_fresh_clone(cluster: EmbeddedCluster, n: int) -> tuple[float, float | None]:
    """One timed batch on a fresh clone of the bench template, so every run starts from the same state."""
    with connect(cluster.dsn("postgres"), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS iu_bench_run")
        admin.execute(f"CREATE DATABASE iu_bench_run TEMPLATE {TEMPLATE}")
    try:
        return time_batch(cluster.dsn("iu_bench_run"), n)
    finally:
        with connect(cluster.dsn("postgres"), autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS iu_bench_run")


def run(sizes: tuple[int, ...], repeat: int) -> dict[str, object]:
    with EmbeddedCluster() as cluster:
        with connect(cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        with connect(cluster.dsn(TEMPLATE)) as conn:
            migrations.apply(conn)
            seed.load(conn)
            version = conn.execute("SHOW server_version").fetchone()[0]
            head = migrations.head(conn)
            conn.commit()
        time_on_fresh_clone(cluster, 40)  # warm-up
        results = []
        for n in sizes:
            runs = [time_on_fresh_clone(cluster, n) for _ in range(repeat)]
            # the machine may be shared: the fastest run is the least disturbed one
            seconds = min(wall for wall, _ in runs)
            cpus = [cpu for _, cpu in runs if cpu is not None]
            results.append(
                {
                    "n": n,
                    "seconds": round(seconds, 4),
                    "instances_per_second": round(n / seconds, 1),
                    "runs_wall_s": [round(wall, 4) for wall, _ in runs],
                    "backend_cpu_s": round(min(cpus), 3) if cpus else None,
                }
            )
            shown = ", ".join(f"{wall:.3f}" for wall, _ in runs)
            cpu_note = f", backend CPU {min(cpus):.3f} s" if cpus else ""
            print(f"N={n:>6}: {seconds:8.3f} s  {n / seconds:9.1f} instances/s  (runs {shown}{cpu_note})", flush=True)
    by_n = {r["n"]: r for r in results}
    ratio = cpu_ratio = None
    if 1_000 in by_n and 10_000 in by_n:
        ratio = round(by_n[10_000]["seconds"] / by_n[1_000]["seconds"], 2)
        if by_n[1_000]["backend_cpu_s"] and by_n[10_000]["backend_cpu_s"]:
            cpu_ratio = round(by_n[10_000]["backend_cpu_s"] / by_n[1_000]["backend_cpu_s"], 2)
    return {
        "benchmark": "bounded scaleout: fn_iu_bounded_scaleout(N) in one transaction, fastest of the runs",
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "server_version": version,
        "migration_head": head,
        "repeat": repeat,
        "results": results,
        "growth_ratio_t10000_over_t1000": ratio,
        "growth_ratio_backend_cpu": cpu_ratio,
        "goal": f"linear: t(10,000) / t(1,000) <= {GOAL_RATIO:g}",
        "goal_met": ratio is not None and ratio <= GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="comma-separated batch sizes (default 40,1000,10000)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per size, each on a fresh clone; the fastest is reported (default 3)",
    )
    parser.add_argument("--out", default=str(paths.REPORTS / "bench-scaleout.json"), help="where the JSON goes")
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(",") if s.strip())
    report = run(sizes, max(1, args.repeat))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    ratio = report["growth_ratio_t10000_over_t1000"]
    print(
        f"growth t(10,000)/t(1,000) = {ratio} (goal <= {GOAL_RATIO:g}): "
        f"{'met' if report['goal_met'] else 'NOT met'}; written to {out}"
    )
    return 0 if report["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
