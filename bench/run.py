"""``make bench``: the suite's speed, as ratios measured in one run on one machine.

Writes ``reports/bench.json`` — ``{"figures": [{"id", "name", "measured",
"ratio", "goal", "met"}], "details": {...}}`` with stable ids — and
``reports/bench.md`` with the plot ``reports/bench-scaleout.png``:

* ``isolation`` — a trivial proof in our rolled-back transaction vs a fresh
  database cloned per test (pytest-postgresql's ``DatabaseJanitor``); ≥ 50×;
* ``harness`` — wall time of building the template and running every proof vs
  the server statement time it caused (``pg_stat_statements``); ≤ 2×;
* ``parallel`` — serial / ``-n 2`` on the 8 peer claims and on every proof,
  same verdicts; ≥ 1.0× small, ≥ 1.6× full;
* ``one_claim_start`` — a one-claim run's wall time minus its server time; ≤ 1.5 s;
* ``peer_pgtap`` — ours restricted to S-2, S-11, S-12, D-2, F-1, F-2, E-1, E-7
  at one N (Hypothesis profile ``bench``) / the pgTAP suite of the same claims
  (``bench/pgtap/``) under ``pg_prove``, both on one running server; ≤ 1.0×;
* ``scale`` — the proofs a DSN target runs on a database with +1,100,000 units
  / on the fixtures (the big template is built once under ``.cache/bench/``,
  see ``bench/bigdb.py``); ≤ 1.5×; the full embedded run on the big template
  and the residue check's cost are reported beside it;
* ``trigger_on_off`` — N = 10,000 instantiations in one transaction, the D
  auto-refresh gate on / off; ≤ 1.5×;
* ``scaleout_growth`` — t(10,000)/t(1,000) gate on and off, t(100,000)/t(10,000);
  each ≤ 11× (from ``bench_envelope_trigger.py``, a child process);
* ``make_test`` — not run here (``make test`` runs this machine for minutes on
  its own); recorded as not measured with that reason.

pgTAP and pg_prove come from the distribution's packages, installed here when
missing (never needed by ``make prove``); matplotlib from the ``bench`` extra.
Prints progress with an ETA.
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

from iu_prove import nested, residue, target  # noqa: E402
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


PEER_CLAIMS = ("S-2", "S-11", "S-12", "D-2", "F-1", "F-2", "E-1", "E-7")
PEER_N = 1  # the bench profile's single generated example is the smallest N (and n_other) of each proof


def claims_run(attach: str, workers: int, workdir: Path, claims: tuple[str, ...], profile: str | None = None):
    args = ["proofs", "-q", f"--iu-claims={','.join(claims)}"]
    args += ["-p", "no:xdist"] if workers == 0 else ["-n", str(workers)]
    env = {"IU_PROVE_PROFILE": profile} if profile else None
    report_dir = workdir / f"c{workers}-{time.monotonic_ns()}"
    return timed(lambda: nested.run(args, report_dir=report_dir, attach=attach, env=env))


def parallel_speedup(tgt: target.Target, workdir: Path) -> dict[str, Any]:
    """Serial / -n 2 on the small (8 peer claims) and the full selection, with the same verdicts."""
    t_small_serial, small_serial = claims_run(attach_for(tgt), 0, workdir, PEER_CLAIMS)
    t_small_par, small_par = claims_run(attach_for(tgt), 2, workdir, PEER_CLAIMS)
    t_serial, serial = prove_run(attach_for(tgt), 0, workdir)
    t_parallel, parallel = prove_run(attach_for(tgt), 2, workdir)
    small, full = t_small_serial / t_small_par, t_serial / t_parallel
    return {
        "small_serial_s": round(t_small_serial, 2),
        "small_parallel_s": round(t_small_par, 2),
        "small_ratio": round(small, 2),
        "serial_s": round(t_serial, 2),
        "parallel_s": round(t_parallel, 2),
        "ratio": round(full, 2),
        "goal": ">= 1.0 small, >= 1.6 full",
        "met": small >= 1.0 and full >= 1.6,
        "same_verdicts": serial.verdicts() == parallel.verdicts() and small_serial.verdicts() == small_par.verdicts(),
        "claims": len(serial.verdicts()),
    }


def server_seconds(server_dsn: str) -> float:
    with connect(server_dsn, autocommit=True) as conn:
        ms = conn.execute("SELECT coalesce(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements")
        return float(ms.fetchone()[0]) / 1000


def reset_statements(server_dsn: str) -> None:
    with connect(server_dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


def one_claim_start(tgt: target.Target, workdir: Path) -> dict[str, Any]:
    """A one-claim run (D-2, serial, warm: attached to a built template) minus its server statement time."""
    claims_run(attach_for(tgt), 0, workdir, ("D-2",))  # warm the file system cache and the imports
    runs = []
    for _ in range(3):
        reset_statements(tgt.server_dsn)
        wall, run = claims_run(attach_for(tgt), 0, workdir, ("D-2",))
        runs.append((wall - server_seconds(tgt.server_dsn), wall, run.returncode))
    best = min(runs)
    return {
        "overhead_s": round(best[0], 2),
        "wall_s": round(best[1], 2),
        "runs_overhead_s": [round(r[0], 2) for r in runs],
        "exit_code": best[2],
        "goal": "<= 1.5 s",
        "met": best[0] <= 1.5,
    }


def ensure_pgtap() -> str | None:
    """pg_prove on PATH and the pgTAP extension for the server's major version; None when installed."""
    import shutil

    from iu_prove.pgbin import find_bindir

    major = find_bindir().parent.name  # /usr/lib/postgresql/<major>/bin
    control = Path(f"/usr/share/postgresql/{major}/extension/pgtap.control")
    if shutil.which("pg_prove") and control.exists():
        return None
    packages = [f"postgresql-{major}-pgtap", "libtap-parser-sourcehandler-pgtap-perl"]
    proc = subprocess.run(["apt-get", "install", "-y", "-q", *packages], capture_output=True, text=True)
    if proc.returncode != 0 or not shutil.which("pg_prove") or not control.exists():
        return f"could not install {' '.join(packages)}: {(proc.stderr or proc.stdout).strip()[-300:]}"
    return None


def pins_pgtap(head: str, out: Path) -> Path:
    """S-12 as pgTAP: tables, views and functions equal the pins of the head."""
    import tomllib

    pinned = tomllib.loads((ROOT / "fixtures" / "pins.toml").read_text())[head]

    def arr(names: list[str]) -> str:
        return "ARRAY[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]"

    functions = sorted({f.split("(")[0] for f in pinned["functions"]})
    out.write_text(
        "-- S-12: tables, views and functions equal the pinned inventory of the head (generated from pins.toml).\n"
        "BEGIN;\nSELECT plan(4);\n"
        f"SELECT tables_are('public', {arr(pinned['tables'])}, 'tables at {head}');\n"
        f"SELECT views_are('public', {arr(pinned['views'])}, 'views at {head}');\n"
        f"SELECT functions_are('public', {arr(functions)}, 'functions at {head}');\n"
        "SELECT results_eq($$SELECT surface FROM dot_iu_healthcheck()$$, "
        f"$$SELECT unnest({arr(pinned['healthcheck_surfaces'])}::text[])$$, 'healthcheck surfaces at {head}');\n"
        "SELECT * FROM finish();\nROLLBACK;\n"
    )
    return out


def peer_pgtap(tgt: target.Target, workdir: Path) -> dict[str, Any]:
    """Ours on the 8 claims at one N (serial and chosen -n 2) / pg_prove on the same 8 claims, same server."""
    problem = ensure_pgtap()
    if problem:
        return {"error": problem, "goal": "<= 1.0", "met": False}
    dsn = tgt.clone("iu_bench_pgtap")
    with connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS tap")  # outside public: S-12 compares public's functions
        conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA tap")
        conn.execute("ALTER DATABASE iu_bench_pgtap SET search_path = public, tap")
    files = sorted(str(p) for p in (ROOT / "bench" / "pgtap").glob("*.sql"))
    files.append(str(pins_pgtap(tgt.head or "", workdir / "s12_pins.sql")))
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(dsn)  # pg_prove takes the connection as psql's separate options
    conn_args = ["-h", str(info["host"]), "-p", str(info["port"]), "-U", str(info["user"]), "-d", str(info["dbname"])]
    cmd = ["pg_prove", *conn_args, "--set", f"n={PEER_N}", "--set", f"n_other={PEER_N}", *files]
    t_theirs, proc = timed(lambda: subprocess.run(cmd, capture_output=True, text=True))
    tgt.drop("iu_bench_pgtap")
    t_ours_serial, ours_serial = claims_run(attach_for(tgt), 0, workdir, PEER_CLAIMS, profile="bench")
    t_ours, ours = claims_run(attach_for(tgt), 2, workdir, PEER_CLAIMS, profile="bench")
    best = min(t_ours, t_ours_serial)
    ratio = best / t_theirs
    same = ours.verdicts() == ours_serial.verdicts()
    return {
        "n": PEER_N,
        "pg_prove_s": round(t_theirs, 2),
        "pg_prove_exit": proc.returncode,
        "pg_prove_tail": (proc.stdout.strip().splitlines() + proc.stderr.strip().splitlines()[-2:])[-4:],
        "ours_serial_s": round(t_ours_serial, 2),
        "ours_parallel_s": round(t_ours, 2),
        "ours_verdicts": ours.verdicts(),
        "ours_same_verdicts_serial_and_parallel": same,
        "ratio": round(ratio, 2),
        "goal": "<= 1.0",
        "met": ratio <= 1.0 and proc.returncode == 0,
    }


# the proofs whose claim is the manual full refresh of every collection (or that start from one)
FULL_REFRESH_PROOFS = (
    "proofs/s_substrate/test_envelope.py::test_manual_refresh_clears_every_dirty_scope",
    "proofs/d_envelope_refresh/test_gate_off.py::"
    "test_with_the_gate_closed_an_instantiation_refreshes_nothing_and_its_backlog_shows",
    "proofs/e_scaleout/test_stateful.py::"
    "test_a_stateful_model_of_scaleouts_rollbacks_retires_refreshes_and_gates_keeps_every_invariant",
    "proofs/x_cross_cutting/test_collection_retire.py::"
    "test_retire_dry_run_changes_nothing_and_live_retires_exactly_the_actors_instances",
)


CAPTURE_ON = {"IU_PROVE_CHANGE_CAPTURE": "on"}


def scale(workdir: Path, pieces: int, collections: int, full_timeout: float, dsn_timeout: float) -> dict[str, Any]:
    """The proofs a DSN target runs on +1,100,000 units / on the fixtures; the full embedded run beside it."""
    from bench import bigdb

    cluster, facts = bigdb.open_big(pieces, collections)
    try:
        tgt = target.Target(kind="embedded", server_dsn=cluster.dsn("postgres"), template=bigdb.SMALL)
        with connect(tgt.dsn_for(bigdb.SMALL)) as conn:
            tgt.server_version, tgt.head = target.describe(conn)
        small_dsn, big_dsn = tgt.clone("iu_dsn_small", bigdb.SMALL), tgt.clone("iu_dsn_big", bigdb.BIG)
        facts["fixture_facts_small"] = bigdb.fixture_facts(small_dsn)
        facts["fixture_facts_big"] = bigdb.fixture_facts(big_dsn)
        same_facts = (
            facts["fixture_facts_small"]["dieu"] == facts["fixture_facts_big"]["dieu"] == [27, 23, 36]
            and facts["fixture_facts_small"]["units_per_fixture_actor"]
            == facts["fixture_facts_big"]["units_per_fixture_actor"]
        )
        before = residue.snapshot(big_dsn)
        after = residue.snapshot(big_dsn)
        residue_cost = {
            "residue_cost_s": residue.cost_s(before, after),
            "differences": residue.differences(before, after),
        }

        def dsn_run(dsn: str, label: str, extra: list[str]):
            args = ["proofs", "-q", "-n", "2", f"--iu-dsn={dsn}", *extra]
            report_dir = workdir / f"dsn-{label}-{time.monotonic_ns()}"
            try:
                # a copy nobody else writes to, as a restored staging database: capture on (on a live
                # DSN its default is off, and large tables are read whole)
                return timed(lambda: nested.run(args, report_dir=report_dir, env=CAPTURE_ON, timeout=dsn_timeout))
            except subprocess.TimeoutExpired:
                return None, None

        runs: dict[str, list[float]] = {"small": [], "big": []}
        verdicts: dict[str, dict[str, str]] = {}
        scoped: dict[str, float | None] = {}
        timed_out = []
        for label, dsn in (("small", small_dsn), ("big", big_dsn)):
            seconds, run = dsn_run(dsn, label, [])
            print(f"  DSN run on {label}: {'timed out' if run is None else f'{seconds:.1f} s'}", flush=True)
            if run is None:
                timed_out.append(label)
                continue
            runs[label].append(seconds)
            verdicts[label] = run.verdicts()
        if timed_out:
            # diagnostic: the same run without the proofs whose claim is a full refresh
            deselect = [f"--deselect={node}" for node in FULL_REFRESH_PROOFS]
            for label, dsn in (("small", small_dsn), ("big", big_dsn)):
                seconds, run = dsn_run(dsn, f"{label}-scoped", deselect)
                scoped[label] = round(seconds, 2) if run is not None else None
                print(f"  DSN run on {label} without the full-refresh proofs: {scoped[label]} s", flush=True)
            for name in ("iu_dsn_small", "iu_dsn_big"):
                tgt.drop(name)
            return {
                "added_units": pieces + collections,
                "big_template": facts,
                "fixture_facts_unchanged": same_facts,
                "dsn_fixtures_s": round(min(runs["small"]), 2) if runs["small"] else None,
                "dsn_big_s": None,
                "timed_out": timed_out,
                "dsn_timeout_s": dsn_timeout,
                "ratio": None,
                "goal": "<= 1.5",
                "met": False,
                "without_full_refresh_proofs_s": scoped,
                "without_full_refresh_ratio": round(scoped["big"] / scoped["small"], 2)
                if scoped.get("big") and scoped.get("small")
                else None,
                "full_refresh_proofs": list(FULL_REFRESH_PROOFS),
                "residue_check_on_big": residue_cost,
                "change_capture": CAPTURE_ON["IU_PROVE_CHANGE_CAPTURE"],
            }
        t_small, t_big = min(runs["small"]), min(runs["big"])
        full: dict[str, Any] = {}
        if full_timeout > 0:  # every proof, durable ones cloning the big template: beside the figure
            full_runs = {}
            for label, template in (("small", bigdb.SMALL), ("big", bigdb.BIG)):
                attach = nested.attach_spec(tgt.server_dsn, template, tgt.head, tgt.server_version)
                try:
                    full_runs[label] = timed(
                        lambda attach=attach, label=label: nested.run(
                            ["proofs", "-q", "-n", "2"], report_dir=workdir / f"full-{label}", attach=attach,
                            timeout=full_timeout)
                    )  # fmt: skip
                except subprocess.TimeoutExpired:
                    full_runs[label] = (None, None)
                seconds = full_runs[label][0]
                print(f"  full embedded run on {label}: {f'{seconds:.1f} s' if seconds else 'timed out'}", flush=True)
            (t_full_small, run_full_small), (t_full, run_full) = full_runs["small"], full_runs["big"]
            if run_full is None:
                full = {"seconds": None, "note": f"did not finish in {full_timeout:.0f} s"}
            else:
                full = {
                    "seconds": round(t_full, 1),
                    "fixtures_seconds": round(t_full_small, 1) if t_full_small else None,
                    "exit_code": run_full.returncode,
                    "verdicts_equal_fixture_run": run_full_small is not None
                    and run_full.verdicts() == run_full_small.verdicts(),
                    "verdict_differences": {
                        c: [run_full_small.verdicts().get(c), run_full.verdicts().get(c)]
                        for c in sorted(set(run_full.verdicts()) | set(run_full_small.verdicts()))
                        if run_full_small.verdicts().get(c) != run_full.verdicts().get(c)
                    }
                    if run_full_small is not None
                    else None,
                }
        for name in ("iu_dsn_small", "iu_dsn_big"):
            tgt.drop(name)
    finally:
        cluster.stop()
    ratio = t_big / t_small
    return {
        "added_units": pieces + collections,
        "added_collections": collections,
        "big_template": facts,
        "fixture_facts_unchanged": same_facts,
        "dsn_fixtures_s": round(t_small, 2),
        "dsn_big_s": round(t_big, 2),
        "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
        "ratio": round(ratio, 2),
        "goal": "<= 1.5",
        "met": ratio <= 1.5,
        "same_verdicts": verdicts["small"] == verdicts["big"],
        "verdict_differences": {
            c: [verdicts["small"].get(c), verdicts["big"].get(c)]
            for c in sorted(set(verdicts["small"]) | set(verdicts["big"]))
            if verdicts["small"].get(c) != verdicts["big"].get(c)
        },
        "without_full_refresh_proofs_s": scoped,
        "without_full_refresh_ratio": round(scoped["big"] / scoped["small"], 2)
        if scoped.get("big") and scoped.get("small")
        else None,
        "residue_check_on_big": residue_cost,
        "change_capture": CAPTURE_ON["IU_PROVE_CHANGE_CAPTURE"],
        "full_embedded_run_on_big": full,
    }


def child_bench(script: str, out: Path, extra: list[str]) -> dict[str, Any]:
    path = ROOT / "bench" / script
    proc = subprocess.run([sys.executable, str(path), "--out", str(out), *extra], text=True, cwd=ROOT)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"{script} exited {proc.returncode}"}
    return json.loads(out.read_text())


def plot(series: dict[str, list[tuple[int, float]]], path: Path) -> bool:
    """Log-log time against N, one line per gate (matplotlib, the bench extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, pts in series.items():
        pts = sorted(p for p in pts if p[0] > 0 and p[1] > 0)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        for n, t in pts:
            ax.annotate(f"{t:.2f} s", (n, t), textcoords="offset points", xytext=(4, 6), fontsize=8)
    lo = min(p[0] for s in series.values() for p in s)
    hi = max(p[0] for s in series.values() for p in s)
    base = min(p[1] for s in series.values() for p in s if p[0] == lo)
    ax.plot([lo, hi], [base, base * hi / lo], linestyle=":", color="grey", label="linear from the smallest N")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N instantiations in one transaction")
    ax.set_ylabel("seconds")
    ax.set_title("Bounded scaleout in one transaction")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


GOALS = {
    "isolation": "≥ 50×",
    "harness": "≤ 2×",
    "parallel": "≥ 1.0× small, ≥ 1.6× full",
    "one_claim_start": "≤ 1.5 s",
    "peer_pgtap": "≤ 1.0×",
    "scale": "≤ 1.5×",
    "trigger_on_off": "≤ 1.5×",
    "scaleout_growth": "≤ 11× each",
    "make_test": "≤ 8 min",
}


def figures(details: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stable id, in a fixed order; a figure that was not measured says why."""
    rows: list[dict[str, Any]] = []

    def add(fid: str, name: str, measured: str | None, ratio: float | None, met: bool | None, **extra: Any) -> None:
        rows.append({"id": fid, "name": name, "measured": measured, "ratio": ratio, "goal": GOALS[fid], "met": met,
                     **extra})  # fmt: skip

    def missing(fid: str, name: str, key: str) -> None:
        entry = details.get(key) or {}
        reason = entry.get("error") or entry.get("skipped") or "not run (--skip)"
        add(fid, name, None, None, None, reason=reason)

    iso = details.get("isolation") or {}
    name = "isolation: fresh database per test / rolled-back transaction"
    if "ratio" in iso:
        add("isolation", name, f"{iso['ratio']}× ({iso['fresh_database_ms']} ms vs {iso['ours_ms']} ms)",
            iso["ratio"], iso["met"])  # fmt: skip
    else:
        missing("isolation", name, "isolation")
    har = details.get("harness") or {}
    name = "harness: template build + every proof, wall / server statement time"
    if "ratio" in har:
        add("harness", name, f"{har['ratio']}× ({har['wall_s']} s vs {har['server_statement_s']} s)",
            har["ratio"], har["met"])  # fmt: skip
    else:
        missing("harness", name, "harness")
    par = details.get("parallel") or {}
    name = "parallel: serial / -n 2, the 8 peer claims and every proof"
    if "ratio" in par:
        add("parallel", name,
            f"{par['small_ratio']}× small ({par['small_serial_s']} s vs {par['small_parallel_s']} s), "
            f"{par['ratio']}× full ({par['serial_s']} s vs {par['parallel_s']} s); "
            f"same verdicts: {'yes' if par['same_verdicts'] else 'NO'}",
            par["ratio"], par["met"])  # fmt: skip
    else:
        missing("parallel", name, "parallel")
    one = details.get("one_claim_start") or {}
    name = "one_claim_start: one-claim run (D-2, warm), wall minus server time"
    if "overhead_s" in one:
        add("one_claim_start", name, f"{one['overhead_s']} s (wall {one['wall_s']} s)", one["overhead_s"], one["met"])
    else:
        missing("one_claim_start", name, "one_claim_start")
    peer = details.get("peer_pgtap") or {}
    name = f"peer_pgtap: ours / pg_prove, the same 8 claims at N={PEER_N}, same server"
    if "ratio" in peer:
        add("peer_pgtap", name,
            f"{peer['ratio']}× (ours {min(peer['ours_serial_s'], peer['ours_parallel_s'])} s, best of serial "
            f"and -n 2, vs pg_prove {peer['pg_prove_s']} s)",
            peer["ratio"], peer["met"])  # fmt: skip
    else:
        missing("peer_pgtap", name, "peer_pgtap")
    sca = details.get("scale") or {}
    name = (
        f"scale: DSN-target proofs on +{sca.get('added_units', 1_100_000):,} units / on the fixtures "
        "(IU_PROVE_CHANGE_CAPTURE=on: a copy nobody else writes to)"
    )
    if sca.get("timed_out"):
        add("scale", name,
            f"the run on the big database did not finish in {sca['dsn_timeout_s']:.0f} s (fixtures: "
            f"{sca['dsn_fixtures_s']} s); without the {len(sca['full_refresh_proofs'])} full-refresh proofs: "
            f"{sca['without_full_refresh_ratio']}× {sca['without_full_refresh_proofs_s']}; residue check "
            f"{sca['residue_check_on_big']['residue_cost_s']} s",
            None, False)  # fmt: skip
    elif "ratio" in sca:
        full = sca.get("full_embedded_run_on_big") or {}
        if full.get("seconds"):
            same_full = "yes" if full.get("verdicts_equal_fixture_run") else f"NO {full.get('verdict_differences')}"
            beside = (f"; beside it, every proof on the embedded big template: {full['seconds']} s vs "
                      f"{full.get('fixtures_seconds')} s on the fixtures, same verdicts: {same_full}")  # fmt: skip
        else:
            beside = "; full embedded run on the big template: " + full.get("note", "not run (--full-timeout 0)")
        differences = "" if sca["same_verdicts"] else f" {sca['verdict_differences']}"
        add("scale", name,
            f"{sca['ratio']}× ({sca['dsn_big_s']} s vs {sca['dsn_fixtures_s']} s; same verdicts: "
            f"{'yes' if sca['same_verdicts'] else 'NO'}{differences}; residue check "
            f"{sca['residue_check_on_big']['residue_cost_s']} s{beside})",
            sca["ratio"], sca["met"])  # fmt: skip
    else:
        missing("scale", name, "scale")
    trig = details.get("envelope_trigger") or {}
    best = {k: v for k, v in (trig.get("best_seconds") or {}).items()}
    name = "trigger_on_off: N=10,000 in one transaction, auto-refresh gate on / off"
    if "N=10000 gate=on" in best and "N=10000 gate=off" in best:
        ratio = round(best["N=10000 gate=on"] / best["N=10000 gate=off"], 2)
        add("trigger_on_off", name, f"{ratio}× ({best['N=10000 gate=on']} s vs {best['N=10000 gate=off']} s)",
            ratio, ratio <= 1.5)  # fmt: skip
    else:
        missing("trigger_on_off", name, "envelope_trigger")
    growth = trig.get("growth") or {}
    name = "scaleout_growth: t(10,000)/t(1,000) gate on and off, t(100,000)/t(10,000)"
    if growth:
        worst = max(growth.values())
        text = ", ".join(f"{k} {v}×" for k, v in growth.items())
        add("scaleout_growth", name, text, worst, worst <= 11)
    else:
        missing("scaleout_growth", name, "envelope_trigger")
    add("make_test", "make_test: `make test` wall on an idle machine", None, None, None,
        reason="not measured by make bench: make test is a run of several minutes of its own; "
               "time it on an idle machine with `time make test`")  # fmt: skip
    return rows


def render(doc: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {doc['generated_at']} on {doc['machine']}, one run, one machine (ratios; absolute seconds vary).",
        "",
        "| id | figure | measured | goal | met |",
        "|---|---|---|---|---|",
    ]
    for row in doc["figures"]:
        met = "not measured" if row["met"] is None else ("yes" if row["met"] else "**no**")
        measured = row["measured"] if row["measured"] is not None else row.get("reason", "")
        lines.append(f"| `{row['id']}` | {row['name']} | {measured} | {row['goal']} | {met} |")
    if doc.get("plot"):
        lines += ["", f"![scaleout time against N]({doc['plot']})"]
    lines += ["", "## Details", "", "```json", json.dumps(doc["details"], indent=2), "```", ""]
    return "\n".join(lines)


STEPS = ("harness", "isolation", "parallel", "one_claim_start", "peer_pgtap", "scale", "trigger")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale-units", type=int, default=1_000_000, help="pieces added for the scale figure")
    parser.add_argument("--scale-collections", type=int, default=100_000, help="collections of 5 pieces added")
    parser.add_argument("--sizes", default="1000,10000,100000", help="N for trigger_on_off and scaleout_growth")
    parser.add_argument(
        "--full-timeout",
        type=float,
        default=600,
        help="seconds for each full embedded run beside the scale figure, fixtures and big template (0: skip)",
    )
    parser.add_argument("--dsn-timeout", type=float, default=600, help="seconds for one DSN run in the scale figure")
    parser.add_argument("--skip", default="", help=f"comma-separated steps to skip: {','.join(STEPS)}")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    REPORTS.mkdir(exist_ok=True)
    steps = [s for s in STEPS if s not in skip]
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
            if tgt is None and step not in ("scale", "trigger"):
                tgt = target.embedded(cluster)
            if step == "isolation":
                details["isolation"] = isolation_overhead(tgt)
            elif step == "parallel":
                details["parallel"] = parallel_speedup(tgt, workdir)
            elif step == "one_claim_start":
                details["one_claim_start"] = one_claim_start(tgt, workdir)
            elif step == "peer_pgtap":
                details["peer_pgtap"] = peer_pgtap(tgt, workdir)
            elif step == "scale":
                details["scale"] = scale(
                    workdir, args.scale_units, args.scale_collections, args.full_timeout, args.dsn_timeout
                )
            elif step == "trigger":
                details["envelope_trigger"] = child_bench(
                    "bench_envelope_trigger.py",
                    REPORTS / "bench-envelope-trigger.json",
                    ["--sizes", args.sizes, "--no-reader", "--plain", "1000,10000"],
                )
    doc = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {os.uname().sysname} {os.uname().machine}",
        "figures": figures(details),
        "details": details,
    }
    series = _scaleout_series(details)
    if series and plot(series, REPORTS / "bench-scaleout.png"):
        doc["plot"] = "bench-scaleout.png"
    (REPORTS / "bench.json").write_text(json.dumps(doc, indent=2) + "\n")
    (REPORTS / "bench.md").write_text(render(doc))
    for row in doc["figures"]:
        flag = "n/a" if row["met"] is None else ("ok " if row["met"] else "NOT")
        print(f"{flag}  {row['id']}: {row['measured'] or row.get('reason')} (goal {row['goal']})")
    print(f"report: {REPORTS / 'bench.md'}")
    return 0


def _scaleout_series(details: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """(N, seconds) points per gate, from the envelope-trigger child benchmark."""
    series: dict[str, list[tuple[int, float]]] = {}
    for label, seconds in ((details.get("envelope_trigger") or {}).get("best_seconds") or {}).items():
        n, gate = label.replace("N=", "").split(" gate=")  # "N=1000 gate=on"
        series.setdefault(f"auto-refresh gate {gate}", []).append((int(n), float(seconds)))
    plain = (details.get("envelope_trigger") or {}).get("plain_loop_seconds") or {}
    if plain:
        series["plain orchestrator loop, gate off"] = [(int(n), float(t)) for n, t in plain.items()]
    return series


if __name__ == "__main__":
    sys.exit(main())
