"""Benchmark the envelope auto-refresh trigger (migration 036).

Usage: ``.venv/bin/python bench/bench_envelope_trigger.py [--sizes 1000,10000] [--repeats 2]``

Starts its own embedded PostgreSQL, builds the substrate (migrations and
fixtures) and measures:

1. N live instantiations in one transaction (rolled back) with
   ``iu_core.three_axis_auto_refresh_enabled`` on versus off: the time ratio
   t(on)/t(off) at the largest N (goal <= 1.5) and the growth ratio
   t(10,000)/t(1,000) with the gate on (goal <= 11).
2. Subtransactions: every fire of the trigger runs a swallowing block, one
   subtransaction with its own XID. Past 64 of them in one transaction the
   backend's subxid cache overflows and concurrent snapshots must look XIDs up
   in pg_subtrans. A second session times a reader while a batch is held open:
   no batch; the batch with the gate off plus one refresh at its end (0
   subtransactions, the same rows); the batch with the gate on (one
   subtransaction per instance); and the 64/65 boundary.

3. Growth between successive sizes, gate on and off (``make bench`` runs
   1,000 / 10,000 / 100,000 with ``--no-reader``), and with ``--plain`` the
   plain orchestrator loop — N ``dot_iu_auto_instantiate_from_event`` calls in
   one transaction without 042's re-planning — whose growth shows whether the
   substrate's own plans stay linear (migration 044).

Runs interleave on/off and keep the fastest of the repeats (the machine may be
shared). Writes ``reports/bench-envelope-trigger.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from iu_prove import migrations, seed  # noqa: E402
from iu_prove.dsn import connect  # noqa: E402
from iu_prove.embedded import EmbeddedCluster  # noqa: E402

GATE = "iu_core.three_axis_auto_refresh_enabled"
ACTOR = "iu-core-bench-envelope"
RATIO_GOAL = 1.5
GROWTH_GOAL = 11.0
OUT = ROOT / "reports" / "bench-envelope-trigger.json"
SMALL, SMALL_REPEATS = 1000, 3  # sizes up to SMALL run at least SMALL_REPEATS times (they are cheap)

# N orchestrator instantiations in one transaction, through the bounded scaleout
# (042): the product's batch path, bound raised to N, gate opened and closed inside.
BATCH_SQL = """
SELECT count(*) FROM fn_iu_bounded_scaleout(
  current_setting('iu_bench.n')::int, current_setting('iu_bench.actor'),
  p_bound => current_setting('iu_bench.n')::int)
"""

READER_SQL = """
SELECT (SELECT count(*) FROM information_unit),
       (SELECT count(*) FROM iu_piece_membership),
       (SELECT count(*) FROM iu_three_axis_envelope)
"""


def _prepare(conn: psycopg.Connection, n: int, gate: bool, plan_mode: str = "auto") -> None:
    """In the connection's open transaction: N and the actor for the batch, the auto-refresh gate set."""
    conn.execute("SELECT set_config('plan_cache_mode', %s, true)", [plan_mode])
    conn.execute("SELECT set_config('iu_bench.n', %s, true), set_config('iu_bench.actor', %s, true)", [str(n), ACTOR])
    conn.execute("SELECT fn_iu_core_config_set(%s, %s::jsonb, %s)", [GATE, json.dumps(gate), ACTOR])


def _vacuum(dsn: str) -> None:
    """Reclaim the rolled-back rows so every run starts from the same tables."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM")


def time_batch(dsn: str, n: int, gate: bool, plan_mode: str) -> dict[str, Any]:
    """Seconds for N instantiations in one transaction (then rolled back)."""
    with connect(dsn) as conn:
        before = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_refresh_log").fetchone()[0]
        _prepare(conn, n, gate, plan_mode)
        started = time.perf_counter()
        conn.execute(BATCH_SQL)
        seconds = time.perf_counter() - started
        refresh_rows = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_refresh_log").fetchone()[0] - before
        dirty = conn.execute("SELECT count(*) FROM iu_three_axis_envelope_dirty").fetchone()[0]
        conn.rollback()
    _vacuum(dsn)
    want_rows = n if gate else 0
    if refresh_rows != want_rows:
        state = "on" if gate else "off"
        raise SystemExit(f"bench: gate {state}, N={n}: {refresh_rows} refresh rows, expected {want_rows}")
    return {"n": n, "gate": gate, "seconds": round(seconds, 4), "refresh_rows": refresh_rows, "dirty_after": dirty}


def reader_median_ms(dsn: str, iterations: int) -> float:
    """Median latency of the reader query in its own autocommit session."""
    with connect(dsn, autocommit=True) as conn:
        conn.execute(READER_SQL)  # warm the plan and the cache
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            conn.execute(READER_SQL).fetchone()
            samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 4)


@contextmanager
def held_batch(dsn: str, n: int, mode: str) -> Iterator[int]:
    """Hold a batch of N instantiations open in another session; yield its subtransaction count.

    mode "gate_on": the trigger refreshes per instance (N subtransactions);
    mode "gate_off_then_refresh": gate off, one refresh-if-stale at the end
    (0 subtransactions, the same envelope, membership and unit rows).
    """
    conn = connect(dsn)
    try:
        _prepare(conn, n, gate=mode == "gate_on")
        conn.execute(BATCH_SQL)
        if mode == "gate_off_then_refresh":
            conn.execute("SELECT fn_iu_three_axis_envelope_refresh_if_stale('bench_single_refresh')")
        yield n if mode == "gate_on" else 0
    finally:
        conn.rollback()
        conn.close()
        _vacuum(dsn)


READER_CASES = (
    ("no open batch", 0, None),
    ("64 instances open, gate on", 64, "gate_on"),
    ("65 instances open, gate on", 65, "gate_on"),
    ("{n} instances open, gate off + one refresh", -1, "gate_off_then_refresh"),
    ("{n} instances open, gate on", -1, "gate_on"),
)


def reader_study(dsn: str, batch: int, iterations: int, rounds: int) -> dict[str, Any]:
    """Reader latency beside an open batch; rounds interleave the cases, the fastest median counts."""
    medians: dict[str, list[float]] = {}
    subxacts: dict[str, int] = {}
    for _ in range(rounds):
        for label, n, mode in READER_CASES:
            size = batch if n < 0 else n
            name = label.format(n=size)
            if mode is None:
                subxacts[name] = 0
                medians.setdefault(name, []).append(reader_median_ms(dsn, iterations))
                continue
            with held_batch(dsn, size, mode) as count:
                subxacts[name] = count
                medians.setdefault(name, []).append(reader_median_ms(dsn, iterations))
    cases = [
        {"case": name, "subtransactions": subxacts[name], "reader_ms": min(ms), "medians_ms": ms}
        for name, ms in medians.items()
    ]
    best = {c["case"]: c["reader_ms"] for c in cases}
    on, off = f"{batch} instances open, gate on", f"{batch} instances open, gate off + one refresh"
    return {
        "reader_query": " ".join(READER_SQL.split()),
        "iterations": iterations,
        "rounds": rounds,
        "cases": cases,
        "overflowed_over_not_at_batch": round(best[on] / best[off], 3),
        "boundary_65_over_64": round(best["65 instances open, gate on"] / best["64 instances open, gate on"], 3),
    }


PLAIN_LOOP_SQL = """
DO $loop$
DECLARE r record;
BEGIN
  PERFORM fn_iu_core_config_set('iu_core.auto_instantiate_enabled', 'true'::jsonb, current_setting('iu_bench.actor'));
  FOR r IN SELECT * FROM fn_iu_bounded_scaleout_plan(current_setting('iu_bench.n')::int) LOOP
    PERFORM dot_iu_auto_instantiate_from_event(r.template_code, current_setting('iu_bench.actor'), false,
                                               r.template_version, format('PLAIN-%s', r.ordinal));
  END LOOP;
END
$loop$
"""


def time_plain_loop(dsn: str, n: int) -> float:
    """Seconds for N orchestrator calls in one transaction without 042's re-planning (gate off), rolled back."""
    with connect(dsn) as conn:
        _prepare(conn, n, False)
        started = time.perf_counter()
        conn.execute(PLAIN_LOOP_SQL)
        seconds = time.perf_counter() - started
        made = conn.execute("SELECT count(*) FROM iu_collection_template_instance_lineage WHERE actor = %s", [ACTOR])
        if made.fetchone()[0] != n:
            raise SystemExit(f"bench: plain loop N={n} made the wrong number of instances")
        conn.rollback()
    _vacuum(dsn)
    return round(seconds, 4)


def run(
    sizes: list[int], repeats: int, reader: tuple[int, int, int] | None, plan_mode: str, plain: list[int]
) -> dict[str, Any]:
    with EmbeddedCluster() as cluster:
        with connect(cluster.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE iu_bench")
        dsn = cluster.dsn("iu_bench")
        with connect(dsn) as conn:
            migrations.apply(conn)
            seed.load(conn)
        _vacuum(dsn)
        runs: list[dict[str, Any]] = []
        for n in sizes:
            for _ in range(max(repeats, SMALL_REPEATS) if n <= SMALL else repeats):
                for gate in (False, True):
                    result = time_batch(dsn, n, gate, plan_mode)
                    runs.append(result)
                    print(f"  N={n:>6} gate {'on ' if gate else 'off'}: {result['seconds']:8.3f} s", flush=True)
        best = {
            (n, gate): min(r["seconds"] for r in runs if r["n"] == n and r["gate"] == gate)
            for n in sizes
            for gate in (False, True)
        }
        reader_result = reader_study(dsn, *reader) if reader else None
        plain_seconds = {}
        for n in plain:
            plain_seconds[str(n)] = time_plain_loop(dsn, n)
            print(f"  plain orchestrator loop N={n:>6}: {plain_seconds[str(n)]:8.3f} s", flush=True)
    small, large = min(sizes), max(sizes)
    mid = 10_000 if 10_000 in sizes else large
    ratio = best[(mid, True)] / best[(mid, False)]
    growth = best[(mid, True)] / best[(small, True)]
    return {
        "benchmark": "envelope auto-refresh trigger (036)",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "sizes": sizes,
        "repeats": repeats,
        "plan_cache_mode": plan_mode,
        "runs": runs,
        "best_seconds": {f"N={n} gate={'on' if g else 'off'}": s for (n, g), s in best.items()},
        "plain_loop_seconds": plain_seconds,
        "growth": {
            f"t({b})/t({a}) gate {'on' if g else 'off'}": round(best[(b, g)] / best[(a, g)], 3)
            for a, b in itertools.pairwise(sizes)
            for g in (True, False)
        },
        "ratio_on_off": {
            "n": mid,
            "value": round(ratio, 3),
            "goal": RATIO_GOAL,
            "met": ratio <= RATIO_GOAL,
            "per_size": {str(n): round(best[(n, True)] / best[(n, False)], 3) for n in sizes},
        },
        "growth_gate_on": {
            "from": small,
            "to": mid,
            "value": round(growth, 3),
            "goal": GROWTH_GOAL,
            "met": growth <= GROWTH_GOAL,
            "gate_off": round(best[(mid, False)] / best[(small, False)], 3),
        },
        "trigger_cost_ms_per_instance": {
            str(n): round((best[(n, True)] - best[(n, False)]) * 1000 / n, 4) for n in sizes
        },
        "concurrent_reader": reader_result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N (default 1000,10000)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help=f"runs per (N, gate), at least {SMALL_REPEATS} for N <= {SMALL}; fastest counts",
    )
    parser.add_argument("--no-reader", action="store_true", help="skip the concurrent-reader study")
    parser.add_argument("--plain", default="", help="N list: plain orchestrator loop, no re-planning")
    parser.add_argument("--reader-batch", type=int, default=1000, help="batch held open for the reader study")
    parser.add_argument("--reader-iterations", type=int, default=400, help="reader queries per case and round")
    parser.add_argument("--reader-rounds", type=int, default=5, help="rounds of the reader cases")
    parser.add_argument(
        "--plan-cache-mode",
        default="auto",
        choices=["auto", "force_custom_plan", "force_generic_plan"],
        help="plan_cache_mode in the timed batches (default auto, as shipped)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if len(sizes) < 2 or sizes[0] < 1 or args.repeats < 1:
        parser.error("--sizes needs at least two positive sizes and --repeats at least 1")
    print(
        f"envelope trigger benchmark: sizes {sizes}, {args.repeats} repeat(s), fastest run counts, "
        f"plan_cache_mode {args.plan_cache_mode}",
        flush=True,
    )
    reader = None if args.no_reader else (args.reader_batch, args.reader_iterations, args.reader_rounds)
    plain = [int(s) for s in args.plain.split(",") if s.strip()]
    result = run(sizes, args.repeats, reader, args.plan_cache_mode, plain)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    r, g = result["ratio_on_off"], result["growth_gate_on"]
    print(
        f"time ratio gate on/off at N={r['n']}: {r['value']:.2f} (goal <= {r['goal']}) "
        f"{'met' if r['met'] else 'NOT met'}"
    )
    print(
        f"growth ratio t({g['to']})/t({g['from']}) gate on: {g['value']:.2f} (goal <= {g['goal']}) "
        f"{'met' if g['met'] else 'NOT met'}; gate off {g['gate_off']:.2f}"
    )
    for n, ms in result["trigger_cost_ms_per_instance"].items():
        print(f"  trigger cost per instance at N={n}: {ms:.3f} ms")
    reader = result["concurrent_reader"]
    if reader is None:
        print(f"wrote {args.out}")
        return 0
    for case in reader["cases"]:
        print(f"  reader {case['reader_ms']:8.3f} ms  {case['case']} ({case['subtransactions']} subtransactions)")
    print(
        "  reader slowdown, overflowed subxid cache vs none at the same rows: "
        f"{reader['overflowed_over_not_at_batch']:.2f}x; "
        f"65 vs 64 subtransactions: {reader['boundary_65_over_64']:.2f}x"
    )
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
