"""``make bench``: the suite's speed, as ratios measured in one run on one machine.

Figures (each with its goal):

* isolation overhead — a trivial proof in our rolled-back transaction vs in a
  fresh database cloned from the template per test (pytest-postgresql's
  ``postgresql`` fixture: ``DatabaseJanitor`` with ``template_dbname``); goal ≥ 50×;
* harness overhead — wall time of building the template and running every proof
  vs the server-side statement time it caused (``pg_stat_statements``); goal ≤ 2×;
* parallel speed-up — ``-n 2`` vs serial, same verdicts; goal ≥ 1.6×;
* scale — the proofs on a template with 1,000,000 information units and 100,000
  collections added vs the fixture template; goal ≤ 1.5×;
* D trigger on vs off and scaleout growth — from ``bench_envelope_trigger.py``
  and ``bench_scaleout.py``, run as child processes; plus a plot of scaleout time
  against N, gate on and off (``reports/bench-scaleout.svg``).

Writes ``reports/bench.md`` and ``reports/bench.json``; prints progress with an ETA.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from iu_prove import nested, target  # noqa: E402
from iu_prove.dsn import connect  # noqa: E402
from iu_prove.embedded import EmbeddedCluster  # noqa: E402
from iu_prove.isolation import rolled_back  # noqa: E402

REPORTS = ROOT / "reports"
TRIVIAL_PROOF = "SELECT count(*) FROM information_unit WHERE kind = 'collection'"


class Progress:
    def __init__(self, steps: list[str]):
        self.steps, self.done, self.started = steps, 0, time.monotonic()

    def step(self, name: str) -> None:
        elapsed = time.monotonic() - self.started
        eta = (elapsed / self.done * (len(self.steps) - self.done)) if self.done else float("nan")
        eta_text = f"ETA {eta:.0f}s" if self.done else "ETA unknown"
        print(f"[{self.done + 1}/{len(self.steps)}] {name} ({elapsed:.0f}s elapsed, {eta_text})", flush=True)
        self.done += 1


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def isolation_overhead(tgt: target.Target, ours_n: int = 300, theirs_n: int = 20) -> dict[str, Any]:
    """Per-proof cost: our rolled-back transaction vs a fresh clone of the template per test."""
    dsn = tgt.clone("iu_bench_isolation")
    with connect(dsn) as conn:

        def ours() -> None:
            for _ in range(ours_n):
                with rolled_back(conn) as tx:
                    tx.execute(TRIVIAL_PROOF).fetchone()

        t_ours, _ = timed(ours)

    def theirs() -> None:
        for i in range(theirs_n):
            janitor = tgt.janitor(f"iu_bench_fresh_{i}", template=tgt.template)
            janitor.init()
            with connect(tgt.dsn_for(f"iu_bench_fresh_{i}")) as c:
                c.execute(TRIVIAL_PROOF).fetchone()
            janitor.drop()

    t_theirs, _ = timed(theirs)
    tgt.drop("iu_bench_isolation")
    per_ours, per_theirs = t_ours / ours_n, t_theirs / theirs_n
    return {
        "ours_ms": round(per_ours * 1000, 3),
        "fresh_database_ms": round(per_theirs * 1000, 1),
        "ratio": round(per_theirs / per_ours, 1),
        "goal": ">= 50",
        "met": per_theirs / per_ours >= 50,
    }


def prove_run(attach: str, workers: int, workdir: Path) -> tuple[float, nested.NestedRun]:
    args = ["proofs", "-q"] + (["-p", "no:xdist"] if workers == 0 else ["-n", str(workers)])
    return timed(lambda: nested.run(args, report_dir=workdir / f"w{workers}-{time.monotonic_ns()}", attach=attach))


def attach_for(tgt: target.Target, template: str | None = None) -> str:
    return nested.attach_spec(tgt.server_dsn, template or tgt.template, tgt.head, tgt.server_version)


def harness_overhead(cluster: EmbeddedCluster, workdir: Path) -> dict[str, Any]:
    """Wall time of template build + every proof vs the server time of their statements."""
    with connect(cluster.dsn("postgres"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    t_build, tgt = timed(lambda: target.embedded(cluster))
    t_run, run = prove_run(attach_for(tgt), 2, workdir)
    with connect(cluster.dsn("postgres"), autocommit=True) as conn:
        server_ms = conn.execute(
            "SELECT coalesce(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements"
        ).fetchone()[0]
    wall = t_build + t_run
    ratio = wall / (server_ms / 1000) if server_ms else float("inf")
    return {
        "wall_s": round(wall, 2),
        "template_build_s": round(t_build, 2),
        "proofs_s": round(t_run, 2),
        "server_statement_s": round(server_ms / 1000, 2),
        "ratio": round(ratio, 2),
        "goal": "<= 2",
        "met": ratio <= 2,
        "exit_code": run.returncode,
    }


def parallel_speedup(tgt: target.Target, workdir: Path) -> dict[str, Any]:
    t_serial, serial = prove_run(attach_for(tgt), 0, workdir)
    t_parallel, parallel = prove_run(attach_for(tgt), 2, workdir)
    same = serial.verdicts() == parallel.verdicts()
    ratio = t_serial / t_parallel
    return {
        "serial_s": round(t_serial, 2),
        "parallel_s": round(t_parallel, 2),
        "ratio": round(ratio, 2),
        "goal": ">= 1.6",
        "met": ratio >= 1.6,
        "same_verdicts": same,
        "claims": len(serial.verdicts()),
    }


BIG_SQL = """
INSERT INTO information_unit (code, kind, axis_a, axis_b, axis_c, body, created_by)
SELECT 'BIG-P' || g, 'piece', 'a' || (g %% 97), 'b' || (g %% 89), 'c' || (g %% 83), 'body ' || g, 'iu-bench-scale'
  FROM generate_series(1, %(pieces)s) g;
INSERT INTO information_unit (code, kind, created_by)
SELECT 'BIG-C' || g, 'collection', 'iu-bench-scale' FROM generate_series(1, %(collections)s) g;
ALTER TABLE iu_piece_membership DISABLE TRIGGER USER;
INSERT INTO iu_piece_membership (collection_id, piece_id, position)
SELECT c.id, p.id, k
  FROM generate_series(1, %(collections)s) g
  JOIN information_unit c ON c.code = 'BIG-C' || g
  CROSS JOIN generate_series(1, 5) k
  JOIN information_unit p ON p.code = 'BIG-P' || (((g - 1) * 5 + k - 1) %% %(pieces)s + 1);
ALTER TABLE iu_piece_membership ENABLE TRIGGER USER;
INSERT INTO iu_three_axis_envelope (collection_id, axis_a_count, axis_b_count, axis_c_count, refreshed_at)
SELECT m.collection_id, count(DISTINCT p.axis_a), count(DISTINCT p.axis_b), count(DISTINCT p.axis_c), now()
  FROM iu_piece_membership m JOIN information_unit p ON p.id = m.piece_id
  JOIN information_unit c ON c.id = m.collection_id
 WHERE c.code LIKE 'BIG-C%%' AND p.lifecycle_state = 'active'
 GROUP BY m.collection_id;
"""


def scale(tgt: target.Target, workdir: Path, pieces: int, collections: int) -> dict[str, Any]:
    """The proofs on a template grown by `pieces` units and `collections` collections vs the fixtures."""
    big = "iu_template_big"
    tgt.clone(big)
    t_fill, _ = timed(lambda: _fill(tgt.dsn_for(big), pieces, collections))
    with connect(tgt.server_dsn, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {big} WITH is_template true")
    t_small, small = prove_run(attach_for(tgt), 2, workdir)
    t_big, bigrun = prove_run(attach_for(tgt, big), 2, workdir)
    tgt.janitor(big, as_template=True).drop()
    ratio = t_big / t_small
    return {
        "added_units": pieces + collections,
        "added_collections": collections,
        "fill_s": round(t_fill, 1),
        "fixtures_s": round(t_small, 2),
        "scaled_s": round(t_big, 2),
        "ratio": round(ratio, 2),
        "goal": "<= 1.5",
        "met": ratio <= 1.5,
        "same_verdicts": small.verdicts() == bigrun.verdicts(),
    }


def _fill(dsn: str, pieces: int, collections: int) -> None:
    with connect(dsn) as conn:
        conn.execute("SET statement_timeout = 0")
        for statement in filter(str.strip, BIG_SQL.split(";")):
            conn.execute(statement, {"pieces": pieces, "collections": collections})
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def child_bench(script: str, out: Path, extra: list[str]) -> dict[str, Any]:
    path = ROOT / "bench" / script
    if not path.exists():
        return {"skipped": f"{script} not present"}
    proc = subprocess.run([sys.executable, str(path), *extra], capture_output=True, text=True, cwd=ROOT)
    if not out.exists():
        return {"error": (proc.stderr or proc.stdout).strip()[-1500:]}
    return json.loads(out.read_text())


def svg_plot(series: dict[str, list[tuple[int, float]]], path: Path) -> None:
    """A small log-log line chart of time against N, one line per series."""
    import math

    points = [p for s in series.values() for p in s if p[0] > 0 and p[1] > 0]
    if not points:
        return
    w, h, m = 640, 400, 60
    xs = [math.log10(p[0]) for p in points]
    ys = [math.log10(p[1]) for p in points]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = min(ys), max(ys)
    x1 = x1 if x1 > x0 else x0 + 1
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(x: float) -> float:
        return m + (math.log10(x) - x0) / (x1 - x0) * (w - 2 * m)

    def sy(y: float) -> float:
        return h - m - (math.log10(y) - y0) / (y1 - y0) * (h - 2 * m)

    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
        f'<rect width="{w}" height="{h}" fill="white"/>',
        f'<line x1="{m}" y1="{h - m}" x2="{w - m}" y2="{h - m}" stroke="black"/>',
        f'<line x1="{m}" y1="{m}" x2="{m}" y2="{h - m}" stroke="black"/>',
        f'<text x="{w / 2}" y="{h - 20}" text-anchor="middle">N instances in one transaction (log)</text>',
        f'<text x="15" y="{h / 2}" transform="rotate(-90 15 {h / 2})" text-anchor="middle">seconds (log)</text>',
    ]
    for i, (name, pts) in enumerate(series.items()):
        pts = sorted(p for p in pts if p[0] > 0 and p[1] > 0)
        colour = colours[i % len(colours)]
        coords = " ".join(f"{sx(n):.1f},{sy(t):.1f}" for n, t in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, t in pts:
            out.append(f'<circle cx="{sx(n):.1f}" cy="{sy(t):.1f}" r="3" fill="{colour}"/>')
            out.append(f'<text x="{sx(n) + 5:.1f}" y="{sy(t) - 5:.1f}" fill="{colour}">N={n}: {t:.2f}s</text>')
        out.append(f'<text x="{w - m - 150}" y="{m + 18 * i}" fill="{colour}">— {name}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {doc['generated_at']} on {doc['machine']}, one run, one machine.",
        "",
        "| figure | measured | goal | met |",
        "|---|---|---|---|",
    ]
    for row in doc["figures"]:
        lines.append(f"| {row['name']} | {row['measured']} | {row['goal']} | {'yes' if row['met'] else '**no**'} |")
    lines += [
        "",
        "![scaleout time against N](bench-scaleout.svg)",
        "",
        "## Details",
        "",
        "```json",
        json.dumps(doc["details"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def figures(details: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    iso = details.get("isolation") or {}
    if "ratio" in iso:
        rows.append(
            {
                "name": "isolation overhead: fresh database per test / rolled-back transaction",
                "measured": f"{iso['ratio']}× ({iso['fresh_database_ms']} ms vs {iso['ours_ms']} ms)",
                "goal": "≥ 50×",
                "met": iso["met"],
            }
        )
    har = details.get("harness") or {}
    if "ratio" in har:
        rows.append(
            {
                "name": "harness overhead: wall time / server statement time",
                "measured": f"{har['ratio']}× ({har['wall_s']} s vs {har['server_statement_s']} s)",
                "goal": "≤ 2×",
                "met": har["met"],
            }
        )
    par = details.get("parallel") or {}
    if "ratio" in par:
        rows.append(
            {
                "name": f"parallel speed-up: serial / -n 2 (same verdicts: {'yes' if par['same_verdicts'] else 'NO'})",
                "measured": f"{par['ratio']}× ({par['serial_s']} s vs {par['parallel_s']} s)",
                "goal": "≥ 1.6×",
                "met": par["met"],
            }
        )
    sca = details.get("scale") or {}
    if "ratio" in sca:
        rows.append(
            {
                "name": f"scale: +{sca['added_units']:,} units / fixtures only",
                "measured": f"{sca['ratio']}× ({sca['scaled_s']} s vs {sca['fixtures_s']} s)",
                "goal": "≤ 1.5×",
                "met": sca["met"],
            }
        )
    sco = details.get("scaleout") or {}
    if sco.get("growth_ratio_t10000_over_t1000") is not None:
        ratio = sco["growth_ratio_t10000_over_t1000"]
        per_s = ", ".join(f"N={r['n']}: {r['instances_per_second']}/s" for r in sco.get("results", []))
        rows.append(
            {
                "name": f"scaleout growth t(10,000)/t(1,000) ({per_s})",
                "measured": f"{ratio}×",
                "goal": "≤ 11×",
                "met": ratio <= 11,
            }
        )
    trig = details.get("envelope_trigger") or {}
    for label, key in (
        ("D trigger on / off at N=10,000", "ratio_on_off"),
        ("D trigger growth t(10,000)/t(1,000), gate on", "growth_gate_on"),
    ):
        entry = trig.get(key)
        if isinstance(entry, dict) and entry.get("value") is not None:
            rows.append(
                {
                    "name": label,
                    "measured": f"{entry['value']}×",
                    "goal": f"≤ {entry['goal']}×",
                    "met": bool(entry.get("met")),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--scale-units", type=int, default=1_000_000, help="pieces added for the scale figure")
    parser.add_argument("--scale-collections", type=int, default=100_000)
    parser.add_argument("--skip", default="", help="comma-separated: isolation,harness,parallel,scale,trigger,scaleout")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    REPORTS.mkdir(exist_ok=True)
    steps = [s for s in ("harness", "isolation", "parallel", "scale", "trigger", "scaleout") if s not in skip]
    progress = Progress(steps)
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="iu-bench-") as tmp, EmbeddedCluster() as cluster:
        workdir = Path(tmp)
        tgt = None
        for step in steps:
            progress.step(step)
            if step == "harness":
                details["harness"] = harness_overhead(cluster, workdir)
                tgt = target.Target(kind="embedded", server_dsn=cluster.dsn("postgres"), template=target.TEMPLATE)
                with connect(tgt.dsn_for(tgt.template)) as conn:
                    tgt.server_version, tgt.head = target.describe(conn)
            if tgt is None:
                tgt = target.embedded(cluster)
            if step == "isolation":
                details["isolation"] = isolation_overhead(tgt)
            elif step == "parallel":
                details["parallel"] = parallel_speedup(tgt, workdir)
            elif step == "scale":
                details["scale"] = scale(tgt, workdir, args.scale_units, args.scale_collections)
            elif step == "trigger":
                details["envelope_trigger"] = child_bench(
                    "bench_envelope_trigger.py", REPORTS / "bench-envelope-trigger.json", []
                )
            elif step == "scaleout":
                details["scaleout"] = child_bench("bench_scaleout.py", REPORTS / "bench-scaleout.json", [])
    doc = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}",
        "figures": figures(details),
        "details": details,
    }
    series = _scaleout_series(details)
    if series:
        svg_plot(series, REPORTS / "bench-scaleout.svg")
    (REPORTS / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    (REPORTS / "bench.md").write_text(render(doc))
    for row in doc["figures"]:
        print(f"{'ok ' if row['met'] else 'NOT'}  {row['name']}: {row['measured']} (goal {row['goal']})")
    print(f"report: {REPORTS / 'bench.md'}")
    return 0


def _scaleout_series(details: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """(N, seconds) points for gate off/on, from whichever child benchmarks ran."""
    series: dict[str, list[tuple[int, float]]] = {}
    for label, seconds in ((details.get("envelope_trigger") or {}).get("best_seconds") or {}).items():
        n, gate = label.replace("N=", "").split(" gate=")  # "N=1000 gate=on"
        series.setdefault(f"auto-refresh gate {gate}", []).append((int(n), float(seconds)))
    for row in (details.get("scaleout") or {}).get("results", []):
        series.setdefault("scaleout (gate off)", []).append((int(row["n"]), float(row["seconds"])))
    return series


if __name__ == "__main__":
    sys.exit(main())
